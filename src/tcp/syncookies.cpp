// SYN cookies (net/ipv4/syncookies.c, D. J. Bernstein's idea). When the SYN
// queue is full (tcp_syncookies = 1), or for every SYN (2), the listener
// keeps nothing: the SYN-ACK's sequence number is a keyed hash of the tuple
// that also carries a minute counter and the index of the peer's MSS in a
// small table, and its TSval's low bits carry the window scale, SACK and
// ECN the SYN offered. The ACK that returns a valid cookie (ack_seq - 1)
// rebuilds the request from those and creates the child directly.
#include <arpa/inet.h>

#include <cstring>

#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp {

namespace {

// The cookie's top 8 bits are the minute counter (added, so they wrap), the
// low 24 a hash that also takes the counter, plus the MSS index.
constexpr unsigned COOKIEBITS = 24;
constexpr std::uint32_t COOKIEMASK = (1u << COOKIEBITS) - 1;

// siphash_4u32 over (saddr, daddr, sport << 16 | dport, count) with secret
// c, truncated to 32 bits. The words are hashed as the host holds them, as
// Linux does: only this host ever checks the result.
std::uint32_t cookie_hash(const Stack& st, be32 saddr, be32 daddr, std::uint16_t sport,
                          std::uint16_t dport, std::uint32_t count, int c) {
  const std::uint32_t words[4] = {saddr, daddr, (static_cast<std::uint32_t>(sport) << 16) | dport,
                                  count};
  const SipKey& key = const_cast<Stack&>(st).tcp().syncookie_secret(c);
  return static_cast<std::uint32_t>(siphash24(key, words, sizeof words));
}

// secure_tcp_syn_cookie: H0(tuple) + their ISN + count << 24, plus
// (H1(tuple, count) + data) mod 2^24. Without the secret neither hash can be
// produced, so an ACK that guesses a cookie is right once in 2^24 per
// counter value at best.
std::uint32_t secure_tcp_syn_cookie(const Stack& st, be32 saddr, be32 daddr, std::uint16_t sport,
                                    std::uint16_t dport, std::uint32_t sseq, std::uint32_t data) {
  const std::uint32_t count = tcp_cookie_time(st);
  return cookie_hash(st, saddr, daddr, sport, dport, 0, 0) + sseq + (count << COOKIEBITS) +
         ((cookie_hash(st, saddr, daddr, sport, dport, count, 1) + data) & COOKIEMASK);
}

// check_tcp_syn_cookie: undo the layers; the data (MSS index) of a cookie
// made within the last MAX_SYNCOOKIE_AGE minutes, else ~0u. A forged cookie
// gives an out-of-range index almost always; the caller checks it.
std::uint32_t check_tcp_syn_cookie(const Stack& st, std::uint32_t cookie, be32 saddr, be32 daddr,
                                   std::uint16_t sport, std::uint16_t dport, std::uint32_t sseq) {
  const std::uint32_t count = tcp_cookie_time(st);
  cookie -= cookie_hash(st, saddr, daddr, sport, dport, 0, 0) + sseq;
  // What is left: count << 24 + (H1 + data) mod 2^24. The counter's age, in
  // its 8 bits:
  const std::uint32_t age = (count - (cookie >> COOKIEBITS)) & (~0u >> COOKIEBITS);
  if (age >= MAX_SYNCOOKIE_AGE) return ~0u;
  return (cookie - cookie_hash(st, saddr, daddr, sport, dport, count - age, 1)) & COOKIEMASK;
}

constexpr std::size_t kMssTabSize = sizeof kSyncookieMssTab / sizeof kSyncookieMssTab[0];

// cookie_ecn_ok: the peer asked for ECN in its SYN and this host would
// accept it (tcp_ecn, or a route feature). sendpath has no ECN (tcp_ecn is
// only 0), so this is always false and a cookie's ECN bit is ignored.
bool cookie_ecn_ok(const Sysctl& sc) {
  return sc.tcp_ecn != 0;
}

}  // namespace

std::uint32_t tcp_cookie_time(const Stack& st) {
  return static_cast<std::uint32_t>(jiffies_of(st) / tcp_syncookie_period());
}

