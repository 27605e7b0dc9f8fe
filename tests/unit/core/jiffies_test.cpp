// The kernel's clock at each HZ: jiffies of a time, the conversions of
// include/linux/jiffies.h and where Linux's timer wheel runs a timer.
#include "core/jiffies.hpp"

#include <gtest/gtest.h>

namespace sp::test {
namespace {

// Sets HZ for one test (no Stack exists in these tests) and restores 1000.
class JiffiesTest : public ::testing::Test {
 protected:
  void use_hz(std::uint32_t hz, bool wheel = false) { ASSERT_TRUE(set_hz(hz, wheel, nullptr)); }
  ~JiffiesTest() override { set_hz(1000, false, nullptr); }
};

TEST_F(JiffiesTest, usecs_to_jiffies_rounds_up_to_a_whole_jiffy_at_250) {
  use_hz(250);
  EXPECT_EQ(usecs_to_jiffies(0), 0u);
  EXPECT_EQ(usecs_to_jiffies(1), 1u);
  EXPECT_EQ(usecs_to_jiffies(4000), 1u);
  EXPECT_EQ(usecs_to_jiffies(4001), 2u);
  // The TLP's 2 * SRTT + TCP_TIMEOUT_MIN_US on a 100 us path: one jiffy.
  EXPECT_EQ(usecs_to_jiffies(200 + 2000), 1u);
  EXPECT_EQ(msecs_to_jiffies(10), 3u);
  EXPECT_EQ(jiffies_to_usecs(3), 12000u);
  EXPECT_EQ(jiffies_to_msecs(51), 204u);
}

TEST_F(JiffiesTest, at_1000_a_jiffy_is_a_millisecond) {
  EXPECT_EQ(usecs_to_jiffies(2200), 3u);
  EXPECT_EQ(msecs_to_jiffies(10), 10u);
  EXPECT_EQ(jiffies_to_usecs(7), 7000u);
  EXPECT_EQ(nsecs_to_jiffies(1'234'999'999), 1234u);
  EXPECT_EQ(jiffy_start_ns(1235), 1'235'000'000u);
}

TEST_F(JiffiesTest, at_300_jiffies_are_a_third_of_ten_milliseconds) {
  use_hz(300);
  EXPECT_EQ(usecs_to_jiffies(3333), 1u);
  EXPECT_EQ(usecs_to_jiffies(3334), 2u);
  EXPECT_EQ(msecs_to_jiffies(10), 3u);
  EXPECT_EQ(jiffies_to_msecs(3), 10u);
  // Jiffy 1 begins at the first nanosecond that is a third of 10 ms or more.
  EXPECT_EQ(jiffy_start_ns(1), 3'333'334u);
  EXPECT_EQ(nsecs_to_jiffies(3'333'333), 0u);
  EXPECT_EQ(nsecs_to_jiffies(3'333'334), 1u);
  EXPECT_EQ(jiffy_start_ns(300), kNsPerSec);
}

TEST_F(JiffiesTest, set_hz_refuses_values_no_kernel_is_built_with) {
  std::string err;
  EXPECT_FALSE(set_hz(200, false, &err));
  EXPECT_NE(err.find("250"), std::string::npos);
  EXPECT_EQ(HZ, 1000u);
}

// calc_wheel_index: level 0 (less than 63 jiffies away) runs the timer one
// jiffy after its expiry; level 1 rounds up to 8 jiffies, level 2 to 64.
TEST_F(JiffiesTest, timer_wheel_rounds_up_by_level) {
  use_hz(250, true);
  EXPECT_EQ(timer_wheel_expiry(1002, 1000), 1003u);
  EXPECT_EQ(timer_wheel_expiry(1062, 1000), 1063u);
  EXPECT_EQ(timer_wheel_expiry(1063, 1000), 1064u);  // level 1: (1063 >> 3) + 1 = 133, * 8
  EXPECT_EQ(timer_wheel_expiry(1064, 1000), 1072u);
  EXPECT_EQ(timer_wheel_expiry(1000 + 504, 1000), 1536u);  // level 2: 64-jiffy buckets
  EXPECT_EQ(timer_wheel_expiry(999, 1000), 1000u) << "already due";
}

TEST_F(JiffiesTest, a_timer_fires_on_a_tick_with_the_wheel_and_exactly_without) {
  use_hz(250, false);
  const Nanos armed = 1'001'000'000;  // jiffy 250, 1 ms into it
  EXPECT_EQ(timer_fire_after(armed, 1), armed + 4 * kNsPerMs);
  use_hz(250, true);
  // jiffies + 1 = 251: the wheel runs it when jiffy 252 begins.
  EXPECT_EQ(timer_fire_after(armed, 1), 1'008'000'000u);
  EXPECT_EQ(timer_fire_at(armed, 260), 1'044'000'000u);
}

}  // namespace
}  // namespace sp::test
