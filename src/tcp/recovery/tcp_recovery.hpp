// Loss detection and recovery on the ACK path, as Linux 6.12 does it:
// the SACK scoreboard (tcp_sack.cpp: tcp_sacktag_write_queue and the
// counters sacked_out / lost_out / retrans_out), RACK (tcp_rack.cpp,
// net/ipv4/tcp_recovery.c, RFC 8985), the delivery-rate estimator
// (tcp_rate.cpp, net/ipv4/tcp_rate.c), Proportional Rate Reduction
// (tcp_prr.cpp, RFC 6937) and the congestion state machine with undo
// (tcp_recovery.cpp: tcp_fastretrans_alert, RFC 6675 / 6582 / 3042).
//
// The Loss branch (tcp_enter_loss, tcp_process_loss, tcp_try_undo_loss,
// F-RTO) and TLP belong to the timer side (tcp_input.cpp / tcp_timer.cpp).
#pragma once
#include <cstdint>

#include "tcp/tcp.hpp"

namespace sp {

// tcp_recovery sysctl bits.
constexpr int TCP_RACK_LOSS_DETECTION = 0x1;  // RACK instead of dupthresh
constexpr int TCP_RACK_STATIC_REO_WND = 0x2;  // no DSACK-driven reo_wnd growth
constexpr int TCP_RACK_NO_DUPTHRESH = 0x4;    // keep reo_wnd even with 3 sacked
// Recoveries a grown reordering window survives without new DSACKs.
constexpr std::uint8_t TCP_RACK_RECOVERY_THRESH = 16;

// What one ACK's SACK blocks and cumulative ACK did (struct tcp_sacktag_state).
struct TcpSacktagState {
  std::uint64_t first_sackt =
      0;  // xmit time (us) of the oldest newly SACKed never-retransmitted skb
  std::uint64_t last_sackt = 0;  // ... and of the newest
  std::uint32_t reord = 0;       // lowest seq SACKed out of order (reordering evidence)
  std::uint32_t sack_delivered = 0;
  int flag = 0;
  unsigned mss_now = 0;
  RateSample* rate = nullptr;
};

inline bool tcp_is_sack(const TcpSock* tp) {
  return tp->rx_opt.sack_ok != 0;
}
inline bool tcp_is_reno(const TcpSock* tp) {
  return !tcp_is_sack(tp);
}
inline bool tcp_is_rack(const Sock* sk) {
  return sk->stack->sysctl().tcp_recovery & TCP_RACK_LOSS_DETECTION;
}
inline bool tcp_in_cwnd_reduction(const Sock* sk) {
  return (1u << inet_csk(sk)->icsk_ca_state) & ((1u << TCP_CA_CWR) | (1u << TCP_CA_Recovery));
}
inline std::uint32_t tcp_min_rtt(const TcpSock* tp) {
  return tp->rtt_min.v;
}
inline std::uint32_t tcp_stamp_us_delta(std::uint64_t t1, std::uint64_t t0) {
  return t1 > t0 ? static_cast<std::uint32_t>(t1 - t0) : 0;
}
// Was (t1, seq1) sent after (t2, seq2)? Equal times are ordered by sequence
// (tcp_skb_sent_after).
inline bool tcp_skb_sent_after(std::uint64_t t1, std::uint64_t t2, std::uint32_t seq1,
                               std::uint32_t seq2) {
  return t1 > t2 || (t1 == t2 && after(seq1, seq2));
}
// SACKed-up-to sequence (the "fack"): start of the skb after the highest
// SACKed one; snd_una when nothing is SACKed (tcp_highest_sack_seq).
inline std::uint32_t tcp_highest_sack_seq(const TcpSock* tp) {
  if (!tp->sacked_out) return tp->snd_una;
  if (!tp->highest_sack) return tp->snd_nxt;
  return TCP_SKB_CB(tp->highest_sack)->seq;
}
inline void tcp_highest_sack_reset(Sock* sk) {
  tcp_sk(sk)->highest_sack = tcp_rtx_queue_head(sk);
}
inline void tcp_highest_sack_replace(Sock* sk, SkBuff* old_skb, SkBuff* new_skb) {
  if (old_skb == tcp_sk(sk)->highest_sack) tcp_sk(sk)->highest_sack = new_skb;
}
inline void tcp_clear_retrans_hints_partial(TcpSock* tp) {
  tp->lost_skb_hint = nullptr;
}
inline void tcp_clear_all_retrans_hints(TcpSock* tp) {
  tcp_clear_retrans_hints_partial(tp);
  tp->retransmit_skb_hint = nullptr;
}
inline void tcp_count_delivered(TcpSock* tp, std::uint32_t delivered, bool ece_ack) {
  tp->delivered += delivered;
  if (ece_ack) tp->delivered_ce += delivered;
}
// Sent skb leaves the transmit-ordered list (SACKed or marked lost).
inline void tcp_tsorted_unlink(TcpSock* tp, SkBuff* skb) {
  if (skb->list_hook.is_linked())
    tp->tsorted_sent_queue.erase(tp->tsorted_sent_queue.iterator_to(*skb));
}
// (Re)transmitted skb goes to the tail of the transmit-ordered list.
inline void tcp_tsorted_move_tail(TcpSock* tp, SkBuff* skb) {
  tcp_tsorted_unlink(tp, skb);
  tp->tsorted_sent_queue.push_back(*skb);
}

// --- tcp_sack.cpp -------------------------------------------------------------------
// Tag the retransmit queue from the SACK blocks (host order, as on the
// wire) of ack_skb; FLAG_* result.
int tcp_sacktag_write_queue(Sock* sk, const SkBuff* ack_skb, const TcpSackBlock* sp_wire,
                            int num_sacks, std::uint32_t prior_snd_una, TcpSacktagState* state);
// The reordering degree from a SACK below the highest SACKed sequence.
void tcp_check_sack_reordering(Sock* sk, std::uint32_t low_seq, int ts);
void tcp_mark_skb_lost(Sock* sk, SkBuff* skb);
// RFC 6675 "IsLost" marking for non-RACK SACK (tcp_update_scoreboard).
void tcp_update_scoreboard(Sock* sk, int fast_rexmit);
// Without SACK every duplicate ACK counts one segment as "sacked".
void tcp_add_reno_sack(Sock* sk, int num_dupack, bool ece_ack);
void tcp_remove_reno_sacks(Sock* sk, int acked, bool ece_ack);
inline void tcp_reset_reno_sack(TcpSock* tp) {
  tp->sacked_out = 0;
}
bool tcp_limit_reno_sacked(TcpSock* tp);
// After an RTO: everything outstanding lost (but recently sent skbs under
// RACK), or the SACK scoreboard cleared when the receiver reneged.
void tcp_timeout_mark_lost(Sock* sk);

// --- tcp_rack.cpp -------------------------------------------------------------------
void tcp_rack_advance(TcpSock* tp, std::uint8_t sacked, std::uint32_t end_seq,
                      std::uint64_t xmit_time);
bool tcp_rack_mark_lost(Sock* sk);
std::int32_t tcp_rack_skb_timeout(TcpSock* tp, SkBuff* skb, std::uint32_t reo_wnd);
void tcp_rack_reo_timeout(Sock* sk);  // ICSK_TIME_REO_TIMEOUT
void tcp_rack_update_reo_wnd(Sock* sk, const RateSample* rs);
void tcp_newreno_mark_lost(Sock* sk, bool snd_una_advanced);

// --- tcp_rate.cpp -------------------------------------------------------------------
void tcp_rate_skb_sent(Sock* sk, SkBuff* skb);
void tcp_rate_skb_delivered(Sock* sk, SkBuff* skb, RateSample* rs);
void tcp_rate_gen(Sock* sk, std::uint32_t delivered, std::uint32_t lost, bool is_sack_reneg,
                  RateSample* rs);
void tcp_rate_check_app_limited(Sock* sk);

// --- tcp_prr.cpp ---------------------------------------------------------------------
void tcp_init_cwnd_reduction(Sock* sk);
void tcp_cwnd_reduction(Sock* sk, int newly_acked_sacked, int newly_lost, int flag);
void tcp_end_cwnd_reduction(Sock* sk);
void tcp_enter_cwr(Sock* sk);

// --- tcp_recovery.cpp ---------------------------------------------------------------
void tcp_init_undo(TcpSock* tp);
bool tcp_packet_delayed(const TcpSock* tp);
bool tcp_may_undo(const TcpSock* tp);
bool tcp_any_retrans_done(const Sock* sk);
void tcp_retrans_stamp_cleanup(Sock* sk);
void tcp_undo_cwnd_reduction(Sock* sk, bool unmark_loss);
bool tcp_is_non_sack_preventing_reopen(Sock* sk);
bool tcp_try_undo_recovery(Sock* sk);
void tcp_try_keep_open(Sock* sk);
void tcp_enter_recovery(Sock* sk, bool ece_ack);
void tcp_update_rto_time(TcpSock* tp);
// The congestion state machine; *rexmit tells tcp_xmit_recovery what to send.
enum { REXMIT_NONE = 0, REXMIT_LOST = 1, REXMIT_NEW = 2 };
void tcp_fastretrans_alert(Sock* sk, std::uint32_t prior_snd_una, int num_dupack, int* ack_flag,
                           int* rexmit);

// --- tcp_input.cpp (the Loss state; owner: timers) -----------------------------------
void tcp_process_loss(Sock* sk, int flag, int num_dupack, int* rexmit);
bool tcp_try_undo_loss(Sock* sk, bool frto_undo);
void tcp_process_tlp_ack(Sock* sk, std::uint32_t ack, int flag);

}  // namespace sp
