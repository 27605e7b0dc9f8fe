// THE shared TCP declarations (include/net/tcp.h): the control block
// TCP_SKB_CB, sequence arithmetic, constants, small inline helpers and every
// tcp_* function that one half of the TCP code calls in the other.
//
// Ownership: functions marked `// owner: tcp-recv` are implemented in
// tcp_input.cpp, tcp_ipv4.cpp, tcp_minisocks.cpp, tcp_timer.cpp or cong/;
// everything else here in tcp.cpp, tcp_output.cpp or tcp_stack_state.cpp
// (tcp-send). Either half may add declarations; never reorder or rename.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "tcp/cong/tcp_cong.hpp"
#include "tcp/drop_reason.hpp"
#include "tcp/tcp_sock.hpp"

struct tcp_info;  // <linux/tcp.h>: TCP_INFO keeps Linux's layout

namespace sp {

// --- sequence space (RFC 793 modular comparisons) ----------------------------
constexpr bool before(std::uint32_t seq1, std::uint32_t seq2) {
  return static_cast<std::int32_t>(seq1 - seq2) < 0;
}
constexpr bool after(std::uint32_t seq2, std::uint32_t seq1) {
  return before(seq1, seq2);
}
// seq2 <= seq1 <= seq3
constexpr bool between(std::uint32_t seq1, std::uint32_t seq2, std::uint32_t seq3) {
  return seq3 - seq2 >= seq1 - seq2;
}

// --- TCP states (include/net/tcp_states.h) ------------------------------------
enum : std::uint8_t {
  TCP_ESTABLISHED = 1,
  TCP_SYN_SENT,
  TCP_SYN_RECV,
  TCP_FIN_WAIT1,
  TCP_FIN_WAIT2,
  TCP_TIME_WAIT,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_LAST_ACK,
  TCP_LISTEN,
  TCP_CLOSING,
  TCP_NEW_SYN_RECV,
  TCP_MAX_STATES
};
enum : std::uint32_t {
  TCPF_ESTABLISHED = 1u << TCP_ESTABLISHED,
  TCPF_SYN_SENT = 1u << TCP_SYN_SENT,
  TCPF_SYN_RECV = 1u << TCP_SYN_RECV,
  TCPF_FIN_WAIT1 = 1u << TCP_FIN_WAIT1,
  TCPF_FIN_WAIT2 = 1u << TCP_FIN_WAIT2,
  TCPF_TIME_WAIT = 1u << TCP_TIME_WAIT,
  TCPF_CLOSE = 1u << TCP_CLOSE,
  TCPF_CLOSE_WAIT = 1u << TCP_CLOSE_WAIT,
  TCPF_LAST_ACK = 1u << TCP_LAST_ACK,
  TCPF_LISTEN = 1u << TCP_LISTEN,
  TCPF_CLOSING = 1u << TCP_CLOSING,
  TCPF_NEW_SYN_RECV = 1u << TCP_NEW_SYN_RECV,
};
const char* tcp_state_name(int state);

// Header flags (TCPHDR_*), option kinds and lengths (TCPOPT_*, TCPOLEN_*),
// MAX_TCP_OPTION_SPACE, TCP_NUM_SACKS and TCP_MAX_WSCALE come from wire/tcp.hpp.

// --- constants (include/net/tcp.h; times in jiffies) ------------------------------
// A time Linux writes as a multiple or fraction of HZ (TCP_RTO_MIN is
// HZ / 5): read at each use, so it follows the stack's HZ (core/jiffies.hpp).
struct HzJiffies {
  std::uint32_t mul;
  std::uint32_t div;
  operator std::uint32_t() const { return HZ * mul / div; }  // NOLINT: reads as the macro
};
#undef TCP_MSS_DEFAULT                          // <linux/tcp.h> has it as a macro (same value)
constexpr std::uint32_t MAX_TCP_HEADER = 320;   // headroom reserved in every TCP skb
constexpr std::uint32_t TCP_MSS_DEFAULT = 536;  // RFC 1122: no MSS option
constexpr std::uint32_t TCP_MIN_MSS = 88;
constexpr std::uint32_t TCP_BASE_MSS = 1024;
constexpr std::uint32_t TCP_INIT_CWND = 10;
constexpr std::uint32_t TCP_INFINITE_SSTHRESH = 0x7fffffff;
constexpr std::uint32_t MAX_TCP_WINDOW = 32767;
constexpr std::uint32_t TCP_MAX_QUICKACKS = 16;
// Duplicate ACKs that trigger fast retransmit (RFC 5681 3.2); SACK
// compression sends this many per rcv_nxt before it holds any back.
constexpr std::uint8_t TCP_FASTRETRANS_THRESH = 3;
constexpr std::uint32_t TCP_MAX_REORDERING = 300;
constexpr HzJiffies TCP_RTO_MAX{120, 1};
constexpr HzJiffies TCP_RTO_MIN{1, 5};
constexpr std::uint32_t TCP_TIMEOUT_MIN = 2;  // jiffies, whatever HZ is
// tcp_transmit_skb's positive result: the packet was dropped locally (qdisc
// or device full), not sent (include/linux/netdevice.h).
constexpr int NET_XMIT_DROP = 1;
constexpr std::uint32_t TCP_TIMEOUT_MIN_US = 2000;  // the TLP's allowance beyond 2*SRTT
constexpr HzJiffies TCP_TIMEOUT_INIT{1, 1};         // RFC 6298 2.1
constexpr HzJiffies TCP_TIMEOUT_FALLBACK{3, 1};
constexpr HzJiffies TCP_DELACK_MAX{1, 5};
constexpr HzJiffies TCP_DELACK_MIN{1, 25};
constexpr HzJiffies TCP_ATO_MIN{1, 25};
constexpr HzJiffies TCP_RESOURCE_PROBE_INTERVAL{1, 2};
constexpr HzJiffies TCP_TIMEWAIT_LEN{60, 1};  // 2*MSL
constexpr HzJiffies TCP_FIN_TIMEOUT = TCP_TIMEWAIT_LEN;
// TCP_LINGER2 caps the FIN_WAIT2 time here (include/net/tcp.h).
constexpr HzJiffies TCP_FIN_TIMEOUT_MAX{120, 1};
constexpr std::uint32_t TCP_PAWS_24DAYS = 60 * 60 * 24 * 24;  // seconds
constexpr std::uint32_t TCP_PAWS_MSL = 60;                    // seconds
constexpr std::uint32_t TCP_PAWS_WINDOW = 1;
constexpr HzJiffies TCP_KEEPALIVE_TIME{120 * 60, 1};
constexpr std::uint32_t TCP_KEEPALIVE_PROBES = 9;
constexpr HzJiffies TCP_KEEPALIVE_INTVL{75, 1};
constexpr HzJiffies TCP_SYNQ_INTERVAL{1, 5};
constexpr HzJiffies TCP_CORK_TIMEOUT{1, 5};   // TCP_CORK holds at most 200 ms
constexpr std::uint32_t TCP_HEADER_LEN = 20;  // sizeof(struct tcphdr)
// rx_opt.sack_ok bits.
constexpr std::uint8_t TCP_SACK_SEEN = 1 << 0;
constexpr std::uint8_t TCP_DSACK_SEEN = 1 << 2;
// Flags for tcp_ack() (FLAG_*), shared so tests can name them.
enum : int {
  FLAG_DATA = 0x01,
  FLAG_WIN_UPDATE = 0x02,
  FLAG_DATA_ACKED = 0x04,
  FLAG_RETRANS_DATA_ACKED = 0x08,
  FLAG_SYN_ACKED = 0x10,
  FLAG_DATA_SACKED = 0x20,
  FLAG_ECE = 0x40,
  FLAG_LOST_RETRANS = 0x80,
  FLAG_SLOWPATH = 0x100,
  FLAG_ORIG_SACK_ACKED = 0x200,
  FLAG_SND_UNA_ADVANCED = 0x400,
  FLAG_DSACKING_ACK = 0x800,
  FLAG_SET_XMIT_TIMER = 0x1000,
  FLAG_SACK_RENEGING = 0x2000,
  FLAG_UPDATE_TS_RECENT = 0x4000,
  FLAG_NO_CHALLENGE_ACK = 0x8000,
  FLAG_ACK_MAYBE_DELAYED = 0x10000,
  FLAG_DSACK_TLP = 0x20000,
};

// TSQ flags (sk->sk_tsq_flags, enum tsq_enum).
enum : std::uint32_t {
  TSQ_THROTTLED = 1u << 0,  // tcp_write_xmit stopped on the TSQ limit
  TSQ_QUEUED = 1u << 1,     // tcp_tsq_handler is scheduled
  TCP_TSQ_DEFERRED = 1u << 2,
  TCP_WRITE_TIMER_DEFERRED = 1u << 3,
  TCP_DELACK_TIMER_DEFERRED = 1u << 4,
  TCP_MTU_REDUCED_DEFERRED = 1u << 5,
};

// --- TCP_SKB_CB (struct tcp_skb_cb), in skb->cb -----------------------------------
// SkbRbTree (skb/skb_queue.hpp) reads seq at cb offset 0 and end_seq at 4.
enum : std::uint8_t {
  TCPCB_SACKED_ACKED = 0x01,
  TCPCB_SACKED_RETRANS = 0x02,
  TCPCB_LOST = 0x04,
  TCPCB_TAGBITS = 0x07,
  TCPCB_REPAIRED = 0x10,
  TCPCB_EVER_RETRANS = 0x80,
  TCPCB_RETRANS = TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS,
};
struct TcpSkbCb {
  std::uint32_t seq;      // first sequence number
  std::uint32_t end_seq;  // seq + FIN + SYN + datalen
  union {
    std::uint32_t tcp_tw_isn;  // rx: ISN chosen by tcp_timewait_state_process
    struct {
      std::uint16_t tcp_gso_segs;  // tx: segments this skb becomes (tcp_skb_pcount)
      std::uint16_t tcp_gso_size;  // tx: their MSS (tcp_skb_mss); 0 when one segment
    } gso;
  };
  std::uint8_t tcp_flags;  // TCPHDR_*
  std::uint8_t sacked;     // TCPCB_* state in the retransmit queue
  std::uint8_t eor;        // MSG_EOR: nothing may be appended to this skb
  std::uint8_t txstamp_ack;
  std::uint32_t ack_seq;  // rx: the segment's ACK number
  // tx: delivery-rate state at send time (struct tcp_skb_cb.tx).
  std::uint32_t tx_delivered;
  std::uint64_t tx_first_tx_mstamp;
  std::uint64_t tx_delivered_mstamp;
  std::uint32_t tx_delivered_ce;
  std::uint8_t tx_is_app_limited;
  std::uint8_t ip_dsfield;
  std::uint16_t tx_unused;
};
static_assert(sizeof(TcpSkbCb) <= sizeof(SkBuff::cb), "TCP_SKB_CB must fit in skb->cb");
static_assert(offsetof(TcpSkbCb, seq) == 0, "SkbRbTree reads seq at cb offset 0");
static_assert(offsetof(TcpSkbCb, end_seq) == 4, "SkbRbTree reads end_seq at cb offset 4");

inline TcpSkbCb* TCP_SKB_CB(SkBuff* skb) {
  return reinterpret_cast<TcpSkbCb*>(skb->cb);
}
inline const TcpSkbCb* TCP_SKB_CB(const SkBuff* skb) {
  return reinterpret_cast<const TcpSkbCb*>(skb->cb);
}

// skb->tstamp holds the skb's (re)transmit time in ns (skb_mstamp_ns).
inline std::uint64_t tcp_skb_timestamp_us(const SkBuff* skb) {
  return skb->tstamp / 1000;
}
// Segments an skb will become on the wire. Kept in TCP_SKB_CB, not in the
// shared info that clones share; copied to skb_shinfo() at transmit.
inline int tcp_skb_pcount(const SkBuff* skb) {
  return TCP_SKB_CB(skb)->gso.tcp_gso_segs;
}
inline void tcp_skb_pcount_set(SkBuff* skb, int segs) {
  TCP_SKB_CB(skb)->gso.tcp_gso_segs = static_cast<std::uint16_t>(segs);
}
inline void tcp_skb_pcount_add(SkBuff* skb, int segs) {
  TCP_SKB_CB(skb)->gso.tcp_gso_segs = static_cast<std::uint16_t>(tcp_skb_pcount(skb) + segs);
}
inline int tcp_skb_mss(const SkBuff* skb) {
  return TCP_SKB_CB(skb)->gso.tcp_gso_size;
}

// --- time ------------------------------------------------------------------------
inline std::uint64_t tcp_clock_ns(const Sock* sk) {
  return sk->stack->now();
}
inline std::uint64_t tcp_clock_us(const Sock* sk) {
  return sk->stack->now() / 1000;
}
inline std::uint32_t tcp_jiffies32(const Sock* sk) {
  return static_cast<std::uint32_t>(jiffies_of(*sk->stack));
}
inline std::uint64_t tcp_jiffies(const Sock* sk) {
  return jiffies_of(*sk->stack);
}
// TSval clock (ms resolution, as Linux's tcp_time_stamp_ms), without tsoffset.
inline std::uint32_t tcp_time_stamp_ms(const Sock* sk) {
  return static_cast<std::uint32_t>(sk->stack->now() / kNsPerMs);
}
// tcp_time_stamp_ts: the TSval we put on the wire now.
inline std::uint32_t tcp_time_stamp_ts(const TcpSock* tp) {
  return tcp_time_stamp_ms(tp) + tp->tsoffset;
}
// tcp_mstamp_refresh: cache the clock for this round of processing.
void tcp_mstamp_refresh(TcpSock* tp);

// --- queues -----------------------------------------------------------------------
inline SkBuff* tcp_write_queue_head(const Sock* sk) {
  return const_cast<Sock*>(sk)->sk_write_queue.peek();
}
inline SkBuff* tcp_write_queue_tail(const Sock* sk) {
  return const_cast<Sock*>(sk)->sk_write_queue.peek_tail();
}
// The write queue holds only unsent skbs: its head is the send head.
inline SkBuff* tcp_send_head(const Sock* sk) {
  return tcp_write_queue_head(sk);
}
inline bool tcp_write_queue_empty(const Sock* sk) {
  return const_cast<Sock*>(sk)->sk_write_queue.empty();
}
inline bool tcp_rtx_queue_empty(const Sock* sk) {
  return tcp_sk(sk)->tcp_rtx_queue.empty();
}
inline bool tcp_rtx_and_write_queues_empty(const Sock* sk) {
  return tcp_rtx_queue_empty(sk) && tcp_write_queue_empty(sk);
}
inline SkBuff* tcp_rtx_queue_head(const Sock* sk) {
  return const_cast<TcpSock*>(tcp_sk(sk))->tcp_rtx_queue.first();
}
inline SkBuff* tcp_rtx_queue_tail(const Sock* sk) {
  return const_cast<TcpSock*>(tcp_sk(sk))->tcp_rtx_queue.last();
}
// Take skb out of the retransmit queue (and the transmit-ordered list);
// the caller frees it (tcp_rtx_queue_unlink).
inline SkbPtr tcp_rtx_queue_unlink(Sock* sk, SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  if (skb->list_hook.is_linked())
    tp->tsorted_sent_queue.erase(tp->tsorted_sent_queue.iterator_to(*skb));
  return tp->tcp_rtx_queue.erase(skb);
}
inline bool tcp_skb_is_last(const Sock* sk, const SkBuff* skb) {
  return tcp_write_queue_tail(sk) == skb;
}
// Can data be appended to skb (no EOR mark)?
inline bool tcp_skb_can_collapse_to(const SkBuff* skb) {
  return !TCP_SKB_CB(skb)->eor;
}
// May from's data join to's (tcp_skb_can_collapse)? Not past an EOR mark,
// and only between skbs of the same zerocopy kind.
inline bool tcp_skb_can_collapse(const SkBuff* to, const SkBuff* from) {
  return tcp_skb_can_collapse_to(to) && !skb_zcopy(to) == !skb_zcopy(from);
}

// --- in-flight and windows ---------------------------------------------------------
inline std::uint32_t tcp_left_out(const TcpSock* tp) {
  return tp->sacked_out + tp->lost_out;
}
// RFC 6675 "pipe": segments believed to be in the network.
inline std::uint32_t tcp_packets_in_flight(const TcpSock* tp) {
  return tp->packets_out - tcp_left_out(tp) + tp->retrans_out;
}
inline bool tcp_in_slow_start(const TcpSock* tp) {
  return tp->snd_cwnd < tp->snd_ssthresh;
}
inline std::uint32_t tcp_wnd_end(const TcpSock* tp) {
  return tp->snd_una + tp->snd_wnd;
}
inline void tcp_init_wl(TcpSock* tp, std::uint32_t seq) {
  tp->snd_wl1 = seq;
}
// What is left of the window we last advertised.
inline std::uint32_t tcp_receive_window(const TcpSock* tp) {
  std::int32_t win = static_cast<std::int32_t>(tp->rcv_wup + tp->rcv_wnd - tp->rcv_nxt);
  return win < 0 ? 0 : static_cast<std::uint32_t>(win);
}
// tcp_under_memory_pressure: the stack's TCP memory is past tcp_mem's
// "pressure" mark and not yet back under "low".
inline bool tcp_under_memory_pressure(const Sock* sk) {
  return sk_under_memory_pressure(sk);
}
// tcp_enter_memory_pressure / tcp_leave_memory_pressure: set and clear
// the stack's flag, counting TCPMemoryPressures on entry and the time spent
// (TCPMemoryPressuresChrono, ms) on exit.
void tcp_enter_memory_pressure(Sock* sk);
void tcp_leave_memory_pressure(Sock* sk);
// tcp_adjust_rcv_ssthresh: hold the window's slow start at four segments
// (sendpath has no SO_RESERVE_MEM, so no reserved memory keeps it higher).
inline void tcp_adjust_rcv_ssthresh(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  tp->rcv_ssthresh = std::min(tp->rcv_ssthresh, 4u * tp->advmss);
}
// tcp_rmem_pressure: memory pressure, or received data holds more than 7/8
// of sk_rcvbuf.
inline bool tcp_rmem_pressure(const Sock* sk) {
  if (tcp_under_memory_pressure(sk)) return true;
  return sk->sk_rmem_alloc > sk->sk_rcvbuf - (sk->sk_rcvbuf >> 3);
}
// tcp_epollin_ready: a reader waiting for `target` bytes should be woken:
// they are there, or it must read now because memory runs short or the
// window we advertised is down to one segment.
inline bool tcp_epollin_ready(const Sock* sk, int target) {
  const TcpSock* tp = tcp_sk(sk);
  const auto avail = static_cast<std::int32_t>(tp->rcv_nxt - tp->copied_seq);
  if (avail <= 0) return false;
  return avail >= target || tcp_rmem_pressure(sk) ||
         tcp_receive_window(tp) <= inet_csk(sk)->icsk_ack.rcv_mss;
}
inline std::uint32_t tcp_notsent_lowat(const TcpSock* tp) {
  return tp->notsent_lowat ? tp->notsent_lowat : tp->stack->sysctl().tcp_notsent_lowat;
}
// tcp_stream_memory_free: unsent bytes below TCP_NOTSENT_LOWAT (wake = 1
// halves the threshold so that a writer is woken with room to spare).
bool tcp_stream_memory_free(const Sock* sk, int wake);
inline void tcp_mark_push(TcpSock* tp, SkBuff* skb) {
  TCP_SKB_CB(skb)->tcp_flags |= TCPHDR_PSH;
  tp->pushed_seq = tp->write_seq;
}
inline std::uint32_t tcp_rto_min(const Sock* sk) {
  std::uint32_t m = inet_csk(sk)->icsk_rto_min;
  return m ? m : TCP_RTO_MIN;
}
inline std::uint32_t keepalive_time_when(const TcpSock* tp) {
  return tp->keepalive_time
             ? tp->keepalive_time
             : static_cast<std::uint32_t>(tp->stack->sysctl().tcp_keepalive_time) * HZ;
}
inline std::uint32_t keepalive_intvl_when(const TcpSock* tp) {
  return tp->keepalive_intvl
             ? tp->keepalive_intvl
             : static_cast<std::uint32_t>(tp->stack->sysctl().tcp_keepalive_intvl) * HZ;
}
inline int keepalive_probes(const TcpSock* tp) {
  return tp->keepalive_probes ? tp->keepalive_probes : tp->stack->sysctl().tcp_keepalive_probes;
}
inline int tcp_fin_time(const Sock* sk) {
  int fin_timeout = tcp_sk(sk)->linger2
                        ? tcp_sk(sk)->linger2
                        : sk->stack->sysctl().tcp_fin_timeout * static_cast<int>(HZ);
  int rto = static_cast<int>(inet_csk(sk)->icsk_rto);
  if (fin_timeout < (rto << 2) - (rto >> 1)) fin_timeout = (rto << 2) - (rto >> 1);
  return fin_timeout;
}
// scaling_ratio is the window a byte of receive buffer buys, in 1/2^8.
constexpr int TCP_RMEM_TO_WIN_SCALE = 8;
// Receive space from a buffer size (tcp_win_from_space with scaling_ratio).
int tcp_win_from_space(const Sock* sk, int space);
inline int tcp_space(const Sock* sk) {
  return tcp_win_from_space(sk, sk->sk_rcvbuf - sk->sk_rmem_alloc);
}
inline int tcp_full_space(const Sock* sk) {
  return tcp_win_from_space(sk, sk->sk_rcvbuf);
}

// --- timers (include/net/inet_connection_sock.h) -------------------------------------
// Arm icsk_retransmit_timer for ICSK_TIME_* `what` (or the delack timer for
// ICSK_TIME_DACK) `when` jiffies from now, capped at max_when.
void inet_csk_reset_xmit_timer(Sock* sk, int what, std::uint64_t when, std::uint64_t max_when);
void inet_csk_clear_xmit_timer(Sock* sk, int what);
void inet_csk_reset_keepalive_timer(Sock* sk, std::uint64_t len);
void inet_csk_delete_keepalive_timer(Sock* sk);
// Backoff for the zero-window probe timer.
std::uint64_t inet_csk_rto_backoff(const InetConnectionSock* icsk, std::uint64_t max_when);
inline std::uint64_t tcp_probe0_base(const Sock* sk) {
  std::uint64_t rto = inet_csk(sk)->icsk_rto;
  return rto > TCP_RTO_MIN ? rto : TCP_RTO_MIN;
}
inline std::uint64_t tcp_probe0_when(const Sock* sk, std::uint64_t max_when) {
  std::uint64_t w = tcp_probe0_base(sk) << inet_csk(sk)->icsk_backoff;
  return w < max_when ? w : max_when;
}
// How far in the future (us, may be <= 0) the RTO of the head of the
// retransmit queue falls (tcp_rto_delta_us).
inline std::int64_t tcp_rto_delta_us(const Sock* sk) {
  const SkBuff* skb = tcp_rtx_queue_head(sk);
  if (!skb) return static_cast<std::int64_t>(jiffies_to_usecs(inet_csk(sk)->icsk_rto));
  const std::uint64_t rto_time_stamp_us =
      tcp_skb_timestamp_us(skb) + jiffies_to_usecs(inet_csk(sk)->icsk_rto);
  return static_cast<std::int64_t>(rto_time_stamp_us - tcp_sk(sk)->tcp_mstamp);
}
// Arm the zero-window probe timer when nothing is in flight and data waits.
void tcp_check_probe_timer(Sock* sk);
// tcp_reset_xmit_timer: like inet_csk_reset_xmit_timer plus pacing delay.
void tcp_reset_xmit_timer(Sock* sk, int what, std::uint64_t when, std::uint64_t max_when);

// ==================================================================================
// tcp.cpp (tcp-send): socket calls, sendmsg, recvmsg, options, close
// ==================================================================================
extern Proto tcp_prot;
extern const ProtoOps inet_stream_ops;
int tcp_init_sock(Sock* sk);
void tcp_set_state(Sock* sk, int state);
// tcp_done: the connection is over (RST, timeout, last ACK): CLOSE, wake
// the user, destroy an orphan.
void tcp_done(Sock* sk);
int tcp_sendmsg(Sock* sk, const msghdr* msg, std::size_t size);
int tcp_sendmsg_locked(Sock* sk, const msghdr* msg, std::size_t size);
int tcp_recvmsg(Sock* sk, msghdr* msg, std::size_t len, int flags, int* addr_len);
// The data half of tcp_recvmsg (no error queue, no TCP_CM_INQ).
int tcp_recvmsg_locked(Sock* sk, msghdr* msg, std::size_t len, int flags, int* addr_len);
unsigned tcp_send_mss(Sock* sk, int* size_goal, int flags);
unsigned tcp_xmit_size_goal(Sock* sk, std::uint32_t mss_now, int large_allowed);
void tcp_push(Sock* sk, int flags, int mss_now, int nonagle, int size_goal);
SkbPtr tcp_stream_alloc_skb(Sock* sk, bool force_schedule);
// tcp_wmem_schedule: how many of `copy` bytes may be charged now (0: wait
// for memory); under tcp_wmem[0] queued, some are forced through.
int tcp_wmem_schedule(Sock* sk, int copy);
// The same with `linear` bytes of room in the head (no page frags).
SkbPtr tcp_stream_alloc_skb_linear(Sock* sk, std::uint32_t linear, bool force_schedule);
void tcp_skb_entail(Sock* sk, SkbPtr skb);
void tcp_cleanup_rbuf(Sock* sk, int copied);  // ACK if the window opened enough
void tcp_shutdown(Sock* sk, int how);
void tcp_close(Sock* sk, std::int64_t timeout);
int tcp_disconnect(Sock* sk, int flags);
int tcp_setsockopt(Sock* sk, int level, int optname, const void* optval, socklen_t optlen);
int tcp_getsockopt(Sock* sk, int level, int optname, void* optval, socklen_t* optlen);
void tcp_get_info(Sock* sk, ::tcp_info* info);
// TCP_INFO as Linux 6.12 fills it: the system struct plus the 6.x fields
// (sendpath/api.hpp).
struct tcp_info_612;
void tcp_get_info_612(Sock* sk, tcp_info_612* info);
int tcp_ioctl(Sock* sk, int cmd, int* karg);
unsigned tcp_poll(Socket* sock);
Sock* inet_csk_accept(Sock* sk, int flags, int* err);
int inet_listen(Socket* sock, int backlog);
// A child reached ESTABLISHED (or SYN_RECV for fast open): queue it for
// accept() on the listener. Takes the caller's reference on child.
void inet_csk_reqsk_queue_add(Sock* listener, Sock* child);
// The accept queue holds more than the listen() backlog (sk_acceptq_is_full).
bool sk_acceptq_is_full(const Sock* listener);
// The SYN queue holds more request socks than the listen() backlog
// (inet_csk_reqsk_queue_is_full): from here on a SYN gets a cookie
// (tcp_syncookies = 1) or is dropped (0).
bool inet_csk_reqsk_queue_is_full(const Sock* listener);
void inet_csk_destroy_sock(Sock* sk);
// Free the queues and timers of a sock going away (tcp_v4_destroy_sock).
void tcp_v4_destroy_sock(Sock* sk);
// sk_setup_caps: remember the route's device features, GSO limits and path
// MTU on the socket (after routing in connect / for an accepted child).
void sk_setup_caps(Sock* sk, const RouteResult& rt);
// inet_sk_rebuild_header: look the route up again when the cached one is
// stale (a route change, or its device gone). 0 when there is a route;
// otherwise -ENETUNREACH, remembered in sk_err_soft so that a connection
// that then times out reports why.
int inet_sk_rebuild_header(Sock* sk);
// A new full socket cloned from a listener (inet_csk_clone_lock + tcp_create_openreq_child's
// generic part): copies options, buffers and congestion choice.
TcpSock* inet_csk_clone_lock(const Sock* listener, const RequestSock* req);

// ==================================================================================
// tcp_output.cpp (tcp-send): the output engine
// ==================================================================================
bool tcp_write_xmit(Sock* sk, unsigned mss_now, int nonagle, int push_one);
void __tcp_push_pending_frames(Sock* sk, unsigned cur_mss, int nonagle);
void tcp_push_pending_frames(Sock* sk);
void tcp_push_one(Sock* sk, unsigned mss_now);
// Send skb (cloned if clone_it, so the original stays for retransmission)
// with the current ACK/window. 0 or a negative errno.
int tcp_transmit_skb(Sock* sk, SkBuff* skb, int clone_it);
int __tcp_transmit_skb(Sock* sk, SkBuff* skb, int clone_it, std::uint32_t rcv_nxt);
void tcp_event_new_data_sent(Sock* sk, SkBuff* skb);
std::uint16_t tcp_select_window(Sock* sk);
// The window we could offer now, unscaled, before tcp_select_window's
// never-shrink rule (__tcp_select_window).
std::uint32_t __tcp_select_window(Sock* sk);
void tcp_select_initial_window(const Sock* sk, int space, std::uint32_t mss, std::uint32_t* rcv_wnd,
                               std::uint32_t* window_clamp, int wscale_ok, std::uint8_t* rcv_wscale,
                               std::uint32_t init_rcv_wnd);
int tcp_connect(Sock* sk);  // build and send the SYN (after tcp_v4_connect chose the tuple)
// Build the SYN-ACK for req, IP-ready (data at the TCP header, checksum done).
SkbPtr tcp_make_synack(const Sock* listener, RequestSock* req);
// The SYN-ACK's MSS option carries req->advmss (our MSS, filled by
// tcp_v4_conn_request), not req->mss (the peer's), as Linux's tcp_make_synack.
void tcp_send_ack(Sock* sk);
void __tcp_send_ack(Sock* sk, std::uint32_t rcv_nxt);
void tcp_send_delayed_ack(Sock* sk);
void tcp_send_fin(Sock* sk);
void tcp_send_active_reset(Sock* sk);
int tcp_retransmit_skb(Sock* sk, SkBuff* skb, int segs);
int __tcp_retransmit_skb(Sock* sk, SkBuff* skb, int segs);
void tcp_xmit_retransmit_queue(Sock* sk);
void tcp_send_probe0(Sock* sk);
// The probe timeout `when`, cut to what is left of TCP_USER_TIMEOUT since
// probing started (tcp_clamp_probe0_to_user_timeout).
std::uint64_t tcp_clamp_probe0_to_user_timeout(const Sock* sk, std::uint64_t when);
// Tail loss probe (RFC 8985 7): arm ICSK_TIME_LOSS_PROBE in the retransmit
// timer's slot (false when a probe is not allowed), and send the probe.
bool tcp_schedule_loss_probe(Sock* sk, bool advancing_rto);
void tcp_send_loss_probe(Sock* sk);
int tcp_write_wakeup(Sock* sk, int mib);
void tcp_send_window_probe(Sock* sk);
int tcp_mtu_to_mss(Sock* sk, int pmtu);
int tcp_mss_to_mtu(Sock* sk, int mss);
void tcp_mtup_init(Sock* sk);
// The MTU probe was acknowledged: its size works, raise search_low and the
// MSS, scale cwnd to the larger packets (tcp_mtup_probe_success).
void tcp_mtup_probe_success(Sock* sk);
// The MTU probe was lost: the path MTU is below it (tcp_mtup_probe_failed).
// tcp-recv: call from the loss path with Linux's conditions (snd_una at the
// probe's start, ca_state below CWR), restore the cwnd the probe took and
// retransmit as tcp_simple_retransmit.
void tcp_mtup_probe_failed(Sock* sk);
// dst_metric_advmss: the route's advmss metric, else its MTU less the IPv4
// and TCP headers (ipv4_default_advmss, never below 256).
std::uint32_t dst_metric_advmss(const RouteResult& rt);
// tcp_init_cwnd: the route's initcwnd metric, else RFC 6928's ten segments.
std::uint32_t tcp_init_cwnd(const TcpSock* tp, const RouteResult& rt);
unsigned tcp_sync_mss(Sock* sk, std::uint32_t pmtu);
unsigned tcp_current_mss(Sock* sk);
int tcp_init_tso_segs(SkBuff* skb, unsigned mss_now);
// Split skb at len (the tail part becomes a new skb after it in the same queue).
enum TcpQueue { TCP_FRAG_IN_WRITE_QUEUE, TCP_FRAG_IN_RTX_QUEUE };
int tcp_fragment(Sock* sk, TcpQueue queue, SkBuff* skb, std::uint32_t len, unsigned mss_now);
// Remove len bytes from the head of a partly ACKed skb (tcp_clean_rtx_queue).
int tcp_trim_head(Sock* sk, SkBuff* skb, std::uint32_t len);
// Transmit timestamps (SO_TIMESTAMPING) that follow the stamped byte:
// tcp_fragment_tstamp moves them to skb2 when the split puts the byte
// there; tcp_ack_tstamp reports SCM_TSTAMP_ACK once the byte is acked
// (tcp_clean_rtx_queue, for each skb it looks at).
void tcp_fragment_tstamp(SkBuff* skb, SkBuff* skb2);
void tcp_ack_tstamp(Sock* sk, SkBuff* skb, std::uint32_t prior_snd_una);
// SOF_TIMESTAMPING_OPT_STATS: the connection's state when orig_skb is
// stamped, as the netlink attributes (TCP_NLA_*) that recvmsg returns in an
// SCM_TIMESTAMPING_OPT_STATS control message.
SkbPtr tcp_get_timestamping_opt_stats(Sock* sk, const SkBuff* orig_skb);
void tcp_wfree(SkBuff* skb);  // skb destructor: TSQ accounting
// Send what TSQ or pacing held back (tcp_tsq_handler / tcp_pace_kick).
void tcp_tsq_handler(Sock* sk);
// Send-buffer autotuning: grow sk_sndbuf to two congestion windows of skbs
// (up to tcp_wmem[2]) unless SO_SNDBUF fixed it. tcp-recv: call from
// tcp_init_buffer_space as Linux does. tcp_new_space is TCP's sk_write_space
// (set by tcp_init_sock): expand if the window allows, then wake a writer.
void tcp_sndbuf_expand(Sock* sk);
void tcp_new_space(Sock* sk);
void tcp_chrono_start(Sock* sk, TcpChrono type);
void tcp_chrono_stop(Sock* sk, TcpChrono type);
// tcp_add_write_queue_tail: queue an unsent skb; the first one starts the
// busy chronograph (tcpi_busy_time).
void tcp_add_write_queue_tail(Sock* sk, SkbPtr skb);
void tcp_cwnd_restart(Sock* sk, std::int32_t delta);
// RFC 2861: before sending again after an idle period longer than the RTO
// (nothing in flight), shrink cwnd back toward the initial window. Run when
// data is queued and when a window update reopens a non-empty write queue.
void tcp_slow_start_after_idle_check(Sock* sk);
void tcp_init_nondata_skb(SkBuff* skb, std::uint32_t seq, std::uint8_t flags);

// ==================================================================================
// tcp_stack_state.cpp (tcp-send): see tcp_stack_state.hpp for the tables
// ==================================================================================

// ==================================================================================
// tcp-recv's half
// ==================================================================================
// tcp_ipv4.cpp
void tcp_v4_rcv(Stack& st, SkbPtr skb);  // owner: tcp-recv
void tcp_v4_err(Stack& st, const SkBuff* quoted, int type, int code,
                std::uint32_t info);      // owner: tcp-recv
int tcp_v4_do_rcv(Sock* sk, SkbPtr skb);  // owner: tcp-recv
// Choose route, source address and port, ISN; hash; then tcp_connect().
int tcp_v4_connect(Sock* sk, const sockaddr* uaddr, int addr_len);  // owner: tcp-recv
void tcp_v4_mtu_reduced(Sock* sk);                                  // owner: tcp-recv
// tcp_input.cpp
void tcp_rcv_established(Sock* sk, SkbPtr skb);   // owner: tcp-recv
int tcp_rcv_state_process(Sock* sk, SkbPtr skb);  // owner: tcp-recv
// Process the ACK fields of an inbound segment (skb->data at the TCP header).
int tcp_ack(Sock* sk, const SkBuff* skb, int flag);  // owner: tcp-recv
void tcp_rearm_rto(Sock* sk);                        // owner: tcp-recv
void tcp_set_xmit_timer(Sock* sk);                   // owner: timers (TLP, else RTO)
void tcp_init_buffer_space(Sock* sk);                // owner: tcp-recv
void tcp_rcv_space_adjust(Sock* sk);                 // owner: tcp-recv (called by tcp_recvmsg)
void tcp_update_pacing_rate(Sock* sk);               // owner: tcp-recv
void tcp_enter_quickack_mode(Sock* sk, unsigned max_quickacks);  // owner: tcp-recv
// Send the ACK SACK compression is holding back, if any, now.
void tcp_sack_compress_send_ack(Sock* sk);
void tcp_init_transfer(Sock* sk, SkBuff* skb);   // owner: tcp-recv
void tcp_finish_connect(Sock* sk, SkBuff* skb);  // owner: tcp-recv
void tcp_reset(Sock* sk, SkBuff* skb);           // owner: tcp-recv
void tcp_fin(Sock* sk);                          // owner: tcp-recv
// tcp_timer.cpp
void tcp_init_xmit_timers(Sock* sk);        // owner: tcp-recv (sets timer functions)
void tcp_clear_xmit_timers(Sock* sk);       // owner: tcp-recv
void tcp_set_keepalive(Sock* sk, int val);  // owner: tcp-recv
void tcp_write_timer_handler(Sock* sk);     // owner: tcp-recv
void tcp_delack_timer_handler(Sock* sk);    // owner: tcp-recv
// tcp_minisocks.cpp
void tcp_time_wait(Sock* sk, int state, int timeo);  // owner: tcp-recv
// cong/: tcp_assign_congestion_control, tcp_init_congestion_control,
// tcp_set_congestion_control, ... are declared in cong/tcp_cong.hpp.
void tcp_ca_event(Sock* sk, TcpCaEvent event);  // owner: tcp-recv
// Wake a writer blocked on memory once ACKs shrank the queues.
void tcp_check_space(Sock* sk);  // owner: tcp-recv
// --- more of tcp-recv's half (added by tcp-recv) ---
// Count and free an inbound skb dropped for `reason` (kfree_skb_reason).
void tcp_drop_reason(Stack& st, SkbPtr skb, SkbDropReason reason);  // owner: tcp-recv
void tcp_set_ca_state(Sock* sk, std::uint8_t ca_state);             // owner: tcp-recv
// RTO fired: mark everything outstanding lost, cwnd to 1 (Loss state).
void tcp_enter_loss(Sock* sk);        // owner: tcp-recv
void tcp_retransmit_timer(Sock* sk);  // owner: tcp-recv
void tcp_probe_timer(Sock* sk);       // owner: tcp-recv
void tcp_keepalive_timer(Sock* sk);   // owner: tcp-recv
// Free everything on the write and retransmit queues (tcp_write_queue_purge).
void tcp_write_queue_purge(Sock* sk);  // owner: tcp-recv
// sk_err = the soft error or ETIMEDOUT, report it, close (tcp_write_err).
void tcp_write_err(Sock* sk);  // owner: tcp-recv
// RFC 6528 ISN and the per-connection timestamp offset (secure_tcp_seq,
// secure_tcp_ts_off); addresses network order, ports network order.
std::uint32_t secure_tcp_seq(const Stack& st, be32 saddr, be32 daddr, std::uint16_t sport,
                             std::uint16_t dport);                         // owner: tcp-recv
std::uint32_t secure_tcp_ts_off(const Stack& st, be32 saddr, be32 daddr);  // owner: tcp-recv
// Sequence/ACK state of a child created from a request sock
// (tcp_create_openreq_child's TCP part), called after inet_csk_clone_lock.
void tcp_create_openreq_child(Sock* child, const RequestSock* req,
                              const SkBuff* skb);  // owner: tcp-recv
// Receive-side skb memory: charge skb to sk's receive memory and set a
// destructor that uncharges it when the skb is freed (skb_set_owner_r).
void skb_set_owner_r(SkBuff* skb, Sock* sk);  // owner: tcp-recv
// Is the sender using its window (so growing it makes sense)? In slow start
// also while cwnd is below twice the largest flight (tcp_is_cwnd_limited).
inline bool tcp_is_cwnd_limited(const Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  if (tp->is_cwnd_limited) return true;
  if (tcp_in_slow_start(tp)) return tp->snd_cwnd < 2 * tp->max_packets_out;
  return false;
}
// tcp_parse_options: the options of the segment at skb's transport header;
// MSS/WS/SACK-permitted only on a SYN when !estab.
void tcp_parse_options(const Sysctl& sc, const SkBuff* skb, TcpOptionsReceived* opt_rx,
                       bool estab);  // owner: tcp-recv
// RFC 7323 PAWS tests against rx->ts_recent (tcp_paws_check / tcp_paws_reject).
bool tcp_paws_check(const Stack& st, const TcpOptionsReceived* rx,
                    int paws_win);                                              // owner: tcp-recv
bool tcp_paws_reject(const Stack& st, const TcpOptionsReceived* rx, bool rst);  // owner: tcp-recv
// RFC 5961 rate limits (tcp_input.c). __tcp_oow_rate_limited: true (and mib
// counted) when a reply to an out-of-window or invalid segment went out less
// than tcp_invalid_ratelimit ago by *last_oow_ack_time, else stamps it now.
// tcp_oow_rate_limited: the same, except that data without SYN is never
// limited (it is no part of an ACK loop). tcp_challenge_ack_allowed takes
// one from the stack's per-second tcp_challenge_ack_limit budget.
bool __tcp_oow_rate_limited(Stack& st, MibId mib, std::uint32_t* last_oow_ack_time);
bool tcp_oow_rate_limited(Stack& st, const SkBuff* skb, MibId mib,
                          std::uint32_t* last_oow_ack_time);
bool tcp_challenge_ack_allowed(Stack& st);
// The time-wait and request socks' acceptability test (tcp_minisocks.c).
bool tcp_in_window(std::uint32_t seq, std::uint32_t end_seq, std::uint32_t s_win,
                   std::uint32_t e_win);
// First RTT sample of a passive open: the SYN-ACK's round trip.
void tcp_synack_rtt_meas(Sock* sk, long rtt_us);  // owner: tcp-recv

// ==================================================================================
// tcp_ipv4.cpp: the child of a completed handshake (shared with syncookies.cpp)
// ==================================================================================
// tcp_v4_syn_recv_sock: the full socket for req, in SYN_RECV, hashed and
// counted as a passive open; it holds its creation reference. nullptr, with
// *reason set, when the accept queue is full (ListenOverflows, ListenDrops)
// or the socket cannot be made.
TcpSock* tcp_v4_syn_recv_sock(Sock* listener, const RequestSock* req, const SkBuff* skb,
                              SkbDropReason* reason);
// tcp_child_process: queue child for accept() (passing on its creation
// reference) and let it process the segment that completed the handshake.
void tcp_child_process(Sock* listener, Sock* child, SkbPtr skb);
// tcp_listendrop: a SYN or handshake the listener could not take.
void tcp_listendrop(Stack& st);

// ==================================================================================
// syncookies.cpp: SYN cookies (net/ipv4/syncookies.c)
// ==================================================================================
// A cookie stays valid for MAX_SYNCOOKIE_AGE ticks of the minute counter.
inline constexpr std::uint32_t MAX_SYNCOOKIE_AGE = 2;
// The MSS values a cookie can encode (its 2-bit index), Linux's msstab.
inline constexpr std::uint16_t kSyncookieMssTab[] = {536, 1300, 1440, 1460};
// The low bits of a cookie SYN-ACK's TSval carry the SYN's options.
inline constexpr std::uint32_t TS_OPT_WSCALE_MASK = 0xf;  // 0xf: no window scaling
inline constexpr std::uint32_t TS_OPT_SACK = 1u << 4;
inline constexpr std::uint32_t TS_OPT_ECN = 1u << 5;
inline constexpr unsigned TSBITS = 6;
// TCP_SYNCOOKIE_PERIOD (one minute) and TCP_SYNCOOKIE_VALID, in jiffies.
inline std::uint64_t tcp_syncookie_period() {
  return 60ull * HZ;
}
inline std::uint64_t tcp_syncookie_valid() {
  return MAX_SYNCOOKIE_AGE * tcp_syncookie_period();
}
// tcp_cookie_time: the minute counter cookies are stamped with.
std::uint32_t tcp_cookie_time(const Stack& st);
// __cookie_v4_init_sequence: the cookie ISN for a SYN from saddr:sport to
// daddr:dport (network order) with sequence number seq; *mssp, the peer's
// MSS, is rounded down to the table value the cookie carries.
std::uint32_t cookie_v4_init_sequence(const Stack& st, be32 saddr, be32 daddr, std::uint16_t sport,
                                      std::uint16_t dport, std::uint32_t seq, std::uint16_t* mssp);
// __cookie_v4_check: the MSS a returning ACK (seq, ack_seq as on the wire)
// proves, or 0 when its ack_seq - 1 is no cookie of ours for this tuple in
// the last MAX_SYNCOOKIE_AGE minutes.
int cookie_v4_check_mss(const Stack& st, be32 saddr, be32 daddr, std::uint16_t sport,
                        std::uint16_t dport, std::uint32_t seq, std::uint32_t ack_seq);
// cookie_init_timestamp: the cookie SYN-ACK's TSval (ms, before ts_off) at
// time now: never later than the clock, its low TSBITS bits req's options.
std::uint32_t cookie_init_timestamp(const RequestSock* req, Nanos now);
// cookie_timestamp_decode: recover SACK and window scale from the echoed
// TSecr (ts_off already removed). false when the ACK claims an option the
// host has since turned off.
bool cookie_timestamp_decode(const Sysctl& sc, TcpOptionsReceived* opt);
// tcp_synq_overflow / tcp_synq_no_recent_overflow.
void tcp_synq_overflow(Sock* listener);
bool tcp_synq_no_recent_overflow(const Sock* listener);
// cookie_v4_check, for a segment with ACK and without SYN or RST reaching a
// listener with no request sock: the child when the ACK carries a valid
// cookie; listener when it is not to be taken as a cookie (the listener then
// answers it as any stray ACK); nullptr when skb was dropped (accept queue
// full, a disabled option, no memory).
Sock* cookie_v4_check(Sock* listener, SkbPtr& skb);
// Delayed-ACK state helpers (inet_connection_sock.h / tcp.h).
inline void inet_csk_schedule_ack(Sock* sk) {
  inet_csk(sk)->icsk_ack.pending |= ICSK_ACK_SCHED;
}
inline bool inet_csk_ack_scheduled(const Sock* sk) {
  return inet_csk(sk)->icsk_ack.pending & ICSK_ACK_SCHED;
}
inline bool inet_csk_in_pingpong_mode(const Sock* sk) {
  return inet_csk(sk)->icsk_ack.pingpong >= 1;
}
inline bool tcp_in_quickack_mode(const Sock* sk) {
  const InetConnectionSock* icsk = inet_csk(sk);
  return icsk->icsk_ack.quick && !inet_csk_in_pingpong_mode(sk);
}
// An ACK left (tcp_dec_quickack_mode; call from tcp_event_ack_sent before
// the pending bits are cleared). Only an ACK that acknowledged received data
// (one was scheduled) uses up a quick ACK: a data segment that merely carries
// the ACK flag must not end the quick-ACK phase early. Leaving the mode
// deflates the delayed-ACK timeout, as 6.12 does.
inline void tcp_dec_quickack_mode(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  if (!icsk->icsk_ack.quick) return;
  const unsigned pkts = inet_csk_ack_scheduled(sk) ? 1 : 0;
  if (pkts >= icsk->icsk_ack.quick) {
    icsk->icsk_ack.quick = 0;
    icsk->icsk_ack.ato = TCP_ATO_MIN;
  } else {
    icsk->icsk_ack.quick = static_cast<std::uint8_t>(icsk->icsk_ack.quick - pkts);
  }
}
// The received-RTT-free seconds clock used for ts_recent_stamp (never 0, so 0
// keeps meaning "no ts_recent").
inline std::int64_t tcp_ts_seconds(const Stack& st) {
  return static_cast<std::int64_t>(st.now() / kNsPerSec) + 1;
}

}  // namespace sp
