// The kernel's clock as sendpath models it: HZ, jiffies and the conversions
// of include/linux/jiffies.h, and where a timer armed for a jiffy fires.
//
// HZ is one value for the whole process, like a kernel's CONFIG_HZ: every
// Stack in it ticks at the same rate, and it may change only while no Stack
// exists (set_hz). The default, 1000, is what the packetdrill scripts expect.
// Fields that Linux keeps in jiffies (icsk_rto, icsk_timeout, lsndtime, ...)
// hold jiffies here too, so the kernel's arithmetic (TCP_RTO_MIN = HZ / 5,
// timeout + TCP_TIMEOUT_MIN, ...) carries over unchanged; only the length of
// a jiffy follows HZ.
//
// Jiffy n begins at the first nanosecond t with floor(t * HZ / 1e9) == n
// (jiffy_start_ns), so at HZ=300 a jiffy is 3333333 or 3333334 ns.
//
// Where a timer fires. Linux's timer wheel (kernel/time/timer.c) runs a
// timer on a tick, never early: mod_timer(t, jiffies + n) queues it in the
// bucket after `expires` at the level that covers n, so it runs on the tick
// where jiffies passes the bucket's expiry (calc_wheel_index): n to n + 1
// jiffies after arming at level 0 (n < 63), rounded up to 8 jiffies at
// level 1 (n < 504), 64 at level 2, and so on. sendpath models that when
// timer_wheel is on. When it is off (the default), a timer armed `when`
// jiffies from now fires exactly when * (1e9 / HZ) ns later, as sendpath
// always has: the packetdrill corpus and the tests were written against it.
#pragma once
#include <cstdint>
#include <string>

#include "core/clock.hpp"

// glibc's <sys/param.h> defines HZ as 100 for old programs; the name is the
// kernel's here.
#undef HZ

namespace sp {

class Stack;

// Ticks per second (CONFIG_HZ). Read-only outside set_hz.
inline std::uint32_t HZ = 1000;
// Fire timers on the tick the timer wheel would (see above).
inline bool timer_wheel = false;

// The HZ values a Linux kernel can be configured with that sendpath models.
bool hz_supported(std::uint32_t hz);
// Sets HZ (and the timer-wheel model). Fails (false, *err set) for an
// unsupported value or while a Stack exists: a stack's jiffy-valued fields
// would change meaning under it.
bool set_hz(std::uint32_t hz, bool wheel, std::string* err);
// Number of Stacks alive (set_hz's guard); maintained by Stack.
int live_stacks();
void note_stack_created();
void note_stack_destroyed();

// Jiffies at time t: floor(t * HZ / 1e9).
constexpr std::uint64_t nsecs_to_jiffies_at(Nanos t, std::uint32_t hz) {
  return (t / kNsPerSec) * hz + (t % kNsPerSec) * hz / kNsPerSec;
}
inline std::uint64_t nsecs_to_jiffies(Nanos t) {
  return nsecs_to_jiffies_at(t, HZ);
}
// First nanosecond of jiffy j: ceil(j * 1e9 / HZ).
inline Nanos jiffy_start_ns(std::uint64_t j) {
  return (j / HZ) * kNsPerSec + ((j % HZ) * kNsPerSec + HZ - 1) / HZ;
}
// The length of j jiffies, as a duration (j * 1e9 / HZ, rounded up).
inline Nanos jiffies_to_nsecs(std::uint64_t j) {
  return jiffy_start_ns(j);
}
// msecs_to_jiffies / usecs_to_jiffies round up to a whole jiffy, as
// Linux's do for every HZ (_msecs_to_jiffies, _usecs_to_jiffies).
inline std::uint64_t msecs_to_jiffies(std::uint64_t ms) {
  return (ms * HZ + 999) / 1000;
}
inline std::uint64_t usecs_to_jiffies(std::uint64_t us) {
  return (us * HZ + 999999) / 1000000;
}
// jiffies_to_usecs / jiffies_to_msecs round down (exact when HZ divides
// 1000, as for 100, 250, 1000; HZ=300 truncates like HZ_TO_USEC_NUM/DEN).
inline std::uint64_t jiffies_to_usecs(std::uint64_t j) {
  return j * 1000000 / HZ;
}
inline std::uint64_t jiffies_to_msecs(std::uint64_t j) {
  return j * 1000 / HZ;
}

// calc_wheel_index's bucket expiry for a timer due at jiffy `expires`, armed
// when the wheel's clock reads `clk`: the jiffy on which it will run.
std::uint64_t timer_wheel_expiry(std::uint64_t expires, std::uint64_t clk);

// When a timer armed at time `now` runs: `when` jiffies from now
// (mod_timer(t, jiffies + when)), or at the absolute jiffy `expires`.
Nanos timer_fire_after(Nanos now, std::uint64_t when);
Nanos timer_fire_at(Nanos now, std::uint64_t expires);

}  // namespace sp
