#include "dev/realtime_loop.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "core/stack.hpp"

namespace sp {

namespace {
// Bound on back-to-back polls before we look at the clock and the fds again,
// so a peer that never stops sending cannot starve timers or watched fds.
constexpr int kMaxBusyPasses = 64;
constexpr int kMaxEvents = 16;
}  // namespace

RealtimeLoop::RealtimeLoop(Stack& stack) : stack_(stack) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
}

RealtimeLoop::~RealtimeLoop() {
  if (epfd_ >= 0) ::close(epfd_);
}

void RealtimeLoop::install_wait_driver() {
  stack_.set_wait_driver([this](Nanos deadline) { run_once(deadline); });
}

void RealtimeLoop::sync_devices() {
  // Devices can be registered after the loop is made: pick up new fds.
  std::vector<int> live;
  for (const auto& d : stack_.devices()) {
    const int fd = d->wait_fd();
    if (fd < 0) continue;
    live.push_back(fd);
    if (std::find(dev_fds_.begin(), dev_fds_.end(), fd) != dev_fds_.end()) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0) dev_fds_.push_back(fd);
  }
  // A device that is gone stops offering its fd, which from then on only
  // reports an error (EPOLLERR, never cleared): waiting on it would turn
  // every sleep into a spin.
  for (auto it = dev_fds_.begin(); it != dev_fds_.end();) {
    if (std::find(live.begin(), live.end(), *it) == live.end()) {
      ::epoll_ctl(epfd_, EPOLL_CTL_DEL, *it, nullptr);
      it = dev_fds_.erase(it);
    } else {
      ++it;
    }
  }
}

void RealtimeLoop::watch_fd(int fd, std::function<void()> fn) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST) {
    watched_[fd] = std::move(fn);
  }
}

void RealtimeLoop::unwatch_fd(int fd) {
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  watched_.erase(fd);
}

void RealtimeLoop::sleep_until(Nanos until) {
  const Nanos now = stack_.now();
  timespec ts{};
  timespec* tsp = nullptr;
  if (until != Stack::kNoTimer) {
    const Nanos d = until > now ? until - now : 0;
    ts.tv_sec = static_cast<time_t>(d / kNsPerSec);
    ts.tv_nsec = static_cast<long>(d % kNsPerSec);
    tsp = &ts;
  }
  epoll_event evs[kMaxEvents];
  stats_.sleeps++;
  const int n = ::epoll_pwait2(epfd_, evs, kMaxEvents, tsp, nullptr);
  if (n <= 0) {
    if (n == 0) stats_.timer_wakeups++;
    return;
  }
  stats_.fd_wakeups++;
  for (int i = 0; i < n; ++i) {
    auto it = watched_.find(evs[i].data.fd);
    if (it != watched_.end()) {
      auto fn = it->second;  // the handler may unwatch itself
      fn();
    }
  }
}

int RealtimeLoop::run_once(Nanos deadline) {
  sync_devices();
  int total = 0;
  const Nanos spin_until = busy_poll_ns_ ? stack_.now() + busy_poll_ns_ : 0;
  for (int i = 0; i < kMaxBusyPasses; ++i) {
    const int w = stack_.poll();
    stats_.passes++;
    total += w;
    if (w == 0 && (busy_poll_ns_ == 0 || stack_.now() >= spin_until)) break;
  }
  if (total > 0) return total;  // let the caller re-check its condition first
  const Nanos until = std::min(stack_.next_timer_expiry(), deadline);
  if (until != Stack::kNoTimer && until <= stack_.now()) return 0;
  sleep_until(until);
  return 0;
}

bool RealtimeLoop::run_until(const std::function<bool()>& cond, Nanos deadline) {
  while (!cond()) {
    if (stack_.now() >= deadline) return false;
    run_once(deadline);
  }
  return true;
}

void RealtimeLoop::run() {
  stop_ = false;
  while (!stop_) run_once(Stack::kNoTimer);
}

}  // namespace sp
