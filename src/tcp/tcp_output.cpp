// The TCP output engine (net/ipv4/tcp_output.c): which queued bytes may leave
// now (cwnd, receive window, Nagle, TSO deferral, TSQ, pacing), how they are
// cut into segments, and how a segment gets its header on the way to IP.
#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/stack.hpp"
#include "tcp/recovery/tcp_recovery.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/events.hpp"
#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

namespace sp {

namespace {

constexpr std::uint32_t kNetHeaderLen = 20;  // icsk_af_ops->net_header_len for IPv4

// --- skb surgery shared by tcp_fragment, tso_fragment and tcp_trim_head ---------

// __pskb_trim_head: drop len bytes from the front; returns the paged bytes
// removed (what truesize loses).
std::uint32_t pskb_trim_head(SkBuff* skb, std::uint32_t len) {
  const std::uint32_t eat_linear = std::min(len, skb_headlen(skb));
  if (eat_linear) {
    skb_pull(skb, eat_linear);
    len -= eat_linear;
    if (!len) return 0;
  }
  SkbSharedInfo* sh = skb_shinfo(skb);
  std::uint32_t eat = len;
  int k = 0;
  for (int i = 0; i < sh->nr_frags; ++i) {
    std::uint32_t size = sh->frags[i].size;
    if (size <= eat) {
      put_page(sh->frags[i].page);
      eat -= size;
    } else {
      sh->frags[k] = sh->frags[i];
      if (eat) {
        sh->frags[k].offset += eat;
        sh->frags[k].size -= eat;
        eat = 0;
      }
      ++k;
    }
  }
  sh->nr_frags = static_cast<std::uint8_t>(k);
  skb->tail = skb->data;
  skb->data_len -= len;
  skb->len = skb->data_len;
  return len;
}

// The skb that carries the split-off part: headers only when the payload is
// paged, linear room when it is not.
SkbPtr tcp_alloc_split_buff(Sock* sk, std::uint32_t linear) {
  SkbPtr buff = alloc_skb_fclone(MAX_TCP_HEADER + linear);  // tcp_stream_alloc_skb's fclone
  if (!buff) return nullptr;
  skb_reserve(buff.get(), MAX_TCP_HEADER);
  buff->ip_summed = IpSummed::CHECKSUM_PARTIAL;
  // tcp_stream_alloc_skb(..., force_schedule = true): a split cannot fail
  // for want of tcp_mem, or a retransmission could be stuck.
  sk_forced_mem_schedule(sk, static_cast<int>(buff->truesize));
  return buff;
}

// tcp_set_skb_tso_segs.
int tcp_set_skb_tso_segs(SkBuff* skb, unsigned mss_now) {
  TcpSkbCb* cb = TCP_SKB_CB(skb);
  if (skb->len <= mss_now) {
    cb->gso.tcp_gso_segs = 1;
    cb->gso.tcp_gso_size = 0;
    return 1;
  }
  cb->gso.tcp_gso_size = static_cast<std::uint16_t>(mss_now);
  int segs = static_cast<int>((skb->len + mss_now - 1) / mss_now);
  cb->gso.tcp_gso_segs = static_cast<std::uint16_t>(segs);
  return segs;
}

// tcp_adjust_pcount: a retransmit-queue skb changed how many segments it is.
void tcp_adjust_pcount(TcpSock* tp, const SkBuff* skb, int decr) {
  tp->packets_out -= decr;
  std::uint8_t sacked = TCP_SKB_CB(skb)->sacked;
  if (sacked & TCPCB_SACKED_ACKED) tp->sacked_out -= decr;
  if (sacked & TCPCB_SACKED_RETRANS) tp->retrans_out -= decr;
  if (sacked & TCPCB_LOST) tp->lost_out -= decr;
}

bool tcp_needs_internal_pacing(const Sock* sk) {
  return sk->sk_pacing_status == SK_PACING_NEEDED;
}

// tcp_bound_to_half_wnd: with a tiny peer window, sub-window packets would
// only invite silly-window behaviour; cap packets at half the largest window.
int tcp_bound_to_half_wnd(const TcpSock* tp, int pktsize) {
  int cutoff;
  if (tp->max_window > TCP_MSS_DEFAULT)
    cutoff = static_cast<int>(tp->max_window >> 1);
  else
    cutoff = static_cast<int>(tp->max_window);
  if (cutoff && pktsize > cutoff)
    return std::max(cutoff, 68 - static_cast<int>(tp->tcp_header_len));
  return pktsize;
}

// --- options ------------------------------------------------------------------

std::uint32_t tcp_skb_timestamp_ts(const SkBuff* skb) {
  return static_cast<std::uint32_t>(skb->tstamp / kNsPerMs);
}

// tcp_established_options: timestamps, then as many SACK blocks as fit.
unsigned tcp_established_options(Sock* sk, const SkBuff* skb, TcpOptions* opts) {
  TcpSock* tp = tcp_sk(sk);
  unsigned size = 0;
  if (tp->rx_opt.tstamp_ok) {
    opts->saw_tstamp = true;
    opts->ts_val = (skb ? tcp_skb_timestamp_ts(skb) : tcp_time_stamp_ms(sk)) + tp->tsoffset;
    opts->ts_ecr = tp->rx_opt.ts_recent;
    size += TCPOLEN_TSTAMP_ALIGNED;
  }
  unsigned eff_sacks = tp->rx_opt.num_sacks + (tp->rx_opt.dsack ? 1u : 0u);
  if (eff_sacks) {
    const unsigned remaining = MAX_TCP_OPTION_SPACE - size;
    if (remaining >= TCPOLEN_SACK_BASE_ALIGNED + TCPOLEN_SACK_PERBLOCK) {
      unsigned n =
          std::min(eff_sacks, (remaining - TCPOLEN_SACK_BASE_ALIGNED) / TCPOLEN_SACK_PERBLOCK);
      n = std::min<unsigned>(n, TCP_NUM_SACKS);
      opts->num_sacks = static_cast<std::uint8_t>(n);
      unsigned k = 0;
      if (tp->rx_opt.dsack && k < n) opts->sacks[k++] = tp->duplicate_sack[0];
      for (unsigned i = 0; k < n; ++i) opts->sacks[k++] = tp->selective_acks[i];
      size += TCPOLEN_SACK_BASE_ALIGNED + n * TCPOLEN_SACK_PERBLOCK;
    }
  }
  return size;
}

// tcp_advertise_mss: the MSS option on our SYN.
std::uint16_t tcp_advertise_mss(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  std::uint32_t mss = tp->advmss;
  if (sk->sk_dst_mtu) {
    std::uint32_t metric = sk->sk_dst_mtu - kNetHeaderLen - TCP_HEADER_LEN;
    if (metric < mss) {
      mss = metric;
      tp->advmss = static_cast<std::uint16_t>(mss);
    }
  }
  return static_cast<std::uint16_t>(mss);
}

// tcp_syn_options: MSS, SACK-permitted, timestamps, window scale.
unsigned tcp_syn_options(Sock* sk, const SkBuff* skb, TcpOptions* opts) {
  TcpSock* tp = tcp_sk(sk);
  const Sysctl& sc = sk->stack->sysctl();
  opts->mss = tcp_advertise_mss(sk);
  if (sc.tcp_timestamps) {
    opts->saw_tstamp = true;
    opts->ts_val = tcp_skb_timestamp_ts(skb) + tp->tsoffset;
    opts->ts_ecr = tp->rx_opt.ts_recent;
  }
  if (sc.tcp_window_scaling) {
    opts->wscale_ok = true;
    opts->wscale = tp->rx_opt.rcv_wscale;
  }
  if (sc.tcp_sack) opts->sack_ok = true;
  return tcp_options_size(*opts);
}

// tcp_event_data_sent: congestion restart and interactivity bookkeeping.
void tcp_event_data_sent(TcpSock* tp, Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  const std::uint32_t now = tcp_jiffies32(sk);
  if (tcp_packets_in_flight(tp) == 0) tcp_ca_event(sk, CA_EVENT_TX_START);
  tp->lsndtime = now;
  // A reply sent soon after data arrived: the session looks interactive
  // (pingpong), so ACKs should be delayed to ride on the replies.
  if (now - icsk->icsk_ack.lrcvtime < icsk->icsk_ack.ato) {
    if (icsk->icsk_ack.pingpong < 0xff) icsk->icsk_ack.pingpong++;
  }
}

// tcp_event_ack_sent: an ACK is on the wire, so the pending one is not needed.
void tcp_event_ack_sent(Sock* sk, std::uint32_t rcv_nxt) {
  TcpSock* tp = tcp_sk(sk);
  // This ACK carries what the compressed ones would have: they are saved.
  if (tp->compressed_ack) {
    sk->stack->mib().inc(MibId::TcpExtTCPAckCompressed, tp->compressed_ack);
    tp->compressed_ack = 0;
    sk->stack->del_timer(tp->compressed_ack_timer);
  }
  if (rcv_nxt != tp->rcv_nxt) return;
  tcp_dec_quickack_mode(sk);
  inet_csk_clear_xmit_timer(sk, ICSK_TIME_DACK);
}

// tcp_update_skb_after_send: record the departure time and, when pacing,
// push the next departure out by this skb's length at the pacing rate. As
// sch_fq did, the first 10 data segments of a connection go unpaced. Time the
// clock already ran past the previous departure (scheduling jitter) is
// credited, but for at most half of this skb's own pacing delay.
void tcp_update_skb_after_send(Sock* sk, SkBuff* skb, std::uint64_t prior_wstamp) {
  TcpSock* tp = tcp_sk(sk);
  if (sk->sk_pacing_status != SK_PACING_NONE) {
    std::uint64_t rate = sk->sk_pacing_rate;
    if (rate != ~std::uint64_t{0} && rate && tp->data_segs_out >= 10) {
      std::uint64_t len_ns = static_cast<std::uint64_t>(skb->len) * kNsPerSec / rate;
      std::uint64_t credit = tp->tcp_wstamp_ns - prior_wstamp;
      len_ns -= std::min(len_ns / 2, credit);
      tp->tcp_wstamp_ns += len_ns;
    }
  }
}

// tcp_acceptable_seq: the sequence number for a segment without data: snd_nxt,
// unless the peer shrank its window below it.
std::uint32_t tcp_acceptable_seq(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  if (!before(tcp_wnd_end(tp), tp->snd_nxt) ||
      (tp->rx_opt.wscale_ok && (tp->snd_nxt - tcp_wnd_end(tp)) < (1u << tp->rx_opt.rcv_wscale)))
    return tp->snd_nxt;
  return tcp_wnd_end(tp);
}

SkbPtr alloc_nondata_skb() {
  SkbPtr skb = alloc_skb(MAX_TCP_HEADER);
  if (!skb) return nullptr;
  skb_reserve(skb.get(), MAX_TCP_HEADER);
  return skb;
}

}  // namespace

// __tcp_select_window: the window we can offer now (RFC 1122 SWS avoidance
// for the receiver: never offer less than an MSS unless that is all there is).
std::uint32_t __tcp_select_window(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  int mss = icsk->icsk_ack.rcv_mss;
  int free_space = tcp_space(sk);
  int allowed_space = tcp_full_space(sk);
  int full_space = std::min(static_cast<int>(tp->window_clamp), allowed_space);
  if (mss > full_space) {
    mss = full_space;
    if (mss <= 0) return 0;
  }
  const int wscale = tp->rx_opt.rcv_wscale;
  if (free_space < (full_space >> 1)) {
    icsk->icsk_ack.quick = 0;
    // Short of memory stack-wide: stop the window growing past 4 segments.
    if (tcp_under_memory_pressure(sk)) tcp_adjust_rcv_ssthresh(sk);
    free_space = free_space & ~((1 << wscale) - 1);
    if (free_space < (allowed_space >> 4) || free_space < mss) return 0;
  }
  if (free_space > static_cast<int>(tp->rcv_ssthresh))
    free_space = static_cast<int>(tp->rcv_ssthresh);
  std::uint32_t window = tp->rcv_wnd;
  if (wscale) {
    window = static_cast<std::uint32_t>(free_space);
    // Advertise in whole units of the scale, rounding up so the offer does
    // not appear to shrink.
    if (((window >> wscale) << wscale) != window) window = ((window >> wscale) + 1) << wscale;
  } else {
    if (mss <= 0) mss = 1;
    if (window <= static_cast<std::uint32_t>(free_space - mss) ||
        window > static_cast<std::uint32_t>(free_space))
      window = static_cast<std::uint32_t>((free_space / mss) * mss);
    else if (mss == full_space && free_space > static_cast<int>(window) + (full_space >> 1))
      window = static_cast<std::uint32_t>(free_space);
  }
  return window;
}

namespace {

void tcp_initialize_rcv_mss(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  std::uint32_t hint = std::min<std::uint32_t>(tp->advmss, tp->mss_cache);
  hint = std::min(hint, tp->rcv_wnd / 2);
  hint = std::min(hint, TCP_MSS_DEFAULT);
  hint = std::max(hint, TCP_MIN_MSS);
  inet_csk(sk)->icsk_ack.rcv_mss = static_cast<std::uint16_t>(hint);
}

}  // namespace

// ==================================================================================
// clocks, timers
// ==================================================================================

void tcp_mstamp_refresh(TcpSock* tp) {
  std::uint64_t val = tp->stack->now();
  tp->tcp_clock_cache = val;
  tp->tcp_mstamp = val / 1000;
}

void inet_csk_reset_xmit_timer(Sock* sk, int what, std::uint64_t when, std::uint64_t max_when) {
  InetConnectionSock* icsk = inet_csk(sk);
  if (when > max_when) when = max_when;
  const std::uint64_t now_j = tcp_jiffies(sk);
  const Nanos expires = timer_fire_after(sk->stack->now(), when);
  if (what == ICSK_TIME_DACK) {
    icsk->icsk_ack.pending |= ICSK_ACK_TIMER;
    icsk->icsk_ack.timeout = now_j + when;
    sk->stack->mod_timer(icsk->icsk_delack_timer, expires);
    return;
  }
  icsk->icsk_pending = static_cast<std::uint8_t>(what);
  icsk->icsk_timeout = now_j + when;
  sk->stack->mod_timer(icsk->icsk_retransmit_timer, expires);
}

void inet_csk_clear_xmit_timer(Sock* sk, int what) {
  InetConnectionSock* icsk = inet_csk(sk);
  if (what == ICSK_TIME_DACK) {
    icsk->icsk_ack.pending = 0;
    icsk->icsk_ack.retry = 0;
    sk->stack->del_timer(icsk->icsk_delack_timer);
    return;
  }
  icsk->icsk_pending = 0;
  sk->stack->del_timer(icsk->icsk_retransmit_timer);
}

void inet_csk_reset_keepalive_timer(Sock* sk, std::uint64_t len) {
  sk->stack->mod_timer(sk->sk_timer, timer_fire_after(sk->stack->now(), len));
}

void inet_csk_delete_keepalive_timer(Sock* sk) {
  sk->stack->del_timer(sk->sk_timer);
}

std::uint64_t inet_csk_rto_backoff(const InetConnectionSock* icsk, std::uint64_t max_when) {
  std::uint64_t when = static_cast<std::uint64_t>(icsk->icsk_rto) << icsk->icsk_backoff;
  return std::min(when, max_when);
}

void tcp_reset_xmit_timer(Sock* sk, int what, std::uint64_t when, std::uint64_t max_when) {
  // tcp_pacing_delay: a timer must not fire before the paced departure.
  TcpSock* tp = tcp_sk(sk);
  if (tcp_needs_internal_pacing(sk) && tp->tcp_wstamp_ns > tp->tcp_clock_cache)
    when += (tp->tcp_wstamp_ns - tp->tcp_clock_cache + kNsPerMs - 1) / kNsPerMs;
  inet_csk_reset_xmit_timer(sk, what, when, max_when);
}

void tcp_check_probe_timer(Sock* sk) {
  if (!tcp_sk(sk)->packets_out && !inet_csk(sk)->icsk_pending)
    tcp_reset_xmit_timer(sk, ICSK_TIME_PROBE0, tcp_probe0_base(sk), TCP_RTO_MAX);
}

// ==================================================================================
// MSS
// ==================================================================================

int tcp_mtu_to_mss(Sock* sk, int pmtu) {
  TcpSock* tp = tcp_sk(sk);
  int mss_now = pmtu - static_cast<int>(kNetHeaderLen) - static_cast<int>(TCP_HEADER_LEN);
  if (tp->rx_opt.mss_clamp && mss_now > tp->rx_opt.mss_clamp) mss_now = tp->rx_opt.mss_clamp;
  mss_now -= tp->icsk_ext_hdr_len;
  mss_now = std::max(mss_now, sk->stack->sysctl().tcp_min_snd_mss);
  // Options we always send (timestamps) come out of the MSS.
  return mss_now - (static_cast<int>(tp->tcp_header_len) - static_cast<int>(TCP_HEADER_LEN));
}

int tcp_mss_to_mtu(Sock* sk, int mss) {
  const TcpSock* tp = tcp_sk(sk);
  return mss + tp->tcp_header_len + tp->icsk_ext_hdr_len + static_cast<int>(kNetHeaderLen);
}

std::uint32_t dst_metric_advmss(const RouteResult& rt) {
  if (rt.metrics.advmss) return rt.metrics.advmss;
  const std::uint32_t mtu = rt.mtu ? rt.mtu : 1500;
  constexpr std::uint32_t kMinAdvmss = 256;  // ip_rt_min_advmss
  return std::max(mtu > 40 ? mtu - 40 : 0, kMinAdvmss);
}

std::uint32_t tcp_init_cwnd(const TcpSock* tp, const RouteResult& rt) {
  const std::uint32_t cwnd = rt.metrics.initcwnd ? rt.metrics.initcwnd : TCP_INIT_CWND;
  return std::min(cwnd, tp->snd_cwnd_clamp);
}

void tcp_mtup_init(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  const Sysctl& sc = sk->stack->sysctl();
  icsk->icsk_mtup.enabled = sc.tcp_mtu_probing > 1;
  // The search starts between tcp_base_mss and the peer's MSS (bare
  // headers: options are not part of the path MTU).
  const int mss_clamp =
      tcp_sk(sk)->rx_opt.mss_clamp ? tcp_sk(sk)->rx_opt.mss_clamp : TCP_MSS_DEFAULT;
  icsk->icsk_mtup.search_high = mss_clamp + static_cast<int>(TCP_HEADER_LEN + kNetHeaderLen);
  icsk->icsk_mtup.search_low = tcp_mss_to_mtu(sk, sc.tcp_base_mss);
  icsk->icsk_mtup.probe_size = 0;
  if (icsk->icsk_mtup.enabled) icsk->icsk_mtup.probe_timestamp = tcp_jiffies32(sk);
}

namespace {
// tcp_current_ssthresh: outside a cwnd reduction, at least 3/4 of cwnd.
std::uint32_t current_ssthresh(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  if (tcp_in_cwnd_reduction(sk)) return tp->snd_ssthresh;
  const std::uint32_t cwnd = tcp_snd_cwnd(tp);
  return std::max(tp->snd_ssthresh, (cwnd >> 1) + (cwnd >> 2));
}
}  // namespace

void tcp_mtup_probe_success(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  // The same bytes in flight now take fewer, larger packets: scale cwnd.
  tp->prior_ssthresh = current_ssthresh(sk);
  const std::uint64_t val =
      static_cast<std::uint64_t>(tcp_snd_cwnd(tp)) *
      static_cast<std::uint64_t>(tcp_mss_to_mtu(sk, static_cast<int>(tp->mss_cache))) /
      icsk->icsk_mtup.probe_size;
  tcp_snd_cwnd_set(tp, std::max<std::uint32_t>(1, static_cast<std::uint32_t>(val)));
  tp->snd_cwnd_cnt = 0;
  tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  tp->snd_ssthresh = current_ssthresh(sk);
  icsk->icsk_mtup.search_low = static_cast<int>(icsk->icsk_mtup.probe_size);
  icsk->icsk_mtup.probe_size = 0;
  tcp_sync_mss(sk, icsk->icsk_pmtu_cookie);
  sk->stack->mib().inc(MibId::TcpExtTCPMTUPSuccess);
}

void tcp_mtup_probe_failed(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  icsk->icsk_mtup.search_high = static_cast<int>(icsk->icsk_mtup.probe_size) - 1;
  icsk->icsk_mtup.probe_size = 0;
  sk->stack->mib().inc(MibId::TcpExtTCPMTUPFail);
}

unsigned tcp_sync_mss(Sock* sk, std::uint32_t pmtu) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  if (icsk->icsk_mtup.search_high > static_cast<int>(pmtu))
    icsk->icsk_mtup.search_high = static_cast<int>(pmtu);
  int mss_now = tcp_mtu_to_mss(sk, static_cast<int>(pmtu));
  mss_now = tcp_bound_to_half_wnd(tp, mss_now);
  icsk->icsk_pmtu_cookie = pmtu;
  if (icsk->icsk_mtup.enabled)
    mss_now = std::min(mss_now, tcp_mtu_to_mss(sk, icsk->icsk_mtup.search_low));
  tp->mss_cache = static_cast<std::uint32_t>(mss_now);
  return static_cast<unsigned>(mss_now);
}

