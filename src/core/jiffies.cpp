#include "core/jiffies.hpp"

#include <atomic>

namespace sp {

namespace {
std::atomic<int> g_live_stacks{0};

// kernel/time/timer.c: 64 buckets per level, each level 8 times coarser.
constexpr unsigned kLvlClkShift = 3;
constexpr unsigned kLvlBits = 6;
constexpr std::uint64_t kLvlSize = 1u << kLvlBits;
constexpr unsigned lvl_shift(unsigned n) {
  return n * kLvlClkShift;
}
constexpr std::uint64_t lvl_start(unsigned n) {
  return (kLvlSize - 1) << ((n - 1) * kLvlClkShift);
}
// HZ > 100 kernels have one more level (LVL_DEPTH).
unsigned lvl_depth() {
  return HZ > 100 ? 9 : 8;
}
}  // namespace

bool hz_supported(std::uint32_t hz) {
  return hz == 100 || hz == 250 || hz == 300 || hz == 1000;
}

bool set_hz(std::uint32_t hz, bool wheel, std::string* err) {
  if (!hz_supported(hz)) {
    if (err) *err = "HZ must be 100, 250, 300 or 1000, not " + std::to_string(hz);
    return false;
  }
  if (g_live_stacks.load() != 0 && (hz != HZ || wheel != timer_wheel)) {
    if (err) *err = "HZ cannot change while a stack exists";
    return false;
  }
  HZ = hz;
  timer_wheel = wheel;
  return true;
}

int live_stacks() {
  return g_live_stacks.load();
}
void note_stack_created() {
  g_live_stacks.fetch_add(1);
}
void note_stack_destroyed() {
  g_live_stacks.fetch_sub(1);
}

// calc_index and calc_wheel_index: the level is chosen by how far away the
// timer is; the expiry is rounded up to the level's granularity, and one
// granule past it, so that a timer armed just before a tick never runs early.
std::uint64_t timer_wheel_expiry(std::uint64_t expires, std::uint64_t clk) {
  const std::int64_t delta = static_cast<std::int64_t>(expires - clk);
  if (delta < 0) return clk;  // already due: the current bucket
  const unsigned depth = lvl_depth();
  const std::uint64_t cutoff = lvl_start(depth);
  unsigned lvl = 0;
  while (lvl + 1 < depth && static_cast<std::uint64_t>(delta) >= lvl_start(lvl + 1)) ++lvl;
  if (static_cast<std::uint64_t>(delta) >= cutoff) {
    // WHEEL_TIMEOUT_MAX: absurdly long timers run at the wheel's capacity.
    expires = clk + cutoff - (std::uint64_t{1} << lvl_shift(depth - 1));
  }
  return ((expires >> lvl_shift(lvl)) + 1) << lvl_shift(lvl);
}

Nanos timer_fire_after(Nanos now, std::uint64_t when) {
  if (!timer_wheel) return now + jiffies_to_nsecs(when);
  const std::uint64_t clk = nsecs_to_jiffies(now);
  return jiffy_start_ns(timer_wheel_expiry(clk + when, clk));
}

Nanos timer_fire_at(Nanos now, std::uint64_t expires) {
  if (!timer_wheel) return jiffy_start_ns(expires);
  const std::uint64_t clk = nsecs_to_jiffies(now);
  return jiffy_start_ns(timer_wheel_expiry(expires, clk));
}

}  // namespace sp
