// Stack timers and deferred work on a virtual clock.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/stack.hpp"

namespace sp {
namespace {

struct TimerTest : ::testing::Test {
  VirtualClock clock;
  Stack stack{clock};
  std::string log;
};

TEST_F(TimerTest, timers_fire_in_expiry_order) {
  Timer a([&] { log += "a"; }), b([&] { log += "b"; }), c([&] { log += "c"; });
  stack.mod_timer(c, 300);
  stack.mod_timer(a, 100);
  stack.mod_timer(b, 200);
  clock.advance_to(1000);
  EXPECT_EQ(stack.run_timers(), 3);
  EXPECT_EQ(log, "abc");
}

TEST_F(TimerTest, equal_expiries_fire_in_arming_order) {
  Timer a([&] { log += "a"; }), b([&] { log += "b"; }), c([&] { log += "c"; });
  stack.mod_timer(b, 50);
  stack.mod_timer(c, 50);
  stack.mod_timer(a, 50);
  clock.advance_to(50);
  stack.run_timers();
  EXPECT_EQ(log, "bca");
}

TEST_F(TimerTest, timer_does_not_fire_before_its_expiry) {
  Timer a([&] { log += "a"; });
  stack.mod_timer(a, 100);
  clock.advance_to(99);
  EXPECT_EQ(stack.run_timers(), 0);
  EXPECT_TRUE(a.pending());
  clock.advance_to(100);
  EXPECT_EQ(stack.run_timers(), 1);
  EXPECT_FALSE(a.pending());
  EXPECT_EQ(log, "a");
}

TEST_F(TimerTest, mod_timer_on_pending_timer_moves_it) {
  Timer a([&] { log += "a"; }), b([&] { log += "b"; });
  stack.mod_timer(a, 100);
  stack.mod_timer(b, 200);
  stack.mod_timer(a, 300);  // re-arm later: b now fires first
  EXPECT_EQ(stack.next_timer_expiry(), 200u);
  clock.advance_to(250);
  stack.run_timers();
  EXPECT_EQ(log, "b");
  clock.advance_to(300);
  stack.run_timers();
  EXPECT_EQ(log, "ba");
}

TEST_F(TimerTest, del_timer_stops_a_pending_timer) {
  Timer a([&] { log += "a"; });
  stack.mod_timer(a, 100);
  stack.del_timer(a);
  EXPECT_FALSE(a.pending());
  clock.advance_to(200);
  EXPECT_EQ(stack.run_timers(), 0);
  EXPECT_EQ(log, "");
  stack.del_timer(a);  // deleting an idle timer is harmless
}

TEST_F(TimerTest, destroying_an_armed_timer_unlinks_it) {
  auto a = std::make_unique<Timer>([&] { log += "a"; });
  Timer b([&] { log += "b"; });
  stack.mod_timer(*a, 100);
  stack.mod_timer(b, 150);
  a.reset();
  EXPECT_EQ(stack.next_timer_expiry(), 150u);
  clock.advance_to(200);
  EXPECT_EQ(stack.run_timers(), 1);
  EXPECT_EQ(log, "b");
}

TEST_F(TimerTest, callback_may_destroy_its_own_timer) {
  auto a = std::make_unique<Timer>();
  a->set_function([&] {
    log += "a";
    a.reset();
  });
  stack.mod_timer(*a, 10);
  clock.advance_to(10);
  EXPECT_EQ(stack.run_timers(), 1);
  EXPECT_EQ(a, nullptr);
  EXPECT_EQ(log, "a");
}

TEST_F(TimerTest, callback_may_delete_another_expired_timer) {
  Timer b([&] { log += "b"; });
  Timer a([&] {
    log += "a";
    stack.del_timer(b);
  });
  stack.mod_timer(a, 10);
  stack.mod_timer(b, 10);
  clock.advance_to(10);
  EXPECT_EQ(stack.run_timers(), 1);
  EXPECT_EQ(log, "a");
}

TEST_F(TimerTest, timer_rearmed_for_now_from_its_callback_runs_on_the_next_pass) {
  int fired = 0;
  Timer a;
  a.set_function([&] {
    ++fired;
    stack.mod_timer(a, stack.now());
  });
  stack.mod_timer(a, 10);
  clock.advance_to(10);
  EXPECT_EQ(stack.run_timers(), 1);
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(a.pending());
  EXPECT_EQ(stack.run_timers(), 1);
  EXPECT_EQ(fired, 2);
  stack.del_timer(a);
}

TEST_F(TimerTest, next_timer_expiry_is_the_earliest_or_none) {
  EXPECT_EQ(stack.next_timer_expiry(), Stack::kNoTimer);
  Timer a, b;
  stack.mod_timer(a, 500);
  stack.mod_timer(b, 70);
  EXPECT_EQ(stack.next_timer_expiry(), 70u);
  stack.del_timer(b);
  EXPECT_EQ(stack.next_timer_expiry(), 500u);
}

TEST_F(TimerTest, deferred_work_runs_in_poll_not_when_deferred) {
  stack.defer([&] { log += "d"; });
  EXPECT_EQ(log, "");
  EXPECT_GT(stack.poll(), 0);
  EXPECT_EQ(log, "d");
  EXPECT_EQ(stack.poll(), 0);
  EXPECT_EQ(log, "d");
}

TEST_F(TimerTest, work_deferred_by_deferred_work_runs_in_the_same_poll) {
  stack.defer([&] {
    log += "1";
    stack.defer([&] { log += "2"; });
  });
  stack.poll();
  EXPECT_EQ(log, "12");
}

TEST_F(TimerTest, poll_runs_expired_timers) {
  Timer a([&] { log += "a"; });
  stack.mod_timer(a, 5);
  clock.advance_to(5);
  EXPECT_EQ(stack.poll(), 1);
  EXPECT_EQ(log, "a");
}

TEST_F(TimerTest, wait_until_jumps_virtual_time_to_the_timer_that_satisfies_it) {
  bool done = false;
  Timer a([&] { done = true; });
  stack.mod_timer(a, 3 * kNsPerSec);
  EXPECT_TRUE(stack.wait_until([&] { return done; }, 10 * kNsPerSec));
  EXPECT_EQ(clock.now_ns(), 3 * kNsPerSec);
}

TEST_F(TimerTest, wait_until_returns_false_at_the_deadline) {
  Timer a([&] { log += "late"; });
  stack.mod_timer(a, 5 * kNsPerSec);
  EXPECT_FALSE(stack.wait_until([] { return false; }, 2 * kNsPerSec));
  EXPECT_EQ(clock.now_ns(), 2 * kNsPerSec);
  EXPECT_EQ(log, "");
}

TEST_F(TimerTest, wait_until_returns_false_when_nothing_can_happen) {
  EXPECT_FALSE(stack.wait_until([] { return false; }, Stack::kNoTimer));
  EXPECT_EQ(clock.now_ns(), 0u);
}

TEST_F(TimerTest, wait_until_uses_the_installed_driver) {
  int calls = 0;
  bool done = false;
  stack.set_wait_driver([&](Nanos) {
    if (++calls == 3) done = true;
    stack.note_progress();
  });
  EXPECT_TRUE(stack.wait_until([&] { return done; }, Stack::kNoTimer));
  EXPECT_EQ(calls, 3);
}

TEST_F(TimerTest, wait_until_stops_when_the_driver_makes_no_progress) {
  int calls = 0;
  stack.set_wait_driver([&](Nanos) { ++calls; });
  EXPECT_FALSE(stack.wait_until([] { return false; }, Stack::kNoTimer));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace sp
