// The only way sendpath code reads time. Simulation and packetdrill scripts run
// on VirtualClock; real devices (tap, tun) on MonotonicClock.
#pragma once
#include <cstdint>
#include <ctime>

namespace sp {

using Nanos = std::uint64_t;  // nanoseconds since the clock's epoch

constexpr Nanos kNsPerUs = 1000;
constexpr Nanos kNsPerMs = 1000 * 1000;
constexpr Nanos kNsPerSec = 1000 * 1000 * 1000;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now_ns() const = 0;
  virtual bool is_virtual() const = 0;
};

// Time moves only when the owner advances it: repeatable runs.
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(Nanos start = 0) : now_(start) {}
  Nanos now_ns() const override { return now_; }
  bool is_virtual() const override { return true; }
  // Time never goes backwards; an earlier target is ignored.
  void advance_to(Nanos t) {
    if (t > now_) now_ = t;
  }
  void advance_by(Nanos d) { now_ += d; }

 private:
  Nanos now_;
};

class MonotonicClock final : public Clock {
 public:
  Nanos now_ns() const override {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<Nanos>(ts.tv_sec) * kNsPerSec + static_cast<Nanos>(ts.tv_nsec);
  }
  bool is_virtual() const override { return false; }
};

}  // namespace sp
