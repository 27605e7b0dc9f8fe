// The small sockets (net/ipv4/tcp_minisocks.c): what remains of a connection
// in TIME_WAIT (or FIN_WAIT2 after close) once the full socket is gone, and
// the TCP state a child socket takes from its request sock.
#include <arpa/inet.h>

#include <algorithm>

#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp {

enum TcpTwStatus { TCP_TW_SUCCESS, TCP_TW_RST, TCP_TW_ACK, TCP_TW_SYN };

namespace {

void tw_reschedule(TcpTimewaitSock* tw, std::uint32_t timeo) {
  tw->stack->mod_timer(tw->tw_timer, timer_fire_after(tw->stack->now(), timeo));
}

// The time-wait period is over (or a FIN_WAIT2 timeout): forget the
// connection. The timer runs from a copy of its function, so freeing the tw
// (and its timer) here is safe.
void tw_expire(Stack* st, InetTuple key) {
  std::unique_ptr<TcpTimewaitSock> tw = st->tcp().tw_remove(key);
  if (tw && tw->tw_substate == TCP_TIME_WAIT) st->mib().inc(MibId::TcpExtTW);
}

}  // namespace

// The acceptability test of the minisocks (tcp_in_window in
// tcp_minisocks.c), stricter at the edges than tcp_sequence: a segment
// starting at the left edge, or overlapping the window, or an empty one
// exactly at the right edge.
bool tcp_in_window(std::uint32_t seq, std::uint32_t end_seq, std::uint32_t s_win,
                   std::uint32_t e_win) {
  if (seq == s_win) return true;
  if (after(end_seq, s_win) && before(seq, e_win)) return true;
  return seq == e_win && seq == end_seq;
}

// Move a closing connection to a time-wait sock and free the full socket
// (tcp_time_wait). For TIME_WAIT the wait is 2*MSL = 60 s (TCP_TIMEWAIT_LEN,
// RFC 9293 3.6.1 with Linux's MSL of 30 s); for FIN_WAIT2 it is timeo.
void tcp_time_wait(Sock* sk, int state, int timeo) {
  Stack& st = *sk->stack;
  TcpStackState& tcp = st.tcp();
  const TcpSock* tp = tcp_sk(sk);
  const InetConnectionSock* icsk = inet_csk(sk);

  if (tcp.tw_count() < static_cast<std::size_t>(st.sysctl().tcp_max_tw_buckets)) {
    auto tw = std::make_unique<TcpTimewaitSock>();
    tw->stack = &st;
    tw->tw_rcv_saddr =
        inet_sk(sk)->inet_rcv_saddr ? inet_sk(sk)->inet_rcv_saddr : inet_sk(sk)->inet_saddr;
    tw->tw_daddr = inet_sk(sk)->inet_daddr;
    tw->tw_num = inet_sk(sk)->inet_num;
    tw->tw_sport = inet_sk(sk)->inet_sport;
    tw->tw_dport = inet_sk(sk)->inet_dport;
    tw->tw_substate = static_cast<std::uint8_t>(state);
    tw->tw_rcv_wscale = tp->rx_opt.rcv_wscale;
    tw->tw_rcv_nxt = tp->rcv_nxt;
    tw->tw_snd_nxt = tp->snd_nxt;
    tw->tw_rcv_wnd = tcp_receive_window(tp);
    tw->tw_ts_offset = tp->tsoffset;
    tw->tw_ts_recent = tp->rx_opt.ts_recent;
    tw->tw_ts_recent_stamp = tp->rx_opt.ts_recent_stamp;
    tw->tw_tstamp_ok = tp->rx_opt.tstamp_ok;

    // At least 3.5 RTOs, so a retransmitted FIN still finds us.
    const int rto = static_cast<int>((icsk->icsk_rto << 2) - (icsk->icsk_rto >> 1));
    if (timeo < rto) timeo = rto;
    if (state == TCP_TIME_WAIT) timeo = static_cast<int>(TCP_TIMEWAIT_LEN);

    InetTuple key = inet_tuple_of(sk);
    Stack* stp = &st;
    tw->tw_timer.set_function([stp, key] { tw_expire(stp, key); });
    TcpTimewaitSock* t = tcp.tw_insert(key, std::move(tw));
    if (t) tw_reschedule(t, static_cast<std::uint32_t>(timeo));
  } else {
    // No room to remember it: close at once (the peer may see a RST for a
    // late retransmission).
    st.mib().inc(MibId::TcpExtTCPTimeWaitOverflow);
  }
  tcp_done(sk);
}

