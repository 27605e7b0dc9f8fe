// The receive half of a connection (net/ipv4/tcp_input.c): validating an
// inbound segment against the connection (PAWS, sequence window, RST and SYN
// rules of RFC 5961), processing its ACK (window update, retransmit queue
// cleanup, RTT estimation per RFC 6298, congestion control), queueing its data
// in order or out of order (with SACK blocks, RFC 2018), deciding when to
// ACK (quick-ACK mode and delayed ACKs), and the state machine of RFC 9293
// section 3.10.7.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "tcp/recovery/tcp_recovery.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/events.hpp"
#include "wire/tcp.hpp"

namespace sp {

namespace {

// --- the header of an inbound skb --------------------------------------------------
// tcp_v4_rcv leaves skb->data (and transport_header) at the TCP header, with
// the whole header linear; tcp_data_queue pulls it before queueing.
const std::uint8_t* tcp_hdr(const SkBuff* skb) {
  return skb_transport_header(skb);
}
std::uint8_t th_flags(const std::uint8_t* th) {
  return th[13];
}
bool th_syn(const std::uint8_t* th) {
  return th[13] & TCPHDR_SYN;
}
bool th_fin(const std::uint8_t* th) {
  return th[13] & TCPHDR_FIN;
}
bool th_rst(const std::uint8_t* th) {
  return th[13] & TCPHDR_RST;
}
bool th_ack(const std::uint8_t* th) {
  return th[13] & TCPHDR_ACK;
}
std::uint32_t th_doff_bytes(const std::uint8_t* th) {
  return (th[12] >> 4) * 4u;
}
std::uint16_t th_window(const std::uint8_t* th) {
  return load_be16(th + 14);
}

Mib& mib_of(Sock* sk) {
  return sk->stack->mib();
}

void tcp_drop(Sock* sk, SkbPtr skb, SkbDropReason reason) {
  tcp_drop_reason(*sk->stack, std::move(skb), reason);
}

}  // namespace

// --- drops ----------------------------------------------------------------------------

void tcp_drop_reason(Stack& st, SkbPtr skb, SkbDropReason reason) {
  st.tcp().drops.inc(reason);
  trace_kfree_skb(st, skb.get(), skb_drop_reason_name(reason));
  kfree_skb(std::move(skb));
}

// --- options --------------------------------------------------------------------------

// tcp_parse_options: read the options of the segment at skb's transport
// header into opt_rx. MSS, window scale and SACK-permitted count only on a
// SYN (estab == false); timestamps always. Malformed options end the walk
// the way Linux's parser does (src/wire's parser implements that walk).
void tcp_parse_options(const Sysctl& sc, const SkBuff* skb, TcpOptionsReceived* opt_rx,
                       bool estab) {
  const std::uint8_t* th = tcp_hdr(skb);
  const std::uint32_t doff = th_doff_bytes(th);
  opt_rx->saw_tstamp = false;
  if (doff <= kTcpMinHeaderLen) return;
  TcpOptions o;
  tcp_parse_options(std::span<const std::uint8_t>(th + kTcpMinHeaderLen, doff - kTcpMinHeaderLen),
                    &o);
  opt_rx->saw_unknown = o.saw_unknown;
  if (!estab && th_syn(th)) {
    if (o.mss) {
      std::uint16_t in_mss = o.mss;
      if (opt_rx->user_mss && opt_rx->user_mss < in_mss) in_mss = opt_rx->user_mss;
      opt_rx->mss_clamp = in_mss;
    }
    if (o.wscale_ok && sc.tcp_window_scaling) {
      opt_rx->wscale_ok = true;
      // RFC 7323 2.3: a shift above 14 is treated as 14.
      opt_rx->snd_wscale = std::min<std::uint8_t>(o.wscale, TCP_MAX_WSCALE);
    }
    if (o.sack_ok && sc.tcp_sack) opt_rx->sack_ok = TCP_SACK_SEEN;
  }
  if (o.saw_tstamp && (estab ? opt_rx->tstamp_ok : sc.tcp_timestamps != 0)) {
    opt_rx->saw_tstamp = true;
    opt_rx->rcv_tsval = o.ts_val;
    opt_rx->rcv_tsecr = o.ts_ecr;
  }
}

namespace {

// Options on an established connection; false when there are none (so the
// timestamp checks are skipped). TSecr is turned back into our clock.
bool tcp_fast_parse_options(Sock* sk, const SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint8_t* th = tcp_hdr(skb);
  if (th_doff_bytes(th) == kTcpMinHeaderLen) {
    tp->rx_opt.saw_tstamp = false;
    return false;
  }
  tcp_parse_options(sk->stack->sysctl(), skb, &tp->rx_opt, true);
  if (tp->rx_opt.saw_tstamp && tp->rx_opt.rcv_tsecr) tp->rx_opt.rcv_tsecr -= tp->tsoffset;
  return true;
}

}  // namespace

// RFC 7323 5.3: is TSval acceptable against ts_recent (within paws_win
// ticks), or is ts_recent too old to trust (24 days)?
bool tcp_paws_check(const Stack& st, const TcpOptionsReceived* rx, int paws_win) {
  if (static_cast<std::int32_t>(rx->ts_recent - rx->rcv_tsval) <= paws_win) return true;
  if (tcp_ts_seconds(st) >= rx->ts_recent_stamp + TCP_PAWS_24DAYS) return true;
  // No valid ts_recent yet: nothing to compare with.
  if (!rx->ts_recent_stamp) return true;
  return false;
}

bool tcp_paws_reject(const Stack& st, const TcpOptionsReceived* rx, bool rst) {
  if (tcp_paws_check(st, rx, 0)) return false;
  // An RST with an old timestamp is still believed once ts_recent has aged
  // past MSL: the peer may have rebooted (RFC 7323 5.5).
  if (rst && tcp_ts_seconds(st) >= rx->ts_recent_stamp + TCP_PAWS_MSL) return false;
  return true;
}

namespace {

void tcp_store_ts_recent(TcpSock* tp) {
  tp->rx_opt.ts_recent = tp->rx_opt.rcv_tsval;
  tp->rx_opt.ts_recent_stamp = tcp_ts_seconds(*tp->stack);
}

// RFC 7323 4.3: take TSval as the value to echo only from a segment that
// covers the left edge of the window we advertised last.
void tcp_replace_ts_recent(TcpSock* tp, std::uint32_t seq) {
  if (tp->rx_opt.saw_tstamp && !after(seq, tp->rcv_wup)) {
    if (tcp_paws_check(*tp->stack, &tp->rx_opt, 0)) tcp_store_ts_recent(tp);
  }
}

// A pure duplicate ACK may legitimately carry an older timestamp when ACKs
// are reordered (tcp_disordered_ack): PAWS lets it through.
bool tcp_disordered_ack(Sock* sk, const SkBuff* skb) {
  const TcpSock* tp = tcp_sk(sk);
  const TcpSkbCb* cb = TCP_SKB_CB(skb);
  const std::uint8_t* th = tcp_hdr(skb);
  std::uint32_t ack = cb->ack_seq;
  std::uint32_t seq = cb->seq;
  return (th_flags(th) & (TCPHDR_ACK | TCPHDR_SYN | TCPHDR_FIN | TCPHDR_RST)) == TCPHDR_ACK &&
         seq == cb->end_seq && seq == tp->rcv_nxt && ack == tp->snd_una &&
         (static_cast<std::uint32_t>(th_window(th)) << tp->rx_opt.snd_wscale) == tp->snd_wnd &&
         static_cast<std::int32_t>(tp->rx_opt.ts_recent - tp->rx_opt.rcv_tsval) <=
             static_cast<std::int32_t>(inet_csk(sk)->icsk_rto * 1024 / HZ);
}

bool tcp_paws_discard(Sock* sk, const SkBuff* skb) {
  const TcpSock* tp = tcp_sk(sk);
  return !tcp_paws_check(*sk->stack, &tp->rx_opt, TCP_PAWS_WINDOW) && !tcp_disordered_ack(sk, skb);
}

// RFC 9293 3.10.7.4 acceptability, as Linux applies it: a segment is out of
// window when it ends before the window we last advertised (rcv_wup) or
// starts after its right edge.
SkbDropReason tcp_sequence(const TcpSock* tp, std::uint32_t seq, std::uint32_t end_seq, bool* bad) {
  *bad = true;
  if (before(end_seq, tp->rcv_wup)) return SkbDropReason::SKB_DROP_REASON_TCP_OLD_SEQUENCE;
  if (after(seq, tp->rcv_nxt + tcp_receive_window(tp)))
    return SkbDropReason::SKB_DROP_REASON_TCP_INVALID_SEQUENCE;
  *bad = false;
  return SkbDropReason::SKB_DROP_REASON_NOT_SPECIFIED;
}

}  // namespace

// tcp_invalid_ratelimit is set in ms and kept in jiffies by Linux
// (proc_dointvec_ms_jiffies); sendpath keeps the ms and converts here, so
// the limit is the same length at any HZ.
bool __tcp_oow_rate_limited(Stack& st, MibId mib, std::uint32_t* last_oow_ack_time) {
  const std::uint32_t now = static_cast<std::uint32_t>(jiffies_of(st));
  if (*last_oow_ack_time) {
    const std::int32_t elapsed = static_cast<std::int32_t>(now - *last_oow_ack_time);
    const int ms = st.sysctl().tcp_invalid_ratelimit;
    const std::int64_t limit =
        ms > 0 ? static_cast<std::int64_t>(msecs_to_jiffies(static_cast<std::uint64_t>(ms))) : ms;
    if (0 <= elapsed && elapsed < limit) {
      st.mib().inc(mib);
      return true;
    }
  }
  *last_oow_ack_time = now;
  return false;
}

bool tcp_oow_rate_limited(Stack& st, const SkBuff* skb, MibId mib,
                          std::uint32_t* last_oow_ack_time) {
  // Data is not part of an ACK loop and is never limited; a SYN (with data
  // or not) and a bare ACK or RST are.
  const TcpSkbCb* cb = TCP_SKB_CB(skb);
  if (cb->seq != cb->end_seq && !(cb->tcp_flags & TCPHDR_SYN)) return false;
  return __tcp_oow_rate_limited(st, mib, last_oow_ack_time);
}

// The stack-wide RFC 5961 budget (Linux keeps it per network namespace):
// unlimited at the default INT_MAX; otherwise, on the first challenge of
// each second (jiffies / HZ), the budget is refilled to a random value in
// [ceil(limit / 2), limit + ceil(limit / 2) - 1] -- limit per second on
// average, but not a count an off-path attacker can read exactly (the side
// channel of CVE-2016-5696). The arithmetic is Linux's, in u32: a limit of
// 0 or below draws from the whole u32 range. The draw comes from the
// stack's generator so a simulation repeats.
bool tcp_challenge_ack_allowed(Stack& st) {
  const std::uint32_t ack_limit = static_cast<std::uint32_t>(st.sysctl().tcp_challenge_ack_limit);
  if (ack_limit == static_cast<std::uint32_t>(INT_MAX)) return true;
  TcpStackState& tcp = st.tcp();
  const std::uint32_t now = static_cast<std::uint32_t>(jiffies_of(st) / HZ);
  if (now != tcp.challenge_timestamp) {
    const std::uint32_t half = (ack_limit + 1) >> 1;
    tcp.challenge_timestamp = now;
    tcp.challenge_count = half + st.random_u32_below(ack_limit);
  }
  if (tcp.challenge_count > 0) {
    tcp.challenge_count--;
    return true;
  }
  return false;
}

// --- ACK helpers used from several places -----------------------------------------------

namespace {

// RFC 5961 7 (ACK throttling): a challenge ACK tells a possibly spoofed
// sender where we really are. First the per-socket limit (one reply per
// tcp_invalid_ratelimit), then the stack's per-second budget; counted in
// TCPChallengeACK only when it goes out.
void tcp_send_challenge_ack(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  Stack& st = *sk->stack;
  if (__tcp_oow_rate_limited(st, MibId::TcpExtTCPACKSkippedChallenge, &tp->last_oow_ack_time))
    return;
  if (!tcp_challenge_ack_allowed(st)) return;
  mib_of(sk).inc(MibId::TcpExtTCPChallengeACK);
  tcp_send_ack(sk);
}

void tcp_dsack_set(Sock* sk, std::uint32_t seq, std::uint32_t end_seq) {
  TcpSock* tp = tcp_sk(sk);
  if (tp->rx_opt.sack_ok && sk->stack->sysctl().tcp_dsack) {
    mib_of(sk).inc(before(seq, tp->rcv_nxt) ? MibId::TcpExtTCPDSACKOldSent
                                            : MibId::TcpExtTCPDSACKOfoSent);
    tp->rx_opt.dsack = true;
    tp->duplicate_sack[0].start_seq = seq;
    tp->duplicate_sack[0].end_seq = end_seq;
  }
}

// A retransmission of data we already have: the peer missed our ACK. ACK at
// once (quick-ACK mode) and report the duplicate with a D-SACK.
void tcp_send_dupack(Sock* sk, const SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  const TcpSkbCb* cb = TCP_SKB_CB(skb);
  if (cb->end_seq != cb->seq && before(cb->seq, tp->rcv_nxt)) {
    mib_of(sk).inc(MibId::TcpExtDelayedACKLost);
    tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS);
    if (tp->rx_opt.sack_ok && sk->stack->sysctl().tcp_dsack) {
      std::uint32_t end_seq = cb->end_seq;
      if (after(end_seq, tp->rcv_nxt)) end_seq = tp->rcv_nxt;
      tcp_dsack_set(sk, cb->seq, end_seq);
    }
  }
  tcp_send_ack(sk);
}

}  // namespace

namespace {

// Enough quick ACKs to open the peer's slow start: half our window in
// segments, at least 2, at most max_quickacks (tcp_incr_quickack). Unlike
// entering quick-ACK mode it leaves pingpong and ato alone.
void tcp_incr_quickack(Sock* sk, unsigned max_quickacks) {
  InetConnectionSock* icsk = inet_csk(sk);
  const TcpSock* tp = tcp_sk(sk);
  unsigned rcv_mss = icsk->icsk_ack.rcv_mss ? icsk->icsk_ack.rcv_mss : TCP_MSS_DEFAULT;
  unsigned quickacks = tp->rcv_wnd / (2 * rcv_mss);
  if (quickacks == 0) quickacks = 2;
  quickacks = std::min(quickacks, max_quickacks);
  if (quickacks > icsk->icsk_ack.quick) icsk->icsk_ack.quick = static_cast<std::uint8_t>(quickacks);
}

}  // namespace

void tcp_enter_quickack_mode(Sock* sk, unsigned max_quickacks) {
  InetConnectionSock* icsk = inet_csk(sk);
  tcp_incr_quickack(sk, max_quickacks);
  icsk->icsk_ack.pingpong = 0;
  icsk->icsk_ack.ato = TCP_ATO_MIN;
}

// --- RST --------------------------------------------------------------------------------

void tcp_write_queue_purge(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  tcp_chrono_stop(sk, TCP_CHRONO_BUSY);
  while (SkbPtr skb = sk->sk_write_queue.dequeue()) sk_wmem_free_skb(sk, std::move(skb));
  while (SkBuff* skb = tp->tcp_rtx_queue.first())
    sk_wmem_free_skb(sk, tcp_rtx_queue_unlink(sk, skb));
  sk_mem_reclaim(sk);
  tp->packets_out = 0;
  tp->retrans_out = 0;
  tp->lost_out = 0;
  tp->sacked_out = 0;
  tp->highest_sack = nullptr;
  tp->lost_skb_hint = nullptr;
  tp->retransmit_skb_hint = nullptr;
  inet_csk(sk)->icsk_backoff = 0;
}

