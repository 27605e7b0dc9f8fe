// The congestion state machine of the ACK path (tcp_fastretrans_alert and
// its helpers in net/ipv4/tcp_input.c): Open -> Disorder (SACKs or dupacks
// seen) -> Recovery (loss detected: RFC 6675 with RACK, or RFC 6582
// NewReno without SACK) -> Open, with CWR for ECN and Loss after an RTO
// (the Loss branch is tcp_process_loss, on the timer side). Undo (RFC 2883
// D-SACK, Eifel-style timestamps RFC 3522) restores cwnd when a recovery
// proves spurious.
#include "tcp/recovery/tcp_recovery.hpp"

#include <algorithm>

#include "core/stack.hpp"
#include "trace/events.hpp"

namespace sp {

namespace {

Mib& mib_of(Sock* sk) {
  return sk->stack->mib();
}

std::uint32_t tcp_current_ssthresh(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  if (tcp_in_cwnd_reduction(sk)) return tp->snd_ssthresh;
  const std::uint32_t cwnd = tcp_snd_cwnd(tp);
  return std::max(tp->snd_ssthresh, (cwnd >> 1) + (cwnd >> 2));
}

// Did the echoed timestamp come from before `when` (a TSval-clock value,
// tsoffset included, as retrans_stamp is)? Then the ACK answers the
// original transmission, not the retransmission.
bool tcp_tsopt_ecr_before(const TcpSock* tp, std::uint32_t when) {
  return tp->rx_opt.saw_tstamp && tp->rx_opt.rcv_tsecr &&
         before(tp->rx_opt.rcv_tsecr + tp->tsoffset, when);
}

// The receiver SACKed data and then ACKed only below it: it may have
// dropped what it SACKed. Wait a little (an RTO-like timer) for the ACK
// to catch up rather than retransmit everything.
bool tcp_check_sack_reneging(Sock* sk, int* ack_flag) {
  if ((*ack_flag & FLAG_SACK_RENEGING) && (*ack_flag & FLAG_SND_UNA_ADVANCED)) {
    TcpSock* tp = tcp_sk(sk);
    const std::uint64_t delay =
        std::max<std::uint64_t>(usecs_to_jiffies(tp->srtt_us >> 4), msecs_to_jiffies(10));
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, delay, TCP_RTO_MAX);
    *ack_flag &= ~FLAG_SET_XMIT_TIMER;
    return true;
  }
  return false;
}

bool tcp_time_to_recover(Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  if (tp->lost_out) return true;
  // Without RACK: the classic dupthresh (sacked_out + 1 > reordering).
  return !tcp_is_rack(sk) && tp->sacked_out + 1 > tp->reordering;
}

bool tcp_try_undo_dsack(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  // Every retransmission was D-SACKed: the recovery was spurious.
  if (tp->undo_marker && !tp->undo_retrans) {
    tp->rack.reo_wnd_persist = static_cast<std::uint8_t>(
        std::min<std::uint32_t>(TCP_RACK_RECOVERY_THRESH, tp->rack.reo_wnd_persist + 1u));
    tcp_undo_cwnd_reduction(sk, false);
    mib_of(sk).inc(MibId::TcpExtTCPDSACKUndo);
    trace_tcp_recovery_event(sk, "undo", tp->snd_una);
    return true;
  }
  return false;
}

void tcp_try_to_open(Sock* sk, int flag) {
  TcpSock* tp = tcp_sk(sk);
  if (!tcp_any_retrans_done(sk)) tp->retrans_stamp = 0;
  if (flag & FLAG_ECE) tcp_enter_cwr(sk);
  if (inet_csk(sk)->icsk_ca_state != TCP_CA_CWR) tcp_try_keep_open(sk);
}

// Is the highest SACK more than `reordering` segments above snd_una? Then
// the head is lost whatever the duplicate count (RFC 6675 IsLost).
bool tcp_force_fast_retransmit(Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  return after(tcp_highest_sack_seq(tp), tp->snd_una + tp->reordering * tp->mss_cache);
}

// A partial ACK in Recovery (snd_una advanced, below high_seq).
bool tcp_try_undo_partial(Sock* sk, std::uint32_t prior_snd_una, bool* do_lost) {
  TcpSock* tp = tcp_sk(sk);
  if (tp->undo_marker && tcp_packet_delayed(tp)) {
    // The hole was filled by the delayed original, not our resend: it was
    // reordering, deeper than we assumed.
    tcp_check_sack_reordering(sk, prior_snd_una, 1);
    // Resends still in flight: keep clocking out data but mark no more.
    if (tp->retrans_out) return true;
    if (!tcp_any_retrans_done(sk)) tp->retrans_stamp = 0;
    tcp_undo_cwnd_reduction(sk, true);
    mib_of(sk).inc(MibId::TcpExtTCPPartialUndo);
    trace_tcp_recovery_event(sk, "undo", tp->snd_una);
    tcp_try_keep_open(sk);
  } else {
    *do_lost = tcp_force_fast_retransmit(sk);
  }
  return false;
}

void tcp_identify_packet_loss(Sock* sk, int* ack_flag) {
  TcpSock* tp = tcp_sk(sk);
  if (tcp_rtx_queue_empty(sk)) return;
  if (tcp_is_reno(tp)) {
    tcp_newreno_mark_lost(sk, *ack_flag & FLAG_SND_UNA_ADVANCED);
  } else if (tcp_is_rack(sk)) {
    const std::uint32_t prior_retrans = tp->retrans_out;
    // The REO timer was armed: it replaces the RTO for now.
    if (tcp_rack_mark_lost(sk)) *ack_flag &= ~FLAG_SET_XMIT_TIMER;
    if (prior_retrans > tp->retrans_out) *ack_flag |= FLAG_LOST_RETRANS;
  }
}

}  // namespace