// A segment for a time-wait sock (tcp_timewait_state_process, RFC 9293
// 3.10.7.4 for TIME-WAIT, and RFC 7323 PAWS).
TcpTwStatus tcp_timewait_state_process(TcpTimewaitSock* tw, const SkBuff* skb,
                                       std::uint32_t* tw_isn, const InetTuple& key) {
  Stack& st = *tw->stack;
  const TcpSkbCb* cb = TCP_SKB_CB(skb);
  const std::uint8_t flags = cb->tcp_flags;
  const bool syn = flags & TCPHDR_SYN, rst = flags & TCPHDR_RST, ack = flags & TCPHDR_ACK,
             fin = flags & TCPHDR_FIN;
  const std::uint32_t rcv_nxt = tw->tw_rcv_nxt;

  TcpOptionsReceived tmp;
  bool paws_reject = false;
  if (tw->tw_ts_recent_stamp) {
    tmp.tstamp_ok = true;
    tcp_parse_options(st.sysctl(), skb, &tmp, true);
    if (tmp.saw_tstamp) {
      if (tmp.rcv_tsecr) tmp.rcv_tsecr -= tw->tw_ts_offset;
      tmp.ts_recent = tw->tw_ts_recent;
      tmp.ts_recent_stamp = tw->tw_ts_recent_stamp;
      paws_reject = tcp_paws_reject(st, &tmp, rst);
    }
  }

  if (tw->tw_substate == TCP_FIN_WAIT2) {
    // Out of window: ACK (rate limited) and go on waiting. Linux answers an
    // out-of-window RST here too (it repeats tcp_rcv_state_process's checks
    // before the RST bit).
    if (paws_reject || !tcp_in_window(cb->seq, cb->end_seq, rcv_nxt, rcv_nxt + tw->tw_rcv_wnd)) {
      if (tcp_oow_rate_limited(st, skb, MibId::TcpExtTCPACKSkippedFinWait2,
                               &tw->tw_last_oow_ack_time))
        return TCP_TW_SUCCESS;
      return TCP_TW_ACK;
    }
    if (rst) {
      tw_expire(&st, key);
      return TCP_TW_SUCCESS;
    }
    if (syn && !before(cb->seq, rcv_nxt)) return TCP_TW_RST;
    // A duplicate or an empty ACK: nothing to do.
    if (!ack || !after(cb->end_seq, rcv_nxt) || cb->end_seq == cb->seq) return TCP_TW_SUCCESS;
    // New data after we closed, or anything but their FIN: reset.
    if (!fin || cb->end_seq != rcv_nxt + 1) return TCP_TW_RST;
    // Their FIN: on to TIME_WAIT.
    tw->tw_substate = TCP_TIME_WAIT;
    tw->tw_rcv_nxt = cb->end_seq;
    if (tmp.saw_tstamp) {
      tw->tw_ts_recent_stamp = tcp_ts_seconds(st);
      tw->tw_ts_recent = tmp.rcv_tsval;
    }
    tw_reschedule(tw, TCP_TIMEWAIT_LEN);
    return TCP_TW_ACK;
  }

  // TIME_WAIT proper.
  if (!paws_reject && cb->seq == rcv_nxt && (cb->seq == cb->end_seq || rst)) {
    if (rst) {
      // RFC 1337 hazard: Linux (tcp_rfc1337 = 0) lets a RST end TIME_WAIT.
      if (!st.sysctl().tcp_rfc1337) {
        tw_expire(&st, key);
        return TCP_TW_SUCCESS;
      }
    } else {
      tw_reschedule(tw, TCP_TIMEWAIT_LEN);
    }
    if (tmp.saw_tstamp) {
      tw->tw_ts_recent = tmp.rcv_tsval;
      tw->tw_ts_recent_stamp = tcp_ts_seconds(st);
    }
    return TCP_TW_SUCCESS;
  }

  // A new SYN may reopen the connection (RFC 9293 3.10.7.4 note; RFC 6191
  // with timestamps) if its sequence number or timestamp is newer than
  // anything of the old incarnation.
  if (syn && !rst && !ack && !paws_reject &&
      (after(cb->seq, rcv_nxt) ||
       (tmp.saw_tstamp && static_cast<std::int32_t>(tw->tw_ts_recent - tmp.rcv_tsval) < 0))) {
    std::uint32_t isn = tw->tw_snd_nxt + 65535 + 2;
    if (isn == 0) isn++;
    *tw_isn = isn;
    st.mib().inc(MibId::TcpExtTWRecycled);
    tw_expire(&st, key);
    return TCP_TW_SYN;
  }

  if (paws_reject) st.mib().inc(MibId::TcpExtPAWSEstab);
  if (!rst) {
    // Anything else is a duplicate: re-ACK it and restart the wait.
    if (paws_reject || ack) tw_reschedule(tw, TCP_TIMEWAIT_LEN);
    if (tcp_oow_rate_limited(st, skb, MibId::TcpExtTCPACKSkippedTimeWait,
                             &tw->tw_last_oow_ack_time))
      return TCP_TW_SUCCESS;
    return TCP_TW_ACK;
  }
  return TCP_TW_SUCCESS;
}