unsigned tcp_current_mss(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  unsigned mss_now = tp->mss_cache;
  if (sk->sk_dst_mtu && sk->sk_dst_mtu != inet_csk(sk)->icsk_pmtu_cookie)
    mss_now = tcp_sync_mss(sk, sk->sk_dst_mtu);
  TcpOptions opts;
  unsigned header_len = tcp_established_options(sk, nullptr, &opts) + TCP_HEADER_LEN;
  // SACK blocks (or a missing timestamp) change the room left for data in
  // this segment compared with the cached MSS.
  if (header_len != tp->tcp_header_len) {
    int delta = static_cast<int>(header_len) - static_cast<int>(tp->tcp_header_len);
    mss_now = static_cast<unsigned>(static_cast<int>(mss_now) - delta);
  }
  return mss_now;
}

int tcp_init_tso_segs(SkBuff* skb, unsigned mss_now) {
  int tso_segs = tcp_skb_pcount(skb);
  if (!tso_segs || (tso_segs > 1 && static_cast<unsigned>(tcp_skb_mss(skb)) != mss_now))
    return tcp_set_skb_tso_segs(skb, mss_now);
  return tso_segs;
}

// ==================================================================================
// windows
// ==================================================================================

std::uint16_t tcp_select_window(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  Stack& st = *sk->stack;
  const std::uint32_t old_win = tp->rcv_wnd;
  // We just dropped data for want of memory (tcp_data_queue): offer a zero
  // window now, even if that shrinks it (Linux 6.x), so the sender waits
  // for the reader instead of sending into a full buffer.
  if (inet_csk(sk)->icsk_ack.pending & ICSK_ACK_NOMEM) {
    tp->pred_flags = 0;
    tp->rcv_wnd = 0;
    tp->rcv_wup = tp->rcv_nxt;
    return 0;
  }
  const std::uint32_t cur_win = tcp_receive_window(tp);
  std::uint32_t new_win = __tcp_select_window(sk);
  const int wscale = tp->rx_opt.rcv_wscale;
  if (new_win < cur_win) {
    // RFC 7323 2.4: never shrink the window we offered; keep offering what
    // is left of it (rounded up to the scale unit).
    if (new_win == 0) st.mib().inc(MibId::TcpExtTCPWantZeroWindowAdv);
    new_win = (cur_win + (1u << wscale) - 1) & ~((1u << wscale) - 1);
  }
  tp->rcv_wnd = new_win;
  tp->rcv_wup = tp->rcv_nxt;
  if (!wscale && st.sysctl().tcp_workaround_signed_windows)
    new_win = std::min(new_win, MAX_TCP_WINDOW);
  else
    new_win = std::min(new_win, 65535u << wscale);
  new_win >>= wscale;
  if (new_win == 0) {
    tp->pred_flags = 0;
    if (old_win) st.mib().inc(MibId::TcpExtTCPToZeroWindowAdv);
  } else if (old_win == 0) {
    st.mib().inc(MibId::TcpExtTCPFromZeroWindowAdv);
  }
  return static_cast<std::uint16_t>(new_win);
}

