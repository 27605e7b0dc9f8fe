// The real-time loop over a socketpair-backed device and the Stack's timers
// on the monotonic clock. The waits here are a few milliseconds of real time:
// the loop's whole job is sleeping on real fds and real timers.
#include "dev/realtime_loop.hpp"

#include <unistd.h>

#include "core/stack.hpp"
#include "core/timer.hpp"
#include "gtest/gtest.h"
#include "netdev_helpers.hpp"

namespace sp {
namespace {

using test::FdPair;

struct LoopFixture : ::testing::Test {
  MonotonicClock clock;
  Stack stack{clock};
  RealtimeLoop loop{stack};
  FdPair fds;
  TunFdDevice* dev = nullptr;
  LoopFixture() {
    auto d = std::make_unique<TunFdDevice>(fds.dev, LinkType::kEthernet, true, 0);
    fds.dev = -1;
    dev = d.get();
    stack.register_netdev(std::move(d));
  }
};

TEST_F(LoopFixture, FrameWaitingOnTheDeviceIsReadInOneTurn) {
  ASSERT_TRUE(test::write_frame(fds.peer, VirtioNetHdr{}, test::eth_ipv4_tcp_headers(0, true)));
  loop.run_once(clock.now_ns() + kNsPerSec);
  EXPECT_EQ(dev->stats.rx_packets, 1u);
}

TEST_F(LoopFixture, TimerFiresWhenDueNotBefore) {
  bool fired = false;
  Timer t([&] { fired = true; });
  const Nanos start = clock.now_ns();
  // 20 ms, not less: under ASan on a loaded machine 2 ms could pass before
  // the loop reached its sleep, and the timer then ran without one.
  stack.mod_timer(t, start + 20 * kNsPerMs);
  ASSERT_TRUE(loop.run_until([&] { return fired; }, start + kNsPerSec));
  EXPECT_GE(clock.now_ns() - start, 20 * kNsPerMs);
  EXPECT_LT(clock.now_ns() - start, 500 * kNsPerMs) << "the loop must wake for the timer";
  EXPECT_GE(loop.stats().timer_wakeups, 1u);
}

TEST_F(LoopFixture, RunUntilGivesUpAtTheDeadline) {
  const Nanos start = clock.now_ns();
  EXPECT_FALSE(loop.run_until([] { return false; }, start + 3 * kNsPerMs));
  EXPECT_GE(clock.now_ns() - start, 3 * kNsPerMs);
  EXPECT_LT(clock.now_ns() - start, 500 * kNsPerMs);
}

TEST_F(LoopFixture, WatchedFdWakesTheLoopAndRunsItsHandler) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  int calls = 0;
  loop.watch_fd(p[0], [&] {
    char c;
    if (::read(p[0], &c, 1) == 1) ++calls;
  });
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  const Nanos start = clock.now_ns();
  ASSERT_TRUE(loop.run_until([&] { return calls == 1; }, start + 5 * kNsPerSec));
  EXPECT_LT(clock.now_ns() - start, kNsPerSec);
  loop.unwatch_fd(p[0]);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(LoopFixture, BlockingWaitOnTheStackRunsTheLoop) {
  loop.install_wait_driver();
  ASSERT_TRUE(test::write_frame(fds.peer, VirtioNetHdr{}, test::eth_ipv4_tcp_headers(0, true)));
  EXPECT_TRUE(
      stack.wait_until([&] { return dev->stats.rx_packets == 1; }, clock.now_ns() + kNsPerSec));
  EXPECT_GE(loop.stats().passes, 1u);
}

TEST_F(LoopFixture, StopEndsRunFromAHandler) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  loop.watch_fd(p[0], [&] { loop.stop(); });
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  loop.run();  // returns only because the handler stopped it
  SUCCEED();
  loop.unwatch_fd(p[0]);
  ::close(p[0]);
  ::close(p[1]);
}

// The fd's other end goes away (for a tap: its interface is deleted with
// its namespace; here the socketpair's peer closes). The fd then reports an
// error or EOF on every wait, forever: the device must declare itself gone
// and the loop stop waiting on it, or every sleep would return at once.
TEST_F(LoopFixture, DeviceWhoseFdDiesIsGoneAndTheLoopSleepsInsteadOfSpinning) {
  ::close(fds.peer);
  fds.peer = -1;
  const Nanos start = clock.now_ns();
  EXPECT_FALSE(loop.run_until([] { return false; }, start + 30 * kNsPerMs));
  EXPECT_TRUE(dev->gone());
  EXPECT_FALSE(dev->carrier_ok());
  EXPECT_EQ(dev->wait_fd(), -1);
  // One wake for the dead fd before the device knew, then real sleeps.
  EXPECT_LE(loop.stats().fd_wakeups, 2u);
  EXPECT_LE(loop.stats().sleeps, 5u) << "the loop spun on a dead fd";
  // Frames sent to a gone device are dropped and counted, nothing else.
  const std::uint64_t dropped = dev->stats.tx_dropped;
  SkbPtr skb = alloc_skb_with_headroom(64, 64);
  skb_put(skb.get(), 60);
  EXPECT_EQ(dev->xmit(std::move(skb)), NETDEV_TX_OK);
  EXPECT_EQ(dev->stats.tx_dropped, dropped + 1);
}

}  // namespace
}  // namespace sp
