// THE shared TCP socket structure: struct inet_sock, inet_connection_sock and
// tcp_sock (include/net/inet_sock.h, inet_connection_sock.h,
// include/linux/tcp.h), plus request_sock and tcp_timewait_sock. Field names
// and meanings are Linux's; where sendpath's unit differs the comment says so.
//
// Shared by the send half (tcp.cpp, tcp_output.cpp) and the receive half
// (tcp_input.cpp, tcp_ipv4.cpp, tcp_minisocks.cpp, tcp_timer.cpp, cong/).
// Adding fields is fine; never reorder or rename.
//
// Units: sequence numbers u32; "jiffies" are ticks of the stack clock
// (1/HZ s, see core/jiffies.hpp); *_us fields microseconds; *_mstamp and
// tcp_mstamp microseconds of the stack clock (tcp_clock_us); *_ns nanoseconds.
#pragma once
#include <cstdint>
#include <deque>

#include "core/timer.hpp"
#include "skb/skb_queue.hpp"
#include "sock/sock.hpp"
#include "wire/tcp.hpp"

namespace sp {

struct TcpCongestionOps;  // cong/tcp_cong.hpp (tcp-recv)
struct TcpSock;

// The transmit-ordered list of sent skbs (tp->tsorted_sent_queue).
using SkbTsortedList =
    bi::list<SkBuff, bi::member_hook<SkBuff, decltype(SkBuff::list_hook), &SkBuff::list_hook>,
             bi::constant_time_size<false>>;

// struct inet_sock: addresses and ports, network byte order as in Linux.
struct InetSock : Sock {
  using Sock::Sock;
  be32 inet_saddr = 0;           // source address used on the wire
  be32 inet_rcv_saddr = 0;       // bound local address (sk_rcv_saddr)
  be32 inet_daddr = 0;           // peer address (sk_daddr)
  std::uint16_t inet_sport = 0;  // local port, network order
  std::uint16_t inet_dport = 0;  // peer port, network order (sk_dport)
  std::uint16_t inet_num = 0;    // local port, host order (0 = unbound)
  std::uint16_t inet_id = 0;     // IPv4 ID counter for this socket
  int uc_ttl = -1;               // IP_TTL; -1 = sysctl ip_default_ttl
  std::uint8_t tos = 0;
  std::uint8_t mc_ttl = 1;   // IP_MULTICAST_TTL: IP_DEFAULT_MULTICAST_TTL
  std::uint8_t rcv_tos = 0;  // TOS of the handshake's last ACK (IP_PKTOPTIONS)
  // SOL_IP flags (inet_sk(sk)->inet_flags). On a TCP socket Linux only
  // reads PKTINFO, TTL and TOS, for IP_PKTOPTIONS; the others are kept and
  // reported, their datagram control messages never arise.
  bool ip_pktinfo = false;
  bool ip_recvttl = false;
  bool ip_recvtos = false;
  bool ip_recvopts = false;
  bool ip_retopts = false;
  bool ip_passsec = false;
  bool ip_origdstaddr = false;
  bool ip_checksum = false;
  bool ip_recverr_rfc4884 = false;
  bool ip_mc_loop = true;  // IP_MULTICAST_LOOP and IP_MULTICAST_ALL default on
  bool ip_mc_all = true;
  std::uint8_t pmtudisc = 1;  // IP_PMTUDISC_WANT: DF on TCP
  bool defer_connect = false;
};

// struct request_sock + inet_request_sock + tcp_request_sock: a connection
// in SYN_RECV on a listener (the SYN queue), before the child exists.
struct RequestSock {
  explicit RequestSock(Sock* listener) : rsk_listener(listener) {}
  RequestSock(const RequestSock&) = delete;
  RequestSock& operator=(const RequestSock&) = delete;

