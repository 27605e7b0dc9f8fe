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
  stack.mod_timer(t, start + 2 * kNsPerMs);
  ASSERT_TRUE(loop.run_until([&] { return fired; }, start + kNsPerSec));
  EXPECT_GE(clock.now_ns() - start, 2 * kNsPerMs);
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

}  // namespace
}  // namespace sp
