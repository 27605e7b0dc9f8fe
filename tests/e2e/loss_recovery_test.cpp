// End to end through a lossy, reordering link: SACK, RACK and PRR must
// deliver every byte (digest equal) within a time bound, and repair losses
// with about one retransmission each (no go-back-N, few spurious resends).
// Seeded, so every run is the same run.
#include <gtest/gtest.h>

#include <algorithm>

#include "harness/sim_transfer.hpp"

namespace sp {
namespace {

struct LossCase {
  double loss;
  std::uint64_t seed;
  Nanos bound;  // virtual time for 4 MiB at 1 Gbit/s, 20 ms RTT
};

class LossRecovery : public ::testing::TestWithParam<LossCase> {};

TEST_P(LossRecovery, four_mebibytes_arrive_intact_with_one_retransmission_per_loss) {
  const LossCase c = GetParam();
  TransferOptions o;
  o.size = 4ull << 20;
  o.seed = c.seed;
  o.link.seed = c.seed;
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->rate_bps = 1'000'000'000;
    p->delay = 10 * kNsPerMs;
    p->loss = c.loss;
    p->reorder = 0.01;  // 1% of frames overtaken by up to 1 ms
    p->reorder_delay = 1 * kNsPerMs;
  }
  const TransferResult r = run_transfer(o);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_FALSE(r.stalled);
  EXPECT_TRUE(r.digest_ok);
  EXPECT_EQ(r.bytes_received, o.size);
  EXPECT_GT(r.to_server.loss_drops, 0u);
  EXPECT_GT(r.to_server.reordered, 0u);
  // The losses were repaired by SACK recovery, not only by timeouts.
  EXPECT_GT(r.retransmits, 0u);
  EXPECT_GT(r.client_mib.get(MibId::TcpExtTCPSackRecovery), 0u);
  EXPECT_GT(r.client_mib.get(MibId::TcpExtTCPFastRetrans), 0u);
  EXPECT_LT(r.virtual_ns, c.bound) << "loss " << c.loss << " seed " << c.seed;
  // Every data frame lost needs one retransmission; lost ACKs, lost
  // retransmissions and RTO go-back-N add some, reordering should not.
  EXPECT_LE(r.retransmits, r.to_server.loss_drops * 3 / 2 + 8)
      << "loss " << c.loss << ": " << r.retransmits << " retransmissions for "
      << r.to_server.loss_drops << " lost frames";
}

INSTANTIATE_TEST_SUITE_P(Seeded, LossRecovery,
                         ::testing::Values(LossCase{0.01, 1, 8 * kNsPerSec},
                                           LossCase{0.01, 7, 8 * kNsPerSec},
                                           LossCase{0.05, 3, 30 * kNsPerSec},
                                           LossCase{0.10, 5, 60 * kNsPerSec}));

}  // namespace
}  // namespace sp
