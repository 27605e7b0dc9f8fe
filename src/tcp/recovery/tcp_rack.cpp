// RACK-TLP loss detection (RFC 8985; net/ipv4/tcp_recovery.c): a sent skb
// is lost when a packet sent sufficiently later was delivered, "later" by
// more than a reordering window (reo_wnd, a quarter of min_rtt, grown by
// DSACKs). Time order, not sequence order, so it sees lost retransmissions
// and tail losses that duplicate-ACK counting cannot. Plus the NewReno
// marking used without SACK (RFC 6582).
#include <algorithm>

#include "core/stack.hpp"
#include "tcp/recovery/tcp_recovery.hpp"
#include "trace/events.hpp"

namespace sp {

namespace {

// RFC 8985 6.2 step 4: reo_wnd. Zero (pure dupthresh behaviour) before any
// reordering was seen once in recovery or with dupthresh SACKed segments,
// so that a plain loss is repaired at once.
std::uint32_t tcp_rack_reo_wnd(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  if (!tp->reord_seen) {
    if (inet_csk(sk)->icsk_ca_state >= TCP_CA_Recovery) return 0;
    if (tp->sacked_out >= tp->reordering &&
        !(sk->stack->sysctl().tcp_recovery & TCP_RACK_NO_DUPTHRESH))
      return 0;
  }
  return std::min((tcp_min_rtt(tp) >> 2) * tp->rack.reo_wnd_steps, tp->srtt_us >> 3);
}

// Mark lost every skb sent before the newest delivered one by more than
// reo_wnd; *reo_timeout: how long until the next one would qualify.
void tcp_rack_detect_loss(Sock* sk, std::uint32_t* reo_timeout) {
  TcpSock* tp = tcp_sk(sk);
  *reo_timeout = 0;
  const std::uint32_t reo_wnd = tcp_rack_reo_wnd(sk);
  auto& q = tp->tsorted_sent_queue;
  for (auto it = q.begin(); it != q.end();) {
    SkBuff* skb = &*it++;
    const TcpSkbCb* scb = TCP_SKB_CB(skb);
    // Lost and not yet retransmitted: nothing more to learn.
    if ((scb->sacked & TCPCB_LOST) && !(scb->sacked & TCPCB_SACKED_RETRANS)) continue;
    // The list is in send order: past the newest delivered skb, stop.
    if (!tcp_skb_sent_after(tp->rack.mstamp, tcp_skb_timestamp_us(skb), tp->rack.end_seq,
                            scb->end_seq))
      break;
    const std::int32_t remaining = tcp_rack_skb_timeout(tp, skb, reo_wnd);
    if (remaining <= 0) {
      if (!(scb->sacked & TCPCB_SACKED_ACKED)) trace_tcp_recovery_event(sk, "rack", scb->seq);
      tcp_mark_skb_lost(sk, skb);
      tcp_tsorted_unlink(tp, skb);
    } else {
      // Not yet: wait for the reordering window to run out.
      *reo_timeout = std::max(*reo_timeout, static_cast<std::uint32_t>(remaining));
    }
  }
}

}  // namespace

std::int32_t tcp_rack_skb_timeout(TcpSock* tp, SkBuff* skb, std::uint32_t reo_wnd) {
  return static_cast<std::int32_t>(tp->rack.rtt_us + reo_wnd -
                                   tcp_stamp_us_delta(tp->tcp_mstamp, tcp_skb_timestamp_us(skb)));
}

bool tcp_rack_mark_lost(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  if (!tp->rack.advanced) return false;
  tp->rack.advanced = false;
  std::uint32_t timeout;
  tcp_rack_detect_loss(sk, &timeout);
  if (timeout) {
    // TCP_TIMEOUT_MIN_US (2 ms) of slack, as every TCP timer gets.
    const std::uint64_t when = usecs_to_jiffies(timeout + TCP_TIMEOUT_MIN_US);
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_REO_TIMEOUT, when, inet_csk(sk)->icsk_rto);
  }
  return timeout != 0;
}