  Sock* rsk_listener;  // the listening socket (holds no reference)
  be32 ir_loc_addr = 0;
  be32 ir_rmt_addr = 0;
  std::uint16_t ir_num = 0;       // local port, host order
  std::uint16_t ir_rmt_port = 0;  // peer port, network order
  int ir_iif = 0;
  std::uint16_t mss = 0;  // peer's MSS option (or TCP_MSS_DEFAULT)
  std::uint16_t advmss =
      0;  // the MSS we advertise: route MTU - 40, clamped by TCP_MAXSEG (added by tcp-recv)
  std::uint8_t num_retrans = 0;  // SYN-ACKs retransmitted
  std::uint8_t num_timeout = 0;
  std::uint8_t snd_wscale = 0;  // peer's window scale
  std::uint8_t rcv_wscale = 0;  // ours
  bool tstamp_ok = false;
  bool sack_ok = false;
  bool wscale_ok = false;
  bool ecn_ok = false;
  bool acked = false;
  bool syncookie = false;  // answered with a cookie: never queued, freed after the SYN-ACK
  std::uint32_t ts_recent = 0;
  std::uint32_t rsk_rcv_wnd = 0;
  std::uint32_t rsk_window_clamp = 0;
  // tcp_request_sock
  std::uint32_t rcv_isn = 0;     // peer's ISN
  std::uint32_t snt_isn = 0;     // our ISN
  std::uint32_t ts_off = 0;      // TSval offset for this connection
  std::uint32_t snt_synack = 0;  // first SYN-ACK send time, us (for the RTT)
  std::uint32_t timeout = 0;     // current SYN-ACK RTO, jiffies
  Timer rsk_timer;               // SYN-ACK retransmit
  // Jiffies of the last reply to an invalid segment (tcp_oow_rate_limited).
  std::uint32_t last_oow_ack_time = 0;
};

// struct request_sock_queue: SYN queue accounting and the accept queue.
struct RequestSockQueue {
  std::uint32_t qlen = 0;      // request socks in SYN_RECV (SYN queue)
  std::uint32_t young = 0;     // of those, not yet retransmitted
  std::deque<Sock*> accept_q;  // established children, each holding a reference
  // The jiffy of the last SYN queue overflow, refreshed at most once a
  // second (Linux keeps it in the listener's rx_opt.ts_recent_stamp): an ACK
  // is taken for a cookie only within TCP_SYNCOOKIE_VALID of it.
  std::uint32_t synq_overflow_ts = 0;
  bool synq_overflowed = false;  // since listen(): before, no ACK is a cookie
};

// ICSK_TIME_* (icsk_pending).
enum : std::uint8_t {
  ICSK_TIME_RETRANS = 1,
  ICSK_TIME_DACK = 2,
  ICSK_TIME_PROBE0 = 3,
  ICSK_TIME_LOSS_PROBE = 5,
  ICSK_TIME_REO_TIMEOUT = 6
};
// icsk_ack.pending bits (enum inet_csk_ack_state_t).
enum : std::uint8_t {
  ICSK_ACK_SCHED = 1,
  ICSK_ACK_TIMER = 2,
  ICSK_ACK_PUSHED = 4,
  ICSK_ACK_PUSHED2 = 8,
  ICSK_ACK_NOW = 16,
  ICSK_ACK_NOMEM = 32
};
// icsk_ca_state (enum tcp_ca_state).
enum : std::uint8_t {
  TCP_CA_Open = 0,
  TCP_CA_Disorder = 1,
  TCP_CA_CWR = 2,
  TCP_CA_Recovery = 3,
  TCP_CA_Loss = 4
};

// struct inet_connection_sock.
struct InetConnectionSock : InetSock {
  using InetSock::InetSock;
  RequestSockQueue icsk_accept_queue;
  bool icsk_bind_hash = false;     // on the bind table (inet_csk_get_port done)
  std::uint64_t icsk_timeout = 0;  // absolute jiffies of the pending xmit timer
  Timer icsk_retransmit_timer;     // RTO, probe0, loss probe, reo timeout
  Timer icsk_delack_timer;
  std::uint32_t icsk_rto = 0;          // jiffies
  std::uint32_t icsk_rto_min = 0;      // jiffies (TCP_RTO_MIN)
  std::uint32_t icsk_delack_max = 0;   // jiffies (TCP_DELACK_MAX)
  std::uint32_t icsk_pmtu_cookie = 0;  // path MTU the MSS was computed for
  const TcpCongestionOps* icsk_ca_ops = nullptr;
  std::uint8_t icsk_ca_state = TCP_CA_Open;
  bool icsk_ca_initialized = false;
  bool icsk_ca_setsockopt = false;
  bool icsk_ca_dst_locked = false;
  std::uint8_t icsk_retransmits = 0;
  std::uint8_t icsk_pending = 0;  // ICSK_TIME_* armed on icsk_retransmit_timer
  std::uint8_t icsk_backoff = 0;
  std::uint8_t icsk_syn_retries = 0;  // TCP_SYNCNT; 0 = sysctl
  std::uint8_t icsk_probes_out = 0;
  std::uint16_t icsk_ext_hdr_len = 0;  // IP options length
  struct {
    std::uint8_t pending = 0;   // ICSK_ACK_*
    std::uint8_t quick = 0;     // quick ACKs left
    std::uint8_t pingpong = 0;  // interactive session score
    std::uint8_t retry = 0;
    std::uint32_t ato = 0;       // jiffies: predicted delayed-ACK timeout
    std::uint64_t timeout = 0;   // absolute jiffies of the delayed ACK
    std::uint32_t lrcvtime = 0;  // jiffies of the last data received
    std::uint16_t last_seg_size = 0;
    std::uint16_t rcv_mss = 0;  // MSS estimate of the peer, for ACK decisions
  } icsk_ack;
  struct {
    int search_high = 0;
    int search_low = 0;
    std::uint32_t probe_size = 0;
    bool enabled = false;
    std::uint32_t probe_timestamp = 0;
  } icsk_mtup;
  std::uint32_t icsk_probes_tstamp = 0;                                     // jiffies
  std::uint32_t icsk_user_timeout = 0;                                      // ms, TCP_USER_TIMEOUT
  alignas(8) std::uint64_t icsk_ca_priv[104 / sizeof(std::uint64_t)] = {};  // ICSK_CA_PRIV_SIZE
};

// struct tcp_sack_block is TcpSackBlock in wire/tcp.hpp.

// struct tcp_options_received.
struct TcpOptionsReceived {
  std::int64_t ts_recent_stamp = 0;  // seconds of the stack clock when ts_recent was stored
  std::uint32_t ts_recent = 0;       // TSval to echo next
  std::uint32_t rcv_tsval = 0;
  std::uint32_t rcv_tsecr = 0;
  bool saw_tstamp = false;  // timestamp option on the last segment
  bool tstamp_ok = false;   // negotiated on the SYN
  bool dsack = false;       // a D-SACK is scheduled
  bool wscale_ok = false;
  std::uint8_t sack_ok = 0;     // TCP_SACK_SEEN etc.
  std::uint8_t snd_wscale = 0;  // peer's shift for windows it sends us
  std::uint8_t rcv_wscale = 0;  // our shift for windows we send
  bool saw_unknown = false;
  std::uint8_t num_sacks = 0;   // SACK blocks we will send
  std::uint16_t user_mss = 0;   // TCP_MAXSEG
  std::uint16_t mss_clamp = 0;  // maximal MSS negotiated at setup
};

// TCP_NAGLE_* (tp->nonagle bits).
enum : std::uint8_t { TCP_NAGLE_OFF = 1, TCP_NAGLE_CORK = 2, TCP_NAGLE_PUSH = 4 };

// tcp_chrono.
enum TcpChrono : std::uint8_t {
  TCP_CHRONO_UNSPEC,
  TCP_CHRONO_BUSY,  // sending data, limited by cwnd/app
  TCP_CHRONO_RWND_LIMITED,
  TCP_CHRONO_SNDBUF_LIMITED,
  __TCP_CHRONO_MAX
};

// struct tcp_sock.
struct TcpSock : InetConnectionSock {
  explicit TcpSock(Stack& st, Proto* prot);
  ~TcpSock() override;

