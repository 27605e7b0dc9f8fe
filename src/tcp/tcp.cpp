// The socket-call half of TCP (net/ipv4/tcp.c, inet_connection_sock.c):
// tcp_sendmsg and the push decisions, tcp_recvmsg, options, TCP_INFO,
// close/shutdown/disconnect, listen/accept glue.
#include "tcp/tcp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/stack.hpp"
#include "sendpath/api.hpp"
#include "skb/fail_alloc.hpp"
#include "sock/sock_errqueue.hpp"
#include "tcp/recovery/tcp_recovery.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/events.hpp"

namespace sp {

// TCP_SKB_CB layouts and tcp_info must stay Linux's.
static_assert(offsetof(tcp_info_612, tcpi_rcv_wnd) == sizeof(::tcp_info),
              "the 6.x tcp_info fields follow the system struct");

namespace {
constexpr std::uint8_t TCP_DEFAULT_SCALING_RATIO = 1 << (TCP_RMEM_TO_WIN_SCALE - 1);

// sk_alloc; nullptr when it fails (failure injection: kFailSock).
Sock* tcp_alloc(Stack& st) {
  if (fail_alloc_should_fail(kFailSock)) return nullptr;
  return new TcpSock(st, &tcp_prot);
}

int tcp_hash(Sock* sk) {
  if (sk->sk_state == TCP_LISTEN) {
    sk->stack->tcp().inet_listen_hash(sk);
    return 0;
  }
  return sk->stack->tcp().inet_ehash_insert(sk) ? 0 : -EADDRINUSE;
}

void tcp_unhash(Sock* sk) {
  TcpStackState& t = sk->stack->tcp();
  t.inet_listen_unhash(sk);
  t.inet_ehash_remove(sk);
}

int tcp_get_port(Sock* sk, unsigned short snum) {
  return sk->stack->tcp().inet_csk_get_port(sk, snum);
}

bool tcp_stream_memory_free_hook(const Sock* sk, int wake) {
  return tcp_stream_memory_free(sk, wake);
}

// inet_sk_set_state / inet_sk_state_store: every change of sk_state goes
// through here so that sock:inet_sock_set_state sees it, as in Linux.
void inet_sk_set_state(Sock* sk, int state) {
  trace_inet_sock_set_state(sk, sk->sk_state, state);
  sk->sk_state = static_cast<std::uint8_t>(state);
}

}  // namespace

Proto tcp_prot = {
    .name = "TCP",
    .close = tcp_close,
    .pre_connect = nullptr,
    .connect = tcp_v4_connect,
    .disconnect = tcp_disconnect,
    .accept = inet_csk_accept,
    .ioctl = tcp_ioctl,
    .init = tcp_init_sock,
    .destroy = tcp_v4_destroy_sock,
    .shutdown = tcp_shutdown,
    .setsockopt = tcp_setsockopt,
    .getsockopt = tcp_getsockopt,
    .sendmsg = tcp_sendmsg,
    .recvmsg = tcp_recvmsg,
    .backlog_rcv = tcp_v4_do_rcv,
    .hash = tcp_hash,
    .unhash = tcp_unhash,
    .get_port = tcp_get_port,
    .stream_memory_free = tcp_stream_memory_free_hook,
    .alloc = tcp_alloc,
};

TcpSock::TcpSock(Stack& st, Proto* prot) : InetConnectionSock(st, prot) {
  // tcp_pace_kick: the paced departure time has come.
  pacing_timer.set_function([this] {
    sock_hold(this);
    tcp_tsq_handler(this);
    sock_put(this);
  });
}

TcpSock::~TcpSock() = default;

const char* tcp_state_name(int state) {
  static const char* const names[] = {
      "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
  if (state < 0 || state >= TCP_MAX_STATES) return "UNKNOWN";
  return names[state];
}

int tcp_win_from_space(const Sock* sk, int space) {
  const std::int64_t scaled =
      static_cast<std::int64_t>(space) * tcp_sk(sk)->scaling_ratio >> TCP_RMEM_TO_WIN_SCALE;
  return static_cast<int>(scaled);
}

bool tcp_stream_memory_free(const Sock* sk, int wake) {
  const TcpSock* tp = tcp_sk(sk);
  const std::uint64_t notsent_bytes = tp->write_seq - tp->snd_nxt;
  return (notsent_bytes << wake) < tcp_notsent_lowat(tp);
}

void sk_setup_caps(Sock* sk, const RouteResult& rt) {
  if (!rt.dev) return;
  sk->sk_route_caps = rt.dev->features;
  sk->sk_dst_mtu = rt.mtu ? rt.mtu : rt.dev->mtu;
  sk->sk_dst_ifindex = rt.dev->ifindex;
  sk->sk_dst_genid = sk->stack->route_genid();
  // Linux gives every TCP socket software GSO; it needs scatter-gather so
  // that the payload can live in page frags (without SG, one MSS per skb).
  if (rt.dev->features & NETIF_F_SG) {
    sk->sk_gso_type = SKB_GSO_TCPV4;
    sk->sk_gso_max_size = rt.dev->gso_max_size - (MAX_TCP_HEADER + 1);
    sk->sk_gso_max_segs = std::max<std::uint16_t>(rt.dev->gso_max_segs, 1);
  } else {
    sk->sk_gso_max_size = 0;
    sk->sk_gso_max_segs = 1;
  }
}

int inet_sk_rebuild_header(Sock* sk) {
  Stack& st = *sk->stack;
  const NetDevice* dev = st.dev_get_by_index(sk->sk_dst_ifindex);
  if (dev && !dev->gone() && sk->sk_dst_genid == st.route_genid()) return 0;
  const RouteResult rt = st.ip_route_output(inet_sk(sk)->inet_daddr);
  if (rt.dev) {
    sk_setup_caps(sk, rt);
    return 0;
  }
  sk->sk_route_caps = 0;
  sk->sk_err_soft = ENETUNREACH;
  return -ENETUNREACH;
}

// ==================================================================================
// socket creation and state
// ==================================================================================

int tcp_init_sock(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  const Sysctl& sc = sk->stack->sysctl();
  tcp_init_xmit_timers(sk);
  icsk->icsk_rto = TCP_TIMEOUT_INIT;
  icsk->icsk_rto_min = static_cast<std::uint32_t>(usecs_to_jiffies(sc.tcp_rto_min_us));
  icsk->icsk_delack_max = TCP_DELACK_MAX;
  tp->mdev_us = static_cast<std::uint32_t>(jiffies_to_usecs(TCP_TIMEOUT_INIT));
  tp->rttvar_us = tp->mdev_us;
  tp->rtt_min.v = ~0u;
  tp->rtt_min.t = 0;
  // RFC 6928: initial window of 10 segments; ssthresh "infinite" until loss.
  tcp_snd_cwnd_set(tp, TCP_INIT_CWND);
  tp->app_limited = ~0u;
  tp->rate_app_limited = true;
  tp->snd_ssthresh = TCP_INFINITE_SSTHRESH;
  tp->snd_cwnd_clamp = ~0u;
  tp->mss_cache = TCP_MSS_DEFAULT;
  tp->reordering = static_cast<std::uint32_t>(sc.tcp_reordering);
  // inet_create: with ip_no_pmtu_disc set, sockets start IP_PMTUDISC_DONT
  // (no DF); a child takes its listener's below.
  if (sc.ip_no_pmtu_disc) inet_sk(sk)->pmtudisc = IP_PMTUDISC_DONT;
  tp->tsoffset = 0;
  tp->rx_opt.mss_clamp = TCP_MSS_DEFAULT;
  tp->scaling_ratio = TCP_DEFAULT_SCALING_RATIO;
  tp->undo_retrans = -1;
  tp->tcp_header_len = TCP_HEADER_LEN;
  // icsk_ack.ato and rcv_mss stay 0 until the connection has them
  // (tcp_event_data_recv, tcp_initialize_rcv_mss), as TCP_INFO shows.
  tcp_assign_congestion_control(sk);
  sk->sk_state = TCP_CLOSE;
  sk->sk_write_space = tcp_new_space;
  sk->sk_sndbuf = sc.tcp_wmem[1];
  sk->sk_rcvbuf = sc.tcp_rmem[1];
  if (sk->sk_tcp) ++sk->sk_tcp->sockets_allocated;  // sk_sockets_allocated_inc
  return 0;
}

void tcp_enter_memory_pressure(Sock* sk) {
  TcpStackState* m = sk->sk_tcp;
  if (!m || m->memory_pressure) return;
  std::uint32_t now = tcp_jiffies32(sk);
  if (!now) now--;  // 0 means "no pressure"
  m->memory_pressure = now;
  sk->stack->mib().inc(MibId::TcpExtTCPMemoryPressures);
}

void tcp_leave_memory_pressure(Sock* sk) {
  TcpStackState* m = sk->sk_tcp;
  if (!m || !m->memory_pressure) return;
  const std::uint32_t began = m->memory_pressure;
  m->memory_pressure = 0;
  sk->stack->mib().inc(MibId::TcpExtTCPMemoryPressuresChrono,
                       jiffies_to_msecs(tcp_jiffies32(sk) - began));
}

void tcp_set_state(Sock* sk, int state) {
  const int oldstate = sk->sk_state;
  Mib& mib = sk->stack->mib();
  switch (state) {
    case TCP_ESTABLISHED:
      if (oldstate != TCP_ESTABLISHED) mib.inc(MibId::TcpCurrEstab);
      break;
    case TCP_CLOSE:
      if (oldstate == TCP_CLOSE_WAIT || oldstate == TCP_ESTABLISHED) mib.inc(MibId::TcpEstabResets);
      sk->sk_prot->unhash(sk);
      if (inet_csk(sk)->icsk_bind_hash && !(sk->sk_userlocks & SOCK_BINDPORT_LOCK))
        sk->stack->tcp().inet_put_port(sk);
      [[fallthrough]];
    default:
      if (oldstate == TCP_ESTABLISHED) mib.dec(MibId::TcpCurrEstab);
  }
  inet_sk_set_state(sk, state);
}

void inet_csk_destroy_sock(Sock* sk) {
  sk->sk_prot->destroy(sk);
  sock_put(sk);  // the protocol's (creation) reference
}

void tcp_done(Sock* sk) {
  if (sk->sk_state == TCP_SYN_SENT || sk->sk_state == TCP_SYN_RECV)
    sk->stack->mib().inc(MibId::TcpAttemptFails);
  tcp_set_state(sk, TCP_CLOSE);
  tcp_clear_xmit_timers(sk);
  sk->sk_shutdown = SHUTDOWN_MASK;
  if (!sock_flag(sk, SOCK_DEAD))
    sk->sk_state_change(sk);
  else
    inet_csk_destroy_sock(sk);
}

void tcp_v4_destroy_sock(Sock* sk) {
  if (sock_flag(sk, SOCK_DESTROY)) return;
  sock_set_flag(sk, SOCK_DESTROY);
  trace_tcp_destroy_sock(sk);
  TcpSock* tp = tcp_sk(sk);
  tcp_clear_xmit_timers(sk);
  sk->stack->del_timer(sk->sk_timer);
  tcp_cleanup_congestion_control(sk);
  while (SkbPtr skb = sk->sk_write_queue.dequeue()) sk_wmem_free_skb(sk, std::move(skb));
  while (SkBuff* skb = tp->tcp_rtx_queue.first())
    sk_wmem_free_skb(sk, tcp_rtx_queue_unlink(sk, skb));
  tp->out_of_order_queue.purge();
  sk->sk_receive_queue.purge();
  tp->highest_sack = nullptr;
  tp->lost_skb_hint = nullptr;
  tp->retransmit_skb_hint = nullptr;
  tp->packets_out = 0;
  tp->ooo_last_skb = nullptr;
  if (inet_csk(sk)->icsk_bind_hash && sk->sk_tcp) sk->sk_tcp->inet_put_port(sk);
  // Children not yet accepted die with the listener.
  auto& q = inet_csk(sk)->icsk_accept_queue.accept_q;
  while (!q.empty()) {
    Sock* child = q.front();
    q.pop_front();
    sock_put(child);
  }
  sk_mem_reclaim(sk);
  if (sk->sk_tcp) --sk->sk_tcp->sockets_allocated;  // sk_sockets_allocated_dec
}

TcpSock* inet_csk_clone_lock(const Sock* listener, const RequestSock* req) {
  auto* child = static_cast<TcpSock*>(listener->sk_prot->alloc(*listener->stack));
  if (!child) return nullptr;
  Sock* sk = child;
  tcp_init_sock(sk);
  const TcpSock* lp = tcp_sk(listener);
  sk->sk_sndbuf = listener->sk_sndbuf;
  sk->sk_rcvbuf = listener->sk_rcvbuf;
  sk->sk_userlocks = listener->sk_userlocks;
  sk->sk_reuse = listener->sk_reuse;
  sk->sk_flags = listener->sk_flags;
  sock_reset_flag(sk, SOCK_DEAD);
  sock_reset_flag(sk, SOCK_DONE);
  sk->sk_lingertime = listener->sk_lingertime;
  sk->sk_sndtimeo = listener->sk_sndtimeo;
  sk->sk_rcvtimeo = listener->sk_rcvtimeo;
  sk->sk_mark = listener->sk_mark;
  sk->sk_priority = listener->sk_priority;
  sk->sk_max_pacing_rate = listener->sk_max_pacing_rate;
  sk->sk_tsflags = listener->sk_tsflags;  // sk_zckey starts again at 0
  child->tos = lp->tos;
  child->uc_ttl = lp->uc_ttl;
  child->pmtudisc = lp->pmtudisc;
  child->nonagle = lp->nonagle;
  child->notsent_lowat = lp->notsent_lowat;
  child->recvmsg_inq = lp->recvmsg_inq;
  child->rx_opt.user_mss = lp->rx_opt.user_mss;
  child->keepalive_time = lp->keepalive_time;
  child->keepalive_intvl = lp->keepalive_intvl;
  child->keepalive_probes = lp->keepalive_probes;
  child->linger2 = lp->linger2;
  child->icsk_user_timeout = lp->icsk_user_timeout;
  child->icsk_syn_retries = lp->icsk_syn_retries;
  child->window_clamp = lp->window_clamp;
  if (lp->icsk_ca_setsockopt && lp->icsk_ca_ops) {
    child->icsk_ca_ops = lp->icsk_ca_ops;
    child->icsk_ca_setsockopt = true;
  }
  if (req) {
    child->inet_saddr = req->ir_loc_addr;
    child->inet_rcv_saddr = req->ir_loc_addr;
    child->inet_daddr = req->ir_rmt_addr;
    child->inet_dport = req->ir_rmt_port;
    child->inet_num = req->ir_num;
    child->inet_sport = htons(req->ir_num);
    sk->sk_bound_dev_if = req->ir_iif;
    RouteResult rt = sk->stack->ip_route_output(req->ir_rmt_addr);
    sk_setup_caps(sk, rt);
  }
  // The child is a clone of the listener (sk_clone_lock copies sk_state),
  // so Linux's inet_sk_set_state(newsk, TCP_SYN_RECV) reports LISTEN ->
  // SYN_RECV.
  sk->sk_state = listener->sk_state;
  inet_sk_set_state(sk, TCP_SYN_RECV);
  // The child shares the listener's port (__inet_inherit_port).
  sk->stack->tcp().inet_inherit_port(listener, sk);
  return child;
}

// ==================================================================================
// sendmsg
// ==================================================================================

unsigned tcp_xmit_size_goal(Sock* sk, std::uint32_t mss_now, int large_allowed) {
  TcpSock* tp = tcp_sk(sk);
  if (!large_allowed) return mss_now;
  // tcp_bound_to_half_wnd(sk_gso_max_size): a TSO packet bigger than half
  // the peer's largest window would leave no room for a second one.
  int new_size_goal = static_cast<int>(sk->sk_gso_max_size);
  int cutoff =
      static_cast<int>(tp->max_window > TCP_MSS_DEFAULT ? tp->max_window >> 1 : tp->max_window);
  if (cutoff && new_size_goal > cutoff)
    new_size_goal = std::max(cutoff, 68 - static_cast<int>(tp->tcp_header_len));
  std::uint32_t size_goal = static_cast<std::uint32_t>(tp->gso_segs) * mss_now;
  if (static_cast<std::uint32_t>(new_size_goal) < size_goal ||
      static_cast<std::uint32_t>(new_size_goal) >= size_goal + mss_now) {
    tp->gso_segs = static_cast<std::uint16_t>(std::min<std::uint32_t>(
        static_cast<std::uint32_t>(new_size_goal) / mss_now, sk->sk_gso_max_segs));
    size_goal = static_cast<std::uint32_t>(tp->gso_segs) * mss_now;
  }
  return std::max(size_goal, mss_now);
}

unsigned tcp_send_mss(Sock* sk, int* size_goal, int flags) {
  const unsigned mss_now = tcp_current_mss(sk);
  *size_goal = static_cast<int>(tcp_xmit_size_goal(sk, mss_now, !(flags & MSG_OOB)));
  return mss_now;
}

namespace {

// Without scatter-gather the payload must be linear: size the head for a
// whole segment (as Linux's select_size did before page frags were used
// for everything).
bool tcp_route_can_sg(const Sock* sk) {
  return sk->sk_route_caps & NETIF_F_SG;
}

}  // namespace

SkbPtr tcp_stream_alloc_skb_linear(Sock* sk, std::uint32_t linear, bool force_schedule) {
  // An fclone, as Linux's tcp_stream_alloc_skb: the clone tcp_transmit_skb
  // makes of it takes the companion struct instead of a pool allocation, and
  // skb_still_in_host_queue can see that clone still in the device.
  SkbPtr skb = alloc_skb_fclone(MAX_TCP_HEADER + linear);
  if (!skb) {
    // The allocator itself failed (a pool's limit): Linux treats that as
    // memory pressure.
    tcp_enter_memory_pressure(sk);
    sk_stream_moderate_sndbuf(sk);
    return nullptr;
  }
  // The first skb of an empty queue is charged whatever tcp_mem says, so a
  // socket can always make progress.
  if (force_schedule) {
    sk_forced_mem_schedule(sk, static_cast<int>(skb->truesize));
  } else if (!sk_wmem_schedule(sk, static_cast<int>(skb->truesize))) {
    return nullptr;
  }
  skb_reserve(skb.get(), MAX_TCP_HEADER);
  skb->ip_summed = IpSummed::CHECKSUM_PARTIAL;
  return skb;
}

namespace {

bool forced_push(const TcpSock* tp) {
  return after(tp->write_seq, tp->pushed_seq + (tp->max_window >> 1));
}

// Autocorking: a small write while an earlier skb of ours is still in the
// device waits for that skb to leave, so that more data can join it.
bool tcp_should_autocork(Sock* sk, SkBuff* skb, int size_goal) {
  return skb->len < static_cast<std::uint32_t>(size_goal) && sk->stack->sysctl().tcp_autocorking &&
         !tcp_rtx_queue_empty(sk) && sk->sk_wmem_alloc > static_cast<int>(skb->truesize) &&
         tcp_skb_can_collapse_to(skb);
}

// tcp_remove_empty_skb: an skb allocated for a write that then failed.
void tcp_remove_empty_skb(Sock* sk) {
  SkBuff* skb = tcp_write_queue_tail(sk);
  if (skb && TCP_SKB_CB(skb)->seq == TCP_SKB_CB(skb)->end_seq) {
    SkbPtr owned = sk->sk_write_queue.unlink(skb);
    if (tcp_write_queue_empty(sk)) tcp_chrono_stop(sk, TCP_CHRONO_BUSY);
    sk_wmem_free_skb(sk, std::move(owned));
  }
}

// The bytes of a msghdr's iovec, consumed in order.
struct IovIter {
  const iovec* iov;
  std::size_t nr;
  std::size_t idx = 0;
  std::size_t off = 0;
  std::size_t left;
  IovIter(const msghdr* m, std::size_t total) : iov(m->msg_iov), nr(m->msg_iovlen), left(total) {}
  // Copy n bytes to dst, advancing.
  void copy_to(std::uint8_t* dst, std::size_t n) {
    while (n) {
      while (idx < nr && off >= iov[idx].iov_len) {
        ++idx;
        off = 0;
      }
      const std::size_t chunk = std::min(n, iov[idx].iov_len - off);
      std::memcpy(dst, static_cast<const std::uint8_t*>(iov[idx].iov_base) + off, chunk);
      dst += chunk;
      off += chunk;
      n -= chunk;
      left -= chunk;
    }
  }
  // The unread bytes of the current (non-empty) iovec, without advancing.
  std::uint8_t* segment(std::size_t* avail) {
    while (idx < nr && off >= iov[idx].iov_len) {
      ++idx;
      off = 0;
    }
    *avail = iov[idx].iov_len - off;
    return static_cast<std::uint8_t*>(iov[idx].iov_base) + off;
  }
  void advance(std::size_t n) {
    off += n;
    left -= n;
  }
};

constexpr std::uint32_t page_align(std::uint32_t n) {
  return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

// __zerocopy_sg_from_iter: up to length bytes of the caller's memory become
// frags of skb, one per user page touched (iov_iter_get_pages2), bytes that
// continue the last frag's page growing it. Each frag charges its whole page
// to truesize, as pinned pages do. -EMSGSIZE when the frags run out first.
int zerocopy_sg_from_iter(Sock* sk, SkBuff* skb, IovIter& it, std::size_t length, UbufInfo* uarg) {
  int frag = skb_shinfo(skb)->nr_frags;
  while (length && it.left) {
    if (frag == MAX_SKB_FRAGS) return -EMSGSIZE;
    std::size_t avail = 0;
    std::uint8_t* base = it.segment(&avail);
    auto start =
        static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(base) & (PAGE_SIZE - 1));
    const std::size_t max_bytes =
        std::size_t{PAGE_SIZE} * static_cast<std::size_t>(MAX_SKB_FRAGS - frag) - start;
    auto copied = static_cast<std::uint32_t>(std::min({length, avail, max_bytes}));
    length -= copied;
    it.advance(copied);
    skb->data_len += copied;
    skb->len += copied;
    const std::uint32_t charged = page_align(copied + start);
    skb->truesize += charged;
    sk->sk_wmem_queued += static_cast<int>(charged);
    sk_mem_charge(sk, static_cast<int>(charged));
    std::uint8_t* page_base = base - start;
    while (copied) {
      const std::uint32_t size = std::min(copied, PAGE_SIZE - start);
      SkbFrag* last = frag ? &skb_shinfo(skb)->frags[frag - 1] : nullptr;
      if (last && last->page->user_ubuf && last->page->addr == page_base &&
          start == last->offset + last->size) {
        last->size += size;
      } else {
        Page* pg = user_page_get(page_base, PAGE_SIZE, uarg);
        if (!pg) return -ENOMEM;
        skb_fill_page_desc(skb, frag++, pg, start, size);
      }
      copied -= size;
      page_base += PAGE_SIZE;
      start = 0;
    }
  }
  return 0;
}

// skb_zerocopy_iter_stream: append up to len bytes by reference. An skb
// carries one uarg only: a tail skb of another send's range gives -EEXIST
// (a new skb is needed). Returns the bytes appended.
int skb_zerocopy_iter_stream(Sock* sk, SkBuff* skb, IovIter& it, std::size_t len, UbufInfo* uarg) {
  const std::uint32_t orig_len = skb->len;
  UbufInfo* orig_uarg = skb_zcopy(skb);
  if (orig_uarg && orig_uarg != uarg) return -EEXIST;
  const int err = zerocopy_sg_from_iter(sk, skb, it, len, uarg);
  if (err < 0 && skb->len == orig_len) return err;
  skb_zcopy_set(skb, uarg);
  return static_cast<int>(skb->len - orig_len);
}

// tcp_tx_timestamp: the last byte of this write is the one SO_TIMESTAMPING
// reports on (SCHED and SND when its skb leaves, ACK when it is acked).
void tcp_tx_timestamp(Sock* sk, std::uint32_t tsflags) {
  SkBuff* skb = tcp_write_queue_tail(sk);
  if (!skb) skb = tcp_rtx_queue_tail(sk);
  if (!tsflags || !skb) return;
  SkbSharedInfo* sh = skb_shinfo(skb);
  sh->tx_flags |= sock_tx_timestamp_flags(tsflags);
  if (tsflags & SOF_TIMESTAMPING_TX_ACK) TCP_SKB_CB(skb)->txstamp_ack = 1;
  if (tsflags & SOF_TIMESTAMPING_TX_RECORD_MASK) sh->tskey = TCP_SKB_CB(skb)->seq + skb->len - 1;
}

}  // namespace

int tcp_wmem_schedule(Sock* sk, int copy) {
  if (sk_wmem_schedule(sk, copy)) return copy;
  // Refused: with less than tcp_wmem[0] queued, force that much so the
  // socket still moves, and take what forward_alloc already holds.
  const int left = sk->stack->sysctl().tcp_wmem[0] - sk->sk_wmem_queued;
  if (left > 0) sk_forced_mem_schedule(sk, std::min(left, copy));
  return std::max(0, std::min(copy, sk->sk_forward_alloc));
}

SkbPtr tcp_stream_alloc_skb(Sock* sk, bool force_schedule) {
  return tcp_stream_alloc_skb_linear(sk, 0, force_schedule);
}

void tcp_skb_entail(Sock* sk, SkbPtr skb) {
  TcpSock* tp = tcp_sk(sk);
  TcpSkbCb* tcb = TCP_SKB_CB(skb.get());
  tcb->seq = tcb->end_seq = tp->write_seq;
  tcb->tcp_flags = TCPHDR_ACK;
  // The write queue never writes this skb's header room again: the clones
  // that go down the stack push their headers into it without copying.
  __skb_header_release(skb.get());
  sk->sk_wmem_queued += static_cast<int>(skb->truesize);
  sk_mem_charge(sk, static_cast<int>(skb->truesize));
  if (tp->nonagle & TCP_NAGLE_PUSH) tp->nonagle &= ~TCP_NAGLE_PUSH;
  tcp_slow_start_after_idle_check(sk);
  SkBuff* raw = skb.get();
  tcp_add_write_queue_tail(sk, std::move(skb));
  trace_tcp_skb_entail(sk, raw);
}

void tcp_slow_start_after_idle_check(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  if (!sk->stack->sysctl().tcp_slow_start_after_idle || tp->packets_out ||
      (inet_csk(sk)->icsk_ca_ops && inet_csk(sk)->icsk_ca_ops->cong_control))
    return;
  const std::int32_t delta = static_cast<std::int32_t>(tcp_jiffies32(sk) - tp->lsndtime);
  if (tp->lsndtime && delta > static_cast<std::int32_t>(inet_csk(sk)->icsk_rto))
    tcp_cwnd_restart(sk, delta);
}

void tcp_push(Sock* sk, int flags, int mss_now, int nonagle, int size_goal) {
  TcpSock* tp = tcp_sk(sk);
  SkBuff* skb = tcp_write_queue_tail(sk);
  if (!skb) return;
  if (!(flags & MSG_MORE) || forced_push(tp)) tcp_mark_push(tp, skb);
  if (!(flags & MSG_MORE) && tcp_should_autocork(sk, skb, size_goal)) {
    // Mark the socket throttled so that tcp_wfree schedules the push when
    // the device frees our earlier skb.
    if (!(sk->sk_tsq_flags & TSQ_THROTTLED)) {
      sk->stack->mib().inc(MibId::TcpExtTCPAutoCorking);
      sk->sk_tsq_flags |= TSQ_THROTTLED;
    }
    // It is possible the device freed it meanwhile: recheck.
    if (sk->sk_wmem_alloc > static_cast<int>(skb->truesize)) return;
  }
  if (flags & MSG_MORE) nonagle = TCP_NAGLE_CORK;
  __tcp_push_pending_frames(sk, static_cast<unsigned>(mss_now), nonagle);
}

int tcp_sendmsg_locked(Sock* sk, const msghdr* msg, std::size_t size) {
  TcpSock* tp = tcp_sk(sk);
  const int flags = msg->msg_flags;
  int copied = 0;
  int err = 0;
  int size_goal = 0;
  unsigned mss_now = 0;
  IovIter it(msg, size);
  UbufInfo* uarg = nullptr;
  bool zc = false;
  SockcmCookie sockc = sockcm_init(sk);

  // MSG_ZEROCOPY without SO_ZEROCOPY is an ordinary copying send, as in
  // Linux. Without scatter-gather the bytes are copied after all, and the
  // completion says so.
  if ((flags & MSG_ZEROCOPY) && size && sock_flag(sk, SOCK_ZEROCOPY)) {
    uarg = msg_zerocopy_realloc(sk, size, skb_zcopy(tcp_write_queue_tail(sk)));
    if (!uarg) return sk_stream_error(sk, flags, -ENOBUFS);
    if (tcp_route_can_sg(sk))
      zc = true;
    else
      uarg_to_msgzc(uarg)->zerocopy = 0;
  }

  std::int64_t timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);

  // Before this write adds data: was the sender application-limited?
  tcp_rate_check_app_limited(sk);

  // Wait for a connection to finish, or fail.
  if ((1u << sk->sk_state) & ~(TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)) {
    err = sk_stream_wait_connect(sk, &timeo);
    if (err != 0) goto do_error;
  }

  if (msg->msg_controllen && sock_cmsg_send(sk, msg, &sockc)) {
    err = -EINVAL;
    goto do_error;
  }

  mss_now = tcp_send_mss(sk, &size_goal, flags);
  err = -EPIPE;
  if (sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN)) goto do_error;

