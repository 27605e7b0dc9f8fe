// The runs behind `sendpath bench`: each moves a fixed number of bytes and
// reports the CPU time of the thread doing it. Payload generation happens
// before the clock starts (a pattern buffer written again and again); the
// receiver's pattern check is timed on its own and reported apart, never
// counted as stack work.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sp::bench {

// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), seconds.
double thread_cpu_seconds();
double wall_seconds();

// The payload: a pseudo-random buffer of kPatternPeriod bytes (a prime, so
// a shifted, repeated or dropped block shows up as a mismatch), stored
// twice so that at(offset) has any write size up to kPatternPeriod
// contiguous behind it.
class Pattern {
 public:
  static constexpr std::size_t kPatternPeriod = 1048573;
  Pattern();
  const std::uint8_t* at(std::uint64_t offset) const {
    return buf_.data() + offset % kPatternPeriod;
  }
  // The n received bytes at stream offset `offset` are the ones sent.
  bool check(std::uint64_t offset, const std::uint8_t* p, std::size_t n) const;

 private:
  std::vector<std::uint8_t> buf_;
};

// The receiving application's buffer: reads land one after another in a
// 4 MiB ring, and the ring is checked against the pattern each time it is
// full (and at the end). The check's CPU time is read from the thread's
// clock around each of those checks -- a system call of about 2 us on this
// VM, so only once per 4 MiB -- and reported apart from the stack's.
class RxChecker {
 public:
  static constexpr std::size_t kRing = 4u << 20;
  explicit RxChecker(const Pattern& pat) : pat_(pat), ring_(kRing) {}
  // Where the next read goes and how much fits there.
  std::uint8_t* space() { return ring_.data() + fill_; }
  std::size_t room() const { return kRing - fill_; }
  // n bytes were read into space().
  void received(std::size_t n) {
    fill_ += n;
    if (fill_ == kRing) flush();
  }
  void flush();
  bool ok() const { return ok_; }
  std::uint64_t checked() const { return checked_; }
  double check_cpu_s() const { return cpu_s_; }

 private:
  const Pattern& pat_;
  std::vector<std::uint8_t> ring_;
  std::size_t fill_ = 0;
  std::uint64_t checked_ = 0;
  bool ok_ = true;
  double cpu_s_ = 0;
};

struct Run {
  std::uint64_t bytes = 0;  // payload moved (acknowledged / received)
  double cpu_s = 0;         // thread CPU time of the timed work
  double wall_s = 0;
  double bytes_per_cpu_s() const { return cpu_s > 0 ? static_cast<double>(bytes) / cpu_s : 0; }
  std::string error;  // empty when the run completed
  std::string skipped_reason() const { return {}; }
};

// Figure 1: one stack writing to an AckSink (harness/ack_sink.hpp).
struct SendPathOptions {
  std::uint64_t bytes = 1ull << 30;
  std::uint32_t write_size = 64 * 1024;
  bool tso = true;
  bool csum_offload = true;
  double timeout_s = 60;  // wall-clock bound on the run
};
struct SendPathRun : Run {
  std::uint64_t frames = 0;  // frames the device consumed (TSO skbs count once)
  std::uint64_t acks = 0;
  std::uint64_t sends = 0;  // send() calls that accepted bytes
};
SendPathRun run_send_path(const SendPathOptions& o);

// Figure 2: two stacks in one SimWorld over a lossless SimLink with no rate
// limit and no delay; the thread running both stacks is timed.
struct TwoStackOptions {
  std::uint64_t bytes = 1ull << 30;
  std::uint32_t write_size = 64 * 1024;
  std::uint32_t read_size = 256 * 1024;  // recv() size (into RxChecker's ring)
  // NETIF_F_TSO, and TSO skbs cross the link whole (the receiver gets
  // GRO-sized skbs, as from veth with GRO on). Off: MSS-sized frames.
  bool tso_gro = true;
  // NETIF_F_HW_CSUM | NETIF_F_RXCSUM (veth's behaviour); off: checksums
  // computed and verified in software.
  bool csum_offload = true;
  double timeout_s = 120;
};
struct TwoStackRun : Run {
  double verify_s = 0;  // CPU time of the pattern check, not in cpu_s
  std::uint64_t verified = 0;
  bool pattern_ok = false;
  std::uint64_t segments_out = 0;   // TcpOutSegs, both stacks
  std::uint64_t frames = 0;         // frames the link delivered, both directions
  std::uint64_t rcv_collapsed = 0;  // TcpExtTCPRcvCollapsed: skbs copied to free receive memory
  std::uint64_t prune_called = 0;   // TcpExtPruneCalled
};
TwoStackRun run_two_stacks(const TwoStackOptions& o);

// Figure scale/sack_ack: the CPU cost of one ACK carrying SACK with
// `inflight` MSS-sized packets in flight. One stack sends inflight
// segments (no TSO, initcwnd from the route) to an AckSink that records
// them without answering; then the first segment is "lost" and each
// injected ACK is a duplicate ACK whose SACK block grows by one segment, as
// during recovery from one early loss. Virtual time stands still (1 us per
// ACK) so no timer fires. The first kWarmAcks ACKs (entering recovery, the
// retransmission) are not timed.
struct SackScaleRun : Run {
  std::uint32_t inflight = 0;
  std::uint32_t acks = 0;  // ACKs timed
  // TCP_INFO after the last ACK: tcpi_sacked, tcpi_unacked, tcpi_ca_state.
  std::uint32_t sacked = 0, unacked = 0, ca_state = 0;
  double ns_per_ack() const { return acks ? cpu_s * 1e9 / acks : 0; }
  // Smaller is better: bytes_per_cpu_s() does not apply; for median_run.
  double bytes_per_cpu_s() const { return ns_per_ack() > 0 ? 1.0 / ns_per_ack() : 0; }
};
SackScaleRun run_sack_scale(std::uint32_t inflight, std::uint32_t max_acks);

// Figures scale/conn_*: `conns` connections between two stacks in one
// SimWorld (no rate, no delay). setup_cpu_s: from the first connect() to
// the last accept(); bytes_per_socket: heap in use (mallinfo2, less what
// the skb pools keep cached) per established socket once the world is
// idle, both ends counted; teardown_cpu_s: from the first close() until no
// socket is left on either stack (TIME_WAIT expiring on virtual time).
struct ConnScaleRun {
  std::uint32_t conns = 0;
  double setup_cpu_s = 0;
  double teardown_cpu_s = 0;
  double bytes_per_socket = 0;
  std::string error;
  std::string skipped_reason() const { return {}; }
  double bytes_per_cpu_s() const {
    return setup_cpu_s > 0 ? conns / setup_cpu_s : 0;
  }  // median_run
};
ConnScaleRun run_conn_scale(std::uint32_t conns);

// The reference for figure 1: one core copying the same bytes from the
// pattern into a 4 MiB ring in chunks of `chunk` bytes.
Run run_memcpy(std::uint64_t bytes, std::uint32_t chunk);

}  // namespace sp::bench