  // --- send sequence space (RFC 793 SND.*) ---------------------------------
  std::uint32_t snd_una = 0;         // first byte we want an ACK for
  std::uint32_t snd_nxt = 0;         // next sequence we send
  std::uint32_t write_seq = 0;       // tail(+1) of data held in the send buffer
  std::uint32_t pushed_seq = 0;      // last pushed seq (forced_push)
  std::uint32_t snd_sml = 0;         // end of the last small segment sent (Nagle/Minshall)
  std::uint32_t snd_up = 0;          // urgent pointer
  std::uint32_t snd_wl1 = 0;         // seq of the segment that last updated the window
  std::uint32_t snd_wnd = 0;         // peer's advertised window (scaled)
  std::uint32_t max_window = 0;      // largest window the peer ever offered
  std::uint32_t mss_cache = 0;       // current effective MSS, no SACK blocks
  std::uint16_t advmss = 0;          // MSS we advertise
  std::uint16_t tcp_header_len = 0;  // header + fixed options we send (20 or 32)
  std::uint16_t gso_segs = 0;        // max segments per GSO skb (tcp_xmit_size_goal cache)
  std::uint32_t xmit_size_goal_segs = 0;
  std::uint32_t notsent_lowat = 0;  // TCP_NOTSENT_LOWAT; 0 = sysctl
  std::uint8_t nonagle = 0;         // TCP_NAGLE_* bits
  bool thin_lto = false;
  bool recvmsg_inq = false;  // TCP_INQ: recvmsg reports the bytes left (TCP_CM_INQ)
  bool repair = false;
  bool is_cwnd_limited = false;
  bool rate_app_limited = false;
  bool tcp_usec_ts = false;
  std::uint8_t chrono_type = TCP_CHRONO_UNSPEC;
  std::uint32_t chrono_start = 0;     // jiffies
  std::uint32_t chrono_stat[3] = {};  // jiffies per TCP_CHRONO_* - 1
  std::uint32_t lsndtime = 0;         // jiffies: last data sent
  std::uint64_t tcp_wstamp_ns = 0;    // earliest departure time of the next packet (pacing)
  std::uint64_t tcp_clock_cache = 0;  // ns, tcp_mstamp_refresh
  std::uint64_t tcp_mstamp = 0;       // us: most recent packet sent/received
  std::uint32_t tsoffset = 0;         // TSval offset
  std::uint32_t tcp_tx_delay = 0;

