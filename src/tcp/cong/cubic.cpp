// CUBIC (RFC 9438) with HyStart, after net/ipv4/tcp_cubic.c: the window
// follows a cubic curve in the time since the last reduction, centred on the
// window where the loss happened (W_max), with a Reno-friendly floor; HyStart
// leaves slow start early when ACK trains stretch or RTTs grow.
#include <algorithm>
#include <bit>
#include <cstring>

#include "core/stack.hpp"
#include "tcp/cong/tcp_cong.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_sock.hpp"

namespace sp {

namespace {

// Parameters: the kernel module's defaults.
constexpr std::uint32_t kBetaScale = 1024;  // BICTCP_BETA_SCALE
constexpr std::uint32_t kBeta = 717;        // multiplicative decrease 717/1024 ~ 0.7
constexpr std::uint32_t kBicScale = 41;     // C = 41/1024*10 ~ 0.4 (RFC 9438 C)
constexpr bool kFastConvergence = true;
constexpr bool kTcpFriendliness = true;
constexpr bool kHystart = true;
constexpr std::uint32_t kHystartAckTrain = 0x1;
constexpr std::uint32_t kHystartDelay = 0x2;
constexpr std::uint32_t kHystartDetect = kHystartAckTrain | kHystartDelay;
constexpr std::uint32_t kHystartLowWindow = 16;
constexpr std::uint32_t kHystartAckDeltaUs = 2000;
constexpr std::uint32_t kHystartMinSamples = 8;
constexpr std::uint32_t kHystartDelayMinUs = 4000;
constexpr std::uint32_t kHystartDelayMaxUs = 16000;

// Time on the curve is kept in 1/1024 s units (BICTCP_HZ = 10 bits).
constexpr std::uint32_t kBicHzShift = 10;

// Scale factors derived from the parameters (cubictcp_register).
// Reno-friendly window estimate: one packet per (cwnd * kRenoAckScale >> 3)
// acked packets, from RFC 9438 section 4.3's alpha = 3(1-beta)/(1+beta).
constexpr std::uint32_t kRenoAckScale = 8 * (kBetaScale + kBeta) / 3 / (kBetaScale - kBeta);
constexpr std::uint32_t kCubeRttScale = kBicScale * 10;  // C scaled by 1024, for a 100 ms RTT
// K = cbrt(W_max - cwnd) * cbrt(kCubeFactor), in curve time units.
constexpr std::uint64_t kCubeFactor = (1ull << (10 + 3 * kBicHzShift)) / (kBicScale * 10);

// Per-connection state, kept in icsk_ca_priv (struct bictcp).
struct Bictcp {
  std::uint32_t cnt;               // cwnd grows by one after this many acked packets
  std::uint32_t last_max_cwnd;     // W_max: cwnd before the last reduction
  std::uint32_t last_cwnd;         // cwnd at the last curve evaluation
  std::uint32_t last_time;         // jiffy of the last curve evaluation
  std::uint32_t bic_origin_point;  // the curve's plateau (W_max or current cwnd)
  std::uint32_t bic_K;             // time from epoch start to the plateau
  std::uint32_t delay_min;         // smallest RTT seen, us
  std::uint32_t epoch_start;       // jiffy the current growth epoch began; 0 = none
  std::uint32_t ack_cnt;           // packets acked in this epoch
  std::uint32_t tcp_cwnd;          // what Reno would have by now
  // HyStart round state (survives bictcp_reset).
  std::uint8_t sample_cnt;
  std::uint8_t found;
  std::uint32_t round_start;
  std::uint32_t end_seq;
  std::uint32_t last_ack;
  std::uint32_t curr_rtt;
};
static_assert(sizeof(Bictcp) <= sizeof(InetConnectionSock::icsk_ca_priv),
              "CUBIC state must fit icsk_ca_priv");
static_assert(std::is_trivially_copyable_v<Bictcp>);

Bictcp* cubic_ca(Sock* sk) {
  return reinterpret_cast<Bictcp*>(inet_csk(sk)->icsk_ca_priv);
}

// tcp_jiffies32 as of the ACK being processed (tcp_mstamp), at the stack's HZ.
std::uint32_t cubic_jiffies(const Sock* sk) {
  return static_cast<std::uint32_t>(nsecs_to_jiffies(tcp_sk(sk)->tcp_mstamp * kNsPerUs));
}
std::uint32_t cubic_clock_us(const Sock* sk) {
  return static_cast<std::uint32_t>(tcp_sk(sk)->tcp_mstamp);
}

// Forget the curve (new epoch on the next ACK); HyStart state is kept.
void bictcp_reset(Bictcp* ca) {
  ca->cnt = 0;
  ca->last_max_cwnd = 0;
  ca->last_cwnd = 0;
  ca->last_time = 0;
  ca->bic_origin_point = 0;
  ca->bic_K = 0;
  ca->delay_min = 0;
  ca->epoch_start = 0;
  ca->ack_cnt = 0;
  ca->tcp_cwnd = 0;
  ca->found = 0;
}

// A HyStart round is one window of data: it ends when snd_una passes the
// snd_nxt recorded at its start.
void bictcp_hystart_reset(Sock* sk) {
  Bictcp* ca = cubic_ca(sk);
  ca->round_start = ca->last_ack = cubic_clock_us(sk);
  ca->end_seq = tcp_sk(sk)->snd_nxt;
  ca->curr_rtt = ~0u;
  ca->sample_cnt = 0;
}

// Integer cube root, exact to within one (floor), by Newton's method from a
// power-of-two estimate above the root.
std::uint32_t cubic_root(std::uint64_t a) {
  if (a == 0) return 0;
  int bits = 64 - std::countl_zero(a);
  std::uint64_t x = 1ull << ((bits + 2) / 3);  // >= cbrt(a)
  for (;;) {
    std::uint64_t y = (2 * x + a / (x * x)) / 3;
    if (y >= x) break;
    x = y;
  }
  return static_cast<std::uint32_t>(x);
}

// Compute ca->cnt: how many acked packets earn one more packet of cwnd so that
// cwnd tracks W(t) = C (t - K)^3 + W_max one RTT ahead (RFC 9438 4.2).
void bictcp_update(Sock* sk, Bictcp* ca, std::uint32_t cwnd, std::uint32_t acked) {
  const std::uint32_t now = cubic_jiffies(sk);
  ca->ack_cnt += acked;

  // The target barely moves within 1/32 s; skip the arithmetic.
  if (ca->last_cwnd == cwnd &&
      static_cast<std::int32_t>(now - ca->last_time) <= static_cast<std::int32_t>(HZ / 32))
    return;

  if (!(ca->epoch_start && now == ca->last_time)) {
    ca->last_cwnd = cwnd;
    ca->last_time = now;

    if (ca->epoch_start == 0) {
      ca->epoch_start = now ? now : 1;  // 0 means "no epoch"
      ca->ack_cnt = acked;
      ca->tcp_cwnd = cwnd;
      if (ca->last_max_cwnd <= cwnd) {
        // Already above the old maximum: start on the convex part.
        ca->bic_K = 0;
        ca->bic_origin_point = cwnd;
      } else {
        ca->bic_K = cubic_root(kCubeFactor * (ca->last_max_cwnd - cwnd));
        ca->bic_origin_point = ca->last_max_cwnd;
      }
    }

    // t: time since the epoch began plus one minimum RTT (aim where cwnd
    // should be when this ACK's data is acknowledged), in 1/1024 s.
    std::uint64_t t = static_cast<std::uint32_t>(now - ca->epoch_start);
    t += usecs_to_jiffies(ca->delay_min);
    t = (t << kBicHzShift) / HZ;

    std::uint64_t offs = t < ca->bic_K ? ca->bic_K - t : t - ca->bic_K;
    std::uint32_t delta =
        static_cast<std::uint32_t>((kCubeRttScale * offs * offs * offs) >> (10 + 3 * kBicHzShift));
    std::uint32_t target =
        t < ca->bic_K ? ca->bic_origin_point - delta : ca->bic_origin_point + delta;

    if (target > cwnd)
      ca->cnt = cwnd / (target - cwnd);
    else
      ca->cnt = 100 * cwnd;  // at or past the target: grow very slowly

    // Before any loss there is no W_max to approach; grow at least 5% per RTT.
    if (ca->last_max_cwnd == 0 && ca->cnt > 20) ca->cnt = 20;
  }

  if (kTcpFriendliness) {
    // Never grow slower than standard TCP would in the same time.
    std::uint32_t per_pkt = (cwnd * kRenoAckScale) >> 3;
    if (per_pkt == 0) per_pkt = 1;
    while (ca->ack_cnt > per_pkt) {
      ca->ack_cnt -= per_pkt;
      ca->tcp_cwnd++;
    }
    if (ca->tcp_cwnd > cwnd) {
      std::uint32_t max_cnt = cwnd / (ca->tcp_cwnd - cwnd);
      if (ca->cnt > max_cnt) ca->cnt = max_cnt;
    }
  }

  // At most one packet per two acked: never faster than slow start's half.
  ca->cnt = std::max(ca->cnt, 2u);
}

void cubictcp_init(Sock* sk) {
  bictcp_reset(cubic_ca(sk));
  if (kHystart) bictcp_hystart_reset(sk);
}

void cubictcp_cwnd_event(Sock* sk, TcpCaEvent ev) {
  if (ev != CA_EVENT_TX_START) return;
  // After an application-limited pause, shift the epoch by the idle time so
  // the curve resumes where it was instead of jumping ahead.
  Bictcp* ca = cubic_ca(sk);
  std::uint32_t now = cubic_jiffies(sk);
  std::int32_t idle = static_cast<std::int32_t>(now - tcp_sk(sk)->lsndtime);
  if (ca->epoch_start && idle > 0) {
    ca->epoch_start += static_cast<std::uint32_t>(idle);
    if (after(ca->epoch_start, now)) ca->epoch_start = now;
  }
}

void cubictcp_cong_avoid(Sock* sk, std::uint32_t /*ack*/, std::uint32_t acked) {
  TcpSock* tp = tcp_sk(sk);
  Bictcp* ca = cubic_ca(sk);
  if (!tcp_is_cwnd_limited(sk)) return;
  if (tcp_in_slow_start(tp)) {
    acked = tcp_slow_start(tp, acked);
    if (!acked) return;
  }
  bictcp_update(sk, ca, tcp_snd_cwnd(tp), acked);
  tcp_cong_avoid_ai(tp, ca->cnt, acked);
}

std::uint32_t cubictcp_recalc_ssthresh(Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  Bictcp* ca = cubic_ca(sk);
  const std::uint32_t cwnd = tcp_snd_cwnd(tp);
  ca->epoch_start = 0;
  // Fast convergence (RFC 9438 4.7): a flow that lost before reaching its old
  // maximum releases bandwidth by remembering a lower W_max.
  if (kFastConvergence && cwnd < ca->last_max_cwnd)
    ca->last_max_cwnd = cwnd * (kBetaScale + kBeta) / (2 * kBetaScale);
  else
    ca->last_max_cwnd = cwnd;
  return std::max(cwnd * kBeta / kBetaScale, 2u);
}

void cubictcp_state(Sock* sk, std::uint8_t new_state) {
  if (new_state == TCP_CA_Loss) {
    bictcp_reset(cubic_ca(sk));
    bictcp_hystart_reset(sk);
  }
}

// ACKs can arrive compressed by TSO/GRO; allow that much spread in a train.
std::uint32_t hystart_ack_delay(const Sock* sk) {
  std::uint64_t rate = sk->sk_pacing_rate;
  if (rate == 0 || rate == ~0ull) return 0;
  std::uint64_t d = static_cast<std::uint64_t>(sk->sk_gso_max_size) * 4 * 1000000 / rate;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(1000, d));
}

void hystart_update(Sock* sk, std::uint32_t delay) {
  TcpSock* tp = tcp_sk(sk);
  Bictcp* ca = cubic_ca(sk);

  if (after(tp->snd_una, ca->end_seq)) bictcp_hystart_reset(sk);
  if (tcp_snd_cwnd(tp) < kHystartLowWindow) return;

  if (kHystartDetect & kHystartAckTrain) {
    // ACK train: closely spaced ACKs spanning more than half the minimum RTT
    // mean the pipe is full.
    std::uint32_t now = cubic_clock_us(sk);
    if (static_cast<std::int32_t>(now - ca->last_ack) <=
        static_cast<std::int32_t>(kHystartAckDeltaUs)) {
      ca->last_ack = now;
      std::uint32_t threshold = ca->delay_min + hystart_ack_delay(sk);
      // Without pacing the train is sent at line rate: half an RTT suffices.
      if (!sk->sk_pacing_status) threshold >>= 1;
      if (static_cast<std::int32_t>(now - ca->round_start) > static_cast<std::int32_t>(threshold)) {
        ca->found = 1;
        sk->stack->mib().inc(MibId::TcpExtTCPHystartTrainDetect);
        sk->stack->mib().inc(MibId::TcpExtTCPHystartTrainCwnd, tcp_snd_cwnd(tp));
        tp->snd_ssthresh = tcp_snd_cwnd(tp);
      }
    }
  }

  if (kHystartDetect & kHystartDelay) {
    // Delay increase: the round's minimum RTT rose by more than an eighth of
    // the base RTT (clamped to 4..16 ms): a queue is building.
    if (ca->curr_rtt > delay) ca->curr_rtt = delay;
    if (ca->sample_cnt < kHystartMinSamples) {
      ca->sample_cnt++;
    } else {
      std::uint32_t thresh = std::clamp(ca->delay_min >> 3, kHystartDelayMinUs, kHystartDelayMaxUs);
      if (ca->curr_rtt > ca->delay_min + thresh) {
        ca->found = 1;
        sk->stack->mib().inc(MibId::TcpExtTCPHystartDelayDetect);
        sk->stack->mib().inc(MibId::TcpExtTCPHystartDelayCwnd, tcp_snd_cwnd(tp));
        tp->snd_ssthresh = tcp_snd_cwnd(tp);
      }
    }
  }
}

void cubictcp_acked(Sock* sk, const AckSample* sample) {
  const TcpSock* tp = tcp_sk(sk);
  Bictcp* ca = cubic_ca(sk);
  if (sample->rtt_us < 0) return;
  // Samples just after a reduction are inflated by the recovery; skip 1 s.
  if (ca->epoch_start && static_cast<std::int32_t>(cubic_jiffies(sk) - ca->epoch_start) <
                             static_cast<std::int32_t>(HZ))
    return;
  std::uint32_t delay = sample->rtt_us ? static_cast<std::uint32_t>(sample->rtt_us) : 1;
  if (ca->delay_min == 0 || ca->delay_min > delay) ca->delay_min = delay;
  if (kHystart && !ca->found && tcp_in_slow_start(tp)) hystart_update(sk, delay);
}

}  // namespace

TcpCongestionOps cubictcp = {
    .name = "cubic",
    .flags = 0,
    .init = cubictcp_init,
    .ssthresh = cubictcp_recalc_ssthresh,
    .cong_avoid = cubictcp_cong_avoid,
    .set_state = cubictcp_state,
    .cwnd_event = cubictcp_cwnd_event,
    .pkts_acked = cubictcp_acked,
    .undo_cwnd = tcp_reno_undo_cwnd,
};

}  // namespace sp