void tcp_init_undo(TcpSock* tp) {
  tp->undo_marker = tp->snd_una;
  // Retransmissions already out (a TLP's included) must all be D-SACKed
  // before an undo.
  tp->undo_retrans = static_cast<int>(tp->retrans_out);
  if (tp->tlp_high_seq && tp->tlp_retrans) tp->undo_retrans++;
  if (!tp->undo_retrans) tp->undo_retrans = -1;
}

// RFC 3522 Eifel detection: the ACK echoes a timestamp from before the
// first retransmission, so the original arrived and the loss was not real.
bool tcp_packet_delayed(const TcpSock* tp) {
  if (tp->retrans_stamp) return tcp_tsopt_ecr_before(tp, tp->retrans_stamp);
  // No retransmission was sent (a never-sent TLP or RTO): nothing to wait
  // for, unless NewReno had recovered already.
  if (!tcp_is_sack(tp) && !before(tp->snd_una, tp->high_seq)) return false;
  if (tp->sk_state == TCP_SYN_SENT) return false;
  return true;
}

bool tcp_may_undo(const TcpSock* tp) {
  return tp->undo_marker && (!tp->undo_retrans || tcp_packet_delayed(tp));
}

bool tcp_any_retrans_done(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  if (tp->retrans_out) return true;
  const SkBuff* skb = tcp_rtx_queue_head(sk);
  return skb && (TCP_SKB_CB(skb)->sacked & TCPCB_EVER_RETRANS);
}

void tcp_retrans_stamp_cleanup(Sock* sk) {
  if (!tcp_any_retrans_done(sk)) tcp_sk(sk)->retrans_stamp = 0;
}

void tcp_undo_cwnd_reduction(Sock* sk, bool unmark_loss) {
  TcpSock* tp = tcp_sk(sk);
  if (unmark_loss) {
    for (SkBuff* skb = tcp_rtx_queue_head(sk); skb; skb = tp->tcp_rtx_queue.next(skb))
      TCP_SKB_CB(skb)->sacked &= static_cast<std::uint8_t>(~TCPCB_LOST);
    tp->lost_out = 0;
    tcp_clear_all_retrans_hints(tp);
  }
  if (tp->prior_ssthresh) {
    const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
    tcp_snd_cwnd_set(tp, ca ? ca->undo_cwnd(sk) : tcp_reno_undo_cwnd(sk));
    if (tp->prior_ssthresh > tp->snd_ssthresh) tp->snd_ssthresh = tp->prior_ssthresh;
  }
  tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  tp->undo_marker = 0;
  tp->rack.advanced = true;  // let RACK look at the losses again
}

// NewReno (RFC 6582 3.2 step 1): stay in Recovery until snd_una passes
// high_seq, so that a partial ACK for the old flight does not end it.
bool tcp_is_non_sack_preventing_reopen(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  if (tp->snd_una == tp->high_seq && tcp_is_reno(tp)) {
    if (!tcp_any_retrans_done(sk)) tp->retrans_stamp = 0;
    return true;
  }
  return false;
}

// Recovery (or Loss) is complete: undo if it was spurious, then Open.
bool tcp_try_undo_recovery(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  if (tcp_may_undo(tp)) {
    tcp_undo_cwnd_reduction(sk, false);
    mib_of(sk).inc(inet_csk(sk)->icsk_ca_state == TCP_CA_Loss ? MibId::TcpExtTCPLossUndo
                                                              : MibId::TcpExtTCPFullUndo);
    trace_tcp_recovery_event(sk, "undo", tp->snd_una);
  } else if (tp->rack.reo_wnd_persist) {
    tp->rack.reo_wnd_persist--;
  }
  if (tcp_is_non_sack_preventing_reopen(sk)) return true;
  tcp_set_ca_state(sk, TCP_CA_Open);
  tp->is_sack_reneg = false;
  return false;
}

void tcp_try_keep_open(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  std::uint8_t state = TCP_CA_Open;
  if (tcp_left_out(tp) || tcp_any_retrans_done(sk)) state = TCP_CA_Disorder;
  if (inet_csk(sk)->icsk_ca_state != state) {
    tcp_set_ca_state(sk, state);
    tp->high_seq = tp->snd_nxt;
  }
}