  // --- congestion state ------------------------------------------------------
  std::uint32_t snd_cwnd = 0;  // packets; tcp_snd_cwnd()
  std::uint32_t snd_ssthresh = 0;
  std::uint32_t snd_cwnd_cnt = 0;
  std::uint32_t snd_cwnd_clamp = 0;
  std::uint32_t snd_cwnd_used = 0;
  std::uint32_t snd_cwnd_stamp = 0;  // jiffies
  std::uint32_t prior_cwnd = 0;
  std::uint32_t prior_ssthresh = 0;
  std::uint32_t high_seq = 0;
  std::uint32_t prr_delivered = 0;
  std::uint32_t prr_out = 0;
  std::uint32_t max_packets_out = 0;
  std::uint32_t cwnd_usage_seq = 0;

  // --- in-flight accounting (packets) ----------------------------------------
  std::uint32_t packets_out = 0;  // sent and not yet cumulatively ACKed
  std::uint32_t retrans_out = 0;
  std::uint32_t sacked_out = 0;
  std::uint32_t lost_out = 0;
  std::uint32_t reordering = 0;
  std::uint32_t reord_seen = 0;
  std::uint32_t lost = 0;
  std::uint32_t undo_marker = 0;
  int undo_retrans = 0;
  std::uint32_t retrans_stamp = 0;  // jiffies/ms: first retransmission time
  std::uint32_t rto_stamp = 0;
  std::uint16_t total_rto = 0;
  std::uint16_t total_rto_recoveries = 0;
  std::uint32_t total_rto_time = 0;
  std::uint32_t total_retrans = 0;
  std::uint64_t bytes_retrans = 0;
  std::uint32_t tlp_high_seq = 0;
  std::uint32_t dsack_dups = 0;
  std::uint8_t dup_ack_counter = 0;
  bool tlp_retrans = false;
  // sendpath: why the next __tcp_retransmit_skb resends (tcp:tcp_retransmit_skb's
  // cause): "recovery", "loss", "rto", "tlp", "syn"; set by each caller.
  // Linux's tracepoint has no such field.
  const char* rtx_cause = "";
  bool frto = false;
  bool is_sack_reneg = false;
  SkBuff* lost_skb_hint = nullptr;
  SkBuff* retransmit_skb_hint = nullptr;
  SkBuff* highest_sack = nullptr;
  int lost_cnt_hint = 0;
  TcpSackBlock duplicate_sack[1];
  TcpSackBlock selective_acks[4];
  TcpSackBlock recv_sack_cache[4];