namespace {

void tcp_done_with_error(Sock* sk, int err) {
  sk->sk_err = err;
  sk->sk_error_report(sk);
  tcp_write_queue_purge(sk);
  tcp_done(sk);
}

}  // namespace

// RFC 9293 3.10.7: an acceptable RST ends the connection; the error the user
// sees depends on how far the connection had come.
void tcp_reset(Sock* sk, SkBuff* /*skb*/) {
  trace_tcp_receive_reset(sk);
  int err;
  switch (sk->sk_state) {
    case TCP_SYN_SENT:
      err = ECONNREFUSED;
      break;
    case TCP_CLOSE_WAIT:
      err = EPIPE;
      break;
    case TCP_CLOSE:
      return;
    default:
      err = ECONNRESET;
  }
  tcp_done_with_error(sk, err);
}

void tcp_write_err(Sock* sk) {
  tcp_done_with_error(sk, sk->sk_err_soft ? sk->sk_err_soft : ETIMEDOUT);
  mib_of(sk).inc(MibId::TcpExtTCPAbortOnTimeout);
}

// --- RTT and RTO (RFC 6298) ------------------------------------------------------------

namespace {

std::uint32_t tcp_rto_min_us(const Sock* sk) {
  return static_cast<std::uint32_t>(jiffies_to_usecs(tcp_rto_min(sk)));
}

// Linux's fixed-point form of RFC 6298 2.3: srtt_us holds 8*SRTT, mdev_us
// 4*|deviation| smoothed with gain 1/4, and rttvar_us (4*RTTVAR) is the
// largest mdev seen in the last RTT, floored at rto_min so that RTO is never
// below SRTT + 200 ms. A sample below the current mean deviation is weighted
// less (gain 1/32), so a sudden drop in RTT does not inflate the variance.
void tcp_rtt_estimator(Sock* sk, long mrtt_us) {
  TcpSock* tp = tcp_sk(sk);
  long m = mrtt_us;
  std::uint32_t srtt = tp->srtt_us;
  if (srtt != 0) {
    m -= static_cast<long>(srtt >> 3);  // m is now the error in the estimate
    srtt = static_cast<std::uint32_t>(static_cast<long>(srtt) + m);  // srtt = 7/8 srtt + 1/8 new
    if (m < 0) {
      m = -m;
      m -= static_cast<long>(tp->mdev_us >> 2);
      if (m > 0) m >>= 3;
    } else {
      m -= static_cast<long>(tp->mdev_us >> 2);
    }
    tp->mdev_us = static_cast<std::uint32_t>(static_cast<long>(tp->mdev_us) + m);
    if (tp->mdev_us > tp->mdev_max_us) {
      tp->mdev_max_us = tp->mdev_us;
      if (tp->mdev_max_us > tp->rttvar_us) tp->rttvar_us = tp->mdev_max_us;
    }
    // Once per RTT, let rttvar decay towards the recent maximum deviation.
    if (after(tp->snd_una, tp->rtt_seq)) {
      if (tp->mdev_max_us < tp->rttvar_us) tp->rttvar_us -= (tp->rttvar_us - tp->mdev_max_us) >> 2;
      tp->rtt_seq = tp->snd_nxt;
      tp->mdev_max_us = tcp_rto_min_us(sk);
    }
  } else {
    // First measurement (RFC 6298 2.2): SRTT = R, RTTVAR = R/2.
    srtt = static_cast<std::uint32_t>(m << 3);
    tp->mdev_us = static_cast<std::uint32_t>(m << 1);
    tp->rttvar_us = std::max(tp->mdev_us, tcp_rto_min_us(sk));
    tp->mdev_max_us = tp->rttvar_us;
    tp->rtt_seq = tp->snd_nxt;
  }
  tp->srtt_us = std::max(1u, srtt);
}

// RTO = SRTT + 4*RTTVAR (rttvar_us already holds the 4x), capped at 120 s.
void tcp_set_rto(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  std::uint64_t rto_us = (tp->srtt_us >> 3) + tp->rttvar_us;
  std::uint64_t rto = usecs_to_jiffies(rto_us);
  inet_csk(sk)->icsk_rto = static_cast<std::uint32_t>(std::min<std::uint64_t>(rto, TCP_RTO_MAX));
}

// Windowed minimum of RTT samples over 5 minutes (tcp_update_rtt_min,
// reduced to a single-sample window filter).
void tcp_update_rtt_min(Sock* sk, std::uint32_t rtt_us) {
  TcpSock* tp = tcp_sk(sk);
  std::uint32_t now = tcp_jiffies32(sk);
  if (rtt_us <= tp->rtt_min.v ||
      static_cast<std::int32_t>(now - tp->rtt_min.t) > 300 * static_cast<std::int32_t>(HZ)) {
    tp->rtt_min.v = rtt_us;
    tp->rtt_min.t = now;
  }
}

// Take an RTT sample (tcp_ack_update_rtt). Karn's rule: a sample from
// retransmitted data is ambiguous and is not taken (seq_rtt_us < 0); then a
// timestamp echo (RFC 7323 4.1) still gives an unambiguous measurement.
bool tcp_ack_update_rtt(Sock* sk, int flag, long seq_rtt_us, long sack_rtt_us, long* ca_rtt_us) {
  TcpSock* tp = tcp_sk(sk);
  // A SACK of never-retransmitted data measures as well as a cumulative ACK.
  if (seq_rtt_us < 0) seq_rtt_us = sack_rtt_us;
  if (seq_rtt_us < 0 && tp->rx_opt.saw_tstamp && tp->rx_opt.rcv_tsecr &&
      (flag & (FLAG_DATA_ACKED | FLAG_SYN_ACKED))) {
    std::uint32_t delta_ms = tcp_time_stamp_ms(sk) - tp->rx_opt.rcv_tsecr;
    if (static_cast<std::int32_t>(delta_ms) >= 0 && delta_ms < 60 * 1000) {
      seq_rtt_us = static_cast<long>(delta_ms) * 1000;
      *ca_rtt_us = seq_rtt_us;
    }
  }
  if (seq_rtt_us < 0) return false;
  tcp_update_rtt_min(sk, static_cast<std::uint32_t>(*ca_rtt_us >= 0 ? *ca_rtt_us : seq_rtt_us));
  tp->rtt_last_us = static_cast<std::uint32_t>(seq_rtt_us);
  tcp_rtt_estimator(sk, seq_rtt_us);
  tcp_set_rto(sk);
  // A valid sample ends any exponential backoff (RFC 6298 5.7).
  inet_csk(sk)->icsk_backoff = 0;
  return true;
}

// The ACK echoes a timestamp older than skb's retransmission: it answers
// the original, so the retransmission was spurious (tcp_skb_spurious_retrans).
bool tcp_skb_spurious_retrans(const TcpSock* tp, const SkBuff* skb) {
  return (TCP_SKB_CB(skb)->sacked & TCPCB_RETRANS) && tp->rx_opt.saw_tstamp &&
         tp->rx_opt.rcv_tsecr &&
         before(tp->rx_opt.rcv_tsecr, static_cast<std::uint32_t>(skb->tstamp / kNsPerMs));
}

}  // namespace

void tcp_synack_rtt_meas(Sock* sk, long rtt_us) {
  long ca_rtt_us = rtt_us;
  tcp_ack_update_rtt(sk, FLAG_SYN_ACKED | FLAG_DATA_ACKED, rtt_us, -1, &ca_rtt_us);
}

void tcp_rearm_rto(Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  const InetConnectionSock* icsk = inet_csk(sk);
  if (!tp->packets_out) {
    inet_csk_clear_xmit_timer(sk, ICSK_TIME_RETRANS);
  } else {
    std::uint64_t rto = icsk->icsk_rto;
    // The loss probe or reordering timer held the slot: the RTO keeps its
    // original schedule (from the head's transmit), not a fresh full RTO.
    if (icsk->icsk_pending == ICSK_TIME_REO_TIMEOUT || icsk->icsk_pending == ICSK_TIME_LOSS_PROBE) {
      const std::int64_t delta_us = tcp_rto_delta_us(sk);
      rto = usecs_to_jiffies(static_cast<std::uint64_t>(std::max<std::int64_t>(delta_us, 1)));
    }
    tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS, rto, TCP_RTO_MAX);
  }
}

// After an ACK that moved snd_una: a loss probe if one may be armed, else
// the RTO (tcp_set_xmit_timer).
void tcp_set_xmit_timer(Sock* sk) {
  if (!tcp_schedule_loss_probe(sk, true)) tcp_rearm_rto(sk);
}

void tcp_update_pacing_rate(Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  // Twice the current rate in slow start (the window doubles each RTT),
  // 1.2x in congestion avoidance: mss * cwnd / srtt, scaled.
  std::uint64_t rate = static_cast<std::uint64_t>(tp->mss_cache) * ((1000000 / 100) << 3);
  if (tp->snd_cwnd < tp->snd_ssthresh / 2)
    rate *= static_cast<std::uint64_t>(sk->stack->sysctl().tcp_pacing_ss_ratio);
  else
    rate *= static_cast<std::uint64_t>(sk->stack->sysctl().tcp_pacing_ca_ratio);
  rate *= std::max(tp->snd_cwnd, tp->packets_out);
  if (tp->srtt_us) rate /= tp->srtt_us;
  sk->sk_pacing_rate = std::min(rate, sk->sk_max_pacing_rate);
}

// --- congestion state ------------------------------------------------------------------

void tcp_ca_event(Sock* sk, TcpCaEvent event) {
  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  if (ca && ca->cwnd_event) ca->cwnd_event(sk, event);
}

void tcp_set_ca_state(Sock* sk, std::uint8_t ca_state) {
  InetConnectionSock* icsk = inet_csk(sk);
  trace_tcp_cong_state_set(sk, ca_state);
  if (icsk->icsk_ca_ops && icsk->icsk_ca_ops->set_state) icsk->icsk_ca_ops->set_state(sk, ca_state);
  icsk->icsk_ca_state = ca_state;
}

namespace {

std::uint32_t tcp_ca_ssthresh(Sock* sk) {
  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  return ca ? ca->ssthresh(sk) : tcp_reno_ssthresh(sk);
}

}  // namespace

// RFC 5681 3.1 / RFC 6298 5.5: after an RTO, ssthresh = what the algorithm
// says, cwnd = 1 (loss window), and everything outstanding is presumed lost
// (tcp_timeout_mark_lost) and retransmitted in order as ACKs come back.
void tcp_enter_loss(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  const bool new_recovery = icsk->icsk_ca_state < TCP_CA_Recovery;
  tcp_timeout_mark_lost(sk);
  // A new loss episode (not a repeated RTO inside one) lowers ssthresh.
  if (icsk->icsk_ca_state <= TCP_CA_Disorder || !after(tp->high_seq, tp->snd_una) ||
      (icsk->icsk_ca_state == TCP_CA_Loss && !icsk->icsk_retransmits)) {
    tp->prior_ssthresh =
        tcp_in_cwnd_reduction(sk)
            ? tp->snd_ssthresh
            : std::max(tp->snd_ssthresh, (tp->snd_cwnd >> 1) + (tp->snd_cwnd >> 2));
    tp->prior_cwnd = tp->snd_cwnd;
    tp->snd_ssthresh = tcp_ca_ssthresh(sk);
    tcp_ca_event(sk, CA_EVENT_LOSS);
    tcp_init_undo(tp);
  }
  tp->snd_cwnd = tcp_packets_in_flight(tp) + 1;
  tp->snd_cwnd_cnt = 0;
  tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  // Many duplicates and still an RTO: the reordering estimate was too high.
  const std::uint32_t reordering = static_cast<std::uint32_t>(sk->stack->sysctl().tcp_reordering);
  if (icsk->icsk_ca_state <= TCP_CA_Disorder && tp->sacked_out >= reordering)
    tp->reordering = std::min(tp->reordering, reordering);
  tcp_set_ca_state(sk, TCP_CA_Loss);
  tp->high_seq = tp->snd_nxt;
  tp->tlp_high_seq = 0;
  // F-RTO (RFC 5682 3.1 step 1): watch this episode's ACKs for proof that
  // the timeout was spurious -- not when it interrupted a fast recovery,
  // but again for a recurring timeout on the same data (3.2); not while an
  // MTU probe is out (its loss is expected).
  tp->frto = sk->stack->sysctl().tcp_frto && (new_recovery || icsk->icsk_retransmits) &&
             !icsk->icsk_mtup.probe_size;
}

// The RTO was spurious (the ACK echoes a timestamp from before the first
// retransmission, or every retransmission was D-SACKed): restore cwnd and
// the unmarked losses.
bool tcp_try_undo_loss(Sock* sk, bool frto_undo) {
  TcpSock* tp = tcp_sk(sk);
  if (frto_undo || tcp_may_undo(tp)) {
    tcp_undo_cwnd_reduction(sk, true);
    mib_of(sk).inc(MibId::TcpExtTCPLossUndo);
    if (frto_undo) mib_of(sk).inc(MibId::TcpExtTCPSpuriousRTOs);
    trace_tcp_recovery_event(sk, "undo", tp->snd_una);
    inet_csk(sk)->icsk_retransmits = 0;
    if (tcp_is_non_sack_preventing_reopen(sk)) return true;
    if (frto_undo || tcp_is_sack(tp)) {
      tcp_set_ca_state(sk, TCP_CA_Open);
      tp->is_sack_reneg = false;
    }
    return true;
  }
  return false;
}

// An ACK in the Loss state (after an RTO): undo if the RTO proves
// spurious (timestamps, D-SACKs, or F-RTO), else keep retransmitting what
// is marked lost until snd_una passes high_seq (tcp_process_loss).
void tcp_process_loss(Sock* sk, int flag, int num_dupack, int* rexmit) {
  TcpSock* tp = tcp_sk(sk);
  const bool recovered = !before(tp->snd_una, tp->high_seq);
  if ((flag & FLAG_SND_UNA_ADVANCED) && tcp_try_undo_loss(sk, false)) return;

  if (tp->frto) {
    // F-RTO, the SACK-enhanced variant (RFC 5682 3.1 and appendix B).
    // Step 3b: data sent only once, before the RTO, was (s)acked: not
    // everything was lost, the timeout was spurious.
    if ((flag & FLAG_ORIG_SACK_ACKED) && tcp_try_undo_loss(sk, true)) return;
    if (after(tp->snd_nxt, tp->high_seq)) {
      // Step 3a: new data went out (step 2b) and the peer still reports a
      // hole: the loss was real.
      if ((flag & FLAG_DATA_SACKED) || num_dupack) tp->frto = false;
    } else if ((flag & FLAG_SND_UNA_ADVANCED) && !recovered) {
      tp->high_seq = tp->snd_nxt;
      // Step 2b: send new data (after tcp_ack has grown cwnd) to see
      // whether the original flight is still arriving; without new data
      // to send, fall back to the conventional recovery.
      if (!tcp_write_queue_empty(sk) && after(tcp_wnd_end(tp), tp->snd_nxt)) {
        *rexmit = REXMIT_NEW;
        return;
      }
      tp->frto = false;
    }
  }

  if (recovered) {
    // Step 2a, and the first part of 3a: everything up to high_seq arrived.
    tcp_try_undo_recovery(sk);
    return;
  }
  if (tcp_is_reno(tp)) {
    // A Reno duplicate here means the step 2b segments were delivered:
    // lower the pipe estimate to clock out retransmissions.
    if (after(tp->snd_nxt, tp->high_seq) && num_dupack)
      tcp_add_reno_sack(sk, num_dupack, flag & FLAG_ECE);
    else if (flag & FLAG_SND_UNA_ADVANCED)
      tcp_reset_reno_sack(tp);
  }
  *rexmit = REXMIT_LOST;
}