void tcp_select_initial_window(const Sock* sk, int space, std::uint32_t mss, std::uint32_t* rcv_wnd,
                               std::uint32_t* window_clamp, int wscale_ok, std::uint8_t* rcv_wscale,
                               std::uint32_t init_rcv_wnd) {
  const Sysctl& sc = sk->stack->sysctl();
  if (*window_clamp == 0) *window_clamp = (65535u << TCP_MAX_WSCALE);
  space = std::min(static_cast<int>(*window_clamp), space);
  if (space > static_cast<int>(mss)) space = static_cast<int>((space / mss) * mss);
  if (sc.tcp_workaround_signed_windows)
    *rcv_wnd = std::min<std::uint32_t>(static_cast<std::uint32_t>(space), MAX_TCP_WINDOW);
  else
    *rcv_wnd = std::min<std::uint32_t>(static_cast<std::uint32_t>(space), 65535u);
  if (init_rcv_wnd) *rcv_wnd = std::min(*rcv_wnd, init_rcv_wnd * mss);
  *rcv_wscale = 0;
  if (wscale_ok) {
    // The scale that lets the largest buffer we may grow to be offered.
    int s = std::max(sc.tcp_rmem[2], sc.rmem_max);
    s = std::min(static_cast<int>(*window_clamp), s);
    std::uint8_t ws = 0;
    while (s > 65535 && ws < TCP_MAX_WSCALE) {
      s >>= 1;
      ws++;
    }
    *rcv_wscale = ws;
  }
  *window_clamp = std::min<std::uint32_t>(65535u << *rcv_wscale, *window_clamp);
}

// ==================================================================================
// transmit one skb
// ==================================================================================

int __tcp_transmit_skb(Sock* sk, SkBuff* oskb_in, int clone_it, std::uint32_t rcv_nxt) {
  TcpSock* tp = tcp_sk(sk);
  InetSock* inet = inet_sk(sk);
  Stack& st = *sk->stack;

  const std::uint64_t prior_wstamp = tp->tcp_wstamp_ns;
  tp->tcp_wstamp_ns = std::max(tp->tcp_wstamp_ns, tp->tcp_clock_cache);
  oskb_in->tstamp = tp->tcp_wstamp_ns;

  SkBuff* oskb = nullptr;
  SkbPtr owned;
  if (clone_it) {
    oskb = oskb_in;
    // A previous clone still in a queue shares the header room: copy the
    // header part instead of writing over it.
    owned = skb_cloned(oskb) ? pskb_copy(oskb) : skb_clone(oskb);
    if (!owned) return -ENOBUFS;
    tcp_rate_skb_sent(sk, oskb);
  } else {
    owned.reset(oskb_in);
  }
  SkBuff* skb = owned.get();
  TcpSkbCb* tcb = TCP_SKB_CB(skb);

  TcpOptions opts;
  unsigned options_size;
  if (tcb->tcp_flags & TCPHDR_SYN) {
    options_size = tcp_syn_options(sk, skb, &opts);
  } else {
    options_size = tcp_established_options(sk, skb, &opts);
    // Every GSO packet carries PSH so that a receiver's GRO flushes it.
    if (tcp_skb_pcount(skb) > 1) tcb->tcp_flags |= TCPHDR_PSH;
  }
  const unsigned header_size = options_size + TCP_HEADER_LEN;

  if (skb_headroom(skb) < header_size + kNetHeaderLen + 14 &&
      skb_cow_head(skb, header_size + kNetHeaderLen + 14) != 0)
    return -ENOBUFS;
  std::uint8_t* th = skb_push(skb, header_size);
  skb_reset_transport_header(skb);

  // The device frees the skb when the frame has left: tcp_wfree returns its
  // memory to the socket (TCP small queues).
  skb->sk = sk;
  skb->destructor = tcp_wfree;
  sk->sk_wmem_alloc += static_cast<int>(skb->truesize);

  TcpHeader h;
  h.source = ntohs(inet->inet_sport);
  h.dest = ntohs(inet->inet_dport);
  h.seq = tcb->seq;
  h.ack_seq = rcv_nxt;
  h.flags = tcb->tcp_flags;
  if (tcb->tcp_flags & TCPHDR_SYN)
    h.window = static_cast<std::uint16_t>(
        std::min(tp->rcv_wnd, 65535u));  // RFC 7323: SYN windows are never scaled
  else
    h.window = tcp_select_window(sk);
  tcp_header_write(th, h, static_cast<std::uint8_t>(header_size / 4));
  tcp_options_write(th + TCP_HEADER_LEN, opts);
  if (opts.num_sacks) tp->rx_opt.dsack = false;  // the D-SACK block went out
  trace_tcp_transmit_skb(sk, skb, header_size);

  // tcp_v4_send_check: always CHECKSUM_PARTIAL, the pseudo-header sum in the
  // field. What the device cannot finish, dev_queue_xmit does: software GSO
  // sums each segment (while copying it, without SG), skb_checksum_help a
  // single frame. Summing the whole skb here as well, as this did for
  // routes without offload, read every GSO skb's payload once for nothing.
  const std::uint32_t seglen = skb->len;
  const Ipv4Addr saddr = ntohl(inet->inet_saddr), daddr = ntohl(inet->inet_daddr);
  skb->ip_summed = IpSummed::CHECKSUM_PARTIAL;
  skb->csum_start = skb->transport_header;
  skb->csum_offset = kTcpCheckOffset;
  store_be16(th + kTcpCheckOffset, tcp_v4_pseudo_check(seglen, saddr, daddr));

  if (tcb->tcp_flags & TCPHDR_ACK) tcp_event_ack_sent(sk, rcv_nxt);
  if (skb->len != header_size) {
    tcp_event_data_sent(tp, sk);
    tp->data_segs_out += tcp_skb_pcount(skb);
    tp->bytes_sent += skb->len - header_size;
  }
  if (after(tcb->end_seq, tp->snd_nxt) || tcb->seq == tcb->end_seq)
    st.mib().inc(MibId::TcpOutSegs, tcp_skb_pcount(skb));
  tp->segs_out += tcp_skb_pcount(skb);

  SkbSharedInfo* sh = skb_shinfo(skb);
  sh->gso_segs = static_cast<std::uint16_t>(tcp_skb_pcount(skb));
  sh->gso_size = static_cast<std::uint16_t>(tcp_skb_mss(skb));
  sh->gso_type = sh->gso_size ? SKB_GSO_TCPV4 : SKB_GSO_NONE;
  std::memset(skb->cb, 0, sizeof(skb->cb));

  // __sk_dst_check: the routing table changed since the route was cached
  // (`ip route change`); look it up again for the new MTU and device caps,
  // which tcp_current_mss then picks up.
  if (sk->sk_dst_ifindex && sk->sk_dst_genid != st.route_genid())
    sk_setup_caps(sk, st.ip_route_output(inet->inet_daddr));

  IpXmitParams p;
  p.saddr = inet->inet_saddr;
  p.daddr = inet->inet_daddr;
  p.protocol = 6;
  p.ttl = static_cast<std::uint8_t>(inet->uc_ttl >= 0 ? inet->uc_ttl : st.sysctl().ip_default_ttl);
  p.tos = inet->tos;
  p.df = inet->pmtudisc != 0;
  p.ip_id = &inet->inet_id;
  int err = st.ip_queue_xmit(std::move(owned), p);
  if (err > 0) err = 0;
  // The device (its qdisc) refused the packet, which ip_queue_xmit reports
  // as -ENOBUFS: for TCP that is Linux's NET_XMIT_DROP, local congestion.
  // Like a congestion signal it reduces cwnd (CWR), and it is returned as a
  // positive value so that the retransmit and probe timers retry at
  // TCP_RESOURCE_PROBE_INTERVAL without backing off.
  if (err == -ENOBUFS) {
    tcp_enter_cwr(sk);
    err = NET_XMIT_DROP;
  }
  if (!err && oskb) tcp_update_skb_after_send(sk, oskb, prior_wstamp);
  return err;
}

int tcp_transmit_skb(Sock* sk, SkBuff* skb, int clone_it) {
  return __tcp_transmit_skb(sk, skb, clone_it, tcp_sk(sk)->rcv_nxt);
}

void tcp_event_new_data_sent(Sock* sk, SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  const std::uint32_t prior_packets = tp->packets_out;
  tp->snd_nxt = TCP_SKB_CB(skb)->end_seq;
  SkbPtr owned = sk->sk_write_queue.unlink(skb);
  tp->tcp_rtx_queue.insert(std::move(owned));
  tp->tsorted_sent_queue.push_back(*skb);
  if (!tp->highest_sack) tp->highest_sack = skb;
  tp->packets_out += tcp_skb_pcount(skb);
  trace_tcp_event_new_data_sent(sk, skb);
  if (!prior_packets || icsk->icsk_pending == ICSK_TIME_LOSS_PROBE) tcp_rearm_rto(sk);
  sk->stack->mib().inc(MibId::TcpExtTCPOrigDataSent, tcp_skb_pcount(skb));
  tcp_check_space(sk);
}

// ==================================================================================
// the decisions of tcp_write_xmit
// ==================================================================================

