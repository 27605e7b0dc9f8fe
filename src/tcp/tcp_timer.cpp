// TCP timers (net/ipv4/tcp_timer.c): retransmission (RTO with exponential
// backoff, RFC 6298 5) sharing its slot with the tail loss probe (RFC 8985
// 7), the zero-window probe (persist) timer, the delayed ACK timer and
// keepalive. TCP_USER_TIMEOUT (RFC 5482) bounds the first two. All run from the stack's timer
// queue; times are jiffies of the stack clock (core/jiffies.hpp).
#include <algorithm>
#include <bit>
#include <cerrno>

#include "tcp/recovery/tcp_recovery.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/events.hpp"

namespace sp {

namespace {

// Time the connection would have spent in `boundary` backed-off
// retransmissions starting from rto_base (tcp_model_timeout): the time-based
// form of tcp_retries1/2, so a small RTO does not give up in seconds.
std::uint32_t tcp_model_timeout(std::uint32_t boundary, std::uint32_t rto_base) {
  const std::uint32_t linear_backoff_thresh =
      static_cast<std::uint32_t>(std::bit_width(TCP_RTO_MAX / rto_base) - 1);
  if (boundary <= linear_backoff_thresh) return ((2u << boundary) - 1) * rto_base;
  return ((2u << linear_backoff_thresh) - 1) * rto_base +
         (boundary - linear_backoff_thresh) * TCP_RTO_MAX;
}

// timeout (ms): TCP_USER_TIMEOUT when set, else the time `boundary`
// backoffs would take.
bool retransmits_timed_out(Sock* sk, std::uint32_t boundary, std::uint32_t timeout = 0) {
  const TcpSock* tp = tcp_sk(sk);
  if (!inet_csk(sk)->icsk_retransmits) return false;
  std::uint32_t start_ts = tp->retrans_stamp;
  if (!start_ts) {
    const SkBuff* head = tcp_rtx_queue_head(sk);
    if (!head) return false;
    start_ts = static_cast<std::uint32_t>(head->tstamp / kNsPerMs) + tp->tsoffset;
  }
  std::uint32_t rto_base = TCP_RTO_MIN;
  if ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) rto_base = TCP_TIMEOUT_INIT;
  if (!timeout) timeout = tcp_model_timeout(boundary, rto_base);
  // retrans_stamp is on the TSval clock (tcp_time_stamp_ts, with tsoffset).
  return static_cast<std::int32_t>(tcp_time_stamp_ts(tp) - start_ts - timeout) >= 0;
}

// How many RTOs an orphan gets (tcp_orphan_retries): the sysctl, none when
// an ICMP error already says the peer is unreachable and the RTO has grown
// to its maximum, and 8 (> 100 s at the minimum RTO) when the sysctl is 0
// and the connection still looks alive.
int tcp_orphan_retries(const Sock* sk, bool alive) {
  int retries = sk->stack->sysctl().tcp_orphan_retries;
  if (sk->sk_err_soft && !alive) retries = 0;
  if (retries == 0 && alive) retries = 8;
  return retries;
}

// Give up? (tcp_write_timeout) SYNs are retried tcp_syn_retries times (plus
// the linear ones); data for the time tcp_retries2 backoffs would take, an
// orphan for tcp_orphan_retries, and never longer than TCP_USER_TIMEOUT.
// Black-hole detection (tcp_timer.c's tcp_mtu_probing): repeated timeouts
// may mean full-sized packets vanish on the path (RFC 4821 section 7.7).
// With tcp_mtu_probing = 1 the first such episode turns probing on; once on,
// each halves the low end of the search, floored by tcp_base_mss above and
// tcp_mtu_probe_floor and tcp_min_snd_mss below.
namespace {
void tcp_mtu_blackhole(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  const Sysctl& sc = sk->stack->sysctl();
  if (!sc.tcp_mtu_probing) return;
  if (!icsk->icsk_mtup.enabled) {
    icsk->icsk_mtup.enabled = true;
    icsk->icsk_mtup.probe_timestamp = tcp_jiffies32(sk);
  } else {
    int mss = tcp_mtu_to_mss(sk, icsk->icsk_mtup.search_low) >> 1;
    mss = std::min(sc.tcp_base_mss, mss);
    mss = std::max(mss, sc.tcp_mtu_probe_floor);
    mss = std::max(mss, sc.tcp_min_snd_mss);
    icsk->icsk_mtup.search_low = tcp_mss_to_mtu(sk, mss);
  }
  tcp_sync_mss(sk, icsk->icsk_pmtu_cookie);
}
}  // namespace

bool tcp_write_timeout(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  const Sysctl& sc = sk->stack->sysctl();
  bool expired = false;
  int retry_until;
  if ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) {
    retry_until = icsk->icsk_syn_retries ? icsk->icsk_syn_retries : sc.tcp_syn_retries;
    int max_retransmits = retry_until;
    if (sk->sk_state == TCP_SYN_SENT) max_retransmits += sc.tcp_syn_linear_timeouts;
    expired = icsk->icsk_retransmits >= max_retransmits;
  } else {
    // Past tcp_retries1 Linux also asks the route for a new path
    // (__dst_negative_advice), which with one route per destination finds
    // the same one.
    if (retransmits_timed_out(sk, static_cast<std::uint32_t>(sc.tcp_retries1)))
      tcp_mtu_blackhole(sk);
    retry_until = sc.tcp_retries2;
    if (sock_flag(sk, SOCK_DEAD)) {
      const bool alive = icsk->icsk_rto < TCP_RTO_MAX;
      retry_until = tcp_orphan_retries(sk, alive);
    }
  }
  if (!expired)
    expired =
        retransmits_timed_out(sk, static_cast<std::uint32_t>(retry_until), icsk->icsk_user_timeout);
  if (expired) {
    tcp_write_err(sk);
    return true;
  }
  return false;
}