// RFC 8985 6.2 step 2: a delivery moves RACK's "newest delivered" mark. A
// retransmission acked faster than min_rtt was probably the original's
// ACK (ambiguous), so it does not count.
void tcp_rack_advance(TcpSock* tp, std::uint8_t sacked, std::uint32_t end_seq,
                      std::uint64_t xmit_time) {
  const std::uint32_t rtt_us = tcp_stamp_us_delta(tp->tcp_mstamp, xmit_time);
  if (rtt_us < tcp_min_rtt(tp) && (sacked & TCPCB_RETRANS)) return;
  tp->rack.advanced = true;
  tp->rack.rtt_us = rtt_us;
  if (tcp_skb_sent_after(xmit_time, tp->rack.mstamp, end_seq, tp->rack.end_seq)) {
    tp->rack.mstamp = xmit_time;
    tp->rack.end_seq = end_seq;
  }
}

// The reordering timer fired: some skbs waited out their window.
void tcp_rack_reo_timeout(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t lost = tp->lost;
  const std::uint32_t prior_inflight = tcp_packets_in_flight(tp);
  std::uint32_t timeout;
  tcp_rack_detect_loss(sk, &timeout);
  if (prior_inflight != tcp_packets_in_flight(tp)) {
    if (inet_csk(sk)->icsk_ca_state != TCP_CA_Recovery) {
      tcp_enter_recovery(sk, false);
      const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
      if (!(ca && ca->cong_control))
        tcp_cwnd_reduction(sk, 1, static_cast<int>(tp->lost - lost), 0);
    }
    tcp_xmit_retransmit_queue(sk);
  }
  if (inet_csk(sk)->icsk_pending != ICSK_TIME_RETRANS) tcp_rearm_rto(sk);
}

// RFC 8985 6.2 step 4: grow reo_wnd by min_rtt/4 per round with DSACKs
// (spurious retransmissions mean the window was too small); after
// TCP_RACK_RECOVERY_THRESH recoveries without one, shrink back.
void tcp_rack_update_reo_wnd(Sock* sk, const RateSample* rs) {
  TcpSock* tp = tcp_sk(sk);
  if ((sk->stack->sysctl().tcp_recovery & TCP_RACK_STATIC_REO_WND) || !rs->prior_delivered) return;
  // A DSACK of data sent before the last growth does not count again.
  if (before(rs->prior_delivered, tp->rack.last_delivered)) tp->rack.dsack_seen = false;
  if (tp->rack.dsack_seen) {
    tp->rack.reo_wnd_steps =
        static_cast<std::uint8_t>(std::min<std::uint32_t>(0xFF, tp->rack.reo_wnd_steps + 1u));
    tp->rack.dsack_seen = false;
    tp->rack.last_delivered = tp->delivered;
    tp->rack.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH;
  } else if (!tp->rack.reo_wnd_persist) {
    tp->rack.reo_wnd_steps = 1;
  }
}

// RFC 6582 without SACK: the head is lost after dupthresh duplicates, and
// on every partial ACK in recovery.
void tcp_newreno_mark_lost(Sock* sk, bool snd_una_advanced) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint8_t state = inet_csk(sk)->icsk_ca_state;
  if ((state < TCP_CA_Recovery && tp->sacked_out >= tp->reordering) ||
      (state == TCP_CA_Recovery && snd_una_advanced)) {
    SkBuff* skb = tcp_rtx_queue_head(sk);
    if (TCP_SKB_CB(skb)->sacked & TCPCB_LOST) return;
    const unsigned mss = static_cast<unsigned>(tcp_skb_mss(skb));
    if (tcp_skb_pcount(skb) > 1 && skb->len > mss)
      tcp_fragment(sk, TCP_FRAG_IN_RTX_QUEUE, skb, mss, mss);
    tcp_mark_skb_lost(sk, skb);
  }
}

}  // namespace sp