std::uint32_t cookie_v4_init_sequence(const Stack& st, be32 saddr, be32 daddr, std::uint16_t sport,
                                      std::uint16_t dport, std::uint32_t seq, std::uint16_t* mssp) {
  // The largest table value not above the peer's MSS (536 at worst: the
  // table's first entry is the IPv4 minimum every host takes).
  std::size_t idx = kMssTabSize - 1;
  while (idx && *mssp < kSyncookieMssTab[idx]) idx--;
  *mssp = kSyncookieMssTab[idx];
  return secure_tcp_syn_cookie(st, saddr, daddr, sport, dport, seq,
                               static_cast<std::uint32_t>(idx));
}

int cookie_v4_check_mss(const Stack& st, be32 saddr, be32 daddr, std::uint16_t sport,
                        std::uint16_t dport, std::uint32_t seq, std::uint32_t ack_seq) {
  // The ACK acknowledges our ISN + 1 and comes with their ISN + 1.
  const std::uint32_t idx =
      check_tcp_syn_cookie(st, ack_seq - 1, saddr, daddr, sport, dport, seq - 1);
  return idx < kMssTabSize ? kSyncookieMssTab[idx] : 0;
}

std::uint32_t cookie_init_timestamp(const RequestSock* req, Nanos now) {
  const auto ts_now = static_cast<std::uint32_t>(now / kNsPerMs);
  std::uint32_t options = req->wscale_ok ? req->snd_wscale : TS_OPT_WSCALE_MASK;
  if (req->sack_ok) options |= TS_OPT_SACK;
  if (req->ecn_ok) options |= TS_OPT_ECN;
  // Later TSvals on the connection come from the clock, so this one must
  // not be ahead of it: step back one 64 ms slot if the options would be.
  std::uint32_t ts = (ts_now >> TSBITS) << TSBITS;
  ts |= options;
  if (ts > ts_now) ts -= 1u << TSBITS;
  return ts;
}

bool cookie_timestamp_decode(const Sysctl& sc, TcpOptionsReceived* opt) {
  if (!opt->saw_tstamp) {
    // No timestamps: the cookie SYN-ACK offered none of the options.
    opt->tstamp_ok = false;
    opt->wscale_ok = false;
    opt->snd_wscale = 0;
    opt->sack_ok = 0;
    return true;
  }
  if (!sc.tcp_timestamps) return false;
  const std::uint32_t options = opt->rcv_tsecr;
  opt->sack_ok = (options & TS_OPT_SACK) ? TCP_SACK_SEEN : 0;
  if (opt->sack_ok && !sc.tcp_sack) return false;
  if ((options & TS_OPT_WSCALE_MASK) == TS_OPT_WSCALE_MASK) return true;
  opt->wscale_ok = true;
  opt->snd_wscale = static_cast<std::uint8_t>(options & TS_OPT_WSCALE_MASK);
  return sc.tcp_window_scaling != 0;
}

void tcp_synq_overflow(Sock* listener) {
  RequestSockQueue& q = inet_csk(listener)->icsk_accept_queue;
  const auto now = static_cast<std::uint32_t>(jiffies_of(*listener->stack));
  // Written at most once a second, as Linux (which does so to keep the
  // listener's cache line clean under a flood).
  if (q.synq_overflowed && time_between32(now, q.synq_overflow_ts, q.synq_overflow_ts + HZ)) return;
  q.synq_overflow_ts = now;
  q.synq_overflowed = true;
}

bool tcp_synq_no_recent_overflow(const Sock* listener) {
  const RequestSockQueue& q = inet_csk(listener)->icsk_accept_queue;
  if (!q.synq_overflowed) return true;
  const auto now = static_cast<std::uint32_t>(jiffies_of(*listener->stack));
  // From a second before the overflow (Linux allows for a racing update;
  // harmless here) to TCP_SYNCOOKIE_VALID after it.
  return !time_between32(now, q.synq_overflow_ts - HZ,
                         q.synq_overflow_ts + static_cast<std::uint32_t>(tcp_syncookie_valid()));
}