  while (it.left) {
    SkBuff* skb = tcp_write_queue_tail(sk);
    long copy = 0;
    if (skb) copy = size_goal - static_cast<long>(skb->len);

    if (copy <= 0 || !tcp_skb_can_collapse_to(skb)) {
    new_segment:
      if (!sk_stream_memory_free(sk)) goto wait_for_space;
      const bool first_skb = tcp_rtx_and_write_queues_empty(sk);
      SkbPtr nskb = tcp_stream_alloc_skb_linear(
          sk, tcp_route_can_sg(sk) ? 0u : static_cast<std::uint32_t>(size_goal), first_skb);
      if (!nskb) goto wait_for_space;
      skb = nskb.get();
      tcp_skb_entail(sk, std::move(nskb));
      copy = size_goal;
    }

    if (static_cast<std::size_t>(copy) > it.left) copy = static_cast<long>(it.left);

    if (!tcp_route_can_sg(sk)) {
      // Linear: no scatter-gather on the route.
      copy = std::min<long>(copy, skb_availroom(skb));
      if (copy <= 0) {
        tcp_mark_push(tp, skb);
        goto new_segment;
      }
      copy = tcp_wmem_schedule(sk, static_cast<int>(copy));
      if (!copy) goto wait_for_space;
      // The linear room was charged with the skb (truesize) already.
      it.copy_to(skb_put(skb, static_cast<std::uint32_t>(copy)), static_cast<std::size_t>(copy));
    } else if (zc) {
      copy = tcp_wmem_schedule(sk, static_cast<int>(copy));
      if (!copy) goto wait_for_space;
      const int n = skb_zerocopy_iter_stream(sk, skb, it, static_cast<std::size_t>(copy), uarg);
      if (n == -EMSGSIZE || n == -EEXIST) {
        tcp_mark_push(tp, skb);
        goto new_segment;
      }
      if (n < 0) {
        err = n;
        goto do_error;
      }
      copy = n;
    } else {
      // Paged: append to the socket's page frag, growing the last frag
      // when the bytes land right after it.
      PageFrag* pfrag = &sk->sk_frag;
      if (!skb_page_frag_refill(32, pfrag)) goto wait_for_space;
      int i = skb_shinfo(skb)->nr_frags;
      bool merge = true;
      if (!skb_can_coalesce(skb, i, pfrag->page, pfrag->offset)) {
        if (i >= MAX_SKB_FRAGS) {
          tcp_mark_push(tp, skb);
          goto new_segment;
        }
        merge = false;
      }
      copy = std::min<long>(copy, static_cast<long>(pfrag->size - pfrag->offset));
      copy = tcp_wmem_schedule(sk, static_cast<int>(copy));
      if (!copy) goto wait_for_space;
      it.copy_to(pfrag->page->addr + pfrag->offset, static_cast<std::size_t>(copy));
      const auto c = static_cast<std::uint32_t>(copy);
      if (merge) {
        skb_shinfo(skb)->frags[i - 1].size += c;
      } else {
        get_page(pfrag->page);
        skb_fill_page_desc(skb, i, pfrag->page, pfrag->offset, c);
      }
      skb->len += c;
      skb->data_len += c;
      skb->truesize += c;
      sk->sk_wmem_queued += static_cast<int>(c);
      sk_mem_charge(sk, static_cast<int>(c));
      pfrag->offset += c;
    }

    if (!copied) TCP_SKB_CB(skb)->tcp_flags &= ~TCPHDR_PSH;
    tp->write_seq += static_cast<std::uint32_t>(copy);
    TCP_SKB_CB(skb)->end_seq += static_cast<std::uint32_t>(copy);
    tcp_skb_pcount_set(skb, 0);
    copied += static_cast<int>(copy);
    trace_tcp_skb_append(sk, skb, static_cast<std::uint32_t>(copy), tcp_route_can_sg(sk));

    if (!it.left) {
      if (flags & MSG_EOR) TCP_SKB_CB(skb)->eor = 1;
      goto out;
    }
    if (skb->len < static_cast<std::uint32_t>(size_goal)) continue;

    if (forced_push(tp)) {
      tcp_mark_push(tp, skb);
      __tcp_push_pending_frames(sk, mss_now, TCP_NAGLE_PUSH);
    } else if (skb == tcp_send_head(sk)) {
      tcp_push_one(sk, mss_now);
    }
    continue;

  wait_for_space:
    sock_set_flag(sk, SOCK_NOSPACE);
    tcp_remove_empty_skb(sk);
    if (copied)
      tcp_push(sk, flags & ~MSG_MORE, static_cast<int>(mss_now), TCP_NAGLE_PUSH, size_goal);
    err = sk_stream_wait_memory(sk, &timeo);
    if (err != 0) goto do_error;
    mss_now = tcp_send_mss(sk, &size_goal, flags);
  }

out:
  if (copied) {
    tcp_tx_timestamp(sk, sockc.tsflags);
    tcp_push(sk, flags, static_cast<int>(mss_now), tp->nonagle, size_goal);
  }
  net_zcopy_put(uarg);
  return copied;

do_error:
  tcp_remove_empty_skb(sk);
  if (copied) goto out;
  if (uarg) msg_zerocopy_put_abort(uarg, true);
  err = sk_stream_error(sk, flags, err);
  if (sk->sk_write_queue.empty() && err == -EAGAIN) {
    sk->sk_write_space(sk);
    tcp_chrono_stop(sk, TCP_CHRONO_SNDBUF_LIMITED);
  }
  return err;
}