namespace {

// Congestion window room, in segments, for one burst: at most half the
// window at once so that a single TSO packet does not fill it.
std::uint32_t tcp_cwnd_test(const TcpSock* tp, const SkBuff* skb) {
  // Linux 6.12 applies the window to a lone FIN too (it goes with the next
  // ACK or the loss probe). Older kernels, which the corpus's shutdown
  // scripts were written against, let it past a full window; the
  // sendpath.tcp_lone_fin_ignores_cwnd switch brings that back.
  if (tp->stack->sysctl().sendpath_tcp_lone_fin_ignores_cwnd &&
      (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_FIN) && tcp_skb_pcount(skb) == 1)
    return 1;
  const std::uint32_t in_flight = tcp_packets_in_flight(tp);
  const std::uint32_t cwnd = tcp_snd_cwnd(tp);
  if (in_flight >= cwnd) return 0;
  const std::uint32_t halfcwnd = std::max(cwnd >> 1, 1u);
  return std::min(halfcwnd, cwnd - in_flight);
}

// Does the first MSS of skb fit in the peer's window?
bool tcp_snd_wnd_test(const TcpSock* tp, const SkBuff* skb, unsigned cur_mss) {
  std::uint32_t end_seq = TCP_SKB_CB(skb)->end_seq;
  if (skb->len > cur_mss) end_seq = TCP_SKB_CB(skb)->seq + cur_mss;
  return !after(end_seq, tcp_wnd_end(tp));
}

// Minshall's variant of Nagle: a small segment waits only while an earlier
// small segment is unacknowledged.
bool tcp_minshall_check(const TcpSock* tp) {
  return after(tp->snd_sml, tp->snd_una) && !after(tp->snd_sml, tp->snd_nxt);
}

void tcp_minshall_update(TcpSock* tp, unsigned mss_now, const SkBuff* skb) {
  if (skb->len < static_cast<std::uint32_t>(tcp_skb_pcount(skb)) * mss_now)
    tp->snd_sml = TCP_SKB_CB(skb)->end_seq;
}

// Should a partial (sub-MSS) segment wait? Yes when corked, or when Nagle is
// on and a small segment is still in flight.
bool tcp_nagle_check(bool partial, const TcpSock* tp, int nonagle) {
  return partial &&
         ((nonagle & TCP_NAGLE_CORK) || (!nonagle && tp->packets_out && tcp_minshall_check(tp)));
}

bool tcp_nagle_test(const TcpSock* tp, const SkBuff* skb, unsigned cur_mss, int nonagle) {
  if (nonagle & TCP_NAGLE_PUSH) return true;
  // A FIN goes out at once (urgent mode would too; sendpath has no URG send).
  if (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_FIN) return true;
  return !tcp_nagle_check(skb->len < cur_mss, tp, nonagle);
}

// tcp_tso_autosize: about 1 ms of data at the pacing rate (plus a share
// of the GSO maximum for long-RTT flows), at least min_tso_segs.
std::uint32_t tcp_tso_autosize(const Sock* sk, unsigned mss_now, int min_tso_segs) {
  std::uint64_t bytes = sk->sk_pacing_rate >> sk->sk_pacing_shift;
  const std::uint32_t r = tcp_min_rtt(tcp_sk(sk)) >> sk->stack->sysctl().tcp_tso_rtt_log;
  if (r < 32) bytes += sk->sk_gso_max_size >> r;
  bytes = std::min<std::uint64_t>(bytes, sk->sk_gso_max_size);
  return std::max<std::uint32_t>(static_cast<std::uint32_t>(bytes / mss_now),
                                 static_cast<std::uint32_t>(min_tso_segs));
}

std::uint32_t tcp_tso_segs(Sock* sk, unsigned mss_now) {
  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  const int min_tso = ca && ca->min_tso_segs ? static_cast<int>(ca->min_tso_segs(sk))
                                             : sk->stack->sysctl().tcp_min_tso_segs;
  const std::uint32_t tso_segs = tcp_tso_autosize(sk, mss_now, min_tso);
  return std::min<std::uint32_t>(tso_segs, std::max<std::uint16_t>(sk->sk_gso_max_segs, 1));
}

// How much of a TSO skb to send now: whole segments within the window and
// cwnd quota; the sub-MSS tail only if Nagle allows.
unsigned tcp_mss_split_point(const Sock* sk, const SkBuff* skb, unsigned mss_now, unsigned max_segs,
                             int nonagle) {
  const TcpSock* tp = tcp_sk(sk);
  const std::uint32_t window = tcp_wnd_end(tp) - TCP_SKB_CB(skb)->seq;
  const std::uint32_t max_len = mss_now * max_segs;
  if (max_len <= window && skb != tcp_write_queue_tail(sk)) return max_len;
  const std::uint32_t needed = std::min(skb->len, window);
  if (max_len <= needed) return max_len;
  const std::uint32_t partial = needed % mss_now;
  if (tcp_nagle_check(partial != 0, tp, nonagle)) return needed - partial;
  return needed;
}

// tcp_tso_should_defer: wait for more window to send a bigger TSO packet,
// but never for long (1 ms of idle, half an RTT before the next ACK).
bool tcp_tso_should_defer(Sock* sk, SkBuff* skb, bool* is_cwnd_limited, bool* is_rwnd_limited,
                          std::uint32_t max_segs) {
  const InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  if (icsk->icsk_ca_state >= TCP_CA_Recovery) return false;
  // Idle for more than a millisecond: send now.
  if (static_cast<std::int64_t>(tp->tcp_clock_cache - tp->tcp_wstamp_ns - kNsPerMs) > 0)
    return false;
  const std::uint32_t in_flight = tcp_packets_in_flight(tp);
  const std::uint32_t send_win = tcp_wnd_end(tp) - TCP_SKB_CB(skb)->seq;
  const std::uint32_t cong_win = (tcp_snd_cwnd(tp) - in_flight) * tp->mss_cache;
  const std::uint32_t limit = std::min(send_win, cong_win);
  if (limit >= max_segs * tp->mss_cache) return false;
  if (skb != tcp_write_queue_tail(sk) && limit >= skb->len) return false;
  const int win_divisor = sk->stack->sysctl().tcp_tso_win_divisor;
  if (win_divisor) {
    std::uint32_t chunk = std::min(tp->snd_wnd, tcp_snd_cwnd(tp) * tp->mss_cache);
    chunk /= static_cast<std::uint32_t>(win_divisor);
    if (limit >= chunk) return false;
  } else {
    if (limit > 3 * tp->mss_cache) return false;
  }
  SkBuff* head = tcp_rtx_queue_head(sk);
  if (!head) return false;
  // If the next ACK is expected later than half an RTT (or 1 ms) from now,
  // waiting for it would stall the flow: send now.
  const std::uint64_t srtt_in_ns = static_cast<std::uint64_t>(1000 >> 3) * tp->srtt_us;
  const std::uint64_t expected_ack = head->tstamp + srtt_in_ns;
  const std::uint64_t how_far_is_the_ack = expected_ack - tp->tcp_clock_cache;
  const std::uint64_t threshold = std::min<std::uint64_t>(srtt_in_ns >> 1, kNsPerMs);
  if (static_cast<std::int64_t>(how_far_is_the_ack - threshold) > 0) return false;
  if (cong_win < send_win) {
    if (cong_win <= skb->len) {
      *is_cwnd_limited = true;
      return true;
    }
  } else {
    if (send_win <= skb->len) {
      *is_rwnd_limited = true;
      return true;
    }
  }
  if ((TCP_SKB_CB(skb)->tcp_flags & TCPHDR_FIN) || TCP_SKB_CB(skb)->eor) return false;
  return true;
}

// tso_fragment: split an unsent skb at len; the tail stays on the write
// queue right after it.
int tso_fragment(Sock* sk, SkBuff* skb, unsigned len, unsigned mss_now) {
  return tcp_fragment(sk, TCP_FRAG_IN_WRITE_QUEUE, skb, len, mss_now);
}

bool tcp_rtx_queue_empty_or_single_skb(const Sock* sk) {
  return tcp_sk(sk)->tcp_rtx_queue.size() <= 1;
}

// TCP small queues: keep at most ~1 ms (at the pacing rate) or
// tcp_limit_output_bytes of this socket in the device; more only bloats
// queues and delays retransmissions.
bool tcp_small_queue_check(Sock* sk, const SkBuff* skb, unsigned factor) {
  std::uint64_t limit =
      std::max<std::uint64_t>(2ull * skb->truesize, sk->sk_pacing_rate >> sk->sk_pacing_shift);
  if (sk->sk_pacing_status == SK_PACING_NONE)
    limit = std::min<std::uint64_t>(
        limit, static_cast<std::uint64_t>(sk->stack->sysctl().tcp_limit_output_bytes));
  limit <<= factor;
  if (static_cast<std::uint64_t>(sk->sk_wmem_alloc) > limit) {
    // With zero or one skb in flight, a completion is not worth waiting for.
    if (tcp_rtx_queue_empty_or_single_skb(sk)) return false;
    sk->sk_tsq_flags |= TSQ_THROTTLED;
    return true;
  }
  return false;
}

// tcp_pacing_check: not before the paced departure time; the pacing timer
// resumes transmission then.
bool tcp_pacing_check(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  if (!tcp_needs_internal_pacing(sk)) return false;
  if (tp->tcp_wstamp_ns <= tp->tcp_clock_cache) return false;
  if (!tp->pacing_timer.pending()) sk->stack->mod_timer(tp->pacing_timer, tp->tcp_wstamp_ns);
  return true;
}

void tcp_chrono_set(TcpSock* tp, TcpChrono nw) {
  const std::uint32_t now = tcp_jiffies32(tp);
  const std::uint8_t old = tp->chrono_type;
  if (old > TCP_CHRONO_UNSPEC) tp->chrono_stat[old - 1] += now - tp->chrono_start;
  tp->chrono_start = now;
  tp->chrono_type = nw;
}

// tcp_cwnd_application_limited: the application did not use the window for
// an RTO: shrink cwnd toward what was used (RFC 2861).
void tcp_cwnd_application_limited(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  if (inet_csk(sk)->icsk_ca_state == TCP_CA_Open) {
    const std::uint32_t init_win = TCP_INIT_CWND;
    const std::uint32_t win_used = std::max(tp->snd_cwnd_used, init_win);
    if (win_used < tcp_snd_cwnd(tp)) {
      const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
      std::uint32_t ss = ca && ca->ssthresh ? ca->ssthresh(sk) : tcp_snd_cwnd(tp);
      tp->snd_ssthresh = std::max(tp->snd_ssthresh, ss);
      tcp_snd_cwnd_set(tp, (tcp_snd_cwnd(tp) + win_used) >> 1);
    }
    tp->snd_cwnd_used = 0;
  }
  tp->snd_cwnd_stamp = tcp_jiffies32(sk);
}

void tcp_cwnd_validate(Sock* sk, bool is_cwnd_limited) {
  const TcpCongestionOps* ca_ops = inet_csk(sk)->icsk_ca_ops;
  TcpSock* tp = tcp_sk(sk);
  if (!before(tp->snd_una, tp->cwnd_usage_seq) || is_cwnd_limited ||
      (!tp->is_cwnd_limited && tp->packets_out > tp->max_packets_out)) {
    tp->is_cwnd_limited = is_cwnd_limited;
    tp->max_packets_out = tp->packets_out;
    tp->cwnd_usage_seq = tp->snd_nxt;
  }
  if (tcp_is_cwnd_limited(sk)) {
    tp->snd_cwnd_used = 0;
    tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  } else {
    if (tp->packets_out > tp->snd_cwnd_used) tp->snd_cwnd_used = tp->packets_out;
    if (sk->stack->sysctl().tcp_slow_start_after_idle &&
        static_cast<std::int32_t>(tcp_jiffies32(sk) - tp->snd_cwnd_stamp) >=
            static_cast<std::int32_t>(inet_csk(sk)->icsk_rto) &&
        !(ca_ops && ca_ops->cong_control))
      tcp_cwnd_application_limited(sk);
    if (tcp_write_queue_empty(sk) && sk->sk_socket && sock_flag(sk, SOCK_NOSPACE) &&
        ((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)))
      tcp_chrono_start(sk, TCP_CHRONO_SNDBUF_LIMITED);
  }
}

// tcp_mtu_check_reprobe: after tcp_probe_interval seconds without a
// search, start again from the current MSS up to the peer's.
void tcp_mtu_check_reprobe(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  const TcpSock* tp = tcp_sk(sk);
  // The interval is in seconds, the stamp in jiffies: interval * HZ (the
  // code read * 1000, right only at HZ=1000).
  const std::int64_t interval_jiffies =
      static_cast<std::int64_t>(sk->stack->sysctl().tcp_probe_interval) * HZ;
  const std::int32_t delta =
      static_cast<std::int32_t>(tcp_jiffies32(sk) - icsk->icsk_mtup.probe_timestamp);
  if (delta >= interval_jiffies) {
    const int mss = static_cast<int>(tcp_current_mss(sk));
    icsk->icsk_mtup.probe_size = 0;
    icsk->icsk_mtup.search_high =
        tp->rx_opt.mss_clamp + static_cast<int>(TCP_HEADER_LEN + kNetHeaderLen);
    icsk->icsk_mtup.search_low = tcp_mss_to_mtu(sk, mss);
    icsk->icsk_mtup.probe_timestamp = tcp_jiffies32(sk);
  }
}

// Can the first len bytes of the write queue be merged into one skb?
bool tcp_can_coalesce_send_queue_head(Sock* sk, int len) {
  for (SkBuff* skb = tcp_send_head(sk); skb; skb = sk->sk_write_queue.next(skb)) {
    if (len <= static_cast<int>(skb->len)) break;
    if (!tcp_skb_can_collapse_to(skb)) return false;
    len -= static_cast<int>(skb->len);
  }
  return true;
}

// tcp_mtu_probe (RFC 4821 packetization layer PMTU discovery): with
// tcp_mtu_probing enabled, send one segment halfway between the largest MTU
// known to work (search_low) and the largest the peer allows (search_high),
// built from the head of the write queue. Its ACK raises search_low and the
// MSS (tcp_mtup_probe_success); its loss lowers search_high. Returns 1 when
// a probe left, 0 to wait for cwnd or window, -1 when not probing now.
int tcp_mtu_probe(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  // Not while a probe is out, in recovery, with a small window, or with
  // SACK blocks in the header (the header size would change under us).
  if (!icsk->icsk_mtup.enabled || icsk->icsk_mtup.probe_size ||
      icsk->icsk_ca_state != TCP_CA_Open || tcp_snd_cwnd(tp) < 11 || tp->rx_opt.num_sacks ||
      tp->rx_opt.dsack)
    return -1;

  const unsigned mss_now = tcp_current_mss(sk);
  const int probe_size =
      tcp_mtu_to_mss(sk, (icsk->icsk_mtup.search_high + icsk->icsk_mtup.search_low) >> 1);
  // The probe plus enough MSS-sized data behind it to detect its loss by
  // dupacks rather than by timeout.
  const std::uint64_t size_needed =
      static_cast<std::uint64_t>(probe_size) +
      (static_cast<std::uint64_t>(tp->reordering) + 1) * tp->mss_cache;
  const int interval = icsk->icsk_mtup.search_high - icsk->icsk_mtup.search_low;
  if (probe_size > tcp_mtu_to_mss(sk, icsk->icsk_mtup.search_high) ||
      interval < sk->stack->sysctl().tcp_probe_threshold) {
    tcp_mtu_check_reprobe(sk);  // the search converged: maybe start another
    return -1;
  }
  if (tp->write_seq - tp->snd_nxt < size_needed) return -1;
  if (tp->snd_wnd < size_needed) return -1;
  if (after(static_cast<std::uint32_t>(tp->snd_nxt + size_needed), tcp_wnd_end(tp))) return 0;
  // Let in-flight data drain to make room, unless there is none.
  if (tcp_packets_in_flight(tp) + 2 > tcp_snd_cwnd(tp)) return tcp_packets_in_flight(tp) ? 0 : -1;
  if (!tcp_can_coalesce_send_queue_head(sk, probe_size)) return -1;

  SkbPtr owned = tcp_stream_alloc_skb_linear(sk, static_cast<std::uint32_t>(probe_size), false);
  if (!owned) return -1;
  SkBuff* nskb = owned.get();
  SkBuff* skb = tcp_send_head(sk);
  std::uint8_t* dst = skb_put(nskb, static_cast<std::uint32_t>(probe_size));
  {
    int off = 0;
    for (SkBuff* s = skb; s && off < probe_size; s = sk->sk_write_queue.next(s)) {
      const int copy = std::min(static_cast<int>(s->len), probe_size - off);
      if (skb_copy_bits(s, 0, dst + off, static_cast<std::uint32_t>(copy)) != 0) return -1;
      off += copy;
    }
  }
  sk->sk_wmem_queued += static_cast<int>(nskb->truesize);
  sk_mem_charge(sk, static_cast<int>(nskb->truesize));
  TCP_SKB_CB(nskb)->seq = TCP_SKB_CB(skb)->seq;
  TCP_SKB_CB(nskb)->end_seq = TCP_SKB_CB(skb)->seq + static_cast<std::uint32_t>(probe_size);
  TCP_SKB_CB(nskb)->tcp_flags = TCPHDR_ACK;
  sk->sk_write_queue.insert_before(skb, std::move(owned));

  // The probe takes over the bytes: whole skbs are freed, a partly copied
  // one loses its head (and gives its flags but PSH/FIN to the probe only
  // when consumed whole).
  int len = 0;
  while (skb && len < probe_size) {
    SkBuff* next = sk->sk_write_queue.next(skb);
    const int copy = std::min(static_cast<int>(skb->len), probe_size - len);
    if (static_cast<int>(skb->len) <= copy) {
      TCP_SKB_CB(nskb)->tcp_flags |= TCP_SKB_CB(skb)->tcp_flags;
      TCP_SKB_CB(nskb)->eor = TCP_SKB_CB(skb)->eor;
      sk_wmem_free_skb(sk, sk->sk_write_queue.unlink(skb));
    } else {
      TCP_SKB_CB(nskb)->tcp_flags |=
          TCP_SKB_CB(skb)->tcp_flags & static_cast<std::uint8_t>(~(TCPHDR_FIN | TCPHDR_PSH));
      if (tcp_trim_head(sk, skb, static_cast<std::uint32_t>(copy))) break;
      tcp_set_skb_tso_segs(skb, mss_now);
    }
    len += copy;
    skb = next;
  }
  tcp_init_tso_segs(nskb, nskb->len);

  // If the transmit fails, tcp_write_xmit resegments the probe into MSS
  // pieces like any other skb.
  if (tcp_transmit_skb(sk, nskb, 1) == 0) {
    // The probe is one packet standing for two: take one from cwnd.
    tcp_snd_cwnd_set(tp, tcp_snd_cwnd(tp) - 1);
    tcp_event_new_data_sent(sk, nskb);
    icsk->icsk_mtup.probe_size =
        static_cast<std::uint32_t>(tcp_mss_to_mtu(sk, static_cast<int>(nskb->len)));
    tp->mtu_probe.probe_seq_start = TCP_SKB_CB(nskb)->seq;
    tp->mtu_probe.probe_seq_end = TCP_SKB_CB(nskb)->end_seq;
    return 1;
  }
  return -1;
}

// The TSQ handler: the device freed enough of our skbs; send more.
void tcp_tsq_write(Sock* sk) {
  if ((1u << sk->sk_state) &
      (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_CLOSE_WAIT | TCPF_LAST_ACK)) {
    TcpSock* tp = tcp_sk(sk);
    if (tp->lost_out > tp->retrans_out && tcp_snd_cwnd(tp) > tcp_packets_in_flight(tp)) {
      tcp_mstamp_refresh(tp);
      tcp_xmit_retransmit_queue(sk);
    }
    tcp_write_xmit(sk, tcp_current_mss(sk), tp->nonagle, 0);
  }
}

}  // namespace

