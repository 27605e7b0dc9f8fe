// Delivery-rate estimation (net/ipv4/tcp_rate.c,
// draft-cheng-iccrg-delivery-rate-estimation): each skb remembers
// tp->delivered and the time of the last delivery when it was sent; the
// ACK that delivers it turns the difference into a rate sample over the
// longer of the send and ACK intervals (so ACK compression cannot inflate it).
#include <algorithm>

#include "tcp/recovery/tcp_recovery.hpp"

namespace sp {

void tcp_rate_skb_sent(Sock* sk, SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  // Nothing in flight: a new flight starts; its intervals start now.
  if (!tp->packets_out) {
    const std::uint64_t tstamp_us = tcp_skb_timestamp_us(skb);
    tp->first_tx_mstamp = tstamp_us;
    tp->delivered_mstamp = tstamp_us;
  }
  TcpSkbCb* scb = TCP_SKB_CB(skb);
  scb->tx_first_tx_mstamp = tp->first_tx_mstamp;
  scb->tx_delivered_mstamp = tp->delivered_mstamp;
  scb->tx_delivered = tp->delivered;
  scb->tx_delivered_ce = tp->delivered_ce;
  scb->tx_is_app_limited = tp->app_limited ? 1 : 0;
}

// skb was (S)ACKed: the most recently sent skb of this ACK gives the sample.
void tcp_rate_skb_delivered(Sock* sk, SkBuff* skb, RateSample* rs) {
  TcpSock* tp = tcp_sk(sk);
  TcpSkbCb* scb = TCP_SKB_CB(skb);
  if (!rs || !scb->tx_delivered_mstamp) return;
  const std::uint64_t tx_tstamp = tcp_skb_timestamp_us(skb);
  if (!rs->prior_delivered ||
      tcp_skb_sent_after(tx_tstamp, tp->first_tx_mstamp, scb->end_seq, rs->last_end_seq)) {
    rs->prior_delivered_ce = scb->tx_delivered_ce;
    rs->prior_delivered = scb->tx_delivered;
    rs->prior_mstamp = scb->tx_delivered_mstamp;
    rs->is_app_limited = scb->tx_is_app_limited;
    rs->is_retrans = scb->sacked & TCPCB_RETRANS;
    rs->last_end_seq = scb->end_seq;
    // The send phase: from the first send of this flight to this skb's.
    tp->first_tx_mstamp = tx_tstamp;
    rs->interval_us = tcp_stamp_us_delta(tp->first_tx_mstamp, scb->tx_first_tx_mstamp);
  }
  // A SACKed skb is sampled once; a later cumulative ACK must not reuse it.
  if (scb->sacked & TCPCB_SACKED_ACKED) scb->tx_delivered_mstamp = 0;
}

void tcp_rate_gen(Sock* sk, std::uint32_t delivered, std::uint32_t lost, bool is_sack_reneg,
                  RateSample* rs) {
  TcpSock* tp = tcp_sk(sk);
  // The application-limited phase ends once its data is delivered.
  if (tp->app_limited && after(tp->delivered, tp->app_limited)) tp->app_limited = 0;
  if (delivered) tp->delivered_mstamp = tp->tcp_mstamp;
  rs->acked_sacked = delivered;
  rs->losses = static_cast<std::int32_t>(lost);
  if (!rs->prior_mstamp || is_sack_reneg) {
    rs->delivered = -1;
    rs->interval_us = -1;
    return;
  }
  rs->delivered = static_cast<std::int32_t>(tp->delivered - rs->prior_delivered);
  rs->delivered_ce = static_cast<std::int32_t>(tp->delivered_ce - rs->prior_delivered_ce);
  const std::uint32_t snd_us = static_cast<std::uint32_t>(rs->interval_us);
  const std::uint32_t ack_us = tcp_stamp_us_delta(tp->tcp_mstamp, rs->prior_mstamp);
  rs->interval_us = std::max(snd_us, ack_us);
  rs->snd_interval_us = snd_us;
  rs->rcv_interval_us = ack_us;
  // Shorter than min_rtt: a broken sample (e.g. an ACK of a retransmission
  // for the original).
  if (rs->interval_us < static_cast<std::int64_t>(tcp_min_rtt(tp))) {
    rs->interval_us = -1;
    return;
  }
  // An app-limited sample only counts when it beats the current rate.
  if (!rs->is_app_limited || static_cast<std::uint64_t>(rs->delivered) * tp->rate_interval_us >=
                                 static_cast<std::uint64_t>(tp->rate_delivered) *
                                     static_cast<std::uint64_t>(rs->interval_us)) {
    tp->rate_delivered = static_cast<std::uint32_t>(rs->delivered);
    tp->rate_interval_us = static_cast<std::uint32_t>(rs->interval_us);
    tp->rate_app_limited = rs->is_app_limited;
  }
}

// The application left the pipe less than full: samples taken until this
// data is delivered are app-limited.
void tcp_rate_check_app_limited(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  // Less than a segment left to send, nothing waiting in the device
  // (sk_wmem_alloc without its alive bias), cwnd not the limit, and every
  // lost segment already resent.
  const int in_device = sk->sk_wmem_alloc - 1;
  if (tp->write_seq - tp->snd_nxt < tp->mss_cache &&
      in_device < static_cast<int>(SKB_TRUESIZE(1)) &&
      tcp_packets_in_flight(tp) < tcp_snd_cwnd(tp) && tp->lost_out <= tp->retrans_out) {
    const std::uint32_t v = tp->delivered + tcp_packets_in_flight(tp);
    tp->app_limited = v ? v : 1;
  }
}

}  // namespace sp