int tcp_sendmsg(Sock* sk, const msghdr* msg, std::size_t size) {
  // lock_sock/release_sock: one thread, nothing to lock; inbound packets
  // are only processed by the loop, never in the middle of this call.
  trace_tcp_sendmsg(sk, size, static_cast<std::uint32_t>(msg->msg_flags));
  return tcp_sendmsg_locked(sk, msg, size);
}

// ==================================================================================
// recvmsg
// ==================================================================================

void tcp_cleanup_rbuf(Sock* sk, int copied) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  bool time_to_ack = false;
  if (inet_csk_ack_scheduled(sk)) {
    // A delayed ACK is pending and the reader emptied the queue after a
    // full-sized segment, or the ACK was pushed: send it now.
    if (tp->rcv_nxt - tp->rcv_wup > icsk->icsk_ack.rcv_mss ||
        ((icsk->icsk_ack.pending & ICSK_ACK_PUSHED2) ||
         ((icsk->icsk_ack.pending & ICSK_ACK_PUSHED) && !inet_csk_in_pingpong_mode(sk))) ||
        (copied > 0 && sk->sk_rmem_alloc == 0 && !inet_csk_in_pingpong_mode(sk)))
      time_to_ack = true;
  }
  // The reader made room: if the window we can offer now at least doubled
  // what the peer sees, tell it (RFC 1122 receiver SWS avoidance).
  if (copied > 0 && !time_to_ack && !(sk->sk_shutdown & RCV_SHUTDOWN)) {
    const std::uint32_t rcv_window_now = tcp_receive_window(tp);
    if (2 * rcv_window_now <= tp->window_clamp) {
      int free_space = tcp_space(sk);
      if (free_space > static_cast<int>(tp->rcv_ssthresh))
        free_space = static_cast<int>(tp->rcv_ssthresh);
      const std::uint32_t new_window = free_space < 0 ? 0u : static_cast<std::uint32_t>(free_space);
      if (new_window && new_window >= 2 * rcv_window_now) time_to_ack = true;
    }
  }
  if (time_to_ack) tcp_send_ack(sk);
}