// With TCP_USER_TIMEOUT, never sleep past the moment the connection must
// be given up (tcp_clamp_rto_to_user_timeout).
std::uint32_t tcp_clamp_rto_to_user_timeout(Sock* sk) {
  const InetConnectionSock* icsk = inet_csk(sk);
  const TcpSock* tp = tcp_sk(sk);
  if (!icsk->icsk_user_timeout) return icsk->icsk_rto;
  const std::uint32_t elapsed = tcp_time_stamp_ts(tp) - tp->retrans_stamp;
  const std::int32_t remaining = static_cast<std::int32_t>(icsk->icsk_user_timeout - elapsed);
  if (remaining <= 0) return 1;  // the user timeout has passed: fire at once
  return std::min<std::uint32_t>(icsk->icsk_rto, static_cast<std::uint32_t>(remaining));
}

// A zero-window peer that keeps ACKing is alive: retransmissions are then
// window probes and do not time the connection out, unless the peer has
// been silent for longer than 2 * TCP_RTO_MAX (or TCP_USER_TIMEOUT), or
// retransmissions made no progress for longer than TCP_USER_TIMEOUT
// (tcp_rtx_probe0_timed_out).
bool tcp_rtx_probe0_timed_out(const Sock* sk, std::uint32_t rtx_delta) {
  const InetConnectionSock* icsk = inet_csk(sk);
  const TcpSock* tp = tcp_sk(sk);
  const std::uint32_t user_timeout = icsk->icsk_user_timeout;
  std::uint32_t timeout = TCP_RTO_MAX * 2;
  if (user_timeout) {
    if (rtx_delta > user_timeout) return true;
    timeout = std::min(timeout, user_timeout);
  }
  const std::int32_t rcv_delta =
      static_cast<std::int32_t>(static_cast<std::uint32_t>(icsk->icsk_timeout) - tp->rcv_tstamp);
  if (rcv_delta <= static_cast<std::int32_t>(timeout)) return false;
  return rtx_delta > timeout;
}

// An RTO fired: count it, and stamp the start of the episode
// (tcp_update_rto_stats).
void tcp_update_rto_stats(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  if (!icsk->icsk_retransmits) {
    tp->total_rto_recoveries++;
    tp->rto_stamp = tcp_time_stamp_ms(sk);
  }
  icsk->icsk_retransmits++;
  tp->total_rto++;
}

}  // namespace

