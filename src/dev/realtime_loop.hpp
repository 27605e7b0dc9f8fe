// The event loop for real devices (tap, tun): the Stack's own poll() does the
// work; this decides when to call it. Between passes it sleeps in epoll on
// every device fd, with the timeout set to the Stack's next timer expiry on
// the MonotonicClock (nanosecond precision through epoll_pwait2, so pacing
// and delayed-ACK timers fire when due rather than on a millisecond grid).
// Installed as the Stack's wait driver, it is what lets a blocking connect,
// send or recv wait on a real network exactly as it waits in simulation.
#pragma once
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"

namespace sp {

class Stack;

struct RealtimeLoopStats {
  std::uint64_t passes = 0;         // Stack::poll() calls
  std::uint64_t sleeps = 0;         // epoll waits
  std::uint64_t fd_wakeups = 0;     // sleeps ended by a readable fd
  std::uint64_t timer_wakeups = 0;  // sleeps ended by the timeout
};

class RealtimeLoop {
 public:
  // The stack should run on a MonotonicClock (a virtual clock never moves
  // while we sleep).
  explicit RealtimeLoop(Stack& stack);
  ~RealtimeLoop();
  RealtimeLoop(const RealtimeLoop&) = delete;
  RealtimeLoop& operator=(const RealtimeLoop&) = delete;

  // Make blocking socket calls on this stack run this loop while they wait.
  void install_wait_driver();

  // One turn: poll the stack until it is idle (bounded), then sleep until a
  // device fd is readable, the next timer is due or `deadline` passes.
  // Returns the work the polls did.
  int run_once(Nanos deadline);
  // Turns until cond() holds (true) or the deadline passes (false).
  bool run_until(const std::function<bool()>& cond, Nanos deadline);
  // Turns until stop() is called (from a handler or a watched fd).
  void run();
  void stop() { stop_ = true; }

  // Spin on the devices for up to this long before sleeping (busy polling,
  // as net.core.busy_poll does): lower latency for more CPU. 0 = off.
  void set_busy_poll(Nanos ns) { busy_poll_ns_ = ns; }

  // Extra fds to wake on (a signalfd, a control pipe): fn runs when readable.
  void watch_fd(int fd, std::function<void()> fn);
  void unwatch_fd(int fd);

  const RealtimeLoopStats& stats() const { return stats_; }

 private:
  void sync_devices();
  void sleep_until(Nanos until);

  Stack& stack_;
  int epfd_ = -1;
  bool stop_ = false;
  Nanos busy_poll_ns_ = 0;
  std::vector<int> dev_fds_;
  std::unordered_map<int, std::function<void()>> watched_;
  RealtimeLoopStats stats_;
};

}  // namespace sp