// The ACK of a tail loss probe (tcp_process_tlp_ack, RFC 8985 7.4): was
// anything lost? An ACK past tlp_high_seq with no duplicate of the probe
// means the probe repaired a loss: reduce cwnd as for one loss (CWR). A
// D-SACK of the probe or a pure duplicate ACK means the original arrived
// too: no loss. An ACK of a new-data probe ends the episode.
void tcp_process_tlp_ack(Sock* sk, std::uint32_t ack, int flag) {
  TcpSock* tp = tcp_sk(sk);
  if (before(ack, tp->tlp_high_seq)) return;
  constexpr int kNotDup = FLAG_DATA | FLAG_WIN_UPDATE | FLAG_DATA_ACKED | FLAG_SYN_ACKED;
  if (!tp->tlp_retrans) {
    tp->tlp_high_seq = 0;
  } else if (flag & FLAG_DSACK_TLP) {
    tp->tlp_high_seq = 0;
  } else if (after(ack, tp->tlp_high_seq)) {
    // tcp_init_cwnd_reduction clears tlp_high_seq.
    tcp_init_cwnd_reduction(sk);
    tcp_set_ca_state(sk, TCP_CA_CWR);
    tcp_end_cwnd_reduction(sk);
    tcp_try_keep_open(sk);
    mib_of(sk).inc(MibId::TcpExtTCPLossProbeRecovery);
  } else if (!(flag & (FLAG_SND_UNA_ADVANCED | kNotDup | FLAG_DATA_SACKED))) {
    tp->tlp_high_seq = 0;
  }
}

namespace {

// RFC 6937 / RFC 5681: PRR sizes cwnd while recovering; otherwise the
// algorithm grows it for ACKs that made progress (tcp_cong_control).
// With deep reordering (reordering above the sysctl) SACKed data counts as
// progress too (tcp_may_raise_cwnd).
bool tcp_may_raise_cwnd(const Sock* sk, int flag) {
  if (tcp_sk(sk)->reordering > static_cast<std::uint32_t>(sk->stack->sysctl().tcp_reordering))
    return flag & (FLAG_DATA_ACKED | FLAG_SYN_ACKED | FLAG_DATA_SACKED);
  return flag & FLAG_DATA_ACKED;
}

void tcp_cong_control(Sock* sk, std::uint32_t ack, std::uint32_t acked_sacked, int flag,
                      const RateSample* rs) {
  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  if (ca && ca->cong_control) {
    ca->cong_control(sk, ack, flag, rs);
    return;
  }
  if (tcp_in_cwnd_reduction(sk)) {
    tcp_cwnd_reduction(sk, static_cast<int>(acked_sacked), rs->losses, flag);
  } else if (tcp_may_raise_cwnd(sk, flag)) {
    if (ca && ca->cong_avoid)
      ca->cong_avoid(sk, ack, acked_sacked);
    else
      tcp_reno_cong_avoid(sk, ack, acked_sacked);
  }
  tcp_update_pacing_rate(sk);
}

// tcp_may_update_window (RFC 9293 3.10.7.4, SND.WL1/SND.WL2 rule): take the
// window from a newer segment, or from the same one when it grew (or closed).
bool tcp_may_update_window(const TcpSock* tp, std::uint32_t ack, std::uint32_t ack_seq,
                           std::uint32_t nwin) {
  return after(ack, tp->snd_una) || after(ack_seq, tp->snd_wl1) ||
         (ack_seq == tp->snd_wl1 && (nwin > tp->snd_wnd || !nwin));
}

void tcp_snd_una_update(TcpSock* tp, std::uint32_t ack) {
  std::uint32_t delta = ack - tp->snd_una;
  tp->bytes_acked += delta;
  tp->snd_una = ack;
}

int tcp_ack_update_window(Sock* sk, const SkBuff* skb, std::uint32_t ack, std::uint32_t ack_seq) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint8_t* th = tcp_hdr(skb);
  int flag = 0;
  std::uint32_t nwin = th_window(th);
  // RFC 7323 2.2: the window on a SYN is never scaled.
  if (!th_syn(th)) nwin <<= tp->rx_opt.snd_wscale;
  if (tcp_may_update_window(tp, ack, ack_seq, nwin)) {
    flag |= FLAG_WIN_UPDATE;
    tp->snd_wl1 = ack_seq;
    if (tp->snd_wnd != nwin) {
      if (!tp->snd_wnd && nwin) mib_of(sk).inc(MibId::TcpExtTCPFromZeroWindowAdv);
      tp->snd_wnd = nwin;
      // Data waited behind the old window: if the connection sat idle for
      // longer than an RTO meanwhile, restart cwnd before it goes out.
      if (!tcp_write_queue_empty(sk)) tcp_slow_start_after_idle_check(sk);
      if (nwin > tp->max_window) {
        tp->max_window = nwin;
        tcp_sync_mss(sk, inet_csk(sk)->icsk_pmtu_cookie);
      }
    }
  }
  tcp_snd_una_update(tp, ack);
  return flag;
}

// Free what the ACK covers from the retransmit queue, count what it
// delivered, feed RACK and the rate sampler, and take an RTT sample
// (tcp_clean_rtx_queue).
int tcp_clean_rtx_queue(Sock* sk, std::uint32_t prior_fack, std::uint32_t prior_snd_una,
                        TcpSacktagState* sack, bool ece_ack) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t prior_sacked = tp->sacked_out;
  std::uint32_t reord = tp->snd_nxt;  // lowest acked, never retransmitted, un-SACKed seq
  std::uint64_t first_ackt = 0, last_ackt = 0;
  std::uint32_t pkts_acked = 0;
  bool fully_acked = true;
  int flag = 0;
  SkBuff* skb = tp->tcp_rtx_queue.first();

  while (skb) {
    TcpSkbCb* scb = TCP_SKB_CB(skb);
    const std::uint32_t start_seq = scb->seq;
    const std::uint8_t sacked = scb->sacked;
    std::uint32_t acked_pcount;

    tcp_ack_tstamp(sk, skb, prior_snd_una);
    if (after(scb->end_seq, tp->snd_una)) {
      // Partly acknowledged: only a multi-segment skb can be trimmed.
      if (tcp_skb_pcount(skb) == 1 || !after(tp->snd_una, scb->seq)) break;
      const int before_pcount = tcp_skb_pcount(skb);
      if (tcp_trim_head(sk, skb, tp->snd_una - scb->seq)) break;
      if (tcp_skb_pcount(skb) >= before_pcount) break;
      acked_pcount = static_cast<std::uint32_t>(before_pcount - tcp_skb_pcount(skb));
      fully_acked = false;
    } else {
      acked_pcount = static_cast<std::uint32_t>(tcp_skb_pcount(skb));
    }

    if (sacked & TCPCB_RETRANS) {
      if (sacked & TCPCB_SACKED_RETRANS) tp->retrans_out -= acked_pcount;
      flag |= FLAG_RETRANS_DATA_ACKED;
    } else if (!(sacked & TCPCB_SACKED_ACKED)) {
      last_ackt = tcp_skb_timestamp_us(skb);
      if (!first_ackt) first_ackt = last_ackt;
      if (before(start_seq, reord)) reord = start_seq;
      if (!after(scb->end_seq, tp->high_seq)) flag |= FLAG_ORIG_SACK_ACKED;
    }
    if (sacked & TCPCB_SACKED_ACKED) {
      tp->sacked_out -= acked_pcount;
    } else if (tcp_is_sack(tp)) {
      tcp_count_delivered(tp, acked_pcount, ece_ack);
      if (!tcp_skb_spurious_retrans(tp, skb))
        tcp_rack_advance(tp, sacked, scb->end_seq, tcp_skb_timestamp_us(skb));
    }
    if (sacked & TCPCB_LOST) tp->lost_out -= acked_pcount;

    tp->packets_out -= acked_pcount;
    pkts_acked += acked_pcount;
    tcp_rate_skb_delivered(sk, skb, sack->rate);

    if (!(scb->tcp_flags & TCPHDR_SYN)) {
      flag |= FLAG_DATA_ACKED;
    } else {
      flag |= FLAG_SYN_ACKED;
      tp->retrans_stamp = 0;
    }
    if (!fully_acked) break;

    SkBuff* next = tp->tcp_rtx_queue.next(skb);
    if (tp->retransmit_skb_hint == skb) tp->retransmit_skb_hint = nullptr;
    if (tp->lost_skb_hint == skb) tp->lost_skb_hint = nullptr;
    tcp_highest_sack_replace(sk, skb, next);
    trace_tcp_clean_rtx_queue(sk, skb);
    sk_wmem_free_skb(sk, tcp_rtx_queue_unlink(sk, skb));
    skb = next;
  }
  // Everything sent is acknowledged: busy only if unsent data remains.
  if (tcp_rtx_queue_empty(sk)) tcp_chrono_stop(sk, TCP_CHRONO_BUSY);
  // The MTU probe got through (RFC 4821 7.5).
  if ((flag & (FLAG_DATA_ACKED | FLAG_SYN_ACKED)) && inet_csk(sk)->icsk_mtup.probe_size &&
      !after(tp->mtu_probe.probe_seq_end, tp->snd_una))
    tcp_mtup_probe_success(sk);

  if (!skb) tcp_chrono_stop(sk, TCP_CHRONO_BUSY);
  if (between(tp->snd_up, prior_snd_una, tp->snd_una)) tp->snd_up = tp->snd_una;
  // The new head was SACKed: snd_una moved into SACKed data, so the
  // receiver may have reneged.
  if (skb && (TCP_SKB_CB(skb)->sacked & TCPCB_SACKED_ACKED)) flag |= FLAG_SACK_RENEGING;

  // Karn: with a retransmitted skb among those acked the sample could
  // belong to either transmission; only timestamps may then measure.
  const std::uint64_t now_us = tp->tcp_mstamp;
  long seq_rtt_us = -1, sack_rtt_us = -1, ca_rtt_us = -1;
  if (first_ackt && !(flag & FLAG_RETRANS_DATA_ACKED)) {
    seq_rtt_us = static_cast<long>(tcp_stamp_us_delta(now_us, first_ackt));
    ca_rtt_us = static_cast<long>(tcp_stamp_us_delta(now_us, last_ackt));
  }
  if (sack->first_sackt) {
    sack_rtt_us = static_cast<long>(tcp_stamp_us_delta(now_us, sack->first_sackt));
    ca_rtt_us = static_cast<long>(tcp_stamp_us_delta(now_us, sack->last_sackt));
  }
  const bool rtt_update = tcp_ack_update_rtt(sk, flag, seq_rtt_us, sack_rtt_us, &ca_rtt_us);
  sack->rate->rtt_us = static_cast<std::int32_t>(ca_rtt_us);

  if (flag & (FLAG_DATA_ACKED | FLAG_SYN_ACKED)) {
    flag |= FLAG_SET_XMIT_TIMER;  // set TLP or RTO timer
    if (tcp_is_reno(tp)) {
      tcp_remove_reno_sacks(sk, static_cast<int>(pkts_acked), ece_ack);
      // A retransmission was acked: NewReno cannot tell whether the
      // original arrived, so F-RTO must not take this as evidence.
      if (flag & FLAG_RETRANS_DATA_ACKED) flag &= ~FLAG_ORIG_SACK_ACKED;
    } else {
      // Non-retransmitted data below the highest SACK arrived late.
      if (before(reord, prior_fack)) tcp_check_sack_reordering(sk, reord, 0);
      const int delta = static_cast<int>(prior_sacked - tp->sacked_out);
      tp->lost_cnt_hint -= std::min(tp->lost_cnt_hint, delta);
    }
  } else if (skb && rtt_update && sack_rtt_us >= 0 &&
             sack_rtt_us >
                 static_cast<long>(tcp_stamp_us_delta(now_us, tcp_skb_timestamp_us(skb)))) {
    // The head was sent after the SACKed skb: rearm for it.
    flag |= FLAG_SET_XMIT_TIMER;
  }

  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  if (ca && ca->pkts_acked) {
    AckSample sample;
    sample.pkts_acked = pkts_acked;
    sample.rtt_us = sack->rate->rtt_us;
    sample.in_flight = tp->mss_cache * (tp->delivered - sack->rate->prior_delivered);
    ca->pkts_acked(sk, &sample);
  }
  return flag;
}

// An ACK with nothing in flight: if the window opened for the send head,
// stop probing; otherwise keep probing with backoff (tcp_ack_probe).
void tcp_ack_probe(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  SkBuff* head = tcp_send_head(sk);
  if (!head) return;
  if (!after(TCP_SKB_CB(head)->end_seq, tcp_wnd_end(tp))) {
    icsk->icsk_backoff = 0;
    icsk->icsk_probes_tstamp = 0;
    inet_csk_clear_xmit_timer(sk, ICSK_TIME_PROBE0);
  } else {
    const std::uint64_t when =
        tcp_clamp_probe0_to_user_timeout(sk, tcp_probe0_when(sk, TCP_RTO_MAX));
    tcp_reset_xmit_timer(sk, ICSK_TIME_PROBE0, when, TCP_RTO_MAX);
  }
}

// Retransmit what recovery marked lost (REXMIT_LOST), or first new data
// (REXMIT_NEW, F-RTO) (tcp_xmit_recovery).
void tcp_xmit_recovery(Sock* sk, int rexmit) {
  TcpSock* tp = tcp_sk(sk);
  if (rexmit == REXMIT_NONE || sk->sk_state == TCP_SYN_SENT) return;
  if (rexmit == REXMIT_NEW) {
    __tcp_push_pending_frames(sk, tcp_current_mss(sk), TCP_NAGLE_OFF);
    if (after(tp->snd_nxt, tp->high_seq)) return;
    tp->frto = false;
  }
  tcp_xmit_retransmit_queue(sk);
}

std::uint32_t tcp_newly_delivered(Sock* sk, std::uint32_t prior_delivered, int flag) {
  const std::uint32_t delivered = tcp_sk(sk)->delivered - prior_delivered;
  mib_of(sk).inc(MibId::TcpExtTCPDelivered, delivered);
  if (flag & FLAG_ECE) mib_of(sk).inc(MibId::TcpExtTCPDeliveredCE, delivered);
  return delivered;
}

// The SACK blocks of an inbound segment, when SACK was negotiated.
int tcp_ack_sack_blocks(const TcpSock* tp, const SkBuff* skb, TcpSackBlock* blocks) {
  if (!tcp_is_sack(tp)) return 0;
  const std::uint8_t* th = tcp_hdr(skb);
  const std::uint32_t doff = th_doff_bytes(th);
  if (doff <= kTcpMinHeaderLen) return 0;
  TcpOptions o;
  tcp_parse_options(std::span<const std::uint8_t>(th + kTcpMinHeaderLen, doff - kTcpMinHeaderLen),
                    &o);
  for (int i = 0; i < o.num_sacks; ++i) blocks[i] = o.sacks[i];
  return o.num_sacks;
}

}  // namespace