  // --- RTT (RFC 6298) ---------------------------------------------------------
  std::uint32_t srtt_us = 0;  // smoothed RTT << 3, us
  std::uint32_t mdev_us = 0;  // medium deviation, us << 2
  std::uint32_t mdev_max_us = 0;
  std::uint32_t rttvar_us = 0;
  std::uint32_t rtt_seq = 0;
  // sendpath: the latest RTT sample tcp_rtt_estimator took (us), for
  // tcp:tcp_probe's rtt_us; Linux keeps only the smoothed values.
  std::uint32_t rtt_last_us = 0;
  struct {                  // windowed min filter of RTT samples (struct minmax)
    std::uint32_t t = 0;    // jiffies of the sample
    std::uint32_t v = ~0u;  // us
  } rtt_min;

  // --- delivery and rate ------------------------------------------------------
  std::uint32_t delivered = 0;
  std::uint32_t delivered_ce = 0;
  std::uint32_t app_limited = 0;
  std::uint64_t first_tx_mstamp = 0;
  std::uint64_t delivered_mstamp = 0;
  std::uint32_t rate_delivered = 0;
  std::uint32_t rate_interval_us = 0;
  std::uint64_t bytes_acked = 0;
  std::uint64_t bytes_sent = 0;
  std::uint32_t segs_out = 0;
  std::uint32_t data_segs_out = 0;

  // --- receive sequence space (RFC 793 RCV.*) ---------------------------------
  std::uint32_t rcv_nxt = 0;     // next sequence we expect
  std::uint32_t copied_seq = 0;  // head of data not yet read by the user
  std::uint32_t rcv_wup = 0;     // rcv_nxt at the last window update sent
  std::uint32_t rcv_wnd = 0;     // current receive window we advertise
  std::uint32_t window_clamp = 0;
  std::uint32_t rcv_ssthresh = 0;
  std::uint32_t rcv_tstamp = 0;  // jiffies: last ACK received (keepalive)
  std::uint32_t urg_data = 0;
  std::uint32_t urg_seq = 0;
  std::uint8_t scaling_ratio = 0;
  std::uint64_t bytes_received = 0;
  std::uint32_t segs_in = 0;
  std::uint32_t data_segs_in = 0;
  std::uint32_t rcv_ooopack = 0;
  std::uint32_t pred_flags = 0;  // header prediction (network order)
  std::uint32_t last_oow_ack_time = 0;
  std::uint32_t compressed_ack_rcv_nxt = 0;
  std::uint8_t compressed_ack = 0;
  SkbRbTree out_of_order_queue;  // ofo segments, keyed by seq
  SkBuff* ooo_last_skb = nullptr;
  TcpOptionsReceived rx_opt;
  struct {
    std::uint32_t rtt_us = 0;
    std::uint32_t seq = 0;
    std::uint64_t time = 0;
  } rcv_rtt_est;
  struct {
    int space = 0;
    std::uint32_t seq = 0;
    std::uint64_t time = 0;
  } rcvq_space;
  std::uint32_t rcv_rtt_last_tsecr = 0;
  struct {  // the outstanding MTU probe (tcp_mtu_probe), while icsk_mtup.probe_size
    std::uint32_t probe_seq_start = 0;
    std::uint32_t probe_seq_end = 0;
  } mtu_probe;

  // --- retransmit queue -----------------------------------------------------
  // tcp_rtx_queue (sk->tcp_rtx_queue): sent, not yet fully ACKed skbs keyed
  // by seq. The write queue (sk_write_queue) holds only unsent skbs.
  SkbRbTree tcp_rtx_queue;
  // tsorted_sent_queue: the skbs of tcp_rtx_queue in transmit order (a
  // retransmission moves its skb to the tail), linked through list_hook,
  // which an skb leaves free once it left sk_write_queue. RACK walks it
  // from the oldest transmission; an skb leaves it when SACKed or marked
  // lost. Declared after tcp_rtx_queue so it is unlinked before the purge.
  SkbTsortedList tsorted_sent_queue;
  // RACK state (RFC 8985 6.1; struct tcp_rack).
  struct {
    std::uint64_t mstamp = 0;          // us: (re)transmit time of the newest delivered skb
    std::uint32_t rtt_us = 0;          // RTT of that skb
    std::uint32_t end_seq = 0;         // its end_seq, to break ties of mstamp
    std::uint32_t last_delivered = 0;  // tp->delivered when reo_wnd was last grown
    std::uint8_t reo_wnd_steps = 1;    // reo_wnd in units of min_rtt/4
    std::uint8_t reo_wnd_persist = 0;  // recoveries left before reo_wnd resets (<= 31)
    bool dsack_seen = false;           // a DSACK arrived in this round
    bool advanced = false;             // mstamp moved since the last loss check
  } rack;