void tcp_chrono_start(Sock* sk, TcpChrono type) {
  TcpSock* tp = tcp_sk(sk);
  if (type > tp->chrono_type) tcp_chrono_set(tp, type);
}

void tcp_add_write_queue_tail(Sock* sk, SkbPtr skb) {
  SkBuff* queued = skb.get();
  sk->sk_write_queue.queue_tail(std::move(skb));
  if (tcp_write_queue_head(sk) == queued) tcp_chrono_start(sk, TCP_CHRONO_BUSY);
}

void tcp_chrono_stop(Sock* sk, TcpChrono type) {
  TcpSock* tp = tcp_sk(sk);
  // Busy is the default chronograph while data is queued or in flight.
  if (tcp_rtx_and_write_queues_empty(sk))
    tcp_chrono_set(tp, TCP_CHRONO_UNSPEC);
  else if (type == tp->chrono_type)
    tcp_chrono_set(tp, TCP_CHRONO_BUSY);
}

void tcp_cwnd_restart(Sock* sk, std::int32_t delta) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t restart_cwnd = TCP_INIT_CWND;
  std::uint32_t cwnd = tcp_snd_cwnd(tp);
  tcp_ca_event(sk, CA_EVENT_CWND_RESTART);
  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  std::uint32_t ss = ca && ca->ssthresh ? ca->ssthresh(sk) : cwnd;
  tp->snd_ssthresh = std::max(tp->snd_ssthresh, ss);
  (void)ss;
  std::int32_t rto = static_cast<std::int32_t>(inet_csk(sk)->icsk_rto);
  while ((delta -= rto) > 0 && cwnd > restart_cwnd) cwnd >>= 1;
  tcp_snd_cwnd_set(tp, std::max(cwnd, restart_cwnd));
  tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  tp->snd_cwnd_used = 0;
}

void tcp_tsq_handler(Sock* sk) {
  tcp_tsq_write(sk);
}

void tcp_sndbuf_expand(Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  const TcpCongestionOps* ca = inet_csk(sk)->icsk_ca_ops;
  // Room for two full windows of skbs (cwnd, at least the initial window
  // and the reordering degree), each costing a power-of-two head plus the
  // sk_buff, as the allocator charges them.
  std::uint32_t per_mss = std::max<std::uint32_t>(tp->rx_opt.mss_clamp, tp->mss_cache) +
                          MAX_TCP_HEADER + static_cast<std::uint32_t>(sizeof(SkbSharedInfo));
  std::uint32_t p2 = 1;
  while (p2 < per_mss) p2 <<= 1;
  per_mss = p2 + static_cast<std::uint32_t>(sizeof(SkBuff));
  std::uint32_t nr_segs = std::max<std::uint32_t>(TCP_INIT_CWND, tcp_snd_cwnd(tp));
  nr_segs = std::max<std::uint32_t>(nr_segs, tp->reordering + 1);
  std::uint64_t sndmem = ca && ca->sndbuf_expand ? ca->sndbuf_expand(sk) : 2;
  sndmem *= static_cast<std::uint64_t>(nr_segs) * per_mss;
  const std::uint64_t cap = static_cast<std::uint64_t>(sk->stack->sysctl().tcp_wmem[2]);
  if (static_cast<std::uint64_t>(sk->sk_sndbuf) < sndmem)
    sk->sk_sndbuf = static_cast<int>(std::min(sndmem, cap));
}

void tcp_new_space(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  // tcp_should_expand_sndbuf: not when the user fixed SO_SNDBUF, not while
  // the stack's TCP memory is past tcp_mem's "low" (under pressure or not),
  // and only while the congestion window, not the buffer, is the limit.
  const bool expand = !(sk->sk_userlocks & SOCK_SNDBUF_LOCK) && !tcp_under_memory_pressure(sk) &&
                      sk_memory_allocated(sk) < sk_prot_mem_limits(sk, 0) &&
                      tcp_packets_in_flight(tp) < tcp_snd_cwnd(tp);
  if (expand && ((1u << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT))) {
    tcp_sndbuf_expand(sk);
    tp->snd_cwnd_stamp = tcp_jiffies32(sk);
  }
  sk_stream_write_space(sk);
}

void tcp_wfree(SkBuff* skb) {
  Sock* sk = static_cast<Sock*>(skb->sk);
  if (!sk) return;
  sk->sk_wmem_alloc -= static_cast<int>(skb->truesize);
  skb->sk = nullptr;
  if (sk->sk_refcnt <= 0) {
    sock_wfree_done(sk);
    return;
  }
  // TSQ: a throttled socket gets to send again from deferred work (the
  // kernel's tasklet), never from inside the device's free path.
  if (!(sk->sk_tsq_flags & TSQ_THROTTLED) || (sk->sk_tsq_flags & TSQ_QUEUED)) return;
  sk->sk_tsq_flags = (sk->sk_tsq_flags & ~TSQ_THROTTLED) | TSQ_QUEUED;
  sock_hold(sk);
  sk->stack->defer([sk] {
    sk->sk_tsq_flags &= ~TSQ_QUEUED;
    if (!sock_flag(sk, SOCK_DEAD) || sk->sk_state != TCP_CLOSE) tcp_tsq_write(sk);
    sock_put(sk);
  });
}