// tcp_ack: returns 1 when the ACK was processed, 0 for an old ACK that was
// ignored, or -reason when it must be dropped (RFC 5961 5.2: an ACK below
// the window the peer could have seen, or one for data never sent).
int tcp_ack(Sock* sk, const SkBuff* skb, int flag) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  const TcpSkbCb* cb = TCP_SKB_CB(skb);
  RateSample rs;
  TcpSacktagState sack_state;
  sack_state.rate = &rs;
  const std::uint32_t prior_snd_una = tp->snd_una;
  const bool is_sack_reneg = tp->is_sack_reneg;
  const std::uint32_t ack_seq = cb->seq;
  const std::uint32_t ack = cb->ack_seq;
  const std::uint32_t prior_packets = tp->packets_out;
  std::uint32_t delivered = tp->delivered;
  std::uint32_t lost = tp->lost;
  int num_dupack = 0;
  int rexmit = REXMIT_NONE;
  TcpSackBlock sacks[TCP_NUM_SACKS];
  int num_sacks = 0;

  if (before(ack, prior_snd_una)) {
    std::uint32_t max_window =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(tp->max_window, tp->bytes_acked));
    if (before(ack, prior_snd_una - max_window)) {
      if (!(flag & FLAG_NO_CHALLENGE_ACK)) tcp_send_challenge_ack(sk);
      return -static_cast<int>(SkbDropReason::SKB_DROP_REASON_TCP_TOO_OLD_ACK);
    }
    // An old duplicate: harmless, may still refresh ts_recent, and its
    // SACK blocks (a D-SACK, say) still count.
    if (flag & FLAG_UPDATE_TS_RECENT) tcp_replace_ts_recent(tp, cb->seq);
    num_sacks = tcp_ack_sack_blocks(tp, skb, sacks);
    if (num_sacks) {
      flag |= tcp_sacktag_write_queue(sk, skb, sacks, num_sacks, prior_snd_una, &sack_state);
      tcp_fastretrans_alert(sk, prior_snd_una, num_dupack, &flag, &rexmit);
      tcp_newly_delivered(sk, delivered, flag);
      tcp_xmit_recovery(sk, rexmit);
    }
    return 0;
  }
  if (after(ack, tp->snd_nxt))
    return -static_cast<int>(SkbDropReason::SKB_DROP_REASON_TCP_ACK_UNSENT_DATA);

  if (after(ack, prior_snd_una)) {
    flag |= FLAG_SND_UNA_ADVANCED;
    icsk->icsk_retransmits = 0;
  }
  const std::uint32_t prior_fack = tcp_is_sack(tp) ? tcp_highest_sack_seq(tp) : tp->snd_una;
  rs.prior_in_flight = tcp_packets_in_flight(tp);
  if (flag & FLAG_UPDATE_TS_RECENT) tcp_replace_ts_recent(tp, cb->seq);

  if ((flag & (FLAG_SLOWPATH | FLAG_SND_UNA_ADVANCED)) == FLAG_SND_UNA_ADVANCED) {
    // Header-predicted pure advance: the window is unchanged.
    tp->snd_wl1 = ack_seq;
    tcp_snd_una_update(tp, ack);
    flag |= FLAG_WIN_UPDATE;
    mib_of(sk).inc(MibId::TcpExtTCPHPAcks);
  } else {
    if (ack_seq != cb->end_seq)
      flag |= FLAG_DATA;
    else
      mib_of(sk).inc(MibId::TcpExtTCPPureAcks);
    flag |= tcp_ack_update_window(sk, skb, ack, ack_seq);
    num_sacks = tcp_ack_sack_blocks(tp, skb, sacks);
    if (num_sacks)
      flag |= tcp_sacktag_write_queue(sk, skb, sacks, num_sacks, prior_snd_una, &sack_state);
    if (sack_state.sack_delivered)
      tcp_count_delivered(tp, sack_state.sack_delivered, flag & FLAG_ECE);
  }

  sk->sk_err_soft = 0;
  icsk->icsk_probes_out = 0;
  tp->rcv_tstamp = tcp_jiffies32(sk);
  if (!prior_packets) {
    if (flag & FLAG_DSACKING_ACK) {
      tcp_fastretrans_alert(sk, prior_snd_una, num_dupack, &flag, &rexmit);
      tcp_newly_delivered(sk, delivered, flag);
    }
    tcp_ack_probe(sk);
    if (tp->tlp_high_seq) tcp_process_tlp_ack(sk, ack, flag);
    return 1;
  }

  flag |= tcp_clean_rtx_queue(sk, prior_fack, prior_snd_una, &sack_state, flag & FLAG_ECE);
  tcp_rack_update_reo_wnd(sk, &rs);
  if (tp->tlp_high_seq) tcp_process_tlp_ack(sk, ack, flag);

  // Anything unusual (a duplicate, SACK/ECE/D-SACK news, not Open): let
  // the state machine look (tcp_ack_is_dubious).
  constexpr int kNotDup = FLAG_DATA | FLAG_WIN_UPDATE | FLAG_DATA_ACKED | FLAG_SYN_ACKED;
  constexpr int kCaAlert = FLAG_DATA_SACKED | FLAG_ECE | FLAG_DSACKING_ACK;
  if (!(flag & kNotDup) || (flag & kCaAlert) || icsk->icsk_ca_state != TCP_CA_Open) {
    if (!(flag & (FLAG_SND_UNA_ADVANCED | kNotDup | FLAG_DSACKING_ACK))) {
      // An ACK for a GRO train of duplicates counts them all.
      num_dupack = 1;
      if (!(flag & FLAG_DATA)) num_dupack = std::max<int>(1, skb_shinfo(skb)->gso_segs);
    }
    tcp_fastretrans_alert(sk, prior_snd_una, num_dupack, &flag, &rexmit);
  }

  if (flag & FLAG_SET_XMIT_TIMER) tcp_set_xmit_timer(sk);

  delivered = tcp_newly_delivered(sk, delivered, flag);
  lost = tp->lost - lost;  // freshly marked lost
  rs.is_ack_delayed = flag & FLAG_ACK_MAYBE_DELAYED;
  tcp_rate_gen(sk, delivered, lost, is_sack_reneg, &rs);
  tcp_cong_control(sk, ack, delivered, flag, &rs);
  tcp_xmit_recovery(sk, rexmit);
  return 1;
}

// --- receive buffer and window -----------------------------------------------------------

namespace {

void sock_rfree(SkBuff* skb) {
  Sock* sk = static_cast<Sock*>(skb->sk);
  if (!sk) return;
  sk->sk_rmem_alloc -= static_cast<int>(skb->truesize);
  sk_mem_uncharge(sk, static_cast<int>(skb->truesize));
  skb->sk = nullptr;
}

}  // namespace

// The memory was scheduled by the caller (tcp_try_rmem_schedule or a
// forced schedule); a collapsed copy charges before the skbs it replaces
// are freed, so sk_forward_alloc may dip below zero meanwhile, as in Linux.
void skb_set_owner_r(SkBuff* skb, Sock* sk) {
  skb->sk = sk;
  skb->destructor = sock_rfree;
  sk->sk_rmem_alloc += static_cast<int>(skb->truesize);
  sk_mem_charge(sk, static_cast<int>(skb->truesize));
}

void tcp_init_buffer_space(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  const Sysctl& sc = sk->stack->sysctl();
  // Send buffer for two initial windows of skbs, unless SO_SNDBUF fixed it.
  if (!(sk->sk_userlocks & SOCK_SNDBUF_LOCK)) tcp_sndbuf_expand(sk);
  tcp_mstamp_refresh(tp);
  const int maxwin = tcp_full_space(sk);
  const std::uint32_t advmss = tp->advmss ? tp->advmss : TCP_MSS_DEFAULT;

  if (tp->window_clamp == 0 || tp->window_clamp >= static_cast<std::uint32_t>(maxwin)) {
    tp->window_clamp = static_cast<std::uint32_t>(maxwin);
    // Keep 1/2^tcp_app_win of the buffer as application reserve.
    if (sc.tcp_app_win && maxwin > 4 * static_cast<int>(advmss))
      tp->window_clamp = std::max<std::uint32_t>(
          static_cast<std::uint32_t>(maxwin - (maxwin >> sc.tcp_app_win)), 4 * advmss);
  }
  if (sc.tcp_app_win && tp->window_clamp > 2 * advmss &&
      tp->window_clamp + advmss > static_cast<std::uint32_t>(maxwin))
    tp->window_clamp =
        std::max<std::uint32_t>(2 * advmss, static_cast<std::uint32_t>(maxwin) - advmss);
  if (tp->rcv_ssthresh == 0) tp->rcv_ssthresh = tp->rcv_wnd;
  tp->rcv_ssthresh = std::min(tp->rcv_ssthresh, tp->window_clamp);
  tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  tp->rcvq_space.space =
      static_cast<int>(std::min({tp->rcv_ssthresh, tp->rcv_wnd, TCP_INIT_CWND * advmss}));
  tp->rcvq_space.time = tp->tcp_mstamp;
  tp->rcvq_space.seq = tp->copied_seq;
}

namespace {

// How much the window may grow for an skb that costs more than twice its
// payload in memory (__tcp_grow_window): some, while the window is still
// small enough that a full buffer of such skbs stays under tcp_rmem[2];
// none past that, so a wasteful device cannot talk us into a window our
// memory cannot hold.
int __tcp_grow_window(const Sock* sk, const SkBuff* skb, std::uint32_t skb_truesize) {
  const TcpSock* tp = tcp_sk(sk);
  int truesize = tcp_win_from_space(sk, static_cast<int>(skb_truesize)) >> 1;
  int window = tcp_win_from_space(sk, sk->stack->sysctl().tcp_rmem[2]) >> 1;
  while (static_cast<std::int64_t>(tp->rcv_ssthresh) <= window) {
    if (truesize <= static_cast<int>(skb->len)) return 2 * inet_csk(sk)->icsk_ack.rcv_mss;
    truesize >>= 1;
    window >>= 1;
  }
  return 0;
}

// Slow start of the advertised window (tcp_grow_window): grow rcv_ssthresh
// by two segments per full-sized segment received, up to what the buffer
// (at the measured payload/truesize ratio) and the clamp allow.
void tcp_grow_window(Sock* sk, const SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  int room = static_cast<int>(std::min<std::uint32_t>(
                 tp->window_clamp, static_cast<std::uint32_t>(std::max(tcp_space(sk), 0)))) -
             static_cast<int>(tp->rcv_ssthresh);
  if (room <= 0) return;
  // Not while the stack is short of memory (check #1).
  if (tcp_under_memory_pressure(sk)) return;
  int incr = 0;
  if (tcp_win_from_space(sk, static_cast<int>(skb->truesize)) <= static_cast<int>(skb->len))
    incr = 2 * static_cast<int>(tp->advmss);
  else
    incr = __tcp_grow_window(sk, skb, skb->truesize);
  if (incr) {
    incr = std::max(incr, 2 * static_cast<int>(skb->len));
    tp->rcv_ssthresh += static_cast<std::uint32_t>(std::min(room, incr));
    inet_csk(sk)->icsk_ack.quick |= 1;
  }
}

// Learn what a byte of payload costs in receive memory from a full-sized
// segment (Linux 6.6+, in tcp_measure_rcv_mss): scaling_ratio becomes
// len/truesize, so the window offered from sk_rcvbuf is what the buffer can
// really hold. With the default guess (1/2) and a device whose frames cost
// three times their payload (a tap reading each 1.5 KB frame into a 4 KiB
// buffer), the window promised half again as much as memory took, and a
// burst of out-of-order data filled the buffer and was dropped in window.
void tcp_update_scaling_ratio(Sock* sk, const SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  if (!skb->truesize) return;
  const std::uint64_t val =
      (static_cast<std::uint64_t>(skb->len) << TCP_RMEM_TO_WIN_SCALE) / skb->truesize;
  const std::uint8_t old_ratio = tp->scaling_ratio;
  tp->scaling_ratio = static_cast<std::uint8_t>(std::clamp<std::uint64_t>(val, 1, 255));
  if (tp->scaling_ratio == old_ratio) return;
  tp->window_clamp = static_cast<std::uint32_t>(tcp_win_from_space(sk, sk->sk_rcvbuf));
  if (static_cast<int>(tp->window_clamp) < tp->rcvq_space.space)
    tp->rcvq_space.space = static_cast<int>(tp->window_clamp);
}

// Estimate the peer's MSS from what arrives (tcp_measure_rcv_mss), for the
// "more than one full segment unacknowledged" ACK rule.
void tcp_measure_rcv_mss(Sock* sk, const SkBuff* skb) {
  InetConnectionSock* icsk = inet_csk(sk);
  const TcpSock* tp = tcp_sk(sk);
  const std::uint16_t lss = icsk->icsk_ack.last_seg_size;
  icsk->icsk_ack.last_seg_size = 0;
  // A GRO super-packet tells its segments' size in gso_size.
  std::uint32_t len = skb_shinfo(skb)->gso_size ? skb_shinfo(skb)->gso_size : skb->len;
  if (len >= icsk->icsk_ack.rcv_mss) {
    if (len != icsk->icsk_ack.rcv_mss) tcp_update_scaling_ratio(sk, skb);
    icsk->icsk_ack.rcv_mss =
        static_cast<std::uint16_t>(std::min<std::uint32_t>(len, tp->advmss ? tp->advmss : len));
    icsk->icsk_ack.pending &= static_cast<std::uint8_t>(~ICSK_ACK_PUSHED);
  } else {
    // A short segment: maybe the peer's MSS is smaller than we thought.
    if (len >= TCP_MSS_DEFAULT ||
        (len >= TCP_MIN_MSS && !(TCP_SKB_CB(skb)->tcp_flags & TCPHDR_PSH))) {
      icsk->icsk_ack.last_seg_size = static_cast<std::uint16_t>(len);
      if (len == lss) {
        icsk->icsk_ack.rcv_mss = static_cast<std::uint16_t>(len);
        return;
      }
    }
    if (icsk->icsk_ack.pending & ICSK_ACK_PUSHED) icsk->icsk_ack.pending |= ICSK_ACK_PUSHED2;
    icsk->icsk_ack.pending |= ICSK_ACK_PUSHED;
  }
}

// The receiver's own RTT estimate (tcp_rcv_rtt_update), for receive-buffer
// autotuning on a connection that sends nothing to time. Samples that
// depend on the window (win_dep) only ever lower the estimate: the peer may
// not have sent a full window at once.
void tcp_rcv_rtt_update(TcpSock* tp, std::uint32_t sample_us, bool win_dep) {
  std::uint32_t est = tp->rcv_rtt_est.rtt_us;  // 8x, like srtt_us
  if (est != 0) {
    if (!win_dep) {
      const long m = static_cast<long>(sample_us) - static_cast<long>(est >> 3);
      est = static_cast<std::uint32_t>(static_cast<long>(est) + m);
    } else if ((sample_us << 3) < est) {
      est = sample_us << 3;
    }
  } else {
    est = sample_us << 3;
  }
  tp->rcv_rtt_est.rtt_us = std::max(est, 1u);
}

// Without timestamps: the time for one advertised window of data to arrive
// bounds the RTT from above (tcp_rcv_rtt_measure).
void tcp_rcv_rtt_measure(TcpSock* tp) {
  if (tp->rcv_rtt_est.time != 0) {
    if (before(tp->rcv_nxt, tp->rcv_rtt_est.seq)) return;
    std::uint64_t delta = tp->tcp_mstamp - tp->rcv_rtt_est.time;
    tcp_rcv_rtt_update(tp, static_cast<std::uint32_t>(std::max<std::uint64_t>(delta, 1)), true);
  }
  tp->rcv_rtt_est.seq = tp->rcv_nxt + tp->rcv_wnd;
  tp->rcv_rtt_est.time = tp->tcp_mstamp;
}

// With timestamps: a full-sized segment echoing one of our TSvals measures
// the RTT directly (tcp_rcv_rtt_measure_ts).
void tcp_rcv_rtt_measure_ts(Sock* sk, const SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  if (!tp->rx_opt.saw_tstamp || !tp->rx_opt.rcv_tsecr ||
      tp->rx_opt.rcv_tsecr == tp->rcv_rtt_last_tsecr)
    return;
  tp->rcv_rtt_last_tsecr = tp->rx_opt.rcv_tsecr;
  const TcpSkbCb* cb = TCP_SKB_CB(skb);
  if (cb->end_seq - cb->seq < inet_csk(sk)->icsk_ack.rcv_mss) return;
  const std::int32_t delta_ms =
      static_cast<std::int32_t>(tcp_time_stamp_ms(sk) - tp->rx_opt.rcv_tsecr);
  if (delta_ms > 0 && delta_ms < 60 * 1000)
    tcp_rcv_rtt_update(tp, static_cast<std::uint32_t>(delta_ms) * 1000, false);
}

// Data arrived: schedule an ACK and adapt the delayed-ACK timeout to the
// peer's sending pattern (tcp_event_data_recv).
void tcp_event_data_recv(Sock* sk, const SkBuff* skb) {
  InetConnectionSock* icsk = inet_csk(sk);
  inet_csk_schedule_ack(sk);
  tcp_measure_rcv_mss(sk, skb);
  const std::uint32_t now = tcp_jiffies32(sk);
  tcp_rcv_rtt_measure(tcp_sk(sk));
  tcp_rcv_rtt_measure_ts(sk, skb);
  if (!icsk->icsk_ack.ato) {
    // First data: quick ACKs so the peer's slow start is not held back
    // (tcp_incr_quickack only: a client that sent a request keeps its
    // pingpong score).
    tcp_incr_quickack(sk, TCP_MAX_QUICKACKS);
    icsk->icsk_ack.ato = TCP_ATO_MIN;
  } else {
    const std::int32_t m = static_cast<std::int32_t>(now - icsk->icsk_ack.lrcvtime);
    if (m <= static_cast<std::int32_t>(TCP_ATO_MIN / 2)) {
      icsk->icsk_ack.ato = (icsk->icsk_ack.ato >> 1) + TCP_ATO_MIN / 2;
    } else if (m < static_cast<std::int32_t>(icsk->icsk_ack.ato)) {
      // 6.12 caps the estimate at TCP_DELACK_MAX as well as at the RTO.
      icsk->icsk_ack.ato = std::min({(icsk->icsk_ack.ato >> 1) + static_cast<std::uint32_t>(m),
                                     icsk->icsk_rto, static_cast<std::uint32_t>(TCP_DELACK_MAX)});
    } else if (m > static_cast<std::int32_t>(icsk->icsk_rto)) {
      // Silence longer than an RTO: the peer restarts slow start.
      tcp_incr_quickack(sk, TCP_MAX_QUICKACKS);
    }
  }
  icsk->icsk_ack.lrcvtime = now;
  if (skb->len >= 128) tcp_grow_window(sk, skb);
}

// --- SACK blocks we send (RFC 2018 4) -------------------------------------------------

// Merge block i into the first block when they touch or overlap.
bool tcp_sack_extend(TcpSackBlock* sp, std::uint32_t seq, std::uint32_t end_seq) {
  if (!after(seq, sp->end_seq) && !after(sp->start_seq, end_seq)) {
    if (before(seq, sp->start_seq)) sp->start_seq = seq;
    if (after(end_seq, sp->end_seq)) sp->end_seq = end_seq;
    return true;
  }
  return false;
}

void tcp_sack_maybe_coalesce(TcpSock* tp) {
  TcpSackBlock* sp = &tp->selective_acks[0];
  TcpSackBlock* swalk = sp + 1;
  for (int this_sack = 1; this_sack < tp->rx_opt.num_sacks;) {
    if (tcp_sack_extend(sp, swalk->start_seq, swalk->end_seq)) {
      tp->rx_opt.num_sacks--;
      for (int i = this_sack; i < tp->rx_opt.num_sacks; i++) sp[i] = sp[i + 1];
      continue;
    }
    this_sack++;
    swalk++;
  }
}

// How many SACK blocks an ACK can be counted on to carry (Linux's
// TCP_SACK_BLOCKS_EXPECTED): four fit, three with timestamps, and ACKs get
// lost, so 2. A new range that lands beyond these flushes compressed ACKs.
constexpr int kTcpSackBlocksExpected = 2;

}  // namespace