// RTO expiry (tcp_retransmit_timer): RFC 6298 5.4-5.6. Retransmit the
// earliest unacknowledged segment, double the RTO, restart the timer.
void tcp_retransmit_timer(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  Mib& mib = sk->stack->mib();

  if (!tp->packets_out) return;
  SkBuff* skb = tcp_rtx_queue_head(sk);
  if (!skb) return;

  if (!tp->snd_wnd && !sock_flag(sk, SOCK_DEAD) &&
      !((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV))) {
    // The peer shrank its window to zero under our data: the
    // retransmissions become window probes (see tcp_rtx_probe0_timed_out).
    const std::uint32_t start =
        tp->retrans_stamp ? tp->retrans_stamp
                          : static_cast<std::uint32_t>(skb->tstamp / kNsPerMs) + tp->tsoffset;
    const std::uint32_t rtx_delta = tcp_time_stamp_ts(tp) - start;
    if (tcp_rtx_probe0_timed_out(sk, rtx_delta)) {
      tcp_write_err(sk);
      return;
    }
    // An RTO too, though Linux does not count it in TCPTimeouts.
    trace_tcp_recovery_event(sk, "rto", tp->snd_una);
    tcp_enter_loss(sk);
    tp->rtx_cause = "rto";
    tcp_retransmit_skb(sk, skb, 1);
  } else {
    mib.inc(MibId::TcpExtTCPTimeouts);
    trace_tcp_recovery_event(sk, "rto", tp->snd_una);
    if (tcp_write_timeout(sk)) return;

    if (icsk->icsk_retransmits == 0) {
      const bool sack = tp->rx_opt.sack_ok;
      if (icsk->icsk_ca_state == TCP_CA_Recovery)
        mib.inc(sack ? MibId::TcpExtTCPSackRecoveryFail : MibId::TcpExtTCPRenoRecoveryFail);
      else if (icsk->icsk_ca_state == TCP_CA_Loss)
        mib.inc(MibId::TcpExtTCPLossFailures);
      else if (icsk->icsk_ca_state == TCP_CA_Disorder || tp->sacked_out)
        mib.inc(sack ? MibId::TcpExtTCPSackFailures : MibId::TcpExtTCPRenoFailures);
    }
    tcp_enter_loss(sk);
    tcp_update_rto_stats(sk);
    tp->rtx_cause = "rto";
    if (tcp_retransmit_skb(sk, tcp_rtx_queue_head(sk), 1) > 0) {
      // Local congestion (the device queue refused it): retry soon,
      // without backing off.
      inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, TCP_RESOURCE_PROBE_INTERVAL, TCP_RTO_MAX);
      return;
    }
  }

  // RFC 6298 5.5: back off the timer. A SYN keeps its initial RTO for the
  // first tcp_syn_linear_timeouts attempts (newer Linux), then doubles too.
  // Thin streams with tcp_thin_linear_timeouts keep the RTO for the first
  // TCP_THIN_LINEAR_RETRIES (not modelled: the sysctl defaults to 0).
  if (sk->sk_state != TCP_SYN_SENT ||
      tp->total_rto > static_cast<std::uint16_t>(sk->stack->sysctl().tcp_syn_linear_timeouts)) {
    icsk->icsk_backoff++;
    icsk->icsk_rto = std::min<std::uint32_t>(icsk->icsk_rto << 1, TCP_RTO_MAX);
  }
  inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, tcp_clamp_rto_to_user_timeout(sk), TCP_RTO_MAX);
}