int tcp_fragment(Sock* sk, TcpQueue queue, SkBuff* skb, std::uint32_t len, unsigned mss_now) {
  TcpSock* tp = tcp_sk(sk);
  if (len > skb->len) return -EINVAL;
  if (queue != TCP_FRAG_IN_WRITE_QUEUE && (sk->sk_wmem_queued >> 1) > sk->sk_sndbuf + 0x20000 &&
      skb != tcp_rtx_queue_head(sk) && skb != tcp_rtx_queue_tail(sk)) {
    sk->stack->mib().inc(MibId::TcpExtTCPWqueueTooBig);
    return -ENOMEM;
  }
  if (skb_unclone(skb)) return -ENOMEM;
  const std::uint32_t headlen = skb_headlen(skb);
  SkbPtr buff = tcp_alloc_split_buff(sk, headlen > len ? headlen - len : 0);
  if (!buff) return -ENOMEM;
  sk->sk_wmem_queued += static_cast<int>(buff->truesize);
  sk_mem_charge(sk, static_cast<int>(buff->truesize));
  // The paged bytes that move carry their share of truesize with them.
  const std::uint32_t nlen = skb->len - len;
  const std::uint32_t paged_moved = std::min(nlen, skb->data_len);
  buff->truesize += paged_moved;
  skb->truesize -= paged_moved;

  TcpSkbCb* scb = TCP_SKB_CB(skb);
  TcpSkbCb* bcb = TCP_SKB_CB(buff.get());
  bcb->seq = scb->seq + len;
  bcb->end_seq = scb->end_seq;
  scb->end_seq = bcb->seq;
  const std::uint8_t flags = scb->tcp_flags;
  scb->tcp_flags = flags & ~(TCPHDR_FIN | TCPHDR_PSH);
  bcb->tcp_flags = flags;
  bcb->sacked = scb->sacked;
  bcb->eor = scb->eor;  // tcp_skb_fragment_eor
  scb->eor = 0;
  skb_split(skb, buff.get(), len);
  __skb_header_release(buff.get());
  buff->tstamp = skb->tstamp;
  tcp_fragment_tstamp(skb, buff.get());

  const int old_factor = tcp_skb_pcount(skb);
  tcp_set_skb_tso_segs(skb, mss_now);
  tcp_set_skb_tso_segs(buff.get(), mss_now);
  bcb->tx_delivered = scb->tx_delivered;
  bcb->tx_first_tx_mstamp = scb->tx_first_tx_mstamp;
  bcb->tx_delivered_mstamp = scb->tx_delivered_mstamp;
  bcb->tx_is_app_limited = scb->tx_is_app_limited;
  // Splitting a sent skb changes how many packets are counted out.
  if (!before(tp->snd_nxt, bcb->end_seq)) {
    const int diff = old_factor - tcp_skb_pcount(skb) - tcp_skb_pcount(buff.get());
    if (diff) tcp_adjust_pcount(tp, skb, diff);
  }
  if (queue == TCP_FRAG_IN_WRITE_QUEUE)
    sk->sk_write_queue.insert_after(skb, std::move(buff));
  else {
    // The tail was sent when the head was: it follows it in send order.
    SkBuff* b = buff.get();
    tp->tcp_rtx_queue.insert(std::move(buff));
    if (skb->list_hook.is_linked())
      tp->tsorted_sent_queue.insert(std::next(tp->tsorted_sent_queue.iterator_to(*skb)), *b);
  }
  return 0;
}

int tcp_trim_head(Sock* sk, SkBuff* skb, std::uint32_t len) {
  if (skb_unclone(skb)) return -ENOMEM;
  const std::uint32_t delta_truesize = pskb_trim_head(skb, len);
  TCP_SKB_CB(skb)->seq += len;
  skb->truesize -= delta_truesize;
  sk->sk_wmem_queued -= static_cast<int>(delta_truesize);
  sk_mem_uncharge(sk, static_cast<int>(delta_truesize));
  if (tcp_skb_pcount(skb) > 1) tcp_set_skb_tso_segs(skb, static_cast<unsigned>(tcp_skb_mss(skb)));
  return 0;
}

// ==================================================================================
// tcp_write_xmit and its callers
// ==================================================================================

bool tcp_write_xmit(Sock* sk, unsigned mss_now, int nonagle, int push_one) {
  TcpSock* tp = tcp_sk(sk);
  unsigned sent_pkts = 0;
  unsigned sent_skbs = 0;
  bool is_cwnd_limited = false, is_rwnd_limited = false;
  // Which test ended the loop (sendpath:tcp_write_xmit's `stop`).
  std::string_view stop = "empty";

  tcp_mstamp_refresh(tp);
  if (!push_one) {
    const int probed = tcp_mtu_probe(sk);
    if (probed == 0) {
      trace_tcp_write_xmit(sk, 0, 0, "mtu_probe");
      return false;
    }
    if (probed > 0) sent_pkts = 1;
  }
  const std::uint32_t max_segs = tcp_tso_segs(sk, mss_now);
  while (SkBuff* skb = tcp_send_head(sk)) {
    if (tcp_pacing_check(sk)) {
      stop = "pacing";
      break;
    }

    // Segments first: the FIN exception of tcp_cwnd_test needs the count.
    const int tso_segs = tcp_set_skb_tso_segs(skb, mss_now);
    std::uint32_t cwnd_quota = tcp_cwnd_test(tp, skb);
    if (!cwnd_quota) {
      if (push_one == 2) {
        cwnd_quota = 1;  // force out a loss probe
      } else {
        stop = "cwnd";
        break;
      }
    }
    cwnd_quota = std::min(cwnd_quota, max_segs);

    if (!tcp_snd_wnd_test(tp, skb, mss_now)) {
      is_rwnd_limited = true;
      stop = "rwnd";
      break;
    }
    if (tso_segs == 1) {
      if (!tcp_nagle_test(tp, skb, mss_now, tcp_skb_is_last(sk, skb) ? nonagle : TCP_NAGLE_PUSH)) {
        stop = "nagle";
        break;
      }
    } else {
      if (!push_one &&
          tcp_tso_should_defer(sk, skb, &is_cwnd_limited, &is_rwnd_limited, max_segs)) {
        stop = "tso_defer";
        break;
      }
    }

    unsigned limit = mss_now;
    if (tso_segs > 1) limit = tcp_mss_split_point(sk, skb, mss_now, cwnd_quota, nonagle);
    if (skb->len > limit && tso_fragment(sk, skb, limit, mss_now)) {
      stop = "error";
      break;
    }

    if (tcp_small_queue_check(sk, skb, 0)) {
      stop = "tsq";
      break;
    }

    // An empty skb means a writer is blocked in sendmsg between allocating
    // and filling it; never send it as a bare ACK.
    if (TCP_SKB_CB(skb)->end_seq == TCP_SKB_CB(skb)->seq) break;

    if (tcp_transmit_skb(sk, skb, 1)) {
      stop = "error";
      break;
    }

    tcp_event_new_data_sent(sk, skb);
    tcp_minshall_update(tp, mss_now, skb);
    sent_pkts += static_cast<unsigned>(tcp_skb_pcount(skb));
    ++sent_skbs;
    if (push_one) {
      stop = "push_one";
      break;
    }
  }
  trace_tcp_write_xmit(sk, sent_skbs, sent_pkts, stop);

  if (is_rwnd_limited)
    tcp_chrono_start(sk, TCP_CHRONO_RWND_LIMITED);
  else
    tcp_chrono_stop(sk, TCP_CHRONO_RWND_LIMITED);

  is_cwnd_limited |= tcp_packets_in_flight(tp) >= tcp_snd_cwnd(tp);
  if (sent_pkts || is_cwnd_limited) tcp_cwnd_validate(sk, is_cwnd_limited);
  if (sent_pkts) {
    if (tcp_in_cwnd_reduction(sk)) tp->prr_out += sent_pkts;
    // One loss probe per tail loss episode: the probe itself (push_one 2)
    // does not schedule another.
    if (push_one != 2) tcp_schedule_loss_probe(sk, false);
    return false;
  }
  return !tp->packets_out && !tcp_write_queue_empty(sk);
}

void __tcp_push_pending_frames(Sock* sk, unsigned cur_mss, int nonagle) {
  if (sk->sk_state == TCP_CLOSE) return;
  trace_tcp_push(sk, cur_mss, nonagle);
  // Nothing could be sent and nothing is in flight to bring an ACK: arm the
  // probe timer so that a zero window (or a cork) cannot stall forever.
  if (tcp_write_xmit(sk, cur_mss, nonagle, 0)) tcp_check_probe_timer(sk);
}

void tcp_push_pending_frames(Sock* sk) {
  if (tcp_send_head(sk)) __tcp_push_pending_frames(sk, tcp_current_mss(sk), tcp_sk(sk)->nonagle);
}

void tcp_push_one(Sock* sk, unsigned mss_now) {
  if (!tcp_send_head(sk)) return;
  trace_tcp_push(sk, mss_now, TCP_NAGLE_PUSH);
  tcp_write_xmit(sk, mss_now, TCP_NAGLE_PUSH, 1);
}

// ==================================================================================
// control segments
// ==================================================================================

void tcp_init_nondata_skb(SkBuff* skb, std::uint32_t seq, std::uint8_t flags) {
  skb->ip_summed = IpSummed::CHECKSUM_PARTIAL;
  TcpSkbCb* cb = TCP_SKB_CB(skb);
  cb->tcp_flags = flags;
  cb->gso.tcp_gso_segs = 1;
  cb->gso.tcp_gso_size = 0;
  cb->seq = seq;
  if (flags & (TCPHDR_SYN | TCPHDR_FIN)) seq++;
  cb->end_seq = seq;
}

void __tcp_send_ack(Sock* sk, std::uint32_t rcv_nxt) {
  if (sk->sk_state == TCP_CLOSE) return;
  SkbPtr buff = alloc_nondata_skb();
  if (!buff) {
    // No memory: retry from the delayed-ACK timer.
    inet_csk_schedule_ack(sk);
    inet_csk(sk)->icsk_ack.ato = TCP_ATO_MIN;
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_DACK, TCP_DELACK_MAX, TCP_RTO_MAX);
    return;
  }
  tcp_init_nondata_skb(buff.get(), tcp_acceptable_seq(sk), TCPHDR_ACK);
  tcp_mstamp_refresh(tcp_sk(sk));
  __tcp_transmit_skb(sk, buff.release(), 0, rcv_nxt);
}

void tcp_send_ack(Sock* sk) {
  __tcp_send_ack(sk, tcp_sk(sk)->rcv_nxt);
}

void tcp_send_delayed_ack(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  std::uint32_t ato = icsk->icsk_ack.ato;
  if (ato > TCP_DELACK_MIN) {
    std::uint32_t max_ato = HZ / 2;
    if (inet_csk_in_pingpong_mode(sk) || (icsk->icsk_ack.pending & ICSK_ACK_PUSHED))
      max_ato = TCP_DELACK_MAX;
    // Never delay longer than an RTT: the peer would think the ACK lost.
    if (tp->srtt_us) {
      std::uint32_t rtt = std::max<std::uint32_t>(
          static_cast<std::uint32_t>(usecs_to_jiffies(tp->srtt_us >> 3)), TCP_DELACK_MIN);
      if (rtt < max_ato) max_ato = rtt;
    }
    ato = std::min(ato, max_ato);
  }
  const std::uint32_t delack_max = icsk->icsk_delack_max ? icsk->icsk_delack_max : TCP_DELACK_MAX;
  ato = std::min(ato, delack_max);
  const std::uint64_t now = tcp_jiffies(sk);
  std::uint64_t timeout = now + ato;
  if (icsk->icsk_ack.pending & ICSK_ACK_TIMER) {
    // The pending timer is (nearly) due: ACK now rather than push it out.
    if (icsk->icsk_ack.timeout <= now + (ato >> 2)) {
      tcp_send_ack(sk);
      return;
    }
    if (timeout >= icsk->icsk_ack.timeout) timeout = icsk->icsk_ack.timeout;
  }
  icsk->icsk_ack.pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER;
  icsk->icsk_ack.timeout = timeout;
  sk->stack->mod_timer(icsk->icsk_delack_timer, timer_fire_at(sk->stack->now(), timeout));
}

void tcp_send_fin(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  SkBuff* tskb = tcp_write_queue_tail(sk);
  if (tskb) {
    // Piggyback the FIN on the last unsent data.
    TCP_SKB_CB(tskb)->tcp_flags |= TCPHDR_FIN;
    TCP_SKB_CB(tskb)->end_seq++;
    tp->write_seq++;
  } else {
    SkbPtr skb = alloc_nondata_skb();
    if (!skb) return;
    // The FIN must go whatever tcp_mem says (sk_forced_mem_schedule).
    sk_forced_mem_schedule(sk, static_cast<int>(skb->truesize));
    tcp_init_nondata_skb(skb.get(), tp->write_seq, TCPHDR_ACK | TCPHDR_FIN);
    tp->write_seq = TCP_SKB_CB(skb.get())->end_seq;
    __skb_header_release(skb.get());  // tcp_queue_skb
    sk->sk_wmem_queued += static_cast<int>(skb->truesize);
    sk_mem_charge(sk, static_cast<int>(skb->truesize));
    tcp_add_write_queue_tail(sk, std::move(skb));
  }
  __tcp_push_pending_frames(sk, tcp_current_mss(sk), TCP_NAGLE_OFF);
}