// Send the ACK that SACK compression held back, now (tcp_sack_compress_send_ack).
void tcp_sack_compress_send_ack(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  if (!tp->compressed_ack) return;
  sk->stack->del_timer(tp->compressed_ack_timer);
  // One ACK finally leaves for all the ones held back: count one fewer.
  mib_of(sk).inc(MibId::TcpExtTCPAckCompressed, tp->compressed_ack - 1u);
  tp->compressed_ack = 0;
  tcp_send_ack(sk);
}

namespace {

// A new out-of-order range arrived: the block containing it goes first
// (RFC 2018: the first block reports the most recent segment).
void tcp_sack_new_ofo_skb(Sock* sk, std::uint32_t seq, std::uint32_t end_seq) {
  TcpSock* tp = tcp_sk(sk);
  TcpSackBlock* sp = &tp->selective_acks[0];
  int cur_sacks = tp->rx_opt.num_sacks;
  if (!cur_sacks) {
    sp[0].start_seq = seq;
    sp[0].end_seq = end_seq;
    tp->rx_opt.num_sacks = 1;
    return;
  }
  int this_sack = 0;
  for (; this_sack < cur_sacks; this_sack++) {
    if (tcp_sack_extend(&sp[this_sack], seq, end_seq)) {
      // A block beyond the ones an ACK reliably carries changes: flush the
      // compressed ACKs first, so the sender is not left without it.
      if (this_sack >= kTcpSackBlocksExpected) tcp_sack_compress_send_ack(sk);
      for (; this_sack > 0; this_sack--) std::swap(sp[this_sack], sp[this_sack - 1]);
      if (cur_sacks > 1) tcp_sack_maybe_coalesce(tp);
      return;
    }
  }
  if (this_sack >= kTcpSackBlocksExpected) tcp_sack_compress_send_ack(sk);
  // No room: forget the oldest block (the peer learns it again later).
  if (cur_sacks >= static_cast<int>(TCP_NUM_SACKS)) {
    cur_sacks--;
    tp->rx_opt.num_sacks--;
  }
  for (int i = cur_sacks; i > 0; i--) sp[i] = sp[i - 1];
  sp[0].start_seq = seq;
  sp[0].end_seq = end_seq;
  tp->rx_opt.num_sacks++;
}

// rcv_nxt advanced: drop the blocks it now covers.
void tcp_sack_remove(TcpSock* tp) {
  if (tp->out_of_order_queue.empty()) {
    tp->rx_opt.num_sacks = 0;
    return;
  }
  int num_sacks = tp->rx_opt.num_sacks;
  for (int this_sack = 0; this_sack < num_sacks;) {
    TcpSackBlock* sp = &tp->selective_acks[this_sack];
    if (!before(tp->rcv_nxt, sp->start_seq)) {
      for (int i = this_sack + 1; i < num_sacks; i++)
        tp->selective_acks[i - 1] = tp->selective_acks[i];
      num_sacks--;
      continue;
    }
    this_sack++;
  }
  tp->rx_opt.num_sacks = static_cast<std::uint8_t>(num_sacks);
}

// --- queues --------------------------------------------------------------------------------

// Wake the reader only once SO_RCVLOWAT is met (or it must read now), so an
// edge-triggered epoll item sees one edge per readable state, not per segment.
void tcp_data_ready(Sock* sk) {
  if (tcp_epollin_ready(sk, sk->sk_rcvlowat) || sock_flag(sk, SOCK_DONE)) sk->sk_data_ready(sk);
}

// The buffer overflowed although we offered no more window than it should
// hold: the segments cost more memory than the window accounted for
// (tcp_clamp_window). Unless the user fixed SO_RCVBUF, let the buffer grow
// to what is queued (up to tcp_rmem[2]) rather than drop data we invited,
// unless the stack's TCP memory is past tcp_mem's "low"; if it still
// overflows, stop opening the window.
void tcp_clamp_window(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  inet_csk(sk)->icsk_ack.quick = 0;
  const int rmem2 = sk->stack->sysctl().tcp_rmem[2];
  // Not when the stack is short of memory: then the data must shrink.
  if (sk->sk_rcvbuf < rmem2 && !(sk->sk_userlocks & SOCK_RCVBUF_LOCK) &&
      !tcp_under_memory_pressure(sk) && sk_memory_allocated(sk) < sk_prot_mem_limits(sk, 0))
    sk->sk_rcvbuf = std::min(sk->sk_rmem_alloc, rmem2);
  if (sk->sk_rmem_alloc > sk->sk_rcvbuf)
    tp->rcv_ssthresh = std::min<std::uint32_t>(tp->window_clamp, 2u * tp->advmss);
}

// Forget SACK state after reneging on it (tcp_sack_reset).
void tcp_sack_reset(TcpOptionsReceived* rx_opt) {
  rx_opt->dsack = false;
  rx_opt->num_sacks = 0;
}

// Free memory for in_skb by dropping out-of-order data from the highest
// sequence down (tcp_prune_ofo_queue): what is furthest from rcv_nxt is
// least useful to the reader. Never drops what would sit below in_skb.
// It drops an eighth of sk_rcvbuf at a time and stops once the socket is
// back under sk_rcvbuf and the stack out of memory pressure, so only part of
// a large queue goes. This reneges on SACKed data (RFC 2018 8 allows it):
// the SACK blocks go too, and the pruned ranges are never SACKed again.
bool tcp_prune_ofo_queue(Sock* sk, const SkBuff* in_skb) {
  TcpSock* tp = tcp_sk(sk);
  if (tp->out_of_order_queue.empty()) return false;
  int goal = sk->sk_rcvbuf >> 3;
  bool pruned = false;
  SkBuff* skb = tp->out_of_order_queue.last();
  while (skb) {
    // If in_skb would land last in the queue, stop.
    if (after(TCP_SKB_CB(in_skb)->seq, TCP_SKB_CB(skb)->seq)) break;
    pruned = true;
    SkBuff* prev = tp->out_of_order_queue.prev(skb);
    SkbPtr victim = tp->out_of_order_queue.erase(skb);
    goal -= static_cast<int>(victim->truesize);
    tcp_drop(sk, std::move(victim), SkbDropReason::SKB_DROP_REASON_TCP_OFO_QUEUE_PRUNE);
    tp->ooo_last_skb = prev;
    if (!prev || goal <= 0) {
      if (sk->sk_rmem_alloc <= sk->sk_rcvbuf && !tcp_under_memory_pressure(sk)) break;
      goal = sk->sk_rcvbuf >> 3;
    }
    skb = prev;
  }
  if (pruned) {
    mib_of(sk).inc(MibId::TcpExtOfoPruned);
    if (tp->rx_opt.sack_ok) tcp_sack_reset(&tp->rx_opt);
  }
  return pruned;
}

// The queue tcp_collapse works on: the receive list or the ofo tree.
struct CollapseQueue {
  SkbQueue* list = nullptr;
  SkbRbTree* root = nullptr;
  SkBuff* next(SkBuff* skb) const { return list ? list->next(skb) : root->next(skb); }
  SkbPtr unlink(SkBuff* skb) const { return list ? list->unlink(skb) : root->erase(skb); }
};

// Free one skb whose bytes are all in the collapsed copy (tcp_collapse_one);
// returns the next one on the queue.
SkBuff* tcp_collapse_one(Sock* sk, SkBuff* skb, const CollapseQueue& q) {
  SkBuff* next = q.next(skb);
  consume_skb(q.unlink(skb));
  mib_of(sk).inc(MibId::TcpExtTCPRcvCollapsed);
  return next;
}

// Copy the bytes [start, end) held by the skbs from head up to tail
// (exclusive) into compact page-sized skbs (tcp_collapse): from the first
// skb that wastes memory (truesize worth more window than its payload), holds
// bytes before start, or does not end where the next begins. Skbs whose
// bytes are all below start go; a SYN or FIN skb is left as it is. A queue
// of frames that each cost several times their payload shrinks to about its
// payload, so what we offered fits again without dropping anything.
void tcp_collapse(Sock* sk, const CollapseQueue& q, SkBuff* head, SkBuff* tail, std::uint32_t start,
                  std::uint32_t end) {
  SkBuff* skb = head;
  bool end_of_skbs = true;
  while (skb && skb != tail) {
    SkBuff* n = q.next(skb);
    const TcpSkbCb* cb = TCP_SKB_CB(skb);
    if (!before(start, cb->end_seq)) {  // no new bytes (possible in the ofo queue)
      skb = tcp_collapse_one(sk, skb, q);
      continue;
    }
    if (!(cb->tcp_flags & (TCPHDR_SYN | TCPHDR_FIN)) &&
        (tcp_win_from_space(sk, static_cast<int>(skb->truesize)) > static_cast<int>(skb->len) ||
         before(cb->seq, start))) {
      end_of_skbs = false;
      break;
    }
    if (n && n != tail && cb->end_seq != TCP_SKB_CB(n)->seq) {
      end_of_skbs = false;
      break;
    }
    start = cb->end_seq;
    skb = n;
  }
  if (end_of_skbs || !skb || (TCP_SKB_CB(skb)->tcp_flags & (TCPHDR_SYN | TCPHDR_FIN))) return;

  // Copies for the ofo tree wait aside: they start where the skbs they
  // replace do (Linux defers the rbtree insertion the same way).
  std::vector<SkbPtr> deferred;
  // SKB_MAX_ORDER(0, 0): what a page-sized allocation holds.
  constexpr std::uint32_t kCollapseSize = SK_MEM_QUANTUM - SKB_DATA_ALIGN(sizeof(SkbSharedInfo));
  while (before(start, end)) {
    std::uint32_t copy = std::min(kCollapseSize, end - start);
    SkbPtr owned = alloc_skb(copy);
    if (!owned) break;
    SkBuff* nskb = owned.get();
    std::memcpy(nskb->cb, skb->cb, sizeof(skb->cb));
    TcpSkbCb* ncb = TCP_SKB_CB(nskb);
    ncb->seq = ncb->end_seq = start;
    if (q.list)
      q.list->insert_before(skb, std::move(owned));
    else
      deferred.push_back(std::move(owned));
    skb_set_owner_r(nskb, sk);
    bool done = false;
    while (copy > 0) {
      const TcpSkbCb* cb = TCP_SKB_CB(skb);
      const std::uint32_t offset = start - cb->seq;
      const auto size = static_cast<std::int32_t>(cb->end_seq - start);
      if (size > 0) {
        const std::uint32_t take = std::min(copy, static_cast<std::uint32_t>(size));
        skb_copy_bits(skb, offset, skb_put(nskb, take), take);
        ncb->end_seq += take;
        copy -= take;
        start += take;
      }
      if (!before(start, cb->end_seq)) {
        skb = tcp_collapse_one(sk, skb, q);
        if (!skb || skb == tail || (TCP_SKB_CB(skb)->tcp_flags & (TCPHDR_SYN | TCPHDR_FIN))) {
          done = true;
          break;
        }
      }
    }
    if (done) break;
  }
  for (SkbPtr& n : deferred) q.root->insert(std::move(n));
}

// Collapse each contiguous range of the out-of-order queue
// (tcp_collapse_ofo_queue). A range of one skb is left alone unless it
// holds at least a page of data; once such left-alone "tiny" ranges add up
// to an eighth of sk_rcvbuf the walk stops, as copying them would cost more
// than pruning saves.
void tcp_collapse_ofo_queue(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  SkbRbTree& ofo = tp->out_of_order_queue;
  const CollapseQueue q{nullptr, &ofo};
  std::uint32_t sum_tiny = 0;
  SkBuff* skb = ofo.first();
  while (skb) {
    std::uint32_t start = TCP_SKB_CB(skb)->seq;
    std::uint32_t end = TCP_SKB_CB(skb)->end_seq;
    std::uint32_t range_truesize = skb->truesize;
    SkBuff* head = skb;
    for (;;) {
      skb = ofo.next(skb);
      // A range ends at a gap or at the end of the queue.
      if (!skb || after(TCP_SKB_CB(skb)->seq, end) || before(TCP_SKB_CB(skb)->end_seq, start))
        break;
      range_truesize += skb->truesize;
      if (before(TCP_SKB_CB(skb)->seq, start)) start = TCP_SKB_CB(skb)->seq;
      if (after(TCP_SKB_CB(skb)->end_seq, end)) end = TCP_SKB_CB(skb)->end_seq;
    }
    if (range_truesize != head->truesize ||
        end - start >= SK_MEM_QUANTUM - SKB_DATA_ALIGN(sizeof(SkbSharedInfo))) {
      tcp_collapse(sk, q, head, skb, start, end);
    } else {
      sum_tiny += range_truesize;
      if (sum_tiny > static_cast<std::uint32_t>(sk->sk_rcvbuf >> 3)) break;
    }
  }
  tp->ooo_last_skb = ofo.last();
}

// The receive buffer is over its limit (tcp_prune_queue): first try to grow
// it (or, short of memory stack-wide, hold the window), then compact both
// queues, then sacrifice out-of-order data. Returns -1 when in_skb still does
// not fit and must be dropped.
int tcp_prune_queue(Sock* sk, const SkBuff* in_skb) {
  TcpSock* tp = tcp_sk(sk);
  mib_of(sk).inc(MibId::TcpExtPruneCalled);
  if (sk->sk_rmem_alloc >= sk->sk_rcvbuf)
    tcp_clamp_window(sk);
  else if (tcp_under_memory_pressure(sk))
    tcp_adjust_rcv_ssthresh(sk);
  if (sk->sk_rmem_alloc <= sk->sk_rcvbuf) return 0;
  tcp_collapse_ofo_queue(sk);
  if (!sk->sk_receive_queue.empty())
    tcp_collapse(sk, CollapseQueue{&sk->sk_receive_queue, nullptr}, sk->sk_receive_queue.peek(),
                 nullptr, tp->copied_seq, tp->rcv_nxt);
  if (sk->sk_rmem_alloc <= sk->sk_rcvbuf) return 0;
  tcp_prune_ofo_queue(sk, in_skb);
  if (sk->sk_rmem_alloc <= sk->sk_rcvbuf) return 0;
  mib_of(sk).inc(MibId::TcpExtRcvPruned);
  tp->pred_flags = 0;
  return -1;
}

// May skb be charged to the receive buffer (tcp_try_rmem_schedule)? Over
// sk_rcvbuf, or refused pages by tcp_mem, prune; then keep dropping
// out-of-order data until the pages are granted. As Linux, the sk_rcvbuf
// check is on what is already queued, so one skb may overshoot.
bool tcp_try_rmem_schedule(Sock* sk, SkBuff* skb) {
  const int size = static_cast<int>(skb->truesize);
  if (sk->sk_rmem_alloc > sk->sk_rcvbuf || !sk_rmem_schedule(sk, skb, size)) {
    if (tcp_prune_queue(sk, skb) < 0) {
      // Linux's sock:sock_exceed_buf_limit fires only where tcp_mem refuses;
      // sendpath also marks the sk_rcvbuf refusal with it.
      trace_sock_exceed_buf_limit(sk, "receive", size);
      return false;
    }
    while (!sk_rmem_schedule(sk, skb, size)) {
      if (!tcp_prune_ofo_queue(sk, skb)) return false;
    }
  }
  return true;
}

void tcp_rcv_nxt_update(TcpSock* tp, std::uint32_t seq) {
  std::uint32_t delta = seq - tp->rcv_nxt;
  tp->bytes_received += delta;
  tp->rcv_nxt = seq;
}

// Append in-order data to the receive queue (tcp_queue_rcv).
void tcp_queue_rcv(Sock* sk, SkbPtr skb) {
  TcpSock* tp = tcp_sk(sk);
  tcp_rcv_nxt_update(tp, TCP_SKB_CB(skb.get())->end_seq);
  skb_set_owner_r(skb.get(), sk);
  sk->sk_receive_queue.queue_tail(std::move(skb));
}

// Move segments the new rcv_nxt reaches from the out-of-order tree to the
// receive queue (tcp_ofo_queue).
void tcp_ofo_queue(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  while (SkBuff* skb = tp->out_of_order_queue.first()) {
    TcpSkbCb* cb = TCP_SKB_CB(skb);
    if (after(cb->seq, tp->rcv_nxt)) break;
    SkbPtr owned = tp->out_of_order_queue.erase(skb);
    if (tp->ooo_last_skb == skb) tp->ooo_last_skb = tp->out_of_order_queue.last();
    if (before(cb->seq, tp->rcv_nxt)) {
      std::uint32_t dsack_high = tp->rcv_nxt;
      if (after(cb->end_seq, dsack_high)) {
        // Partly new: the reader skips the overlap (it reads from copied_seq
        // by sequence number), so the skb goes as it is.
      }
      tcp_dsack_set(sk, cb->seq, before(cb->end_seq, dsack_high) ? cb->end_seq : dsack_high);
    }
    if (!after(cb->end_seq, tp->rcv_nxt)) {
      tcp_drop(sk, std::move(owned), SkbDropReason::SKB_DROP_REASON_TCP_OFO_DROP);
      continue;
    }
    const bool fin = cb->tcp_flags & TCPHDR_FIN;
    // The skb was charged when it entered the tree and stays charged: it
    // only moves, as in Linux. (Uncharging and charging again let
    // sk_mem_uncharge reclaim whole pages in between, leaving
    // sk_forward_alloc owing what the tree already held.)
    tcp_rcv_nxt_update(tp, cb->end_seq);
    sk->sk_receive_queue.queue_tail(std::move(owned));
    if (fin) {
      tcp_fin(sk);
      break;
    }
  }
}

// Out-of-order data (tcp_data_queue_ofo): keep it in the seq-ordered tree,
// dropping what is already there and replacing what it fully covers, and
// report the range with a SACK block.
void tcp_data_queue_ofo(Sock* sk, SkbPtr skb) {
  TcpSock* tp = tcp_sk(sk);
  if (!tcp_try_rmem_schedule(sk, skb.get())) {
    mib_of(sk).inc(MibId::TcpExtTCPOFODrop);
    // Wake the reader whatever SO_RCVLOWAT says: only reading frees memory.
    if (!sock_flag(sk, SOCK_DEAD)) sk->sk_data_ready(sk);
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_PROTO_MEM);
    return;
  }
  tcp_measure_rcv_mss(sk, skb.get());
  // Out-of-order data means a hole: an ACK is due. Whether it leaves at
  // once or is compressed with the next ones is __tcp_ack_snd_check's call
  // (6.12 sets no ICSK_ACK_NOW here, or SACK compression could never act).
  inet_csk_schedule_ack(sk);
  tp->rcv_ooopack += std::max<std::uint32_t>(1, skb_shinfo(skb.get())->gso_segs);
  mib_of(sk).inc(MibId::TcpExtTCPOFOQueue);