void tcp_enter_recovery(Sock* sk, bool ece_ack) {
  TcpSock* tp = tcp_sk(sk);
  tcp_retrans_stamp_cleanup(sk);
  mib_of(sk).inc(tcp_is_reno(tp) ? MibId::TcpExtTCPRenoRecovery : MibId::TcpExtTCPSackRecovery);
  tp->prior_ssthresh = 0;
  tcp_init_undo(tp);
  if (!tcp_in_cwnd_reduction(sk)) {
    if (!ece_ack) tp->prior_ssthresh = tcp_current_ssthresh(sk);
    tcp_init_cwnd_reduction(sk);
  }
  tcp_set_ca_state(sk, TCP_CA_Recovery);
  trace_tcp_recovery_event(sk, "fast_retransmit", tp->snd_una);
}

void tcp_update_rto_time(TcpSock* tp) {
  if (tp->rto_stamp) {
    tp->total_rto_time += tcp_time_stamp_ms(tp) - tp->rto_stamp;
    tp->rto_stamp = 0;
  }
}

// Decide the congestion state after an ACK that was "dubious" (a
// duplicate, SACK or ECE information, or not in Open). Marks losses;
// tcp_xmit_retransmit_queue sends them and PRR (tcp_cwnd_reduction)
// sizes cwnd afterwards.
void tcp_fastretrans_alert(Sock* sk, std::uint32_t prior_snd_una, int num_dupack, int* ack_flag,
                           int* rexmit) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  int fast_rexmit = 0;
  const int flag = *ack_flag;
  const bool ece_ack = flag & FLAG_ECE;
  bool do_lost = num_dupack || ((flag & FLAG_DATA_SACKED) && tcp_force_fast_retransmit(sk));

  if (!tp->packets_out && tp->sacked_out) tp->sacked_out = 0;
  // ECE: a congestion signal, so no undo to the prior ssthresh.
  if (ece_ack) tp->prior_ssthresh = 0;
  if (tcp_check_sack_reneging(sk, ack_flag)) return;

  if (icsk->icsk_ca_state == TCP_CA_Open) {
    tp->retrans_stamp = 0;
  } else if (!before(tp->snd_una, tp->high_seq)) {
    // Everything outstanding when the episode began is acknowledged.
    switch (icsk->icsk_ca_state) {
      case TCP_CA_CWR:
        // CWR ends once something sent after its start is ACKed.
        if (tp->snd_una != tp->high_seq) {
          tcp_end_cwnd_reduction(sk);
          tcp_set_ca_state(sk, TCP_CA_Open);
        }
        break;
      case TCP_CA_Recovery:
        if (tcp_is_reno(tp)) tcp_reset_reno_sack(tp);
        if (tcp_try_undo_recovery(sk)) return;
        tcp_end_cwnd_reduction(sk);
        break;
      default:
        break;
    }
  }

  switch (icsk->icsk_ca_state) {
    case TCP_CA_Recovery:
      if (!(flag & FLAG_SND_UNA_ADVANCED)) {
        if (tcp_is_reno(tp)) tcp_add_reno_sack(sk, num_dupack, ece_ack);
      } else if (tcp_try_undo_partial(sk, prior_snd_una, &do_lost)) {
        return;
      }
      if (tcp_try_undo_dsack(sk)) tcp_try_to_open(sk, flag);
      tcp_identify_packet_loss(sk, ack_flag);
      if (icsk->icsk_ca_state != TCP_CA_Recovery) {
        if (!tcp_time_to_recover(sk)) return;
        // Undo took us out, but new losses say recover again.
        tcp_enter_recovery(sk, ece_ack);
      }
      break;
    case TCP_CA_Loss:
      tcp_process_loss(sk, flag, num_dupack, rexmit);
      if (icsk->icsk_ca_state != TCP_CA_Loss) tcp_update_rto_time(tp);
      tcp_identify_packet_loss(sk, ack_flag);
      if (!(icsk->icsk_ca_state == TCP_CA_Open || (*ack_flag & FLAG_LOST_RETRANS))) return;
      // A lost retransmission in Loss, or Loss just ended: treat as Open.
      [[fallthrough]];
    default:
      if (tcp_is_reno(tp)) {
        if (flag & FLAG_SND_UNA_ADVANCED) tcp_reset_reno_sack(tp);
        tcp_add_reno_sack(sk, num_dupack, ece_ack);
      }
      if (icsk->icsk_ca_state <= TCP_CA_Disorder) tcp_try_undo_dsack(sk);
      tcp_identify_packet_loss(sk, ack_flag);
      if (!tcp_time_to_recover(sk)) {
        tcp_try_to_open(sk, flag);
        return;
      }
      tcp_enter_recovery(sk, ece_ack);
      fast_rexmit = 1;
  }

  if (!tcp_is_rack(sk) && do_lost) tcp_update_scoreboard(sk, fast_rexmit);
  *rexmit = REXMIT_LOST;
}

}  // namespace sp