namespace {
// tcp_inq_hint: bytes left to read; after a FIN, 1 so that the reader comes
// back for the end of file.
int tcp_inq_hint(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  int inq = static_cast<int>(tp->rcv_nxt - tp->copied_seq);
  if (inq == 0 && sock_flag(sk, SOCK_DONE)) inq = 1;
  return inq;
}
}  // namespace

int tcp_recvmsg(Sock* sk, msghdr* msg, std::size_t len, int flags, int* addr_len) {
  if (flags & MSG_ERRQUEUE) return ip_recv_error(sk, msg, len);
  const int ret = tcp_recvmsg_locked(sk, msg, len, flags, addr_len);
  if (ret >= 0 && tcp_sk(sk)->recvmsg_inq) {
    const int inq = tcp_inq_hint(sk);
    put_cmsg(msg, IPPROTO_TCP, TCP_CM_INQ, sizeof inq, &inq);
  }
  return ret;
}

int tcp_recvmsg_locked(Sock* sk, msghdr* msg, std::size_t len, int flags, int* addr_len) {
  (void)addr_len;
  TcpSock* tp = tcp_sk(sk);
  if (sk->sk_state == TCP_LISTEN) return -ENOTCONN;
  std::int64_t timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
  std::uint32_t peek_seq = tp->copied_seq;
  std::uint32_t* seq = (flags & MSG_PEEK) ? &peek_seq : &tp->copied_seq;
  const std::size_t target =
      (flags & MSG_WAITALL) ? len : std::min<std::size_t>(len, std::max(sk->sk_rcvlowat, 1));
  int copied = 0;
  // Destination cursor over the iovec.
  std::size_t iov_idx = 0, iov_off = 0;
  auto copy_out = [&](const SkBuff* skb, std::uint32_t offset, std::uint32_t n) {
    while (n) {
      while (iov_idx < msg->msg_iovlen && iov_off >= msg->msg_iov[iov_idx].iov_len) {
        ++iov_idx;
        iov_off = 0;
      }
      const auto chunk = static_cast<std::uint32_t>(
          std::min<std::size_t>(n, msg->msg_iov[iov_idx].iov_len - iov_off));
      skb_copy_bits(skb, offset,
                    static_cast<std::uint8_t*>(msg->msg_iov[iov_idx].iov_base) + iov_off, chunk);
      iov_off += chunk;
      offset += chunk;
      n -= chunk;
    }
  };

  do {
    SkBuff* found = nullptr;
    std::uint32_t offset = 0;
    bool fin = false;
    for (SkBuff& s : sk->sk_receive_queue) {
      offset = *seq - TCP_SKB_CB(&s)->seq;
      if (TCP_SKB_CB(&s)->tcp_flags & TCPHDR_SYN) offset--;
      if (offset < s.len) {
        found = &s;
        break;
      }
      if (TCP_SKB_CB(&s)->tcp_flags & TCPHDR_FIN) {
        found = &s;
        fin = true;
        break;
      }
    }
    if (found && fin) {
      ++*seq;
      if (!(flags & MSG_PEEK)) kfree_skb(sk->sk_receive_queue.unlink(found));
      break;
    }
    if (!found) {
      if (static_cast<std::size_t>(copied) >= target) break;
      if (copied) {
        if (!timeo || sk->sk_err || sk->sk_state == TCP_CLOSE || (sk->sk_shutdown & RCV_SHUTDOWN))
          break;
      } else {
        if (sock_flag(sk, SOCK_DONE)) break;
        if (sk->sk_err) {
          copied = sock_error(sk);
          break;
        }
        if (sk->sk_shutdown & RCV_SHUTDOWN) break;
        if (sk->sk_state == TCP_CLOSE) {
          copied = -ENOTCONN;
          break;
        }
        if (!timeo) {
          copied = -EAGAIN;
          break;
        }
      }
      tcp_cleanup_rbuf(sk, copied);
      // sk_wait_data: until something new is queued or the state changes.
      const std::uint32_t want = *seq;
      auto has_new_data = [sk, want] {
        for (SkBuff& s : sk->sk_receive_queue)
          if (after(TCP_SKB_CB(&s)->end_seq, want)) return true;
        return false;
      };
      sk_wait_event(sk, &timeo, [sk, &has_new_data] {
        return has_new_data() || sk->sk_err || (sk->sk_shutdown & RCV_SHUTDOWN) ||
               sk->sk_state == TCP_CLOSE;
      });
      if (!timeo && static_cast<std::size_t>(copied) < target) {
        // Timed out: one more pass picks up anything that arrived, then stop.
        if (!has_new_data()) {
          if (!copied) copied = -EAGAIN;
          break;
        }
      }
      continue;
    }
    std::uint32_t used = found->len - offset;
    if (len < used) used = static_cast<std::uint32_t>(len);
    if (!(flags & MSG_TRUNC)) copy_out(found, offset, used);
    *seq += used;
    copied += static_cast<int>(used);
    len -= used;
    tcp_rcv_space_adjust(sk);
    if (used + offset < found->len) continue;
    if (TCP_SKB_CB(found)->tcp_flags & TCPHDR_FIN) {
      ++*seq;
      if (!(flags & MSG_PEEK)) kfree_skb(sk->sk_receive_queue.unlink(found));
      break;
    }
    if (!(flags & MSG_PEEK)) kfree_skb(sk->sk_receive_queue.unlink(found));
  } while (len > 0);

  if (copied > 0) tcp_cleanup_rbuf(sk, copied);
  return copied;
}