  std::uint32_t seq = TCP_SKB_CB(skb.get())->seq;
  std::uint32_t end_seq = TCP_SKB_CB(skb.get())->end_seq;

  // Is it already covered by what we hold? Find the last skb starting at or
  // before seq.
  SkBuff* prev = nullptr;
  for (SkBuff* s = tp->out_of_order_queue.first(); s; s = tp->out_of_order_queue.next(s)) {
    if (after(TCP_SKB_CB(s)->seq, seq)) break;
    prev = s;
  }
  if (prev && !after(end_seq, TCP_SKB_CB(prev)->end_seq)) {
    mib_of(sk).inc(MibId::TcpExtTCPOFOMerge);
    tcp_dsack_set(sk, seq, end_seq);
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_OFOMERGE);
    tcp_sack_new_ofo_skb(sk, seq, end_seq);
    return;
  }
  // Every skb after prev starts after seq; those the new one covers go.
  SkBuff* s = prev ? tp->out_of_order_queue.next(prev) : tp->out_of_order_queue.first();
  if (prev && TCP_SKB_CB(prev)->seq == seq) {
    // Same start, longer: the new skb replaces the old one.
    SkbPtr old = tp->out_of_order_queue.erase(prev);
    mib_of(sk).inc(MibId::TcpExtTCPOFOMerge);
    tcp_drop(sk, std::move(old), SkbDropReason::SKB_DROP_REASON_TCP_OFOMERGE);
  }
  while (s) {
    if (!after(end_seq, TCP_SKB_CB(s)->seq)) break;      // no overlap
    if (before(end_seq, TCP_SKB_CB(s)->end_seq)) break;  // partial overlap at the tail: keep it
    SkBuff* next = tp->out_of_order_queue.next(s);
    SkbPtr old = tp->out_of_order_queue.erase(s);
    mib_of(sk).inc(MibId::TcpExtTCPOFOMerge);
    tcp_dsack_set(sk, TCP_SKB_CB(old.get())->seq, TCP_SKB_CB(old.get())->end_seq);
    tcp_drop(sk, std::move(old), SkbDropReason::SKB_DROP_REASON_TCP_OFOMERGE);
    s = next;
  }
  // Without SACK the window stays put, so the duplicate ACKs that trigger
  // fast retransmit are not window updates.
  if (tp->rx_opt.sack_ok) tcp_grow_window(sk, skb.get());
  skb_set_owner_r(skb.get(), sk);
  tp->out_of_order_queue.insert(std::move(skb));
  tp->ooo_last_skb = tp->out_of_order_queue.last();
  if (tp->rx_opt.sack_ok) tcp_sack_new_ofo_skb(sk, seq, end_seq);
}

// Queue the data of an accepted segment (tcp_data_queue). skb->data is at
// the TCP header on entry.
void tcp_data_queue(Sock* sk, SkbPtr skb) {
  TcpSock* tp = tcp_sk(sk);
  TcpSkbCb* cb = TCP_SKB_CB(skb.get());
  if (cb->seq == cb->end_seq) {
    consume_skb(std::move(skb));
    return;
  }
  skb_pull(skb.get(), th_doff_bytes(tcp_hdr(skb.get())));
  tp->rx_opt.dsack = false;

  if (cb->seq == tp->rcv_nxt) {
    if (tcp_receive_window(tp) == 0) {
      // A bare FIN still fits a closed window.
      if (!(skb->len == 0 && (cb->tcp_flags & TCPHDR_FIN))) {
        mib_of(sk).inc(MibId::TcpExtTCPZeroWindowDrop);
        tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS);
        inet_csk_schedule_ack(sk);
        tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_ZEROWINDOW);
        return;
      }
    }
  queue_and_out:
    if (!tcp_try_rmem_schedule(sk, skb.get())) {
      // No memory even after pruning: the next ACK advertises a zero window
      // (ICSK_ACK_NOMEM, tcp_select_window) and goes at once. The data is
      // dropped only if the reader has something to free; an empty queue
      // takes it regardless, or the connection could never move again.
      inet_csk(sk)->icsk_ack.pending |= ICSK_ACK_NOMEM | ICSK_ACK_NOW;
      inet_csk_schedule_ack(sk);
      // Wake the reader whatever SO_RCVLOWAT says: only reading frees memory.
      if (!sock_flag(sk, SOCK_DEAD)) sk->sk_data_ready(sk);
      if (!sk->sk_receive_queue.empty() && skb->len) {
        mib_of(sk).inc(MibId::TcpExtTCPRcvQDrop);
        tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_PROTO_MEM);
        return;
      }
      sk_forced_mem_schedule(sk, static_cast<int>(skb->truesize));
    }
    const bool has_data = skb->len != 0;
    const bool fin = cb->tcp_flags & TCPHDR_FIN;
    // As Linux: queue first (rcv_nxt moves), then account the arrival; the
    // skb stays valid on the receive queue meanwhile.
    SkBuff* queued = skb.get();
    tcp_queue_rcv(sk, std::move(skb));
    if (has_data) tcp_event_data_recv(sk, queued);
    if (fin) tcp_fin(sk);
    if (!tp->out_of_order_queue.empty()) {
      tcp_ofo_queue(sk);
      // The hole is filled: tell the sender at once.
      if (tp->out_of_order_queue.empty()) inet_csk(sk)->icsk_ack.pending |= ICSK_ACK_NOW;
    }
    if (tp->rx_opt.num_sacks) tcp_sack_remove(tp);
    if (!sock_flag(sk, SOCK_DEAD)) tcp_data_ready(sk);
    return;
  }

  if (!after(cb->end_seq, tp->rcv_nxt)) {
    // A retransmission of data we have: our ACK was lost.
    mib_of(sk).inc(MibId::TcpExtDelayedACKLost);
    tcp_dsack_set(sk, cb->seq, cb->end_seq);
    tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS);
    inet_csk_schedule_ack(sk);
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_OLD_DATA);
    return;
  }

  if (!before(cb->seq, tp->rcv_nxt + tcp_receive_window(tp))) {
    tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS);
    inet_csk_schedule_ack(sk);
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_OVERWINDOW);
    return;
  }

  if (before(cb->seq, tp->rcv_nxt)) {
    // Starts before rcv_nxt, ends after it: the new part is queued; the
    // reader skips the old bytes by sequence number.
    tcp_dsack_set(sk, cb->seq, tp->rcv_nxt);
    if (!tcp_receive_window(tp)) {
      mib_of(sk).inc(MibId::TcpExtTCPZeroWindowDrop);
      tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS);
      inet_csk_schedule_ack(sk);
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_ZEROWINDOW);
      return;
    }
    goto queue_and_out;
  }

  tcp_data_queue_ofo(sk, std::move(skb));
}

// --- sending side reactions ------------------------------------------------------------------

void tcp_data_snd_check(Sock* sk) {
  tcp_push_pending_frames(sk);
  tcp_check_space(sk);
}