void tcp_send_active_reset(Sock* sk) {
  SkbPtr skb = alloc_nondata_skb();
  if (!skb) {
    sk->stack->mib().inc(MibId::TcpExtTCPAbortFailed);
    return;
  }
  tcp_init_nondata_skb(skb.get(), tcp_acceptable_seq(sk), TCPHDR_ACK | TCPHDR_RST);
  tcp_mstamp_refresh(tcp_sk(sk));
  if (tcp_transmit_skb(sk, skb.release(), 0)) sk->stack->mib().inc(MibId::TcpExtTCPAbortFailed);
  sk->stack->mib().inc(MibId::TcpOutRsts);
  // Linux passes no skb: the one that would name the cause does not exist.
  trace_tcp_send_reset(sk, nullptr);
}

// ==================================================================================
// connection setup
// ==================================================================================

namespace {

void tcp_connect_init(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  const Sysctl& sc = sk->stack->sysctl();
  tp->tcp_header_len = TCP_HEADER_LEN;
  if (sc.tcp_timestamps) tp->tcp_header_len += TCPOLEN_TSTAMP_ALIGNED;
  if (tp->rx_opt.user_mss) tp->rx_opt.mss_clamp = tp->rx_opt.user_mss;
  tp->max_window = 0;
  tcp_mtup_init(sk);
  const std::uint32_t mtu = sk->sk_dst_mtu ? sk->sk_dst_mtu : 1500;
  tcp_sync_mss(sk, mtu);
  // dst_metric_advmss: what the route's MTU allows, clamped by TCP_MAXSEG.
  std::uint32_t advmss = mtu - kNetHeaderLen - TCP_HEADER_LEN;
  if (tp->rx_opt.user_mss && tp->rx_opt.user_mss < advmss) advmss = tp->rx_opt.user_mss;
  tp->advmss = static_cast<std::uint16_t>(advmss);
  tcp_initialize_rcv_mss(sk);
  if ((sk->sk_userlocks & SOCK_RCVBUF_LOCK) &&
      (tp->window_clamp > static_cast<std::uint32_t>(tcp_full_space(sk)) || tp->window_clamp == 0))
    tp->window_clamp = static_cast<std::uint32_t>(tcp_full_space(sk));
  std::uint8_t rcv_wscale = 0;
  tcp_select_initial_window(
      sk, tcp_full_space(sk),
      tp->advmss - (tp->rx_opt.ts_recent_stamp ? tp->tcp_header_len - TCP_HEADER_LEN : 0u),
      &tp->rcv_wnd, &tp->window_clamp, sc.tcp_window_scaling, &rcv_wscale, 0);
  tp->rx_opt.rcv_wscale = rcv_wscale;
  tp->rcv_ssthresh = tp->rcv_wnd;
  sk->sk_err = 0;
  sock_reset_flag(sk, SOCK_DONE);
  tp->snd_wnd = 0;
  tcp_init_wl(tp, 0);
  tp->snd_una = tp->write_seq;
  tp->snd_sml = tp->write_seq;
  tp->snd_up = tp->write_seq;
  tp->snd_nxt = tp->write_seq;
  tp->rcv_nxt = 0;
  tp->rcv_wup = tp->rcv_nxt;
  tp->copied_seq = tp->rcv_nxt;
  inet_csk(sk)->icsk_rto = TCP_TIMEOUT_INIT;
  inet_csk(sk)->icsk_retransmits = 0;
  tp->retrans_out = 0;
  tp->lost_out = 0;
  tp->sacked_out = 0;
  tp->undo_marker = 0;
  tp->undo_retrans = -1;
}

}  // namespace

int tcp_connect(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  tcp_connect_init(sk);
  SkbPtr buff = tcp_stream_alloc_skb(sk, true);
  if (!buff) return -ENOBUFS;
  tcp_init_nondata_skb(buff.get(), tp->write_seq++, TCPHDR_SYN);
  tcp_mstamp_refresh(tp);
  tp->retrans_stamp = tcp_time_stamp_ts(tp);
  // tcp_connect_queue_skb: the SYN is charged and goes straight to the
  // retransmit queue.
  TCP_SKB_CB(buff.get())->end_seq += buff->len;
  __skb_header_release(buff.get());
  sk->sk_wmem_queued += static_cast<int>(buff->truesize);
  sk_mem_charge(sk, static_cast<int>(buff->truesize));
  tp->write_seq = TCP_SKB_CB(buff.get())->end_seq;
  tp->packets_out += static_cast<std::uint32_t>(tcp_skb_pcount(buff.get()));
  SkBuff* syn = buff.get();
  tp->tcp_rtx_queue.insert(std::move(buff));
  int err = tcp_transmit_skb(sk, syn, 1);
  if (err == -ECONNREFUSED) return err;
  tp->snd_nxt = tp->write_seq;
  tp->pushed_seq = tp->write_seq;
  sk->stack->mib().inc(MibId::TcpActiveOpens);
  inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, inet_csk(sk)->icsk_rto, TCP_RTO_MAX);
  return 0;
}

SkbPtr tcp_make_synack(const Sock* listener, RequestSock* req) {
  SkbPtr skb = alloc_nondata_skb();
  if (!skb) return nullptr;
  Stack& st = *listener->stack;
  skb->tstamp = st.now();
  TcpOptions opts;
  // Our MSS (route advmss clamped by TCP_MAXSEG, set by tcp_v4_conn_request),
  // not the peer's: each side announces what it can receive.
  opts.mss = req->advmss ? req->advmss
             : req->mss  ? req->mss
                         : static_cast<std::uint16_t>(TCP_MSS_DEFAULT);
  if (req->tstamp_ok) {
    opts.saw_tstamp = true;
    // A cookie's TSval carries the SYN's options in its low bits
    // (cookie_init_timestamp), for the ACK's TSecr to bring back.
    const std::uint32_t ts = req->syncookie ? cookie_init_timestamp(req, skb->tstamp)
                                            : static_cast<std::uint32_t>(skb->tstamp / kNsPerMs);
    opts.ts_val = ts + req->ts_off;
    opts.ts_ecr = req->ts_recent;
  }
  if (req->wscale_ok) {
    opts.wscale_ok = true;
    opts.wscale = req->rcv_wscale;
  }
  opts.sack_ok = req->sack_ok;
  const unsigned header_size = TCP_HEADER_LEN + tcp_options_size(opts);
  std::uint8_t* th = skb_push(skb.get(), header_size);
  skb_reset_transport_header(skb.get());
  TcpHeader h;
  h.source = req->ir_num;
  h.dest = ntohs(req->ir_rmt_port);
  h.seq = req->snt_isn;
  h.ack_seq = req->rcv_isn + 1;
  h.flags = TCPHDR_SYN | TCPHDR_ACK;
  h.window = static_cast<std::uint16_t>(std::min(req->rsk_rcv_wnd, 65535u));
  tcp_header_write(th, h, static_cast<std::uint8_t>(header_size / 4));
  tcp_options_write(th + TCP_HEADER_LEN, opts);
  const Wsum sum = csum_partial(th, header_size, 0);
  store_be16(th + kTcpCheckOffset,
             tcp_v4_check(header_size, ntohl(req->ir_loc_addr), ntohl(req->ir_rmt_addr), sum));
  skb->ip_summed = IpSummed::CHECKSUM_NONE;
  if (!req->snt_synack) req->snt_synack = static_cast<std::uint32_t>(skb->tstamp / 1000);
  st.mib().inc(MibId::TcpOutSegs);
  return skb;
}

// ==================================================================================
// retransmission and probes
// ==================================================================================

int __tcp_retransmit_skb(Sock* sk, SkBuff* skb, int segs) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  Stack& st = *sk->stack;
  if (icsk->icsk_mtup.probe_size) icsk->icsk_mtup.probe_size = 0;
  // The previous transmission of this skb is still in a device queue:
  // sending it again now would only duplicate it on the wire.
  if (skb_cloned(skb)) {
    st.mib().inc(MibId::TcpExtTCPSpuriousRtxHostQueues);
    return -EBUSY;
  }
  if (before(TCP_SKB_CB(skb)->seq, tp->snd_una)) {
    if (before(TCP_SKB_CB(skb)->end_seq, tp->snd_una)) return -EINVAL;
    if (tcp_trim_head(sk, skb, tp->snd_una - TCP_SKB_CB(skb)->seq)) return -ENOMEM;
  }
  // No route any more (its device is gone): nothing can leave. The timers
  // keep backing off until the route returns or the connection times out.
  if (inet_sk_rebuild_header(sk)) return -EHOSTUNREACH;
  const unsigned cur_mss = tcp_current_mss(sk);
  std::int32_t avail_wnd = static_cast<std::int32_t>(tcp_wnd_end(tp) - TCP_SKB_CB(skb)->seq);
  // The peer shrank its window below this skb: only the head may still be
  // sent (it probes the window).
  if (avail_wnd <= 0) {
    if (TCP_SKB_CB(skb)->seq != tp->snd_una) return -EAGAIN;
    avail_wnd = static_cast<std::int32_t>(cur_mss);
  }
  std::uint32_t len = cur_mss * static_cast<std::uint32_t>(segs);
  if (len > static_cast<std::uint32_t>(avail_wnd)) {
    len = (static_cast<std::uint32_t>(avail_wnd) / cur_mss) * cur_mss;
    if (!len) len = static_cast<std::uint32_t>(avail_wnd);
  }
  if (skb->len > len) {
    if (tcp_fragment(sk, TCP_FRAG_IN_RTX_QUEUE, skb, len, cur_mss)) return -ENOMEM;
  } else {
    int diff = tcp_skb_pcount(skb);
    tcp_set_skb_tso_segs(skb, cur_mss);
    diff -= tcp_skb_pcount(skb);
    if (diff) tcp_adjust_pcount(tp, skb, diff);
  }
  const int nsegs = tcp_skb_pcount(skb);
  st.mib().inc(MibId::TcpRetransSegs, static_cast<std::uint64_t>(nsegs));
  if (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_SYN) st.mib().inc(MibId::TcpExtTCPSynRetrans);
  tp->total_retrans += static_cast<std::uint32_t>(nsegs);
  tp->bytes_retrans += skb->len;
  tcp_mstamp_refresh(tp);
  int err = tcp_transmit_skb(sk, skb, 1);
  if (!err) {
    // RACK orders by transmit time: the resent skb is now the newest.
    tcp_tsorted_move_tail(tp, skb);
    trace_tcp_retransmit_skb(sk, skb);
  } else if (err != -EBUSY) {
    st.mib().inc(MibId::TcpExtTCPRetransFail, static_cast<std::uint64_t>(nsegs));
  }
  // Mark it even on failure: a timestamp from a transmit that never
  // happened must not become an RTT sample.
  TCP_SKB_CB(skb)->sacked |= TCPCB_EVER_RETRANS;
  return err;
}

int tcp_retransmit_skb(Sock* sk, SkBuff* skb, int segs) {
  TcpSock* tp = tcp_sk(sk);
  int err = __tcp_retransmit_skb(sk, skb, segs);
  if (err == 0) {
    TCP_SKB_CB(skb)->sacked |= TCPCB_RETRANS;
    tp->retrans_out += static_cast<std::uint32_t>(tcp_skb_pcount(skb));
  }
  if (!tp->retrans_stamp) tp->retrans_stamp = tcp_skb_timestamp_ts(skb) + tp->tsoffset;
  if (tp->undo_retrans < 0) tp->undo_retrans = 0;
  tp->undo_retrans += tcp_skb_pcount(skb);
  return err;
}

