// End to end with MSG_ZEROCOPY: the stacks read the sender's own buffers
// until the completions come back on the error queue, and the sender
// rewrites a buffer only then. A completion that came too early (a buffer
// rewritten while a segment or a retransmission still points into it)
// shows up as a digest mismatch at the receiver.
#include <gtest/gtest.h>

#include <algorithm>

#include "harness/sim_transfer.hpp"

namespace sp {
namespace {

constexpr std::uint64_t MiB = 1ull << 20;

TransferOptions zc_base(std::uint64_t size) {
  TransferOptions o;
  o.size = size;
  o.zerocopy = true;
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->rate_bps = 1'000'000'000;
    p->delay = 10 * kNsPerMs;
  }
  return o;
}

void expect_intact(const TransferResult& r, std::uint64_t bytes) {
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_FALSE(r.stalled);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.digest_ok);
  EXPECT_EQ(r.bytes_received, bytes);
}

TEST(EndToEndZerocopy, lossy_transfer_arrives_intact_and_every_send_completes) {
  const std::uint64_t size = 16 * MiB;
  TransferOptions o = zc_base(size);
  o.link.a_to_b.loss = 0.01;
  o.link.b_to_a.loss = 0.01;
  TransferResult r = run_transfer(o);
  expect_intact(r, size);
  EXPECT_GT(r.retransmits, 0u) << "retransmissions read the user's buffers too";
  EXPECT_GT(r.zerocopy_sends, 0u);
  EXPECT_EQ(r.zerocopy_completed, r.zerocopy_sends);
  // The sim link hands each frame to the other stack as a copy (as veth or
  // loopback would), so Linux reports every send as copied.
  EXPECT_EQ(r.zerocopy_copied, r.zerocopy_sends);
}

TEST(EndToEndZerocopy, both_directions_arrive_intact) {
  const std::uint64_t size = 8 * MiB;
  TransferOptions o = zc_base(size);
  o.bidirectional = true;
  TransferResult r = run_transfer(o);
  expect_intact(r, 2 * size);
  EXPECT_EQ(r.zerocopy_completed, r.zerocopy_sends);
}

}  // namespace
}  // namespace sp