// ==================================================================================
// shutdown, close, disconnect
// ==================================================================================

namespace {
constexpr int TCP_STATE_MASK = 0xF;
constexpr int TCP_ACTION_FIN = 1 << TCP_CLOSE;

// RFC 793 state transitions on close; TCP_ACTION_FIN: send a FIN.
int tcp_close_state(Sock* sk) {
  static const int new_state[TCP_MAX_STATES] = {
      TCP_CLOSE,                       // unused
      TCP_FIN_WAIT1 | TCP_ACTION_FIN,  // ESTABLISHED
      TCP_CLOSE,                       // SYN_SENT
      TCP_FIN_WAIT1 | TCP_ACTION_FIN,  // SYN_RECV
      TCP_FIN_WAIT1,                   // FIN_WAIT1
      TCP_FIN_WAIT2,                   // FIN_WAIT2
      TCP_CLOSE,                       // TIME_WAIT
      TCP_CLOSE,                       // CLOSE
      TCP_LAST_ACK | TCP_ACTION_FIN,   // CLOSE_WAIT
      TCP_LAST_ACK,                    // LAST_ACK
      TCP_CLOSE,                       // LISTEN
      TCP_CLOSING,                     // CLOSING
      TCP_CLOSE,                       // NEW_SYN_RECV
  };
  const int next = new_state[sk->sk_state];
  tcp_set_state(sk, next & TCP_STATE_MASK);
  return next & TCP_ACTION_FIN;
}

bool tcp_need_reset(int state) {
  return (1u << state) &
         (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 | TCPF_SYN_RECV);
}

// inet_csk_listen_stop: reset and free the children nobody accepted, and
// forget the handshakes in progress.
void inet_csk_listen_stop(Sock* sk) {
  auto& q = inet_csk(sk)->icsk_accept_queue.accept_q;
  while (!q.empty()) {
    Sock* child = q.front();
    q.pop_front();
    sk->sk_ack_backlog--;
    sock_hold(child);
    child->sk_prot->disconnect(child, O_NONBLOCK);
    sock_orphan(child);
    inet_csk_destroy_sock(child);
    sock_put(child);  // the accept queue's reference
    sock_put(child);
  }
  sk->stack->tcp().reqsk_purge_listener(sk);
  inet_csk(sk)->icsk_accept_queue.qlen = 0;
}
}  // namespace

void tcp_shutdown(Sock* sk, int how) {
  if (!(how & SEND_SHUTDOWN)) return;
  // Not in SYN_RECV (Linux 6.12): the FIN must not overtake the handshake;
  // reaching ESTABLISHED runs this again for a socket already shut down.
  if ((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_SYN_SENT | TCPF_CLOSE_WAIT)) {
    if (tcp_close_state(sk)) tcp_send_fin(sk);
  }
}

int tcp_disconnect(Sock* sk, int flags) {
  (void)flags;
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  const int old_state = sk->sk_state;
  if (old_state != TCP_CLOSE) tcp_set_state(sk, TCP_CLOSE);
  if (old_state == TCP_LISTEN) {
    inet_csk_listen_stop(sk);
  } else if (tcp_need_reset(old_state) || (tp->snd_nxt != tp->write_seq &&
                                           ((1u << old_state) & (TCPF_CLOSING | TCPF_LAST_ACK)))) {
    // The peer must learn the connection is gone (RFC 793: ABORT).
    tcp_send_active_reset(sk);
    sk->sk_err = ECONNRESET;
  } else if (old_state == TCP_SYN_SENT) {
    sk->sk_err = ECONNRESET;
  }
  tcp_clear_xmit_timers(sk);
  sk->sk_receive_queue.purge();
  tp->copied_seq = tp->rcv_nxt;
  tp->urg_data = 0;
  while (SkbPtr skb = sk->sk_write_queue.dequeue()) sk_wmem_free_skb(sk, std::move(skb));
  while (SkBuff* skb = tp->tcp_rtx_queue.first())
    sk_wmem_free_skb(sk, tcp_rtx_queue_unlink(sk, skb));
  tp->out_of_order_queue.purge();
  tp->ooo_last_skb = nullptr;
  tp->highest_sack = nullptr;
  tp->lost_skb_hint = nullptr;
  tp->retransmit_skb_hint = nullptr;
  tp->inet_dport = 0;
  sk->sk_shutdown = 0;
  sock_reset_flag(sk, SOCK_DONE);
  tp->srtt_us = 0;
  tp->mdev_us = static_cast<std::uint32_t>(jiffies_to_usecs(TCP_TIMEOUT_INIT));
  tp->rcv_rtt_last_tsecr = 0;
  std::uint32_t seq = tp->write_seq + tp->max_window + 2;
  if (!seq) seq = 1;
  tp->write_seq = seq;
  icsk->icsk_backoff = 0;
  icsk->icsk_probes_out = 0;
  icsk->icsk_probes_tstamp = 0;
  icsk->icsk_rto = TCP_TIMEOUT_INIT;
  icsk->icsk_rto_min = TCP_RTO_MIN;
  icsk->icsk_delack_max = TCP_DELACK_MAX;
  tp->snd_ssthresh = TCP_INFINITE_SSTHRESH;
  tcp_snd_cwnd_set(tp, TCP_INIT_CWND);
  tp->snd_cwnd_cnt = 0;
  tp->window_clamp = 0;
  tp->delivered = 0;
  tp->packets_out = 0;
  tp->retrans_out = 0;
  tp->sacked_out = 0;
  tp->lost_out = 0;
  tp->undo_marker = 0;
  tp->undo_retrans = -1;
  tp->total_retrans = 0;
  // A reconnect starts without the old path's reordering history.
  tp->rack = {};
  tp->reord_seen = 0;
  tp->dsack_dups = 0;
  tp->is_sack_reneg = false;
  tp->reordering = static_cast<std::uint32_t>(sk->stack->sysctl().tcp_reordering);
  tp->recv_sack_cache[0] = tp->recv_sack_cache[1] = tp->recv_sack_cache[2] =
      tp->recv_sack_cache[3] = TcpSackBlock{};
  icsk->icsk_ca_state = TCP_CA_Open;
  icsk->icsk_ack = {};
  icsk->icsk_ack.rcv_mss = TCP_MIN_MSS;
  icsk->icsk_ack.ato = TCP_ATO_MIN;
  const std::uint16_t user_mss = tp->rx_opt.user_mss;
  tp->rx_opt = {};
  tp->rx_opt.user_mss = user_mss;
  tp->rx_opt.mss_clamp = TCP_MSS_DEFAULT;
  tp->compressed_ack = 0;
  tp->max_window = 0;
  tp->bytes_sent = 0;
  tp->bytes_acked = 0;
  tp->bytes_received = 0;
  tp->bytes_retrans = 0;
  tp->segs_in = tp->segs_out = 0;
  tp->data_segs_in = tp->data_segs_out = 0;
  sk->sk_dst_mtu = 0;
  icsk->icsk_pmtu_cookie = 0;
  sk->sk_error_report(sk);
  return 0;
}