  // --- timers and keepalive --------------------------------------------------
  Timer pacing_timer;  // hrtimer in Linux: wakes tcp_write_xmit
  Timer compressed_ack_timer;
  std::uint32_t keepalive_time = 0;   // jiffies; 0 = sysctl
  std::uint32_t keepalive_intvl = 0;  // jiffies; 0 = sysctl
  std::uint8_t keepalive_probes = 0;  // 0 = sysctl
  int linger2 = 0;                    // TCP_LINGER2 (FIN_WAIT2 timeout), jiffies; 0 = sysctl

  // --- misc ---------------------------------------------------------------------
  std::uint32_t mtu_info = 0;  // ICMP frag-needed MTU for tcp_v4_mtu_reduced
  std::uint8_t ecn_flags = 0;
  bool syn_data = false;
  bool syn_fastopen = false;
  std::uint32_t snd_isn = 0;  // our ISN (for tcp_info/tests; Linux derives it)
  std::uint32_t rcv_isn = 0;
  // TSQ: this socket is waiting for tcp_tsq_handler (on the deferred list).
  bool tsq_deferred = false;
  // Bytes of this socket's skbs handed to the device and not yet freed.
  // Mirrors sk_wmem_alloc without the alive bias; TSQ reads this.
  std::uint64_t tsq_inflight_truesize = 0;
};

inline TcpSock* tcp_sk(Sock* sk) {
  return static_cast<TcpSock*>(sk);
}
inline const TcpSock* tcp_sk(const Sock* sk) {
  return static_cast<const TcpSock*>(sk);
}
inline InetSock* inet_sk(Sock* sk) {
  return static_cast<InetSock*>(sk);
}
inline const InetSock* inet_sk(const Sock* sk) {
  return static_cast<const InetSock*>(sk);
}
inline InetConnectionSock* inet_csk(Sock* sk) {
  return static_cast<InetConnectionSock*>(sk);
}
inline const InetConnectionSock* inet_csk(const Sock* sk) {
  return static_cast<const InetConnectionSock*>(sk);
}
inline void* inet_csk_ca(Sock* sk) {
  return inet_csk(sk)->icsk_ca_priv;
}

inline std::uint32_t tcp_snd_cwnd(const TcpSock* tp) {
  return tp->snd_cwnd;
}
inline void tcp_snd_cwnd_set(TcpSock* tp, std::uint32_t val) {
  tp->snd_cwnd = val;
}

// struct tcp_timewait_sock: what is left of a connection in TIME_WAIT (or
// FIN_WAIT2 after close) once the full socket is gone. Owned by the
// time-wait table in TcpStackState.
struct TcpTimewaitSock {
  TcpTimewaitSock() = default;
  TcpTimewaitSock(const TcpTimewaitSock&) = delete;
  TcpTimewaitSock& operator=(const TcpTimewaitSock&) = delete;

  Stack* stack = nullptr;
  be32 tw_rcv_saddr = 0;
  be32 tw_daddr = 0;
  std::uint16_t tw_num = 0;      // local port, host order
  std::uint16_t tw_sport = 0;    // network order
  std::uint16_t tw_dport = 0;    // network order
  std::uint8_t tw_substate = 0;  // TCP_TIME_WAIT or TCP_FIN_WAIT2
  std::uint8_t tw_rcv_wscale = 0;
  std::uint32_t tw_rcv_nxt = 0;
  std::uint32_t tw_snd_nxt = 0;
  std::uint32_t tw_rcv_wnd = 0;
  std::uint32_t tw_ts_offset = 0;
  std::uint32_t tw_ts_recent = 0;
  std::int64_t tw_ts_recent_stamp = 0;  // seconds
  bool tw_tstamp_ok = false;
  std::uint32_t tw_last_oow_ack_time = 0;
  Timer tw_timer;  // 2*MSL (TCP_TIMEWAIT_LEN) or the FIN_WAIT2 timeout
};

}  // namespace sp