// The persist timer (tcp_probe_timer): the peer's window is zero and data
// waits. Probe with backoff; give up after tcp_retries2 unanswered probes.
void tcp_probe_timer(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  SkBuff* skb = tcp_send_head(sk);
  if (tp->packets_out || !skb) {
    icsk->icsk_probes_out = 0;
    icsk->icsk_probes_tstamp = 0;
    return;
  }
  // TCP_USER_TIMEOUT bounds the time without any ACK.
  if (!icsk->icsk_probes_tstamp) {
    icsk->icsk_probes_tstamp = tcp_jiffies32(sk);
  } else if (icsk->icsk_user_timeout &&
             static_cast<std::uint32_t>(tcp_jiffies32(sk) - icsk->icsk_probes_tstamp) >=
                 icsk->icsk_user_timeout) {
    tcp_write_err(sk);
    return;
  }
  int max_probes = sk->stack->sysctl().tcp_retries2;
  if (sock_flag(sk, SOCK_DEAD)) {
    const bool alive = inet_csk_rto_backoff(icsk, TCP_RTO_MAX) < TCP_RTO_MAX;
    max_probes = tcp_orphan_retries(sk, alive);
    if (!alive && icsk->icsk_backoff >= max_probes) {
      tcp_write_err(sk);
      return;
    }
  }
  if (icsk->icsk_probes_out >= max_probes) {
    tcp_write_err(sk);
  } else {
    // Sends the probe, counts it and re-arms with backoff.
    tcp_send_probe0(sk);
  }
}

void tcp_write_timer_handler(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  if (((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)) || !icsk->icsk_pending) return;
  // The timer may have been moved later after it was armed.
  const std::uint64_t now = tcp_jiffies(sk);
  if (icsk->icsk_timeout > now) {
    sk->stack->mod_timer(icsk->icsk_retransmit_timer,
                         timer_fire_at(sk->stack->now(), icsk->icsk_timeout));
    return;
  }
  tcp_mstamp_refresh(tcp_sk(sk));
  const std::uint8_t event = icsk->icsk_pending;
  switch (event) {
    case ICSK_TIME_REO_TIMEOUT:
      icsk->icsk_pending = 0;
      tcp_rack_reo_timeout(sk);
      break;
    case ICSK_TIME_LOSS_PROBE:
      tcp_send_loss_probe(sk);
      break;
    case ICSK_TIME_RETRANS:
      icsk->icsk_pending = 0;
      tcp_retransmit_timer(sk);
      break;
    case ICSK_TIME_PROBE0:
      icsk->icsk_pending = 0;
      tcp_probe_timer(sk);
      break;
    default:
      break;
  }
}

// Delayed ACK expiry (tcp_delack_timer_handler): send the ACK we held back.
// Outside interactive (pingpong) mode the next delay is inflated, up to the
// RTO; in pingpong mode the session left interactivity, so reset it.
void tcp_delack_timer_handler(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  if ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)) return;
  // ACKs held back by SACK compression go first, as one.
  if (tcp_sk(sk)->compressed_ack) {
    tcp_mstamp_refresh(tcp_sk(sk));
    tcp_sack_compress_send_ack(sk);
    return;
  }
  if (!(icsk->icsk_ack.pending & ICSK_ACK_TIMER)) return;
  const std::uint64_t now = tcp_jiffies(sk);
  if (icsk->icsk_ack.timeout > now) {
    sk->stack->mod_timer(icsk->icsk_delack_timer,
                         timer_fire_at(sk->stack->now(), icsk->icsk_ack.timeout));
    return;
  }
  icsk->icsk_ack.pending &= static_cast<std::uint8_t>(~ICSK_ACK_TIMER);
  if (inet_csk_ack_scheduled(sk)) {
    if (!inet_csk_in_pingpong_mode(sk)) {
      // Delayed ACK missed: inflate ato, at most the RTO and TCP_DELACK_MAX.
      icsk->icsk_ack.ato = std::min(
          {icsk->icsk_ack.ato << 1, icsk->icsk_rto, static_cast<std::uint32_t>(TCP_DELACK_MAX)});
    } else {
      icsk->icsk_ack.pingpong = 0;
      icsk->icsk_ack.ato = TCP_ATO_MIN;
    }
    tcp_mstamp_refresh(tcp_sk(sk));
    tcp_send_ack(sk);
    sk->stack->mib().inc(MibId::TcpExtDelayedACKs);
  }
}

namespace {

std::uint32_t keepalive_time_elapsed(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  const std::uint32_t now = tcp_jiffies32(sk);
  const std::uint32_t last = std::max(inet_csk(sk)->icsk_ack.lrcvtime, tp->rcv_tstamp);
  return now - last;
}

}  // namespace

