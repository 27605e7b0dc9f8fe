// The slow path of each call site: fill the event from the kernel objects
// and emit it. Runs only when a sink listens to the event.
#include "trace/events.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include "core/stack.hpp"
#include "dev/net_device.hpp"
#include "skb/skbuff.hpp"
#include "tcp/recovery/tcp_recovery.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_sock.hpp"

namespace sp::trace::detail {
namespace {

constexpr std::string_view kCaStateNames[] = {"Open", "Disorder", "CWR", "Recovery", "Loss"};
constexpr std::string_view kChronoNames[] = {"none", "busy", "rwnd_limited", "sndbuf_limited"};

// "TCP_ESTABLISHED": the name Linux's sock:inet_sock_set_state prints.
std::string_view state_name(int state) {
  switch (state) {
    case TCP_ESTABLISHED:
      return "TCP_ESTABLISHED";
    case TCP_SYN_SENT:
      return "TCP_SYN_SENT";
    case TCP_SYN_RECV:
      return "TCP_SYN_RECV";
    case TCP_FIN_WAIT1:
      return "TCP_FIN_WAIT1";
    case TCP_FIN_WAIT2:
      return "TCP_FIN_WAIT2";
    case TCP_TIME_WAIT:
      return "TCP_TIME_WAIT";
    case TCP_CLOSE:
      return "TCP_CLOSE";
    case TCP_CLOSE_WAIT:
      return "TCP_CLOSE_WAIT";
    case TCP_LAST_ACK:
      return "TCP_LAST_ACK";
    case TCP_LISTEN:
      return "TCP_LISTEN";
    case TCP_CLOSING:
      return "TCP_CLOSING";
    case TCP_NEW_SYN_RECV:
      return "TCP_NEW_SYN_RECV";
    default:
      return "TCP_UNKNOWN";
  }
}

template <class E>
E make(Ev id, const Stack* st) {
  E e{};
  e.id = id;
  if (st) {
    e.stack = st->trace_id();
    e.t_ns = st->now();
  }
  return e;
}

SockFields sock_fields(const Sock* sk) {
  SockFields f;
  if (!sk) return f;
  const InetSock* inet = inet_sk(sk);
  f.sock_cookie.v = sk->sk_cookie;
  f.saddr.be = inet->inet_saddr;
  f.daddr.be = inet->inet_daddr;
  f.sport = ntohs(inet->inet_sport);
  f.dport = ntohs(inet->inet_dport);
  f.state = state_name(sk->sk_state);
  return f;
}

// Below TCP the control block is IP's: take seq, end_seq and the flags
// from the TCP header in the linear part.
bool seq_from_header(const SkBuff* skb, SkbFields* f) {
  if (skb->transport_header == 0xffff || skb->network_header == 0xffff) return false;
  const std::uint8_t* iph = skb->head + skb->network_header;
  const std::uint8_t* th = skb->head + skb->transport_header;
  if (iph < skb->data || th + 20 > skb->tail || iph + 20 > skb->tail) return false;
  if (iph[9] != 6) return false;  // not TCP
  const auto be32_at = [](const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
  };
  const std::uint32_t doff = (th[12] >> 4) * 4u;
  const auto hdr_end = static_cast<std::uint32_t>(th - skb->data) + doff;
  const std::uint32_t payload = skb->len > hdr_end ? skb->len - hdr_end : 0;
  f->seq = be32_at(th + 4);
  f->tcp_flags = th[13];
  f->end_seq = f->seq + payload + ((th[13] & TCPHDR_SYN) ? 1 : 0) + ((th[13] & TCPHDR_FIN) ? 1 : 0);
  return true;
}

SkbFields skb_fields(const SkBuff* skb, bool below_tcp) {
  SkbFields f;
  if (!skb) return f;
  auto* s = const_cast<SkBuff*>(skb);  // the accessors take non-const skbs
  f.skbaddr.v = reinterpret_cast<std::uintptr_t>(skb);
  f.head.v = reinterpret_cast<std::uintptr_t>(skb->head);
  if (!below_tcp || !seq_from_header(skb, &f)) {
    const TcpSkbCb* cb = TCP_SKB_CB(s);
    f.seq = cb->seq;
    f.end_seq = cb->end_seq;
    f.tcp_flags = cb->tcp_flags;
  }
  f.len = skb->len;
  f.data_len = skb->data_len;
  f.data_off = static_cast<std::uint32_t>(skb->data - skb->head);
  f.tail_off = static_cast<std::uint32_t>(skb->tail - skb->head);
  f.end_off = static_cast<std::uint32_t>(skb->end - skb->head);
  f.headroom = skb_headroom(s);
  f.tailroom = skb_tailroom(s);
  const SkbSharedInfo* sh = skb_shinfo(s);
  f.nr_frags = sh->nr_frags;
  if (below_tcp) {
    f.gso_segs = sh->gso_segs;
    f.gso_size = sh->gso_size;
  } else {
    // At the TCP layer the segment count lives in TCP_SKB_CB (tcp_skb_pcount):
    // the shared info is written only at transmit and is shared with clones,
    // so there it still holds the previous transmission's values.
    const TcpSkbCb* cb = TCP_SKB_CB(s);
    f.gso_segs = cb->gso.tcp_gso_segs;
    f.gso_size = cb->gso.tcp_gso_size;
  }
  f.truesize = skb->truesize;
  f.cloned = skb->cloned;
  return f;
}

const Stack* stack_of(const Sock* sk) {
  return sk ? sk->stack : nullptr;
}

// Linux's tcp_current_ssthresh, which tcp:tcp_probe prints: outside a cwnd
// reduction, at least 3/4 of cwnd (where the window would fall back to).
std::uint32_t tcp_current_ssthresh(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  if (tcp_in_cwnd_reduction(sk)) return tp->snd_ssthresh;
  const std::uint32_t cwnd = tcp_snd_cwnd(tp);
  return std::max(tp->snd_ssthresh, (cwnd >> 1) + (cwnd >> 2));
}

}  // namespace

void tcp_probe(Sock* sk, const SkBuff* skb) {
  auto e = make<TcpProbe>(Ev::tcp_probe, stack_of(sk));
  const InetSock* inet = inet_sk(sk);
  const TcpSock* tp = tcp_sk(sk);
  const InetConnectionSock* icsk = inet_csk(sk);
  e.saddr.be = inet->inet_saddr;
  e.daddr.be = inet->inet_daddr;
  e.sport = ntohs(inet->inet_sport);
  e.dport = ntohs(inet->inet_dport);
  e.mark = skb ? skb->mark : 0;
  if (skb && skb->len >= 20) {
    // skb->len - __tcp_hdrlen(th): skb->data is at the TCP header here.
    const std::uint32_t doff = (skb->data[12] >> 4) * 4u;
    e.data_len = skb->len > doff ? skb->len - doff : 0;
  }
  e.snd_nxt = tp->snd_nxt;
  e.snd_una = tp->snd_una;
  e.snd_cwnd = tcp_snd_cwnd(tp);
  e.ssthresh = tcp_current_ssthresh(sk);
  e.snd_wnd = tp->snd_wnd;
  e.srtt = tp->srtt_us >> 3;
  e.rcv_wnd = tp->rcv_wnd;
  e.sock_cookie.v = sk->sk_cookie;
  e.snd_ssthresh = tp->snd_ssthresh;
  e.rto_us = static_cast<std::uint32_t>(jiffies_to_usecs(icsk->icsk_rto));
  e.rtt_us = tp->rtt_last_us;
  e.min_rtt_us = tcp_min_rtt(tp);
  e.packets_out = tp->packets_out;
  e.in_flight = tcp_packets_in_flight(tp);
  e.sacked_out = tp->sacked_out;
  e.lost_out = tp->lost_out;
  e.retrans_out = tp->retrans_out;
  e.mss = tp->mss_cache;
  e.pacing_rate = sk->sk_pacing_rate == ~std::uint64_t{0} ? 0 : sk->sk_pacing_rate;
  e.delivered = tp->delivered;
  e.bytes_acked = tp->bytes_acked;
  e.ca_state = icsk->icsk_ca_state;
  e.write_seq = tp->write_seq;
  e.limit = tp->chrono_type < std::size(kChronoNames) ? kChronoNames[tp->chrono_type] : "none";
  emit(e);
}

void tcp_sock_skb(Ev id, Sock* sk, const SkBuff* skb) {
  auto e = make<TcpRetransmitSkb>(id, stack_of(sk));
  e.sk = sock_fields(sk);
  e.skb = skb_fields(skb, false);
  if (id == Ev::tcp_retransmit_skb && sk) e.cause = tcp_sk(sk)->rtx_cause;
  emit(e);
}

void tcp_send_reset_nosk(const Stack& st, std::uint32_t saddr, std::uint32_t daddr,
                         std::uint16_t sport, std::uint16_t dport) {
  auto e = make<TcpRetransmitSkb>(Ev::tcp_send_reset, &st);
  e.sk.saddr.be = saddr;
  e.sk.daddr.be = daddr;
  e.sk.sport = ntohs(sport);
  e.sk.dport = ntohs(dport);
  emit(e);
}

void tcp_sock_event(Ev id, Sock* sk) {
  auto e = make<TcpSockEvent>(id, stack_of(sk));
  e.sk = sock_fields(sk);
  emit(e);
}

void tcp_rcv_space_adjust(Sock* sk) {
  auto e = make<TcpRcvSpaceAdjust>(Ev::tcp_rcv_space_adjust, stack_of(sk));
  const TcpSock* tp = tcp_sk(sk);
  e.sk = sock_fields(sk);
  e.rcvq_space = tp->rcvq_space.space;
  e.sk_rcvbuf = sk->sk_rcvbuf;
  e.rcv_ssthresh = tp->rcv_ssthresh;
  e.window_clamp = tp->window_clamp;
  emit(e);
}

void tcp_cong_state_set(Sock* sk, std::uint8_t ca_state) {
  auto e = make<TcpCongStateSet>(Ev::tcp_cong_state_set, stack_of(sk));
  e.sk = sock_fields(sk);
  e.cong_state = ca_state;
  e.cong_state_name = ca_state < std::size(kCaStateNames) ? kCaStateNames[ca_state] : "?";
  emit(e);
}

void inet_sock_set_state(Sock* sk, int oldstate, int newstate) {
  auto e = make<InetSockSetState>(Ev::inet_sock_set_state, stack_of(sk));
  e.sk = sock_fields(sk);
  e.oldstate = state_name(oldstate);
  e.newstate = state_name(newstate);
  emit(e);
}

void sock_exceed_buf_limit(Sock* sk, std::string_view kind, int size) {
  auto e = make<SockExceedBufLimit>(Ev::sock_exceed_buf_limit, stack_of(sk));
  e.sk = sock_fields(sk);
  e.kind = kind;
  e.size = size;
  const bool send = kind == "send";
  e.allocated = send ? sk->sk_wmem_queued : sk->sk_rmem_alloc;
  e.limit = send ? sk->sk_sndbuf : sk->sk_rcvbuf;
  emit(e);
}

void kfree_skb(const Stack& st, const SkBuff* skb, std::string_view reason) {
  auto e = make<KfreeSkb>(Ev::kfree_skb, &st);
  e.skbaddr.v = reinterpret_cast<std::uintptr_t>(skb);
  e.len = skb ? skb->len : 0;
  e.protocol = skb ? skb->protocol : 0;
  e.reason = reason;
  emit(e);
}

void net_dev(Ev id, const SkBuff* skb, const NetDevice* dev, int rc, std::uint32_t len) {
  auto e = make<NetDevEvent>(id, dev ? dev->stack : nullptr);
  e.dev = dev ? std::string_view(dev->name) : std::string_view();
  e.skbaddr.v = reinterpret_cast<std::uintptr_t>(skb);
  e.len = len ? len : (skb ? skb->len : 0);
  e.rc = rc;
  emit(e);
}

void sendmsg(Ev id, Sock* sk, std::uint64_t size, std::uint32_t flags) {
  auto e = make<SendmsgEvent>(id, stack_of(sk));
  e.sk = sock_fields(sk);
  e.size = size;
  e.flags = flags;
  emit(e);
}

void skb_step(Ev id, const Stack* st, Sock* sk, const SkBuff* skb, std::string_view queue,
              std::uint32_t copy, bool paged, std::uint32_t pushed, std::uint32_t segs) {
  if (!sk && skb) sk = static_cast<Sock*>(skb->sk);
  auto e = make<SkbStep>(id, st ? st : stack_of(sk));
  e.sk = sock_fields(sk);
  const bool below_tcp = id == Ev::ip_queue_xmit || id == Ev::skb_gso_segment ||
                         id == Ev::neigh_output || id == Ev::dev_queue_xmit;
  e.skb = skb_fields(skb, below_tcp);
  e.queue = queue;
  e.copy = copy;
  e.paged = paged;
  e.pushed = pushed;
  e.segs = segs;
  emit(e);
}

void tcp_push(Sock* sk, std::uint32_t mss_now, int nonagle) {
  auto e = make<TcpPush>(Ev::tcp_push, stack_of(sk));
  const TcpSock* tp = tcp_sk(sk);
  e.sk = sock_fields(sk);
  e.mss_now = mss_now;
  e.nonagle = nonagle;
  e.write_seq = tp->write_seq;
  e.snd_nxt = tp->snd_nxt;
  emit(e);
}

void tcp_write_xmit(Sock* sk, std::uint32_t sent, std::uint32_t sent_segs, std::string_view stop) {
  auto e = make<TcpWriteXmit>(Ev::tcp_write_xmit, stack_of(sk));
  const TcpSock* tp = tcp_sk(sk);
  e.sk = sock_fields(sk);
  e.sent = sent;
  e.sent_segs = sent_segs;
  e.stop = stop;
  e.snd_cwnd = tcp_snd_cwnd(tp);
  e.in_flight = tcp_packets_in_flight(tp);
  e.snd_wnd = tp->snd_wnd;
  e.snd_nxt = tp->snd_nxt;
  e.snd_una = tp->snd_una;
  emit(e);
}

void tcp_recovery_event(Sock* sk, std::string_view kind, std::uint32_t seq) {
  auto e = make<TcpRecoveryEvent>(Ev::tcp_recovery_event, stack_of(sk));
  const TcpSock* tp = tcp_sk(sk);
  e.sk = sock_fields(sk);
  e.kind = kind;
  e.seq = seq;
  e.snd_cwnd = tcp_snd_cwnd(tp);
  e.ssthresh = tp->snd_ssthresh;
  emit(e);
}

}  // namespace sp::trace::detail