// Decide between an immediate and a delayed ACK (__tcp_ack_snd_check):
// at once when more than one full-sized segment is unacknowledged
// (RFC 1122 4.2.3.2 / RFC 5681 4.2), in quick-ACK mode, when asked to
// (out-of-order data, a filled hole, memory trouble); otherwise delayed.
void __tcp_ack_snd_check(Sock* sk, bool ofo_possible) {
  TcpSock* tp = tcp_sk(sk);
  const InetConnectionSock* icsk = inet_csk(sk);
  // More than a full segment unacknowledged counts only when the window we
  // would advertise opens by it (else tcp_recvmsg's window update sends the
  // ACK), or while the reader waits for SO_RCVLOWAT bytes it lacks (6.12).
  const bool full_frame_pending =
      (tp->rcv_nxt - tp->rcv_wup) > icsk->icsk_ack.rcv_mss &&
      (static_cast<std::int64_t>(tp->rcv_nxt - tp->copied_seq) < sk->sk_rcvlowat ||
       __tcp_select_window(sk) >= tp->rcv_wnd);
  if (full_frame_pending || tcp_in_quickack_mode(sk) || (icsk->icsk_ack.pending & ICSK_ACK_NOW)) {
    tcp_send_ack(sk);
    return;
  }
  if (!ofo_possible || tp->out_of_order_queue.empty()) {
    tcp_send_delayed_ack(sk);
    return;
  }
  // Out-of-order data. Without SACK every duplicate ACK goes (they are the
  // sender's only signal). With SACK the first TCP_FASTRETRANS_THRESH
  // duplicates per rcv_nxt go at once, enough for fast retransmit; the ones
  // after are compressed (RFC 2018 lets a receiver SACK less often): counted
  // in compressed_ack and sent as one when tcp_comp_sack_nr of them are held,
  // when the timer runs, or when any other ACK leaves (tcp_event_ack_sent).
  const Sysctl& sc = sk->stack->sysctl();
  if (!tcp_is_sack(tp) || tp->compressed_ack >= static_cast<unsigned>(sc.tcp_comp_sack_nr)) {
    tcp_send_ack(sk);
    return;
  }
  if (tp->compressed_ack_rcv_nxt != tp->rcv_nxt) {
    tp->compressed_ack_rcv_nxt = tp->rcv_nxt;
    tp->dup_ack_counter = 0;
  }
  if (tp->dup_ack_counter < TCP_FASTRETRANS_THRESH) {
    tp->dup_ack_counter++;
    tcp_send_ack(sk);
    return;
  }
  tp->compressed_ack++;
  if (tp->compressed_ack_timer.pending()) return;
  // The timer: 5% of the RTT (the smaller of the receiver's estimate and
  // srtt; both are kept 8x in us, so rtt * (1000 / 8) / 20 is 5% in ns), at
  // most tcp_comp_sack_delay_ns. Linux arms an hrtimer with
  // tcp_comp_sack_slack_ns of slack, and the clock event is programmed for
  // the end of that range: on an otherwise idle CPU it runs delay + slack
  // after now, which is when it runs here.
  std::uint64_t rtt = tp->rcv_rtt_est.rtt_us;
  if (tp->srtt_us && tp->srtt_us < rtt) rtt = tp->srtt_us;
  const std::uint64_t delay = std::min<std::uint64_t>(
      static_cast<std::uint64_t>(sc.tcp_comp_sack_delay_ns), rtt * (kNsPerUs >> 3) / 20);
  sk->stack->mod_timer(tp->compressed_ack_timer,
                       sk->stack->now() + delay +
                           static_cast<std::uint64_t>(std::max(sc.tcp_comp_sack_slack_ns, 0)));
}

void tcp_ack_snd_check(Sock* sk) {
  if (!inet_csk_ack_scheduled(sk)) return;
  __tcp_ack_snd_check(sk, true);
}

// A RST one below rcv_nxt after the peer's FIN (tcp_reset_check): some
// stacks (macOS on ^C) send FIN then RST with the FIN's sequence number, and
// rate limit their answers to our challenge ACK; Linux accepts it as exact.
bool tcp_reset_check(const Sock* sk, const SkBuff* skb) {
  const TcpSock* tp = tcp_sk(sk);
  return TCP_SKB_CB(skb)->seq == tp->rcv_nxt - 1 &&
         (sk->sk_state == TCP_CLOSE_WAIT || sk->sk_state == TCP_LAST_ACK ||
          sk->sk_state == TCP_CLOSING);
}

// The right edge of the highest SACK block we advertise (RFC 5961 3.2 as
// Linux extends it): a sender that saw our SACKs may reset from there.
bool tcp_rst_at_highest_sack(const TcpSock* tp, std::uint32_t seq) {
  if (!tcp_is_sack(tp) || tp->rx_opt.num_sacks == 0) return false;
  std::uint32_t max_sack = tp->selective_acks[0].end_seq;
  for (int i = 1; i < tp->rx_opt.num_sacks; ++i)
    if (after(tp->selective_acks[i].end_seq, max_sack)) max_sack = tp->selective_acks[i].end_seq;
  return seq == max_sack;
}

// Common validation of a segment for a synchronised connection
// (tcp_validate_incoming). Returns false when skb was consumed.
bool tcp_validate_incoming(Sock* sk, SkbPtr& skb, bool syn_inerr) {
  TcpSock* tp = tcp_sk(sk);
  Stack& st = *sk->stack;
  const std::uint8_t* th = tcp_hdr(skb.get());
  TcpSkbCb* cb = TCP_SKB_CB(skb.get());
  SkbDropReason reason = SkbDropReason::SKB_DROP_REASON_NOT_SPECIFIED;

  // RFC 7323 5: PAWS. A RST is accepted even when it fails PAWS.
  if (tcp_fast_parse_options(sk, skb.get()) && tp->rx_opt.saw_tstamp &&
      tcp_paws_discard(sk, skb.get())) {
    if (!th_rst(th)) {
      if (th_syn(th)) goto syn_challenge;
      mib_of(sk).inc(MibId::TcpExtPAWSEstab);
      if (!tcp_oow_rate_limited(st, skb.get(), MibId::TcpExtTCPACKSkippedPAWS,
                                &tp->last_oow_ack_time))
        tcp_send_dupack(sk, skb.get());
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RFC7323_PAWS);
      return false;
    }
  }

  {
    // RFC 9293 3.10.7.4 first check: an unacceptable segment is answered
    // with an ACK (rate limited unless it carries data), a RST never is.
    bool bad;
    reason = tcp_sequence(tp, cb->seq, cb->end_seq, &bad);
    if (bad) {
      if (!th_rst(th)) {
        if (th_syn(th)) goto syn_challenge;
        if (!tcp_oow_rate_limited(st, skb.get(), MibId::TcpExtTCPACKSkippedSeq,
                                  &tp->last_oow_ack_time))
          tcp_send_dupack(sk, skb.get());
      } else if (tcp_reset_check(sk, skb.get())) {
        tcp_reset(sk, skb.get());
        tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RESET);
        return false;
      }
      tcp_drop(sk, std::move(skb), reason);
      return false;
    }
  }

  if (th_rst(th)) {
    // RFC 5961 3.2: only an RST exactly at rcv_nxt resets (or at rcv_nxt - 1
    // after a FIN, or at the right edge of our highest SACK block); one
    // elsewhere in the window gets a challenge ACK, so a blind attacker must
    // guess exactly.
    if (cb->seq == tp->rcv_nxt || tcp_reset_check(sk, skb.get()) ||
        tcp_rst_at_highest_sack(tp, cb->seq)) {
      tcp_reset(sk, skb.get());
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RESET);
      return false;
    }
    tcp_send_challenge_ack(sk);
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RESET);
    return false;
  }

  // Simultaneous open: their SYN-ACK acknowledging our SYN in SYN-RECEIVED
  // completes the handshake rather than being a stray SYN.
  if (th_syn(th) && sk->sk_state == TCP_SYN_RECV && th_ack(th) && tp->packets_out &&
      cb->seq + 1 == cb->end_seq && cb->seq + 1 == tp->rcv_nxt && cb->ack_seq == tp->snd_nxt)
    return true;

  if (th_syn(th)) {
  syn_challenge:
    // RFC 5961 4: a SYN on a synchronised connection gets a challenge ACK.
    if (syn_inerr) mib_of(sk).inc(MibId::TcpInErrs);
    mib_of(sk).inc(MibId::TcpExtTCPSYNChallenge);
    tcp_send_challenge_ack(sk);
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_INVALID_SYN);
    return false;
  }
  return true;
}

void tcp_initialize_rcv_mss(Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  std::uint32_t hint = std::min<std::uint32_t>(tp->advmss ? tp->advmss : TCP_MSS_DEFAULT,
                                               tp->mss_cache ? tp->mss_cache : TCP_MSS_DEFAULT);
  hint = std::min(hint, tp->rcv_wnd / 2);
  hint = std::min(hint, TCP_MSS_DEFAULT);
  hint = std::max(hint, TCP_MIN_MSS);
  inet_csk(sk)->icsk_ack.rcv_mss = static_cast<std::uint16_t>(hint);
}

}  // namespace

// Memory was freed from the write/rtx queues: wake a writer waiting for
// room (tcp_check_space / tcp_new_space).
void tcp_check_space(Sock* sk) {
  sock_reset_flag(sk, SOCK_QUEUE_SHRUNK);
  // A writer is waiting for room (it set SOCK_NOSPACE): tcp_new_space may
  // grow the buffer and wakes it when enough is free.
  if (sock_flag(sk, SOCK_NOSPACE) && sk->sk_write_space) {
    sk->sk_write_space(sk);
    if (!sock_flag(sk, SOCK_NOSPACE)) tcp_chrono_stop(sk, TCP_CHRONO_SNDBUF_LIMITED);
  }
}

// --- FIN ---------------------------------------------------------------------------------------

// The peer finished sending (RFC 9293 3.10.7.4, eighth step).
void tcp_fin(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  inet_csk_schedule_ack(sk);
  sk->sk_shutdown |= RCV_SHUTDOWN;
  sock_set_flag(sk, SOCK_DONE);

  switch (sk->sk_state) {
    case TCP_SYN_RECV:
    case TCP_ESTABLISHED:
      tcp_set_state(sk, TCP_CLOSE_WAIT);
      // The peer closed first: from now on we answer rather than stream.
      inet_csk(sk)->icsk_ack.pingpong = 1;
      break;
    case TCP_CLOSE_WAIT:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
      break;  // a retransmitted FIN
    case TCP_FIN_WAIT1:
      // Simultaneous close: ACK their FIN, wait for the ACK of ours.
      tcp_send_ack(sk);
      tcp_set_state(sk, TCP_CLOSING);
      break;
    case TCP_FIN_WAIT2:
      tcp_send_ack(sk);
      tcp_time_wait(sk, TCP_TIME_WAIT, 0);
      break;
    default:
      break;
  }
  // Nothing after the FIN can be delivered: forget out-of-order data.
  tp->out_of_order_queue.purge();
  tp->ooo_last_skb = nullptr;
  tp->rx_opt.num_sacks = 0;
  if (!sock_flag(sk, SOCK_DEAD)) {
    sk->sk_state_change(sk);
  }
}

// --- connection establishment --------------------------------------------------------------------

void tcp_init_transfer(Sock* sk, SkBuff* /*skb*/) {
  TcpSock* tp = tcp_sk(sk);
  tcp_mtup_init(sk);
  // No delayed-ACK history yet: the first data enters quick-ACK mode
  // (tcp_event_data_recv), so the peer's slow start is not held back.
  inet_csk(sk)->icsk_ack.ato = 0;
  // A SYN that needed retransmitting suggests a congested path: start at 1
  // (RFC 6298 5.7), else the initial window of RFC 6928.
  if (tp->total_retrans > 1 && tp->undo_marker)
    tp->snd_cwnd = 1;
  else
    tp->snd_cwnd = tcp_init_cwnd(tp, sk->stack->ip_route_output(inet_sk(sk)->inet_daddr));
  tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  tcp_init_congestion_control(sk);
  tcp_init_buffer_space(sk);
}

void tcp_finish_connect(Sock* sk, SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  tcp_set_state(sk, TCP_ESTABLISHED);
  icsk->icsk_ack.lrcvtime = tcp_jiffies32(sk);
  tcp_init_transfer(sk, skb);
  tp->lsndtime = tcp_jiffies32(sk);
  if (sock_flag(sk, SOCK_KEEPOPEN)) inet_csk_reset_keepalive_timer(sk, keepalive_time_when(tp));
}

namespace {

// SYN-SENT (RFC 9293 3.10.7.3). Returns 1 when the skb was consumed and the
// caller has nothing more to do, -1 when it should still send/ACK, or a
// positive drop reason + 1 << 16 for "reset the peer" (handled by caller).
int tcp_rcv_synsent_state_process(Sock* sk, SkbPtr& skb, bool* send_reset) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  const std::uint8_t* th = tcp_hdr(skb.get());
  TcpSkbCb* cb = TCP_SKB_CB(skb.get());
  const std::uint16_t saved_clamp = tp->rx_opt.mss_clamp;
  *send_reset = false;

  tcp_parse_options(sk->stack->sysctl(), skb.get(), &tp->rx_opt, false);
  if (tp->rx_opt.saw_tstamp && tp->rx_opt.rcv_tsecr) tp->rx_opt.rcv_tsecr -= tp->tsoffset;

  auto undo_options = [&] {
    tp->rx_opt.saw_tstamp = false;
    tp->rx_opt.wscale_ok = false;
    tp->rx_opt.snd_wscale = 0;
    tp->rx_opt.sack_ok = 0;
    tp->rx_opt.mss_clamp = saved_clamp;
  };

  if (th_ack(th)) {
    // Our SYN must be what it acknowledges; anything else gets a RST.
    if (!after(cb->ack_seq, tp->snd_una) || after(cb->ack_seq, tp->snd_nxt)) {
      undo_options();
      *send_reset = true;
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_INVALID_ACK_SEQUENCE);
      return 0;
    }
    if (tp->rx_opt.saw_tstamp && tp->rx_opt.rcv_tsecr &&
        !between(tp->rx_opt.rcv_tsecr + tp->tsoffset, tp->retrans_stamp, tcp_time_stamp_ts(tp))) {
      // An echo of a timestamp we never sent: an old duplicate.
      mib_of(sk).inc(MibId::TcpExtPAWSActive);
      undo_options();
      *send_reset = true;
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RFC7323_PAWS);
      return 0;
    }
    if (th_rst(th)) {
      tcp_reset(sk, skb.get());
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RESET);
      return 0;
    }
    if (!th_syn(th)) {
      undo_options();
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
      return 0;
    }

    // SYN-ACK: the connection is up.
    tcp_init_wl(tp, cb->seq);
    tcp_ack(sk, skb.get(), FLAG_SLOWPATH);
    tp->rcv_nxt = cb->seq + 1;
    tp->rcv_wup = cb->seq + 1;
    tp->rcv_isn = cb->seq;
    tp->snd_wnd = th_window(th);  // unscaled on a SYN
    if (!tp->rx_opt.wscale_ok) {
      tp->rx_opt.snd_wscale = tp->rx_opt.rcv_wscale = 0;
      tp->window_clamp = std::min<std::uint32_t>(tp->window_clamp, 65535u);
    }
    if (tp->rx_opt.saw_tstamp) {
      tp->rx_opt.tstamp_ok = true;
      tp->tcp_header_len = static_cast<std::uint16_t>(TCP_HEADER_LEN + TCPOLEN_TSTAMP_ALIGNED);
      tp->advmss = static_cast<std::uint16_t>(tp->advmss - TCPOLEN_TSTAMP_ALIGNED);
      tcp_store_ts_recent(tp);
    } else {
      tp->tcp_header_len = TCP_HEADER_LEN;
    }
    if (tp->rx_opt.mss_clamp == 0) tp->rx_opt.mss_clamp = TCP_MSS_DEFAULT;
    tcp_sync_mss(sk, icsk->icsk_pmtu_cookie);
    tcp_initialize_rcv_mss(sk);
    tp->copied_seq = tp->rcv_nxt;
    tcp_finish_connect(sk, skb.get());
    if (!sock_flag(sk, SOCK_DEAD)) sk->sk_state_change(sk);
    tcp_send_ack(sk);
    consume_skb(std::move(skb));
    return -1;
  }

  if (th_rst(th)) {
    // RFC 9293: an RST without ACK in SYN-SENT is ignored.
    undo_options();
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RESET);
    return 0;
  }
  if (tp->rx_opt.ts_recent_stamp && tp->rx_opt.saw_tstamp &&
      tcp_paws_reject(*sk->stack, &tp->rx_opt, false)) {
    undo_options();
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RFC7323_PAWS);
    return 0;
  }
  if (th_syn(th)) {
    // Simultaneous open (RFC 9293 3.5 figure 8): answer with a SYN-ACK.
    tcp_set_state(sk, TCP_SYN_RECV);
    if (tp->rx_opt.saw_tstamp) {
      tp->rx_opt.tstamp_ok = true;
      tcp_store_ts_recent(tp);
      tp->tcp_header_len = static_cast<std::uint16_t>(TCP_HEADER_LEN + TCPOLEN_TSTAMP_ALIGNED);
    } else {
      tp->tcp_header_len = TCP_HEADER_LEN;
    }
    tp->rcv_nxt = cb->seq + 1;
    tp->copied_seq = tp->rcv_nxt;
    tp->rcv_wup = cb->seq + 1;
    tp->rcv_isn = cb->seq;
    tp->snd_wnd = th_window(th);
    tp->snd_wl1 = cb->seq;
    tp->max_window = tp->snd_wnd;
    if (tp->rx_opt.mss_clamp == 0) tp->rx_opt.mss_clamp = TCP_MSS_DEFAULT;
    tcp_mtup_init(sk);
    tcp_sync_mss(sk, icsk->icsk_pmtu_cookie);
    tcp_initialize_rcv_mss(sk);
    // tcp_send_synack: the SYN skb on the rtx queue gets an ACK flag and
    // goes out again as the SYN-ACK. A transmission, not a retransmission:
    // no retrans_out, TCPCB_RETRANS or TcpRetransSegs (counting it there
    // counted the SYN twice in retrans_out when an RTO had resent it).
    if (SkBuff* syn = tcp_rtx_queue_head(sk)) {
      TCP_SKB_CB(syn)->tcp_flags |= TCPHDR_ACK;
      tcp_transmit_skb(sk, syn, 1);
    }
    consume_skb(std::move(skb));
    return 0;
  }
  undo_options();
  tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
  return 0;
}

}  // namespace

