// Proportional Rate Reduction (RFC 6937; Linux tcp_cwnd_reduction): during
// Recovery and CWR the window falls from prior_cwnd to ssthresh in step
// with deliveries, instead of halving at once (a burst-free, self-clocked
// reduction) or waiting half a window silent (RFC 6675's pipe rule).
#include <algorithm>

#include "tcp/recovery/tcp_recovery.hpp"

namespace sp {

void tcp_init_cwnd_reduction(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  tp->high_seq = tp->snd_nxt;
  tp->tlp_high_seq = 0;
  tp->snd_cwnd_cnt = 0;
  tp->prior_cwnd = tcp_snd_cwnd(tp);
  tp->prr_delivered = 0;
  tp->prr_out = 0;
  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  tp->snd_ssthresh = ca ? ca->ssthresh(sk) : tcp_reno_ssthresh(sk);
}

// RFC 6937 3: sndcnt for this ACK. While pipe exceeds ssthresh, send
// prr_delivered * ssthresh / prior_cwnd - prr_out (proportional); below it,
// slow start back up to ssthresh (PRR-SSRB: at most one more than was
// delivered, when the ACK advanced and lost nothing new).
void tcp_cwnd_reduction(Sock* sk, int newly_acked_sacked, int newly_lost, int flag) {
  TcpSock* tp = tcp_sk(sk);
  if (newly_acked_sacked <= 0 || !tp->prior_cwnd) return;
  const int delta =
      static_cast<int>(tp->snd_ssthresh) - static_cast<int>(tcp_packets_in_flight(tp));
  int sndcnt = 0;
  tp->prr_delivered += static_cast<std::uint32_t>(newly_acked_sacked);
  if (delta < 0) {
    const std::uint64_t dividend =
        static_cast<std::uint64_t>(tp->snd_ssthresh) * tp->prr_delivered + tp->prior_cwnd - 1;
    sndcnt = static_cast<int>(dividend / tp->prior_cwnd) - static_cast<int>(tp->prr_out);
  } else {
    sndcnt = std::max(static_cast<int>(tp->prr_delivered) - static_cast<int>(tp->prr_out),
                      newly_acked_sacked);
    if ((flag & FLAG_SND_UNA_ADVANCED) && !newly_lost) sndcnt++;
    sndcnt = std::min(delta, sndcnt);
  }
  // Always at least one segment per ACK at the start, so that a fast
  // retransmit goes out even when pipe is far above ssthresh.
  sndcnt = std::max(sndcnt, tp->prr_out ? 0 : 1);
  tcp_snd_cwnd_set(tp, tcp_packets_in_flight(tp) + static_cast<std::uint32_t>(sndcnt));
}

// Recovery or CWR is over: cwnd settles at ssthresh.
void tcp_end_cwnd_reduction(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  if (ca && ca->cong_control) return;
  if (tp->snd_ssthresh < TCP_INFINITE_SSTHRESH &&
      (inet_csk(sk)->icsk_ca_state == TCP_CA_CWR || tp->undo_marker)) {
    tcp_snd_cwnd_set(tp, tp->snd_ssthresh);
    tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  }
  tcp_ca_event(sk, CA_EVENT_COMPLETE_CWR);
}

// A congestion signal without loss (ECN, local congestion): reduce via PRR
// in the CWR state, with no undo.
void tcp_enter_cwr(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  tp->prior_ssthresh = 0;
  if (inet_csk(sk)->icsk_ca_state < TCP_CA_CWR) {
    tp->undo_marker = 0;
    tcp_init_cwnd_reduction(sk);
    tcp_set_ca_state(sk, TCP_CA_CWR);
  }
}

}  // namespace sp