// sk_timer: keepalive (RFC 1122 4.2.3.6), and the FIN_WAIT2 timeout of an
// orphaned socket (tcp_keepalive_timer).
void tcp_keepalive_timer(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  if (sk->sk_state == TCP_LISTEN) return;
  tcp_mstamp_refresh(tp);

  if (sk->sk_state == TCP_FIN_WAIT2 && sock_flag(sk, SOCK_DEAD)) {
    if (tp->linger2 >= 0) {
      const int tmo = tcp_fin_time(sk) - static_cast<int>(TCP_TIMEWAIT_LEN);
      if (tmo > 0) {
        tcp_time_wait(sk, TCP_FIN_WAIT2, tmo);
        return;
      }
    }
    tcp_send_active_reset(sk);
    tcp_done(sk);
    return;
  }

  if (!sock_flag(sk, SOCK_KEEPOPEN) || ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_SYN_SENT)))
    return;

  std::uint32_t elapsed = keepalive_time_when(tp);
  // Data in flight: the retransmit timer watches the connection.
  if (tp->packets_out || !tcp_write_queue_empty(sk)) {
    inet_csk_reset_keepalive_timer(sk, elapsed);
    return;
  }
  const std::uint32_t idle = keepalive_time_elapsed(sk);
  if (idle >= keepalive_time_when(tp)) {
    if ((icsk->icsk_user_timeout != 0 && idle >= icsk->icsk_user_timeout &&
         icsk->icsk_probes_out > 0) ||
        (icsk->icsk_user_timeout == 0 && icsk->icsk_probes_out >= keepalive_probes(tp))) {
      // Tell the peer, in case only our probes were lost on the way.
      tcp_send_active_reset(sk);
      tcp_write_err(sk);
      return;
    }
    if (tcp_write_wakeup(sk, static_cast<int>(MibId::TcpExtTCPKeepAlive)) <= 0) {
      icsk->icsk_probes_out++;
      elapsed = keepalive_intvl_when(tp);
    } else {
      elapsed = TCP_RESOURCE_PROBE_INTERVAL;
    }
  } else {
    elapsed = keepalive_time_when(tp) - idle;
  }
  inet_csk_reset_keepalive_timer(sk, elapsed);
}

void tcp_init_xmit_timers(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  // The timers hold a reference while they run, since a handler may close
  // the connection.
  icsk->icsk_retransmit_timer.set_function([sk] {
    sock_hold(sk);
    tcp_write_timer_handler(sk);
    sock_put(sk);
  });
  icsk->icsk_delack_timer.set_function([sk] {
    sock_hold(sk);
    tcp_delack_timer_handler(sk);
    sock_put(sk);
  });
  // tcp_compressed_ack_kick: the compressed-SACK timer ran out; the one ACK
  // it sends stands for the ones held, so it is not counted as compressed.
  tcp_sk(sk)->compressed_ack_timer.set_function([sk] {
    sock_hold(sk);
    TcpSock* tp = tcp_sk(sk);
    if (tp->compressed_ack) {
      tp->compressed_ack--;
      tcp_send_ack(sk);
    }
    sock_put(sk);
  });
  sk->sk_timer.set_function([sk] {
    sock_hold(sk);
    tcp_keepalive_timer(sk);
    sock_put(sk);
  });
}

void tcp_clear_xmit_timers(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  icsk->icsk_pending = 0;
  icsk->icsk_ack.pending = 0;
  sk->stack->del_timer(icsk->icsk_retransmit_timer);
  sk->stack->del_timer(icsk->icsk_delack_timer);
  sk->stack->del_timer(tp->pacing_timer);
  sk->stack->del_timer(tp->compressed_ack_timer);
}

void tcp_set_keepalive(Sock* sk, int val) {
  if ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)) return;
  if (val && !sock_flag(sk, SOCK_KEEPOPEN))
    inet_csk_reset_keepalive_timer(sk, keepalive_time_when(tcp_sk(sk)));
  else if (!val)
    inet_csk_delete_keepalive_timer(sk);
}

}  // namespace sp