// --- the established-state receive path ---------------------------------------------------------

void tcp_rcv_established(Sock* sk, SkbPtr skb) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint8_t* th = tcp_hdr(skb.get());
  TcpSkbCb* cb = TCP_SKB_CB(skb.get());
  // TCP congestion window tracking: the state before this segment is seen.
  trace_tcp_probe(sk, skb.get());
  tcp_mstamp_refresh(tp);
  tp->rx_opt.saw_tstamp = false;

  // Header prediction (Van Jacobson, RFC 1323 appendix A / Linux's fast
  // path): the in-order segment with only ACK (and PSH), the header length
  // we expect, an unchanged window and nothing unusual going on needs
  // neither the validation nor the window-update logic of the slow path.
  const std::uint32_t thlen = th_doff_bytes(th);
  const bool predicted =
      (th_flags(th) & ~TCPHDR_PSH) == TCPHDR_ACK && thlen == tp->tcp_header_len &&
      (static_cast<std::uint32_t>(th_window(th)) << tp->rx_opt.snd_wscale) == tp->snd_wnd &&
      cb->seq == tp->rcv_nxt && !after(cb->ack_seq, tp->snd_nxt) &&
      tp->out_of_order_queue.empty() && tp->rcv_wnd && sk->sk_rmem_alloc < sk->sk_rcvbuf &&
      tcp_receive_window(tp) >= skb->len - thlen;
  bool fast = predicted;
  if (fast && tp->rx_opt.tstamp_ok) {
    // The timestamp must be there and not older than ts_recent (PAWS).
    fast = tcp_fast_parse_options(sk, skb.get()) && tp->rx_opt.saw_tstamp &&
           static_cast<std::int32_t>(tp->rx_opt.rcv_tsval - tp->rx_opt.ts_recent) >= 0;
  }
  if (fast) {
    mib_of(sk).inc(MibId::TcpExtTCPHPHits);
    if (tp->rx_opt.saw_tstamp && tp->rcv_nxt == tp->rcv_wup) tcp_store_ts_recent(tp);
    if (skb->len == thlen) {
      // A pure ACK.
      tcp_ack(sk, skb.get(), 0);
      consume_skb(std::move(skb));
      if (sk->sk_state != TCP_CLOSE) tcp_data_snd_check(sk);
      return;
    }
    // In-order data: queue it, then take the ACK it carries.
    const std::uint32_t ack_seq = cb->ack_seq;
    const std::uint32_t seq = cb->seq;
    SkbPtr ack_copy;
    const bool has_ack = ack_seq != tp->snd_una;
    if (has_ack) {
      // tcp_ack reads the header after the data was queued: keep a view.
      ack_copy = skb_clone(skb.get());
      if (!ack_copy) {
        // No memory for the view: take the ACK first, as the slow path
        // does, rather than lose it.
        tcp_ack(sk, skb.get(), FLAG_DATA);
        if (sk->sk_state == TCP_CLOSE) {
          consume_skb(std::move(skb));
          return;
        }
        tcp_data_queue(sk, std::move(skb));
        tcp_data_snd_check(sk);
        tcp_ack_snd_check(sk);
        return;
      }
    }
    tcp_data_queue(sk, std::move(skb));
    if (has_ack && ack_copy) {
      tcp_ack(sk, ack_copy.get(), FLAG_DATA);
      consume_skb(std::move(ack_copy));
      if (sk->sk_state == TCP_CLOSE) return;
      tcp_data_snd_check(sk);
      if (!inet_csk_ack_scheduled(sk)) return;
    } else {
      tp->snd_wl1 = seq;
    }
    __tcp_ack_snd_check(sk, false);
    return;
  }

  if (!(th_flags(th) & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN))) {
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
    return;
  }
  if (!tcp_validate_incoming(sk, skb, true)) return;

  int flag = FLAG_SLOWPATH | FLAG_UPDATE_TS_RECENT;
  int r = tcp_ack(sk, skb.get(), flag);
  if (r < 0) {
    tcp_drop(sk, std::move(skb), static_cast<SkbDropReason>(-r));
    return;
  }
  if (sk->sk_state == TCP_CLOSE) {
    consume_skb(std::move(skb));
    return;
  }
  tcp_data_queue(sk, std::move(skb));
  if (sk->sk_state != TCP_CLOSE) {
    tcp_data_snd_check(sk);
    tcp_ack_snd_check(sk);
  }
}

// Every state but ESTABLISHED and TIME_WAIT (RFC 9293 3.10.7). Returns 0
// when done; a positive value asks the caller (tcp_v4_do_rcv) to send a
// reset for this segment.
int tcp_rcv_state_process(Sock* sk, SkbPtr skb) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint8_t* th = tcp_hdr(skb.get());
  TcpSkbCb* cb = TCP_SKB_CB(skb.get());

  switch (sk->sk_state) {
    case TCP_CLOSE:
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_CLOSE);
      return 0;
    case TCP_LISTEN:
      // Listeners are handled in tcp_v4_rcv (request socks).
      tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
      return 0;
    case TCP_SYN_SENT: {
      tp->rx_opt.saw_tstamp = false;
      tcp_mstamp_refresh(tp);
      bool send_reset = false;
      int queued = tcp_rcv_synsent_state_process(sk, skb, &send_reset);
      if (send_reset) return 1;
      if (queued < 0) tcp_data_snd_check(sk);
      return 0;
    }
    default:
      break;
  }

  tcp_mstamp_refresh(tp);
  tp->rx_opt.saw_tstamp = false;

  if (!(th_flags(th) & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN))) {
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
    return 0;
  }
  if (!tcp_validate_incoming(sk, skb, false)) return 0;

  // RFC 9293 fifth check: without ACK the segment is dropped.
  if (!th_ack(th)) {
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
    return 0;
  }
  // SYN-RECEIVED after a simultaneous open (our SYN still outstanding): the
  // ACK must cover it, SND.UNA < SEG.ACK (RFC 9293 3.10.7.4); else reset.
  if (sk->sk_state == TCP_SYN_RECV && tp->packets_out && !after(cb->ack_seq, tp->snd_una)) {
    tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_OLD_ACK);
    return 1;
  }
  int r = tcp_ack(sk, skb.get(), FLAG_SLOWPATH | FLAG_UPDATE_TS_RECENT | FLAG_NO_CHALLENGE_ACK);
  if (r <= 0) {
    if (sk->sk_state == TCP_SYN_RECV) {
      // The ACK does not acknowledge our SYN-ACK: reset (RFC 9293 3.10.7.4).
      tcp_drop(
          sk, std::move(skb),
          r == 0 ? SkbDropReason::SKB_DROP_REASON_TCP_OLD_ACK : static_cast<SkbDropReason>(-r));
      return 1;
    }
    if (r < 0) {
      tcp_send_challenge_ack(sk);
      tcp_drop(sk, std::move(skb), static_cast<SkbDropReason>(-r));
      return 0;
    }
  }

  switch (sk->sk_state) {
    case TCP_SYN_RECV:
      tp->delivered++;  // the SYN-ACK is not counted by tcp_ack
      // No sample from the SYN-ACK's send time (a cookie's child, or a
      // retransmitted SYN-ACK): take the ACK's TSecr, as Linux 6.12's
      // tcp_synack_rtt_meas with no request. A cookie's TSval was rounded
      // down to 64 ms, so Linux's first sample is that much longer too.
      if (!tp->srtt_us) tcp_synack_rtt_meas(sk, -1);
      if (tp->rx_opt.tstamp_ok && tp->advmss > TCPOLEN_TSTAMP_ALIGNED)
        tp->advmss = static_cast<std::uint16_t>(tp->advmss - TCPOLEN_TSTAMP_ALIGNED);
      tp->retrans_stamp = 0;
      tcp_init_transfer(sk, skb.get());
      tp->copied_seq = tp->rcv_nxt;
      tcp_set_state(sk, TCP_ESTABLISHED);
      sk->sk_state_change(sk);
      tp->snd_una = cb->ack_seq;
      tp->snd_wnd = static_cast<std::uint32_t>(th_window(th)) << tp->rx_opt.snd_wscale;
      tcp_init_wl(tp, cb->seq);
      tcp_update_pacing_rate(sk);
      tp->lsndtime = tcp_jiffies32(sk);
      tcp_initialize_rcv_mss(sk);
      if (sk->sk_shutdown & SEND_SHUTDOWN) tcp_shutdown(sk, SEND_SHUTDOWN);
      break;

    case TCP_FIN_WAIT1: {
      if (tp->snd_una != tp->write_seq) break;  // our FIN is not acked yet
      tcp_set_state(sk, TCP_FIN_WAIT2);
      sk->sk_shutdown |= SEND_SHUTDOWN;
      if (!sock_flag(sk, SOCK_DEAD)) {
        sk->sk_state_change(sk);
        break;
      }
      // Orphaned: nobody will read, so data now is an error.
      if (tp->linger2 < 0) {
        tcp_done(sk);
        mib_of(sk).inc(MibId::TcpExtTCPAbortOnData);
        tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_ABORT_ON_DATA);
        return 1;
      }
      if (cb->end_seq != cb->seq && after(cb->end_seq - (th_fin(th) ? 1 : 0), tp->rcv_nxt)) {
        tcp_done(sk);
        mib_of(sk).inc(MibId::TcpExtTCPAbortOnData);
        tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_ABORT_ON_DATA);
        return 1;
      }
      int tmo = tcp_fin_time(sk);
      if (tmo > static_cast<int>(TCP_TIMEWAIT_LEN)) {
        inet_csk_reset_keepalive_timer(sk, static_cast<std::uint64_t>(tmo) - TCP_TIMEWAIT_LEN);
      } else if (th_fin(th)) {
        inet_csk_reset_keepalive_timer(sk, static_cast<std::uint64_t>(tmo));
      } else {
        tcp_time_wait(sk, TCP_FIN_WAIT2, tmo);
        consume_skb(std::move(skb));
        return 0;
      }
      break;
    }

    case TCP_CLOSING:
      if (tp->snd_una == tp->write_seq) {
        tcp_time_wait(sk, TCP_TIME_WAIT, 0);
        consume_skb(std::move(skb));
        return 0;
      }
      break;

    case TCP_LAST_ACK:
      if (tp->snd_una == tp->write_seq) {
        tcp_done(sk);
        consume_skb(std::move(skb));
        return 0;
      }
      break;
  }

  bool queued = false;
  switch (sk->sk_state) {
    case TCP_CLOSE_WAIT:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
      if (!before(cb->seq, tp->rcv_nxt)) break;  // the peer already sent FIN: ignore
      [[fallthrough]];
    case TCP_FIN_WAIT1:
    case TCP_FIN_WAIT2:
      // RFC 1122 4.2.2.13: new data after we shut down reading resets.
      if (sk->sk_shutdown & RCV_SHUTDOWN) {
        if (cb->end_seq != cb->seq && after(cb->end_seq - (th_fin(th) ? 1 : 0), tp->rcv_nxt)) {
          mib_of(sk).inc(MibId::TcpExtTCPAbortOnData);
          tcp_reset(sk, skb.get());
          tcp_drop(sk, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_ABORT_ON_DATA);
          return 1;
        }
      }
      [[fallthrough]];
    case TCP_ESTABLISHED:
      tcp_data_queue(sk, std::move(skb));
      queued = true;
      break;
  }

  if (sk->sk_state != TCP_CLOSE) {
    tcp_data_snd_check(sk);
    tcp_ack_snd_check(sk);
  }
  if (!queued) consume_skb(std::move(skb));
  return 0;
}

// --- receive buffer autotuning (tcp_rcv_space_adjust, "DRS")
// ---------------------------------------

void tcp_rcv_space_adjust(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  const Sysctl& sc = sk->stack->sysctl();
  trace_tcp_rcv_space_adjust(sk);
  tcp_mstamp_refresh(tp);
  std::uint64_t rtt_us = tp->rcv_rtt_est.rtt_us ? tp->rcv_rtt_est.rtt_us >> 3 : tp->srtt_us >> 3;
  if (rtt_us == 0) return;
  std::uint64_t elapsed = tp->tcp_mstamp - tp->rcvq_space.time;
  if (tp->rcvq_space.time == 0 || elapsed < rtt_us) {
    if (tp->rcvq_space.time == 0) {
      tp->rcvq_space.time = tp->tcp_mstamp;
      tp->rcvq_space.seq = tp->copied_seq;
    }
    return;
  }
  // Bytes the application read in the last RTT: the sender may need twice
  // that in flight next RTT, so offer a buffer for it.
  int copied = static_cast<int>(tp->copied_seq - tp->rcvq_space.seq);
  if (copied > tp->rcvq_space.space) {
    if (sc.tcp_moderate_rcvbuf && !(sk->sk_userlocks & SOCK_RCVBUF_LOCK)) {
      std::int64_t rcvwin = static_cast<std::int64_t>(copied) << 1;
      std::int64_t grow =
          rcvwin * (copied - tp->rcvq_space.space) / std::max(tp->rcvq_space.space, 1);
      rcvwin += grow;
      // The buffer must hold rcvwin of payload plus its overhead.
      int ratio_space = tcp_win_from_space(sk, 1 << 16);
      std::int64_t rcvbuf = ratio_space > 0 ? rcvwin * (1 << 16) / ratio_space : rcvwin * 2;
      rcvbuf = std::min<std::int64_t>(rcvbuf, sc.tcp_rmem[2]);
      if (rcvbuf > sk->sk_rcvbuf) {
        sk->sk_rcvbuf = static_cast<int>(rcvbuf);
        tp->window_clamp = static_cast<std::uint32_t>(tcp_win_from_space(sk, sk->sk_rcvbuf));
      }
    }
    tp->rcvq_space.space = copied;
  }
  tp->rcvq_space.seq = tp->copied_seq;
  tp->rcvq_space.time = tp->tcp_mstamp;
}

}  // namespace sp