// The TCP half of creating a child from a request sock
// (tcp_create_openreq_child): sequence numbers, windows, options, timers.
void tcp_create_openreq_child(Sock* child, const RequestSock* req, const SkBuff* skb) {
  TcpSock* tp = tcp_sk(child);
  InetConnectionSock* icsk = inet_csk(child);
  const std::uint32_t seq = req->rcv_isn + 1;
  const std::uint32_t iss = req->snt_isn + 1;

  tp->pred_flags = 0;
  tp->rcv_wup = tp->copied_seq = tp->rcv_nxt = seq;
  tp->snd_sml = tp->snd_una = tp->snd_nxt = tp->snd_up = iss;
  tp->write_seq = tp->pushed_seq = iss;
  tp->snd_isn = req->snt_isn;
  tp->rcv_isn = req->rcv_isn;
  tcp_init_wl(tp, req->rcv_isn);

  tp->srtt_us = 0;
  tp->mdev_us = TCP_TIMEOUT_INIT * 1000;
  tp->rttvar_us = 0;
  tp->rtt_min.v = ~0u;
  icsk->icsk_rto = TCP_TIMEOUT_INIT;
  icsk->icsk_backoff = 0;
  icsk->icsk_retransmits = 0;
  icsk->icsk_probes_out = 0;
  icsk->icsk_ca_state = TCP_CA_Open;

  tp->packets_out = tp->retrans_out = tp->sacked_out = tp->lost_out = 0;
  tp->snd_cwnd = TCP_INIT_CWND;
  tp->snd_ssthresh = TCP_INFINITE_SSTHRESH;
  tp->snd_cwnd_cnt = 0;
  tp->total_retrans = req->num_retrans;

  tp->rx_opt.tstamp_ok = req->tstamp_ok;
  tp->rx_opt.sack_ok = req->sack_ok ? TCP_SACK_SEEN : 0;
  tp->rx_opt.wscale_ok = req->wscale_ok;
  tp->window_clamp = req->rsk_window_clamp;
  tp->rcv_ssthresh = req->rsk_rcv_wnd;
  tp->rcv_wnd = req->rsk_rcv_wnd;
  if (req->wscale_ok) {
    tp->rx_opt.snd_wscale = req->snd_wscale;
    tp->rx_opt.rcv_wscale = req->rcv_wscale;
  } else {
    tp->rx_opt.snd_wscale = tp->rx_opt.rcv_wscale = 0;
    tp->window_clamp = std::min<std::uint32_t>(tp->window_clamp, 65535u);
  }
  const std::uint8_t* th = skb_transport_header(skb);
  tp->snd_wnd = static_cast<std::uint32_t>(load_be16(th + 14)) << tp->rx_opt.snd_wscale;
  tp->max_window = tp->snd_wnd;

  if (tp->rx_opt.tstamp_ok) {
    tp->rx_opt.ts_recent = req->ts_recent;
    tp->rx_opt.ts_recent_stamp = tcp_ts_seconds(*child->stack);
    tp->tcp_header_len = static_cast<std::uint16_t>(TCP_HEADER_LEN + TCPOLEN_TSTAMP_ALIGNED);
  } else {
    tp->rx_opt.ts_recent_stamp = 0;
    tp->tcp_header_len = TCP_HEADER_LEN;
  }
  tp->tsoffset = req->ts_off;
  tp->rx_opt.mss_clamp = req->mss;
  tp->lsndtime = tcp_jiffies32(child);
  tp->rcv_tstamp = tcp_jiffies32(child);
  icsk->icsk_ack.lrcvtime = tcp_jiffies32(child);
  // The child is in SYN_RECV already (inet_csk_clone_lock), as in Linux,
  // whose tcp_create_openreq_child sets no state.
}

}  // namespace sp