void tcp_close(Sock* sk, std::int64_t timeout) {
  sk->sk_shutdown = SHUTDOWN_MASK;
  std::uint32_t data_was_unread = 0;
  int state;
  if (sk->sk_state == TCP_LISTEN) {
    tcp_set_state(sk, TCP_CLOSE);
    inet_csk_listen_stop(sk);
    goto adjudge_to_death;
  }
  // Unread data is thrown away; if there was any, the peer gets an RST
  // (RFC 2525 2.17) instead of a FIN.
  while (SkbPtr skb = sk->sk_receive_queue.dequeue()) {
    std::uint32_t len = TCP_SKB_CB(skb.get())->end_seq - TCP_SKB_CB(skb.get())->seq;
    if (TCP_SKB_CB(skb.get())->tcp_flags & TCPHDR_FIN) len--;
    data_was_unread += len;
    kfree_skb(std::move(skb));
  }
  if (sk->sk_state == TCP_CLOSE) goto adjudge_to_death;
  if (data_was_unread) {
    sk->stack->mib().inc(MibId::TcpExtTCPAbortOnClose);
    tcp_set_state(sk, TCP_CLOSE);
    tcp_send_active_reset(sk);
  } else if (sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime) {
    // SO_LINGER with a zero timeout: abort with RST, drop what is queued.
    sk->sk_prot->disconnect(sk, 0);
    sk->stack->mib().inc(MibId::TcpExtTCPAbortOnData);
  } else if (tcp_close_state(sk)) {
    tcp_send_fin(sk);
  }
  // sk_stream_wait_close: SO_LINGER with a timeout waits for the FIN to be
  // acknowledged (or the timeout).
  if (timeout) {
    sk_wait_event(sk, &timeout, [sk] {
      return !((1u << sk->sk_state) & (TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_LAST_ACK));
    });
  }

adjudge_to_death:
  state = sk->sk_state;
  sock_hold(sk);
  sock_orphan(sk);
  if (!(state != TCP_CLOSE && sk->sk_state == TCP_CLOSE)) {
    if (sk->sk_state == TCP_FIN_WAIT2) {
      TcpSock* tp = tcp_sk(sk);
      if (tp->linger2 < 0) {
        tcp_set_state(sk, TCP_CLOSE);
        tcp_send_active_reset(sk);
        sk->stack->mib().inc(MibId::TcpExtTCPAbortOnLinger);
      } else {
        const int tmo = tcp_fin_time(sk);
        if (tmo > static_cast<int>(TCP_TIMEWAIT_LEN)) {
          inet_csk_reset_keepalive_timer(sk, static_cast<std::uint64_t>(tmo) - TCP_TIMEWAIT_LEN);
        } else {
          tcp_time_wait(sk, TCP_FIN_WAIT2, tmo);
          sock_put(sk);
          return;
        }
      }
    }
    if (sk->sk_state == TCP_CLOSE) inet_csk_destroy_sock(sk);
  }
  sock_put(sk);
}

// ==================================================================================
// listen / accept
// ==================================================================================

void inet_csk_reqsk_queue_add(Sock* listener, Sock* child) {
  inet_csk(listener)->icsk_accept_queue.accept_q.push_back(child);
  listener->sk_ack_backlog++;
  listener->sk_data_ready(listener);
}

bool sk_acceptq_is_full(const Sock* listener) {
  return listener->sk_ack_backlog > listener->sk_max_ack_backlog;
}

// Linux has sized the SYN queue by the listen() backlog since 4.4;
// tcp_max_syn_backlog only governs the early drop without cookies.
bool inet_csk_reqsk_queue_is_full(const Sock* listener) {
  return inet_csk(listener)->icsk_accept_queue.qlen > listener->sk_max_ack_backlog;
}

Sock* inet_csk_accept(Sock* sk, int flags, int* err) {
  InetConnectionSock* icsk = inet_csk(sk);
  auto& q = icsk->icsk_accept_queue.accept_q;
  if (sk->sk_state != TCP_LISTEN) {
    *err = -EINVAL;
    return nullptr;
  }
  if (q.empty()) {
    std::int64_t timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
    if (!timeo) {
      *err = -EAGAIN;
      return nullptr;
    }
    sk_wait_event(sk, &timeo, [sk, &q] { return !q.empty() || sk->sk_state != TCP_LISTEN; });
    if (sk->sk_state != TCP_LISTEN) {
      *err = -EINVAL;
      return nullptr;
    }
    if (q.empty()) {
      *err = -EAGAIN;
      return nullptr;
    }
  }
  Sock* child = q.front();
  q.pop_front();
  sk->sk_ack_backlog--;
  *err = 0;
  return child;  // the queue's reference passes to the caller
}

int inet_listen(Socket* sock, int backlog) {
  Sock* sk = sock->sk;
  if (sock->state != SS_UNCONNECTED || sock->type != SOCK_STREAM) return -EINVAL;
  const int old_state = sk->sk_state;
  if (!((1u << old_state) & (TCPF_CLOSE | TCPF_LISTEN))) return -EINVAL;
  const int somaxconn = sk->stack->sysctl().somaxconn;
  if (backlog < 0 || backlog > somaxconn) backlog = somaxconn;
  sk->sk_max_ack_backlog = static_cast<std::uint32_t>(backlog);
  if (old_state != TCP_LISTEN) {
    // inet_csk_listen_start
    sk->sk_ack_backlog = 0;
    inet_sk_set_state(sk, TCP_LISTEN);
    int err = sk->sk_prot->get_port(sk, inet_sk(sk)->inet_num);
    if (err) {
      inet_sk_set_state(sk, TCP_CLOSE);
      return err;
    }
    inet_sk(sk)->inet_sport = htons(inet_sk(sk)->inet_num);
    err = sk->sk_prot->hash(sk);
    if (err) {
      inet_sk_set_state(sk, TCP_CLOSE);
      return err;
    }
  }
  return 0;
}

// ==================================================================================
// options
// ==================================================================================

namespace {
int put_int_opt(void* optval, socklen_t* optlen, int val) {
  return put_int(optval, optlen, val);
}
}  // namespace

int tcp_setsockopt(Sock* sk, int level, int optname, const void* optval, socklen_t optlen) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  if (level != IPPROTO_TCP) return -ENOPROTOOPT;
  if (optname == TCP_CONGESTION) {
    char name[TCP_CA_NAME_MAX] = {};
    if (optlen < 1) return -EINVAL;
    if (!copy_from_optval(
            name, optval,
            std::min<std::size_t>(static_cast<std::size_t>(optlen), sizeof(name) - 1)))
      return -EFAULT;
    int err = tcp_set_congestion_control(sk, std::string_view(name, strnlen(name, sizeof(name))));
    if (!err) icsk->icsk_ca_setsockopt = true;
    return err;
  }
  if (optlen < static_cast<socklen_t>(sizeof(int))) return -EINVAL;
  int val = 0;
  if (!copy_from_optval(&val, optval, sizeof val)) return -EFAULT;
  switch (optname) {
    case TCP_MAXSEG:
      // Values below 88 or above the window clamp make no sense (RFC 879).
      if (val && (val < static_cast<int>(TCP_MIN_MSS) || val > static_cast<int>(MAX_TCP_WINDOW)))
        return -EINVAL;
      tp->rx_opt.user_mss = static_cast<std::uint16_t>(val);
      return 0;
    case TCP_NODELAY:
      if (val) {
        // Turning Nagle off pushes what it was holding.
        tp->nonagle |= TCP_NAGLE_OFF | TCP_NAGLE_PUSH;
        tcp_push_pending_frames(sk);
      } else {
        tp->nonagle &= ~TCP_NAGLE_OFF;
      }
      return 0;
    case TCP_CORK:
      if (val) {
        tp->nonagle |= TCP_NAGLE_CORK;
      } else {
        tp->nonagle &= ~TCP_NAGLE_CORK;
        if (tp->nonagle & TCP_NAGLE_OFF) tp->nonagle |= TCP_NAGLE_PUSH;
        tcp_push_pending_frames(sk);
      }
      return 0;
    case TCP_NOTSENT_LOWAT:
      tp->notsent_lowat = static_cast<std::uint32_t>(val);
      sk->sk_write_space(sk);
      return 0;
    case TCP_KEEPIDLE:
      if (val < 1 || val > 32767) return -EINVAL;
      tp->keepalive_time = static_cast<std::uint32_t>(val) * HZ;
      if (sock_flag(sk, SOCK_KEEPOPEN) && !((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)))
        inet_csk_reset_keepalive_timer(sk, keepalive_time_when(tp));
      return 0;
    case TCP_KEEPINTVL:
      if (val < 1 || val > 32767) return -EINVAL;
      tp->keepalive_intvl = static_cast<std::uint32_t>(val) * HZ;
      return 0;
    case TCP_KEEPCNT:
      if (val < 1 || val > 127) return -EINVAL;
      tp->keepalive_probes = static_cast<std::uint8_t>(val);
      return 0;
    case TCP_USER_TIMEOUT:
      if (val < 0) return -EINVAL;
      icsk->icsk_user_timeout = static_cast<std::uint32_t>(val);
      return 0;
    case TCP_QUICKACK:
      if (val) {
        icsk->icsk_ack.pingpong = 0;
        if ((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT) &&
            inet_csk_ack_scheduled(sk)) {
          icsk->icsk_ack.pending |= ICSK_ACK_PUSHED;
          tcp_cleanup_rbuf(sk, 1);
          if (!(val & 1)) icsk->icsk_ack.pingpong = 1;
        }
      } else {
        icsk->icsk_ack.pingpong = 1;
      }
      return 0;
    case TCP_SYNCNT:
      if (val < 1 || val > 127) return -EINVAL;
      icsk->icsk_syn_retries = static_cast<std::uint8_t>(val);
      return 0;
    case TCP_LINGER2:
      if (val < 0)
        tp->linger2 = -1;
      else if (val > static_cast<int>(TCP_FIN_TIMEOUT_MAX / HZ))
        tp->linger2 = static_cast<int>(TCP_FIN_TIMEOUT_MAX);
      else
        tp->linger2 = val * static_cast<int>(HZ);
      return 0;
    case TCP_THIN_DUPACK:
      // Linux only validates it: thin-stream dupack handling is gone.
      if (val < 0 || val > 1) return -EINVAL;
      return 0;
    case TCP_INQ:
      if (val < 0 || val > 1) return -EINVAL;
      tp->recvmsg_inq = val != 0;
      return 0;
    case TCP_WINDOW_CLAMP:
      if (!val) {
        if (sk->sk_state != TCP_CLOSE) return -EINVAL;
        tp->window_clamp = 0;
      } else {
        // Compared as an int: a negative clamp is the smallest one.
        tp->window_clamp = static_cast<std::uint32_t>(std::max(val, SOCK_MIN_RCVBUF / 2));
      }
      return 0;
    default:
      return -ENOPROTOOPT;
  }
}