Sock* cookie_v4_check(Sock* listener, SkbPtr& skb) {
  Stack& st = *listener->stack;
  const Sysctl& sc = st.sysctl();
  const TcpSkbCb* cb = TCP_SKB_CB(skb.get());
  if (!sc.tcp_syncookies || !(cb->tcp_flags & TCPHDR_ACK) || (cb->tcp_flags & TCPHDR_RST))
    return listener;
  // Only a listener that sent cookies lately takes an ACK for one: the
  // 2^-24 chance of a guessed ACK is not offered to everyone all the time.
  if (tcp_synq_no_recent_overflow(listener)) return listener;

  const std::uint8_t* iph = skb_network_header(skb.get());
  const std::uint8_t* th = skb_transport_header(skb.get());
  be32 saddr, daddr;
  std::uint16_t sport, dport;
  std::memcpy(&saddr, iph + 12, 4);
  std::memcpy(&daddr, iph + 16, 4);
  std::memcpy(&sport, th, 2);
  std::memcpy(&dport, th + 2, 2);
  const int mss = cookie_v4_check_mss(st, saddr, daddr, sport, dport, cb->seq, cb->ack_seq);
  if (!mss) {
    st.mib().inc(MibId::TcpExtSyncookiesFailed);
    return listener;
  }
  st.mib().inc(MibId::TcpExtSyncookiesRecv);

  TcpOptionsReceived opt;
  tcp_parse_options(sc, skb.get(), &opt, false);
  std::uint32_t tsoff = 0;
  if (opt.saw_tstamp && opt.rcv_tsecr) {
    tsoff = sc.tcp_timestamps == 1 ? secure_tcp_ts_off(st, daddr, saddr) : 0;
    opt.rcv_tsecr -= tsoff;
  }
  if (!cookie_timestamp_decode(sc, &opt)) return listener;

  // The request the SYN would have made (cookie_tcp_reqsk_alloc), rebuilt
  // from the ACK: our ISN is the cookie, theirs the ACK's seq - 1.
  RequestSock req(listener);
  req.syncookie = true;
  req.ir_loc_addr = daddr;
  req.ir_rmt_addr = saddr;
  req.ir_num = ntohs(dport);
  req.ir_rmt_port = sport;
  req.ir_iif = listener->sk_bound_dev_if;
  req.mss = static_cast<std::uint16_t>(mss);
  req.ts_recent = opt.saw_tstamp ? opt.rcv_tsval : 0;
  req.snd_wscale = opt.snd_wscale;
  req.tstamp_ok = opt.saw_tstamp;
  req.sack_ok = opt.sack_ok != 0;
  req.wscale_ok = opt.wscale_ok;
  req.ecn_ok = (opt.rcv_tsecr & TS_OPT_ECN) && cookie_ecn_ok(sc);
  req.rcv_isn = cb->seq - 1;
  req.snt_isn = cb->ack_seq - 1;
  req.ts_off = tsoff;
  req.num_retrans = 0;
  req.snt_synack = 0;  // no RTT sample from a SYN-ACK we did not time

  // Redo tcp_select_initial_window as the SYN-ACK did, so the child uses
  // the window scale the SYN-ACK announced (it depends on the buffer space
  // only); Linux sizes the window with the cookie's MSS here.
  RouteResult rt = st.ip_route_output(saddr);
  if (!rt.dev) {
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_IP_OUTNOROUTES);
    return nullptr;
  }
  std::uint32_t advmss = dst_metric_advmss(rt);
  if (tcp_sk(listener)->rx_opt.user_mss && advmss > tcp_sk(listener)->rx_opt.user_mss)
    advmss = tcp_sk(listener)->rx_opt.user_mss;
  req.advmss = static_cast<std::uint16_t>(advmss);
  std::uint32_t rcv_wnd = 0, window_clamp = tcp_sk(listener)->window_clamp;
  std::uint8_t rcv_wscale = 0;
  tcp_select_initial_window(listener, tcp_full_space(listener), req.mss, &rcv_wnd, &window_clamp,
                            req.wscale_ok, &rcv_wscale, 0);
  req.rsk_rcv_wnd = rcv_wnd;
  req.rsk_window_clamp = window_clamp;
  req.rcv_wscale = req.wscale_ok ? rcv_wscale : 0;

  SkbDropReason reason = SkbDropReason::SKB_DROP_REASON_NOT_SPECIFIED;
  TcpSock* child = tcp_v4_syn_recv_sock(listener, &req, skb.get(), &reason);
  if (!child) {
    tcp_drop_reason(st, std::move(skb), reason);
    return nullptr;
  }
  return child;
}

}  // namespace sp
