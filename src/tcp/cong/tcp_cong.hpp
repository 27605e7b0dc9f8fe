// struct tcp_congestion_ops and its registry (net/ipv4/tcp_cong.c): a
// congestion control algorithm is a table of hooks the ACK path calls, chosen
// per socket by name (sysctl net.ipv4.tcp_congestion_control or the
// TCP_CONGESTION socket option). Reno is always present; CUBIC is the default.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

struct Sock;
struct TcpSock;

constexpr std::size_t TCP_CA_NAME_MAX = 16;

// enum tcp_ca_event: things the core tells the algorithm about.
enum TcpCaEvent : std::uint8_t {
  CA_EVENT_TX_START,      // first transmit when no packets were in flight
  CA_EVENT_CWND_RESTART,  // congestion window restart after idle
  CA_EVENT_COMPLETE_CWR,  // end of a congestion window reduction
  CA_EVENT_LOSS,          // loss timeout
  CA_EVENT_ECN_NO_CE,     // ECT set, CE not set
  CA_EVENT_ECN_IS_CE,     // received CE
};

// struct ack_sample: what one ACK acknowledged, for pkts_acked.
struct AckSample {
  std::uint32_t pkts_acked = 0;
  std::int32_t rtt_us = -1;  // -1: no valid RTT sample from this ACK
  std::uint32_t in_flight = 0;
};

// struct rate_sample: one ACK's delivery-rate sample (tcp_rate.c), filled
// by tcp_rate_skb_delivered / tcp_rate_gen (tcp/recovery/tcp_rate.cpp).
struct RateSample {
  std::uint64_t prior_mstamp = 0;        // us: delivered_mstamp when the acked skb was sent
  std::uint32_t prior_delivered = 0;     // tp->delivered then
  std::uint32_t prior_delivered_ce = 0;  // tp->delivered_ce then
  std::int32_t delivered = 0;            // packets delivered over interval_us (-1: no sample)
  std::int32_t delivered_ce = 0;
  std::int64_t interval_us = -1;
  std::uint32_t snd_interval_us = 0;
  std::uint32_t rcv_interval_us = 0;
  std::uint32_t prior_in_flight = 0;
  std::uint32_t last_end_seq = 0;  // end_seq of the most recently sent skb acked
  std::int32_t rtt_us = -1;
  std::int32_t losses = 0;  // packets newly marked lost by this ACK
  std::uint32_t acked_sacked = 0;
  bool is_app_limited = false;
  bool is_retrans = false;
  bool is_ack_delayed = false;
};

// TCP_CONG_* flags
constexpr std::uint32_t TCP_CONG_NON_RESTRICTED = 0x1;  // any user may select it
constexpr std::uint32_t TCP_CONG_NEEDS_ECN = 0x2;

// struct tcp_congestion_ops. ssthresh and undo_cwnd are required, and one of
// cong_avoid or cong_control (tcp_validate_congestion_control).
struct TcpCongestionOps {
  const char* name = "";
  std::uint32_t flags = 0;

  // Per-socket private state lives in icsk_ca_priv (ICSK_CA_PRIV_SIZE bytes).
  void (*init)(Sock* sk) = nullptr;
  void (*release)(Sock* sk) = nullptr;

  // New slow start threshold after a loss (required).
  std::uint32_t (*ssthresh)(Sock* sk) = nullptr;
  // Classic hook: grow cwnd for `acked` newly delivered packets.
  void (*cong_avoid)(Sock* sk, std::uint32_t ack, std::uint32_t acked) = nullptr;
  void (*set_state)(Sock* sk, std::uint8_t new_state) = nullptr;
  void (*cwnd_event)(Sock* sk, TcpCaEvent ev) = nullptr;
  void (*in_ack_event)(Sock* sk, std::uint32_t flags) = nullptr;
  void (*pkts_acked)(Sock* sk, const AckSample* sample) = nullptr;
  std::uint32_t (*min_tso_segs)(Sock* sk) = nullptr;
  // Custom hook: the algorithm owns cwnd entirely (BBR style).
  void (*cong_control)(Sock* sk, std::uint32_t ack, int flag, const RateSample* rs) = nullptr;
  // cwnd to restore when a loss turns out spurious (required).
  std::uint32_t (*undo_cwnd)(Sock* sk) = nullptr;
  std::uint32_t (*sndbuf_expand)(Sock* sk) = nullptr;
};

// --- registry -----------------------------------------------------------------
// 0, -EINVAL (missing required hooks) or -EEXIST (name taken).
int tcp_register_congestion_control(TcpCongestionOps* ca);
void tcp_unregister_congestion_control(TcpCongestionOps* ca);
TcpCongestionOps* tcp_ca_find(std::string_view name);
// Space-separated names, as net.ipv4.tcp_available_congestion_control prints.
std::string tcp_get_available_congestion_control();

// --- per socket -----------------------------------------------------------------
// At socket creation: the stack's default (sysctl tcp_congestion_control),
// falling back to Reno when the name is unknown.
void tcp_assign_congestion_control(Sock* sk);
// When the connection reaches ESTABLISHED (or at once if it already is).
void tcp_init_congestion_control(Sock* sk);
void tcp_cleanup_congestion_control(Sock* sk);
// TCP_CONGESTION: 0 or -ENOENT for an unknown name.
int tcp_set_congestion_control(Sock* sk, std::string_view name);

// --- helpers shared by the algorithms (kernel names) ----------------------------
std::uint32_t tcp_slow_start(TcpSock* tp, std::uint32_t acked);
void tcp_cong_avoid_ai(TcpSock* tp, std::uint32_t w, std::uint32_t acked);
void tcp_reno_cong_avoid(Sock* sk, std::uint32_t ack, std::uint32_t acked);
std::uint32_t tcp_reno_ssthresh(Sock* sk);
std::uint32_t tcp_reno_undo_cwnd(Sock* sk);

// The built-in algorithms (reno.cpp, cubic.cpp).
extern TcpCongestionOps tcp_reno;
extern TcpCongestionOps cubictcp;

}  // namespace sp