// Retransmit the skbs marked lost, lowest sequence first, as cwnd allows
// (RFC 6675 NextSeg() rule 1). retransmit_skb_hint remembers where the
// last walk stopped, so a long queue is not rewalked from its head on
// every ACK; tcp_mark_skb_lost moves the hint back for an earlier loss.
void tcp_xmit_retransmit_queue(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  if (!tp->packets_out) return;
  SkBuff* rtx_head = tcp_rtx_queue_head(sk);
  SkBuff* hole = nullptr;
  SkBuff* skb = tp->retransmit_skb_hint ? tp->retransmit_skb_hint : rtx_head;
  const std::uint32_t max_segs = tcp_tso_segs(sk, tcp_current_mss(sk));
  bool rearm_timer = false;
  for (; skb; skb = tp->tcp_rtx_queue.next(skb)) {
    if (tcp_pacing_check(sk)) break;
    // Resume here next time unless an unsent hole lies before.
    if (!hole) tp->retransmit_skb_hint = skb;
    std::int32_t segs = static_cast<std::int32_t>(tcp_snd_cwnd(tp)) -
                        static_cast<std::int32_t>(tcp_packets_in_flight(tp));
    if (segs <= 0) break;
    const std::uint8_t sacked = TCP_SKB_CB(skb)->sacked;
    // SACK shifting may have built skbs larger than one TSO packet.
    segs = std::min<std::int32_t>(segs, static_cast<std::int32_t>(max_segs));
    if (tp->retrans_out >= tp->lost_out) break;
    if (!(sacked & TCPCB_LOST)) {
      if (!hole && !(sacked & (TCPCB_SACKED_RETRANS | TCPCB_SACKED_ACKED))) hole = skb;
      continue;
    }
    const MibId mib = icsk->icsk_ca_state != TCP_CA_Loss ? MibId::TcpExtTCPFastRetrans
                                                         : MibId::TcpExtTCPSlowStartRetrans;
    if (sacked & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS)) continue;
    if (tcp_small_queue_check(sk, skb, 1)) break;
    // After an RTO the queue is resent in Loss; otherwise RACK or the SACK
    // scoreboard marked these skbs lost in Recovery.
    tp->rtx_cause = icsk->icsk_ca_state == TCP_CA_Loss ? "loss" : "recovery";
    if (tcp_retransmit_skb(sk, skb, segs)) break;
    sk->stack->mib().inc(mib, static_cast<std::uint64_t>(tcp_skb_pcount(skb)));
    if (tcp_in_cwnd_reduction(sk)) tp->prr_out += static_cast<std::uint32_t>(tcp_skb_pcount(skb));
    if (skb == rtx_head && icsk->icsk_pending != ICSK_TIME_REO_TIMEOUT) rearm_timer = true;
  }
  if (rearm_timer) tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS, icsk->icsk_rto, TCP_RTO_MAX);
}

namespace {
// tcp_xmit_probe_skb: an ACK with an old sequence number (snd_una - 1) that
// the peer must answer with its current window.
int tcp_xmit_probe_skb(Sock* sk, int urgent, MibId mib) {
  TcpSock* tp = tcp_sk(sk);
  SkbPtr skb = alloc_nondata_skb();
  if (!skb) return -1;
  tcp_init_nondata_skb(skb.get(), tp->snd_una - (urgent ? 0u : 1u), TCPHDR_ACK);
  sk->stack->mib().inc(mib);
  tcp_mstamp_refresh(tp);
  return tcp_transmit_skb(sk, skb.release(), 0);
}
}  // namespace

void tcp_send_window_probe(Sock* sk) {
  if (sk->sk_state == TCP_ESTABLISHED) {
    TcpSock* tp = tcp_sk(sk);
    tcp_init_wl(tp, tp->rcv_nxt - 1);
    tcp_mstamp_refresh(tp);
    tcp_xmit_probe_skb(sk, 0, MibId::TcpExtTCPWinProbe);
  }
}

int tcp_write_wakeup(Sock* sk, int mib) {
  TcpSock* tp = tcp_sk(sk);
  if (sk->sk_state == TCP_CLOSE) return -1;
  SkBuff* skb = tcp_send_head(sk);
  if (skb && before(TCP_SKB_CB(skb)->seq, tcp_wnd_end(tp))) {
    // Data fits in the window (or a cork/Nagle held it): send what fits,
    // with PSH, so a persist probe also ends a cork.
    const unsigned mss = tcp_current_mss(sk);
    std::uint32_t seg_size = tcp_wnd_end(tp) - TCP_SKB_CB(skb)->seq;
    if (before(tp->pushed_seq, TCP_SKB_CB(skb)->end_seq)) tp->pushed_seq = TCP_SKB_CB(skb)->end_seq;
    if (seg_size < TCP_SKB_CB(skb)->end_seq - TCP_SKB_CB(skb)->seq || skb->len > mss) {
      seg_size = std::min<std::uint32_t>(seg_size, mss);
      TCP_SKB_CB(skb)->tcp_flags |= TCPHDR_PSH;
      if (tcp_fragment(sk, TCP_FRAG_IN_WRITE_QUEUE, skb, seg_size, mss)) return -1;
    } else if (!tcp_skb_pcount(skb)) {
      tcp_set_skb_tso_segs(skb, mss);
    }
    TCP_SKB_CB(skb)->tcp_flags |= TCPHDR_PSH;
    tcp_mstamp_refresh(tp);
    int err = tcp_transmit_skb(sk, skb, 1);
    if (!err) tcp_event_new_data_sent(sk, skb);
    return err;
  }
  // mib: the counter this probe is for (a MibId; keepalive or window probe).
  return tcp_xmit_probe_skb(sk, 0, static_cast<MibId>(mib));
}

void tcp_send_probe0(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpSock* tp = tcp_sk(sk);
  const int err = tcp_write_wakeup(sk, static_cast<int>(MibId::TcpExtTCPWinProbe));
  if (tp->packets_out || tcp_write_queue_empty(sk)) {
    // Data is moving again (or there is none): probing is over.
    icsk->icsk_probes_out = 0;
    icsk->icsk_backoff = 0;
    icsk->icsk_probes_tstamp = 0;
    return;
  }
  icsk->icsk_probes_out++;
  std::uint64_t timeout;
  if (err <= 0) {
    if (icsk->icsk_backoff < sk->stack->sysctl().tcp_retries2) icsk->icsk_backoff++;
    timeout = tcp_probe0_when(sk, TCP_RTO_MAX);
  } else {
    // Local congestion (no memory, device busy): retry soon, no backoff.
    timeout = TCP_RESOURCE_PROBE_INTERVAL;
  }
  timeout = tcp_clamp_probe0_to_user_timeout(sk, timeout);
  tcp_reset_xmit_timer(sk, ICSK_TIME_PROBE0, timeout, TCP_RTO_MAX);
}

// With TCP_USER_TIMEOUT the probe timer must not sleep past the moment the
// connection is given up (tcp_clamp_probe0_to_user_timeout).
std::uint64_t tcp_clamp_probe0_to_user_timeout(const Sock* sk, std::uint64_t when) {
  const InetConnectionSock* icsk = inet_csk(sk);
  if (!icsk->icsk_user_timeout || !icsk->icsk_probes_tstamp) return when;
  std::int32_t elapsed = static_cast<std::int32_t>(tcp_jiffies32(sk) - icsk->icsk_probes_tstamp);
  if (elapsed < 0) elapsed = 0;
  const std::int32_t remaining = std::max<std::int32_t>(
      static_cast<std::int32_t>(msecs_to_jiffies(icsk->icsk_user_timeout)) - elapsed,
      static_cast<std::int32_t>(TCP_TIMEOUT_MIN));
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(remaining), when);
}

// ==================================================================================
// tail loss probe (RFC 8985 7, Linux's TLP)
// ==================================================================================

// Arm the loss probe instead of the RTO when the flight may end in a tail
// loss that no ACK would reveal: PTO = 2 * SRTT, plus the delayed-ACK
// allowance (rto_min) when a single segment is out (the peer may hold its
// ACK), else plus TCP_TIMEOUT_MIN; never later than the RTO would fire.
// Only SACK connections in Open or CWR probe: the probe's ACK must be able
// to tell which segment it acknowledges.
bool tcp_schedule_loss_probe(Sock* sk, bool advancing_rto) {
  InetConnectionSock* icsk = inet_csk(sk);
  const TcpSock* tp = tcp_sk(sk);
  const int early_retrans = sk->stack->sysctl().tcp_early_retrans;
  if ((early_retrans != 3 && early_retrans != 4) || !tp->packets_out || !tp->rx_opt.sack_ok ||
      (icsk->icsk_ca_state != TCP_CA_Open && icsk->icsk_ca_state != TCP_CA_CWR))
    return false;

  std::uint64_t timeout;
  if (tp->srtt_us) {
    std::uint64_t timeout_us = tp->srtt_us >> 2;
    if (tp->packets_out == 1)
      timeout_us += jiffies_to_usecs(tcp_rto_min(sk));
    else
      timeout_us += TCP_TIMEOUT_MIN_US;
    timeout = usecs_to_jiffies(timeout_us);
  } else {
    timeout = TCP_TIMEOUT_INIT;
  }
  // If the RTO would come first, probe at the RTO's time instead.
  const std::int64_t rto_delta_us =
      advancing_rto ? static_cast<std::int64_t>(jiffies_to_usecs(icsk->icsk_rto))
                    : tcp_rto_delta_us(sk);
  if (rto_delta_us > 0)
    timeout = std::min<std::uint64_t>(timeout,
                                      usecs_to_jiffies(static_cast<std::uint64_t>(rto_delta_us)));
  tcp_reset_xmit_timer(sk, ICSK_TIME_LOSS_PROBE, timeout, TCP_RTO_MAX);
  return true;
}

// The probe timer fired (tcp_send_loss_probe): send one segment that will
// draw an ACK -- new data if the peer's window takes it, otherwise the last
// segment sent, cut down to one MSS -- so a tail loss is repaired by fast
// recovery instead of an RTO. tlp_high_seq remembers the probe until its
// ACK tells whether anything was really lost (tcp_process_tlp_ack).
void tcp_send_loss_probe(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  const unsigned mss = tcp_current_mss(sk);
  bool sent = false;
  std::uint32_t probe_seq = 0;  // the probe's first byte (sendpath:tcp_recovery_event)

  // At most one probe outstanding.
  if (!tp->tlp_high_seq) {
    tp->tlp_retrans = false;
    SkBuff* skb = tcp_send_head(sk);
    if (skb && tcp_snd_wnd_test(tp, skb, mss)) {
      const std::uint32_t pcount = tp->packets_out;
      probe_seq = TCP_SKB_CB(skb)->seq;
      tcp_write_xmit(sk, mss, TCP_NAGLE_OFF, 2);
      sent = tp->packets_out > pcount;
    } else if ((skb = tcp_rtx_queue_tail(sk)) != nullptr) {
      const int pcount = tcp_skb_pcount(skb);
      // Probe with the last MSS only: split a multi-segment tail.
      if (pcount > 1 && skb->len > static_cast<std::uint32_t>(pcount - 1) * mss) {
        if (tcp_fragment(sk, TCP_FRAG_IN_RTX_QUEUE, skb,
                         static_cast<std::uint32_t>(pcount - 1) * mss, mss) == 0)
          skb = tp->tcp_rtx_queue.next(skb);
        else
          skb = nullptr;
      }
      tp->rtx_cause = "tlp";
      if (skb && tcp_skb_pcount(skb) && __tcp_retransmit_skb(sk, skb, 1) == 0) {
        tp->tlp_retrans = true;
        sent = true;
        probe_seq = TCP_SKB_CB(skb)->seq;
      }
    } else {
      // Nothing to probe with, so nothing can be in flight.
      inet_csk(sk)->icsk_pending = 0;
      return;
    }
  }
  if (sent) {
    tp->tlp_high_seq = tp->snd_nxt;
    sk->stack->mib().inc(MibId::TcpExtTCPLossProbes);
    trace_tcp_recovery_event(sk, "tlp", probe_seq);
    // The RTO now runs from the probe, not from the original schedule.
    inet_csk(sk)->icsk_pending = 0;
  }
  tcp_rearm_rto(sk);
}

}  // namespace sp