void tcp_get_info(Sock* sk, ::tcp_info* out) {
  tcp_info_612 info{};
  tcp_get_info_612(sk, &info);
  std::memcpy(out, &info.v, sizeof(::tcp_info));
}

void tcp_get_info_612(Sock* sk, tcp_info_612* ext) {
  const TcpSock* tp = tcp_sk(sk);
  const InetConnectionSock* icsk = inet_csk(sk);
  ::tcp_info* info = &ext->v;
  *ext = {};
  info->tcpi_state = sk->sk_state;
  // Meaningful in every state, listeners included (ss shows "cwnd:10" for one).
  info->tcpi_pacing_rate = sk->sk_pacing_rate;
  info->tcpi_max_pacing_rate = sk->sk_max_pacing_rate;
  info->tcpi_reordering = tp->reordering;
  info->tcpi_snd_cwnd = tcp_snd_cwnd(tp);
  if (sk->sk_state == TCP_LISTEN) {
    // Listeners report their accept queue in unacked/sacked, as Linux.
    info->tcpi_unacked = sk->sk_ack_backlog;
    info->tcpi_sacked = sk->sk_max_ack_backlog;
    return;
  }
  const std::uint32_t now = tcp_jiffies32(sk);
  info->tcpi_ca_state = icsk->icsk_ca_state;
  info->tcpi_retransmits = icsk->icsk_retransmits;
  info->tcpi_probes = icsk->icsk_probes_out;
  info->tcpi_backoff = icsk->icsk_backoff;
  if (tp->rx_opt.tstamp_ok) info->tcpi_options |= TCPI_OPT_TIMESTAMPS;
  if (tp->rx_opt.sack_ok) info->tcpi_options |= TCPI_OPT_SACK;
  if (tp->rx_opt.wscale_ok) {
    info->tcpi_options |= TCPI_OPT_WSCALE;
    info->tcpi_snd_wscale = tp->rx_opt.snd_wscale & 0xf;
    info->tcpi_rcv_wscale = tp->rx_opt.rcv_wscale & 0xf;
  }
  info->tcpi_delivery_rate_app_limited = tp->rate_app_limited ? 1 : 0;
  info->tcpi_rto = static_cast<std::uint32_t>(jiffies_to_usecs(icsk->icsk_rto));
  info->tcpi_ato = static_cast<std::uint32_t>(jiffies_to_usecs(icsk->icsk_ack.ato));
  info->tcpi_snd_mss = tp->mss_cache;
  info->tcpi_rcv_mss = icsk->icsk_ack.rcv_mss;
  info->tcpi_unacked = tp->packets_out;
  info->tcpi_sacked = tp->sacked_out;
  info->tcpi_lost = tp->lost_out;
  info->tcpi_retrans = tp->retrans_out;
  info->tcpi_last_data_sent = static_cast<std::uint32_t>(jiffies_to_msecs(now - tp->lsndtime));
  info->tcpi_last_data_recv =
      static_cast<std::uint32_t>(jiffies_to_msecs(now - icsk->icsk_ack.lrcvtime));
  info->tcpi_last_ack_recv = static_cast<std::uint32_t>(jiffies_to_msecs(now - tp->rcv_tstamp));
  info->tcpi_pmtu = icsk->icsk_pmtu_cookie;
  info->tcpi_rcv_ssthresh = tp->rcv_ssthresh;
  info->tcpi_rtt = tp->srtt_us >> 3;
  info->tcpi_rttvar = tp->mdev_us >> 2;
  info->tcpi_snd_ssthresh = tp->snd_ssthresh;
  info->tcpi_advmss = tp->advmss;
  info->tcpi_rcv_rtt = tp->rcv_rtt_est.rtt_us >> 3;
  info->tcpi_rcv_space = static_cast<std::uint32_t>(tp->rcvq_space.space);
  info->tcpi_total_retrans = tp->total_retrans;
  info->tcpi_bytes_acked = tp->bytes_acked;
  info->tcpi_bytes_received = tp->bytes_received;
  info->tcpi_notsent_bytes =
      std::max<std::int32_t>(static_cast<std::int32_t>(tp->write_seq - tp->snd_nxt), 0);
  info->tcpi_segs_out = tp->segs_out;
  info->tcpi_segs_in = tp->segs_in;
  info->tcpi_min_rtt = tp->rtt_min.v;
  info->tcpi_data_segs_in = tp->data_segs_in;
  info->tcpi_data_segs_out = tp->data_segs_out;
  if (tp->rate_interval_us) {
    info->tcpi_delivery_rate = static_cast<std::uint64_t>(tp->rate_delivered) * tp->mss_cache *
                               1000000ull / tp->rate_interval_us;
  }
  // Chronographs, including the one running now (tcp_get_info_chrono_stats).
  // Busy time is all of them: the socket had data to send, whatever limited it.
  std::uint64_t stats[__TCP_CHRONO_MAX] = {};
  std::uint64_t total = 0;
  for (int i = TCP_CHRONO_BUSY; i < __TCP_CHRONO_MAX; ++i) {
    stats[i] = tp->chrono_stat[i - 1];
    if (i == tp->chrono_type) stats[i] += now - tp->chrono_start;
    stats[i] = jiffies_to_usecs(stats[i]);
    total += stats[i];
  }
  info->tcpi_busy_time = total;
  info->tcpi_rwnd_limited = stats[TCP_CHRONO_RWND_LIMITED];
  info->tcpi_sndbuf_limited = stats[TCP_CHRONO_SNDBUF_LIMITED];
  info->tcpi_delivered = tp->delivered;
  info->tcpi_delivered_ce = tp->delivered_ce;
  info->tcpi_bytes_sent = tp->bytes_sent;
  info->tcpi_bytes_retrans = tp->bytes_retrans;
  info->tcpi_dsack_dups = tp->dsack_dups;
  info->tcpi_reord_seen = tp->reord_seen;
  info->tcpi_rcv_ooopack = tp->rcv_ooopack;
  info->tcpi_snd_wnd = tp->snd_wnd;
  ext->tcpi_rcv_wnd = tp->rcv_wnd;
  ext->tcpi_rehash = 0;
  ext->tcpi_total_rto = tp->total_rto;
  ext->tcpi_total_rto_recoveries = tp->total_rto_recoveries;
  ext->tcpi_total_rto_time = tp->total_rto_time;
}

int tcp_getsockopt(Sock* sk, int level, int optname, void* optval, socklen_t* optlen) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  // Any other level goes on to ip_getsockopt, which knows only SOL_IP.
  if (level != IPPROTO_TCP) return -EOPNOTSUPP;
  switch (optname) {
    case TCP_MAXSEG: {
      int val = static_cast<int>(tp->mss_cache);
      if (tp->rx_opt.user_mss && ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)))
        val = tp->rx_opt.user_mss;
      return put_int_opt(optval, optlen, val);
    }
    case TCP_NODELAY:
      return put_int_opt(optval, optlen, (tp->nonagle & TCP_NAGLE_OFF) ? 1 : 0);
    case TCP_CORK:
      return put_int_opt(optval, optlen, (tp->nonagle & TCP_NAGLE_CORK) ? 1 : 0);
    case TCP_NOTSENT_LOWAT:
      return put_int_opt(optval, optlen, static_cast<int>(tp->notsent_lowat));
    case TCP_KEEPIDLE:
      return put_int_opt(optval, optlen, static_cast<int>(keepalive_time_when(tp) / HZ));
    case TCP_KEEPINTVL:
      return put_int_opt(optval, optlen, static_cast<int>(keepalive_intvl_when(tp) / HZ));
    case TCP_KEEPCNT:
      return put_int_opt(optval, optlen, keepalive_probes(tp));
    case TCP_USER_TIMEOUT:
      return put_int_opt(optval, optlen, static_cast<int>(icsk->icsk_user_timeout));
    case TCP_QUICKACK:
      return put_int_opt(optval, optlen, inet_csk_in_pingpong_mode(sk) ? 0 : 1);
    case TCP_SYNCNT:
      return put_int_opt(
          optval, optlen,
          icsk->icsk_syn_retries ? icsk->icsk_syn_retries : sk->stack->sysctl().tcp_syn_retries);
    case TCP_LINGER2: {
      int val = tp->linger2;
      if (val >= 0)
        val = (val ? val : sk->stack->sysctl().tcp_fin_timeout * static_cast<int>(HZ)) /
              static_cast<int>(HZ);
      return put_int_opt(optval, optlen, val);
    }
    case TCP_WINDOW_CLAMP:
      return put_int_opt(optval, optlen, static_cast<int>(tp->window_clamp));
    case TCP_INQ:
      return put_int_opt(optval, optlen, tp->recvmsg_inq ? 1 : 0);
    case TCP_THIN_DUPACK:
      return put_int_opt(optval, optlen, 0);
    case 43:  // TCP_IS_MPTCP: never, on a plain TCP socket
      return put_int_opt(optval, optlen, 0);
    case TCP_CONGESTION: {
      char buf[TCP_CA_NAME_MAX] = {};
      std::strncpy(buf, icsk->icsk_ca_ops ? icsk->icsk_ca_ops->name : "", sizeof(buf) - 1);
      return put_opt(optval, optlen, buf, TCP_CA_NAME_MAX);
    }
    case TCP_INFO: {
      tcp_info_612 info;
      tcp_get_info_612(sk, &info);
      return put_opt(optval, optlen, &info, sizeof info);
    }
    default:
      return -ENOPROTOOPT;
  }
}

int tcp_ioctl(Sock* sk, int cmd, int* karg) {
  const TcpSock* tp = tcp_sk(sk);
  switch (cmd) {
    case SIOCINQ: {
      if (sk->sk_state == TCP_LISTEN) return -EINVAL;
      std::int32_t answ = static_cast<std::int32_t>(tp->rcv_nxt - tp->copied_seq);
      // A FIN counts in sequence space but is not a byte to read.
      if (answ && sock_flag(sk, SOCK_DONE)) answ--;
      *karg = std::max(answ, 0);
      return 0;
    }
    case SIOCOUTQ:
      if (sk->sk_state == TCP_LISTEN) return -EINVAL;
      *karg = (1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)
                  ? 0
                  : static_cast<int>(tp->write_seq - tp->snd_una);
      return 0;
    case SIOCOUTQNSD:
      if (sk->sk_state == TCP_LISTEN) return -EINVAL;
      *karg = (1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)
                  ? 0
                  : static_cast<int>(tp->write_seq - tp->snd_nxt);
      return 0;
    default:
      return -ENOTTY;
  }
}

// ==================================================================================
// transmit timestamps
// ==================================================================================

void tcp_fragment_tstamp(SkBuff* skb, SkBuff* skb2) {
  SkbSharedInfo* sh = skb_shinfo(skb);
  const bool has_tstamp = TCP_SKB_CB(skb)->txstamp_ack || (sh->tx_flags & SKBTX_ANY_TSTAMP);
  if (!has_tstamp || before(sh->tskey, TCP_SKB_CB(skb2)->seq)) return;
  SkbSharedInfo* sh2 = skb_shinfo(skb2);
  const std::uint8_t tsflags = sh->tx_flags & SKBTX_ANY_TSTAMP;
  sh->tx_flags &= static_cast<std::uint8_t>(~tsflags);
  sh2->tx_flags |= tsflags;
  std::swap(sh->tskey, sh2->tskey);
  TCP_SKB_CB(skb2)->txstamp_ack = TCP_SKB_CB(skb)->txstamp_ack;
  TCP_SKB_CB(skb)->txstamp_ack = 0;
}

namespace {
// TCP_NLA_REHASH (Linux 6.2), past what the system's linux/tcp.h knows.
constexpr int kTcpNlaRehash = TCP_NLA_TTL + 1;

// nla_put: one netlink attribute (struct nlattr, then the value, padded to
// NLA_ALIGNTO) at the end of skb.
template <typename T>
void nla_put(SkBuff* skb, int type, T value) {
  constexpr std::uint16_t len = 4 + sizeof(T);  // NLA_HDRLEN + payload
  const std::uint16_t t = static_cast<std::uint16_t>(type);
  std::uint8_t* p = skb_put_zero(skb, (len + 3u) & ~3u);
  std::memcpy(p, &len, 2);
  std::memcpy(p + 2, &t, 2);
  std::memcpy(p + 4, &value, sizeof(T));
}
}  // namespace

SkbPtr tcp_get_timestamping_opt_stats(Sock* sk, const SkBuff* orig_skb) {
  const TcpSock* tp = tcp_sk(sk);
  const InetConnectionSock* icsk = inet_csk(sk);
  // 26 attributes of at most 12 bytes each (x86-64 needs no 64-bit padding).
  SkbPtr stats = alloc_skb(26 * 12);
  if (!stats) return nullptr;
  tcp_info_612 info;
  tcp_get_info_612(sk, &info);
  SkBuff* s = stats.get();
  nla_put<std::uint64_t>(s, TCP_NLA_BUSY, info.v.tcpi_busy_time);
  nla_put<std::uint64_t>(s, TCP_NLA_RWND_LIMITED, info.v.tcpi_rwnd_limited);
  nla_put<std::uint64_t>(s, TCP_NLA_SNDBUF_LIMITED, info.v.tcpi_sndbuf_limited);
  nla_put<std::uint64_t>(s, TCP_NLA_DATA_SEGS_OUT, tp->data_segs_out);
  nla_put<std::uint64_t>(s, TCP_NLA_TOTAL_RETRANS, tp->total_retrans);
  nla_put<std::uint64_t>(s, TCP_NLA_PACING_RATE, sk->sk_pacing_rate);
  nla_put<std::uint64_t>(s, TCP_NLA_DELIVERY_RATE, info.v.tcpi_delivery_rate);
  nla_put<std::uint32_t>(s, TCP_NLA_SND_CWND, tcp_snd_cwnd(tp));
  nla_put<std::uint32_t>(s, TCP_NLA_REORDERING, tp->reordering);
  nla_put<std::uint32_t>(s, TCP_NLA_MIN_RTT, tp->rtt_min.v);
  nla_put<std::uint8_t>(s, TCP_NLA_RECUR_RETRANS, icsk->icsk_retransmits);
  nla_put<std::uint8_t>(s, TCP_NLA_DELIVERY_RATE_APP_LMT, tp->rate_app_limited ? 1 : 0);
  nla_put<std::uint32_t>(s, TCP_NLA_SND_SSTHRESH, tp->snd_ssthresh);
  nla_put<std::uint32_t>(s, TCP_NLA_DELIVERED, tp->delivered);
  nla_put<std::uint32_t>(s, TCP_NLA_DELIVERED_CE, tp->delivered_ce);
  nla_put<std::uint32_t>(
      s, TCP_NLA_SNDQ_SIZE,
      static_cast<std::uint32_t>(std::max(0, static_cast<int>(tp->write_seq - tp->snd_una))));
  nla_put<std::uint8_t>(s, TCP_NLA_CA_STATE, icsk->icsk_ca_state);
  nla_put<std::uint64_t>(s, TCP_NLA_BYTES_SENT, tp->bytes_sent);
  nla_put<std::uint64_t>(s, TCP_NLA_BYTES_RETRANS, tp->bytes_retrans);
  nla_put<std::uint32_t>(s, TCP_NLA_DSACK_DUPS, tp->dsack_dups);
  nla_put<std::uint32_t>(s, TCP_NLA_REORD_SEEN, tp->reord_seen);
  nla_put<std::uint32_t>(s, TCP_NLA_SRTT, tp->srtt_us >> 3);
  nla_put<std::uint16_t>(s, TCP_NLA_TIMEOUT_REHASH, 0);  // sendpath never rehashes
  nla_put<std::uint32_t>(
      s, TCP_NLA_BYTES_NOTSENT,
      static_cast<std::uint32_t>(std::max(0, static_cast<int>(tp->write_seq - tp->snd_nxt))));
  nla_put<std::uint64_t>(s, TCP_NLA_EDT, orig_skb->tstamp);
  // TCP_NLA_TTL (the ACK's TTL) is left out: tcp_clean_rtx_queue does not
  // pass the ACK down to tcp_ack_tstamp.
  nla_put<std::uint32_t>(s, kTcpNlaRehash, 0);
  return stats;
}

void tcp_ack_tstamp(Sock* sk, SkBuff* skb, std::uint32_t prior_snd_una) {
  if (!TCP_SKB_CB(skb)->txstamp_ack) return;
  const std::uint32_t tskey = skb_shinfo(skb)->tskey;
  if (!before(tskey, prior_snd_una) && before(tskey, tcp_sk(sk)->snd_una))
    __skb_tstamp_tx(skb, sk, SCM_TSTAMP_ACK);
}

unsigned tcp_poll(Socket* sock) {
  Sock* sk = sock->sk;
  const int state = sk->sk_state;
  if (state == TCP_LISTEN)
    return inet_csk(sk)->icsk_accept_queue.accept_q.empty()
               ? 0u
               : static_cast<unsigned>(POLLIN | POLLRDNORM);
  unsigned mask = 0;
  // RFC 793 CLOSED and a full shutdown both look like a hangup.
  if (sk->sk_shutdown == SHUTDOWN_MASK || state == TCP_CLOSE) mask |= POLLHUP;
  if (sk->sk_shutdown & RCV_SHUTDOWN) mask |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (state != TCP_SYN_SENT && (state != TCP_SYN_RECV)) {
    // tcp_stream_is_readable: SO_RCVLOWAT met, or the reader must read now.
    if (!sk->sk_receive_queue.empty() && tcp_epollin_ready(sk, std::max(sk->sk_rcvlowat, 1)))
      mask |= POLLIN | POLLRDNORM;
    if (!(sk->sk_shutdown & SEND_SHUTDOWN)) {
      if (sk_stream_is_writeable(sk) && tcp_stream_memory_free(sk, 1)) {
        mask |= POLLOUT | POLLWRNORM;
      } else {
        // Ask to be woken when room comes back (SOCK_NOSPACE).
        sock_set_flag(sk, SOCK_NOSPACE);
      }
    } else {
      mask |= POLLOUT | POLLWRNORM;
    }
  }
  if (sk->sk_err || !sk->sk_error_queue.empty()) mask |= POLLERR;
  return mask;
}

}  // namespace sp
