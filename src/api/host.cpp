// sp::Host (sendpath/stack.hpp): a Stack on the monotonic clock with its
// devices, and the loop that runs it.
//
// Hosts joined by a SimLink form one Domain: one lock, one loop over every
// stack and link, as SimWorld does on virtual time. The link's frames carry
// the sending socket's destructor (TCP small queues) into whichever stack's
// turn frees them, so the two stacks cannot run on different threads
// without sharing a lock anyway. A Host without a SimLink is a Domain of one.
//
// Threaded mode: the domain's thread polls the stacks and links one round
// at a time under the lock, and sleeps in epoll on the device fds and a
// kick eventfd until the next timer or link event. A socket call from
// another thread takes the lock through the stack's CallLock (the Domain);
// on unlocking it kicks a sleeping loop awake, since the call may have
// queued frames or armed an earlier timer. A call that must wait gives the
// lock up in a condition variable the loop signals after every round that
// did work.
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.hpp"
#include "core/stack.hpp"
#include "dev/sim_link.hpp"
#include "dev/tap.hpp"
#include "dev/tun.hpp"
#include "ip/arp.hpp"
#include "sendpath/api.hpp"
#include "sendpath/stack.hpp"

namespace sp {

namespace {

// Rounds of polling before the loop looks at the clock and its fds again.
constexpr int kMaxRounds = 64;
constexpr int kMaxEvents = 16;

int fail(std::string* error, std::string msg) {
  if (error) *error = std::move(msg);
  return -1;
}

bool parse_cidr(const std::string& s, be32* addr, int* prefix) {
  const auto slash = s.find('/');
  *prefix = 32;
  if (slash != std::string::npos) {
    const std::string p = s.substr(slash + 1);
    if (p.empty() || p.size() > 2 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
    *prefix = std::stoi(p);
    if (*prefix > 32) return false;
  }
  in_addr in{};
  if (::inet_pton(AF_INET, s.substr(0, slash).c_str(), &in) != 1) return false;
  *addr = in.s_addr;
  return true;
}

// A SimLink on real time, with a clock of its own (every MonotonicClock
// reads the same CLOCK_MONOTONIC).
struct RealtimeLink {
  explicit RealtimeLink(const SimLinkConfig& cfg) : link(clock, cfg) {}
  MonotonicClock clock;
  SimLink link;
};

}  // namespace

class Domain;

struct Host::Impl {
  MonotonicClock clock;
  std::unique_ptr<Stack> stack;
  std::shared_ptr<Domain> domain;
  std::vector<TunFdDevice*> tun_devs;  // for close_pcap
};

class Domain final : public CallLock {
 public:
  Domain() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    kickfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = kickfd_;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, kickfd_, &ev);
  }
  ~Domain() {
    stop_thread();
    ::close(epfd_);
    ::close(kickfd_);
  }

  // --- CallLock: socket calls from other threads ---------------------------
  void lock() override {
    contenders_.fetch_add(1, std::memory_order_relaxed);
    mu_.lock();
    contenders_.fetch_sub(1, std::memory_order_relaxed);
  }
  void unlock() override {
    mu_.unlock();
    kick_if_sleeping();
  }

  // Locks for a Host method: the domain lock when a thread runs the loop.
  std::unique_lock<std::mutex> lock_if_threaded() {
    return threaded_ ? std::unique_lock<std::mutex>(mu_) : std::unique_lock<std::mutex>();
  }

  std::vector<Host::Impl*> hosts;
  std::vector<std::shared_ptr<RealtimeLink>> links;
  bool threaded() const { return threaded_; }

  // The wait driver of every stack here: a blocking call waits for the loop.
  void drive(Nanos deadline) {
    if (threaded_) {
      wait_for_loop(deadline);
    } else {
      run_once(deadline);
    }
  }

  // One bounded burst of work, then (if idle) a sleep until a device fd is
  // readable, the next event or the deadline.
  int run_once(Nanos deadline) {
    int total = 0;
    for (int i = 0; i < kMaxRounds; ++i) {
      const int w = round();
      total += w;
      if (!w) break;
    }
    if (total) {
      for (Host::Impl* h : hosts) h->stack->note_progress();
      return total;
    }
    const Nanos until = std::min(next_event(), deadline);
    if (until != Stack::kNoTimer && until <= now()) return 0;
    sleep_until(until);
    return 0;
  }

  int poll() {
    int total = 0;
    for (int i = 0; i < kMaxRounds; ++i) {
      const int w = round();
      total += w;
      if (!w) break;
    }
    return total;
  }

  Nanos next_event() const {
    Nanos t = Stack::kNoTimer;
    for (const auto& l : links) t = std::min(t, l->link.next_event());
    for (const Host::Impl* h : hosts) t = std::min(t, h->stack->next_timer_expiry());
    return t;
  }

  std::vector<int> fds() const {
    std::vector<int> out;
    for (const Host::Impl* h : hosts)
      for (const auto& d : h->stack->devices())
        if (d->wait_fd() >= 0) out.push_back(d->wait_fd());
    return out;
  }

  Nanos now() const { return clock_.now_ns(); }

  int start_thread(std::string* error) {
    if (threaded_) return fail(error, "the host already runs in a thread");
    for (Host::Impl* h : hosts) h->stack->set_call_lock(this);
    stop_ = false;
    threaded_ = true;
    try {
      thread_ = std::thread([this] { thread_main(); });
    } catch (const std::system_error& e) {
      threaded_ = false;
      for (Host::Impl* h : hosts) h->stack->set_call_lock(nullptr);
      return fail(error, std::string("cannot start the stack thread: ") + e.what());
    }
    return 0;
  }

  void stop_thread() {
    if (!threaded_) return;
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    kick();
    thread_.join();
    threaded_ = false;
    for (Host::Impl* h : hosts) h->stack->set_call_lock(nullptr);
  }

  // Moves every host and link of `other` into self (a SimLink joins
  // them). The caller keeps `other` alive: its hosts held the last owners.
  static void absorb(const std::shared_ptr<Domain>& self, Domain& other) {
    for (Host::Impl* h : other.hosts) {
      self->hosts.push_back(h);
      h->domain = self;
    }
    other.hosts.clear();
    for (auto& l : other.links) self->links.push_back(std::move(l));
    other.links.clear();
  }

  // Removes a host whose stack is about to go. Frames in flight on the
  // links carry destructors into its sockets: free them first.
  void remove(Host::Impl* h) {
    for (auto& l : links) l->link.flush();
    hosts.erase(std::remove(hosts.begin(), hosts.end(), h), hosts.end());
  }

 private:
  // One pass over every link and stack.
  int round() {
    int work = 0;
    for (auto& l : links) work += l->link.advance();
    for (Host::Impl* h : hosts) work += h->stack->poll();
    return work;
  }

  void sync_fds() {
    std::vector<int> want = fds();
    for (int fd : want) {
      if (std::find(watched_.begin(), watched_.end(), fd) != watched_.end()) continue;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0) watched_.push_back(fd);
    }
    // A closed device's fd left the epoll set when it was closed.
    watched_ = std::move(want);
  }

  void sleep_until(Nanos until) {
    sync_fds();
    timespec ts{};
    timespec* tsp = nullptr;
    if (until != Stack::kNoTimer) {
      const Nanos n = now();
      const Nanos d = until > n ? until - n : 0;
      ts.tv_sec = static_cast<time_t>(d / kNsPerSec);
      ts.tv_nsec = static_cast<long>(d % kNsPerSec);
      tsp = &ts;
    }
    epoll_event evs[kMaxEvents];
    const int n = ::epoll_pwait2(epfd_, evs, kMaxEvents, tsp, nullptr);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd == kickfd_) {
        std::uint64_t v = 0;
        [[maybe_unused]] const ssize_t r = ::read(kickfd_, &v, sizeof v);
      }
    }
  }

  void kick() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t r = ::write(kickfd_, &one, sizeof one);
  }
  void kick_if_sleeping() {
    if (sleeping_.load(std::memory_order_acquire)) kick();
  }

  // A blocking call on a threaded domain: the caller holds mu_ (its
  // CallGuard); give it up until the loop has done a round of work or the
  // deadline passes.
  void wait_for_loop(Nanos deadline) {
    kick_if_sleeping();  // the call may have queued work for the loop
    std::unique_lock<std::mutex> lk(mu_, std::adopt_lock);
    const std::uint64_t seen = rounds_;
    auto done = [&] { return rounds_ != seen || stop_; };
    if (deadline == Stack::kNoTimer) {
      cv_.wait(lk, done);
    } else {
      // MonotonicClock and steady_clock both read CLOCK_MONOTONIC.
      const std::chrono::steady_clock::time_point tp{std::chrono::nanoseconds(deadline)};
      cv_.wait_until(lk, tp, done);
    }
    lk.release();
    for (Host::Impl* h : hosts) h->stack->note_progress();
  }

  void thread_main() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stop_) {
      const int work = round();
      if (work) {
        ++rounds_;
        lk.unlock();
        cv_.notify_all();
        // Let a caller waiting for the lock in before the next round.
        if (contenders_.load(std::memory_order_relaxed)) std::this_thread::yield();
        lk.lock();
        continue;
      }
      const Nanos next = next_event();
      if (next != Stack::kNoTimer && next <= now()) continue;
      sleeping_.store(true, std::memory_order_release);
      lk.unlock();
      sleep_until(next);
      sleeping_.store(false, std::memory_order_release);
      lk.lock();
    }
    ++rounds_;
    lk.unlock();
    cv_.notify_all();
  }

  MonotonicClock clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t rounds_ = 0;  // rounds that did work (under mu_)
  std::thread thread_;
  bool threaded_ = false;
  bool stop_ = false;
  std::atomic<bool> sleeping_{false};
  std::atomic<int> contenders_{0};
  int epfd_ = -1;
  int kickfd_ = -1;
  std::vector<int> watched_;
};

namespace {

// SimLink ends waiting for their peer, by name.
struct PendingLink {
  std::shared_ptr<RealtimeLink> link;
  std::weak_ptr<Domain> domain;
};
std::mutex& pending_mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, PendingLink>& pending_links() {
  static std::map<std::string, PendingLink> m;
  return m;
}

SimLinkConfig sim_config(const DeviceOptions& o) {
  SimLinkConfig cfg;
  SimPathConfig p;
  p.rate_bps = o.sim_rate_bps;
  p.delay = static_cast<Nanos>(o.sim_delay_us) * kNsPerUs;
  p.loss = o.sim_loss;
  cfg.a_to_b = p;
  cfg.b_to_a = p;
  cfg.mtu = o.mtu;
  cfg.seed = o.sim_seed;
  return cfg;
}

}  // namespace

Host::Host(const std::string& name) : impl_(std::make_unique<Impl>()) {
  impl_->stack = std::make_unique<Stack>(impl_->clock);
  if (!name.empty()) impl_->stack->set_name(name);
  impl_->domain = std::make_shared<Domain>();
  impl_->domain->hosts.push_back(impl_.get());
  Impl* self = impl_.get();
  // Looked up at each wait: a SimLink may move this host to another domain.
  impl_->stack->set_wait_driver([self](Nanos deadline) { self->domain->drive(deadline); });
}

Host::~Host() {
  std::shared_ptr<Domain> d = impl_->domain;
  if (d->hosts.size() == 1) d->stop_thread();
  {
    auto lk = d->lock_if_threaded();
    d->remove(impl_.get());
    for (TunFdDevice* t : impl_->tun_devs) t->close_pcap();
    impl_->stack.reset();
  }
  impl_.reset();
}

Stack& Host::stack() {
  return *impl_->stack;
}

int Host::open_device(const DeviceOptions& o, std::string* error) {
  if (o.kind == DeviceKind::kSimLink) {
    std::lock_guard pl(pending_mu());
    auto& pending = pending_links();
    auto it = pending.find(o.name);
    std::shared_ptr<Domain> peer = it == pending.end() ? nullptr : it->second.domain.lock();
    if (!peer) {
      // First end: make the link, wait for the second.
      if (impl_->domain->threaded())
        return fail(error, "open SimLink " + o.name + " before run_in_thread()");
      auto link = std::make_shared<RealtimeLink>(sim_config(o));
      std::optional<std::array<std::uint8_t, 6>> mac = parse_mac(o.mac);
      if (!o.mac.empty() && !mac) return fail(error, "bad MAC address: " + o.mac);
      auto end = link->link.take_end_a(mac.value_or(random_local_mac()));
      end->name = o.name;
      impl_->domain->links.push_back(link);
      pending[o.name] = PendingLink{link, impl_->domain};
      return impl_->stack->register_netdev(std::move(end));
    }
    if (impl_->domain->threaded() || peer->threaded())
      return fail(error, "open both ends of SimLink " + o.name + " before run_in_thread()");
    std::optional<std::array<std::uint8_t, 6>> mac = parse_mac(o.mac);
    if (!o.mac.empty() && !mac) return fail(error, "bad MAC address: " + o.mac);
    std::shared_ptr<RealtimeLink> link = it->second.link;
    pending.erase(it);
    auto end = link->link.take_end_b(mac.value_or(random_local_mac()));
    end->name = o.name;
    if (peer != impl_->domain) {
      const std::shared_ptr<Domain> mine = impl_->domain;
      Domain::absorb(peer, *mine);
    }
    return impl_->stack->register_netdev(std::move(end));
  }

  TunConfig cfg;
  cfg.name = o.name;
  cfg.netns = o.netns;
  cfg.csum = o.csum;
  cfg.tso = o.tso && o.csum;
  cfg.bring_up = o.bring_up;
  cfg.mtu = o.mtu;
  std::string err;
  std::unique_ptr<TunFdDevice> dev;
  if (o.kind == DeviceKind::kTun) {
    dev = TunDevice::open(cfg, &err);
  } else {
    std::optional<std::array<std::uint8_t, 6>> mac;
    if (!o.mac.empty()) {
      mac = parse_mac(o.mac);
      if (!mac) return fail(error, "bad MAC address: " + o.mac);
    }
    dev = TapDevice::open(cfg, &err, mac);
  }
  if (!dev) return fail(error, err.empty() ? "cannot open " + o.name : err);
  if (!o.pcap.empty()) {
    err = dev->open_pcap(o.pcap);
    if (!err.empty()) return fail(error, err);
  }
  auto lk = impl_->domain->lock_if_threaded();
  impl_->tun_devs.push_back(dev.get());
  return impl_->stack->register_netdev(std::move(dev));
}

int Host::add_address(int ifindex, const std::string& cidr, std::string* error) {
  be32 addr = 0;
  int prefix = 0;
  if (!parse_cidr(cidr, &addr, &prefix)) return fail(error, "bad address: " + cidr);
  auto lk = impl_->domain->lock_if_threaded();
  NetDevice* dev = impl_->stack->dev_get_by_index(ifindex);
  if (!dev) return fail(error, "no device with index " + std::to_string(ifindex));
  impl_->stack->add_address(ifindex, addr, prefix);
  // The device is up and addressed: tell the link (RFC 5227 announcement).
  if (dev->type == LinkType::kEthernet) arp_announce(*impl_->stack, ifindex);
  return 0;
}

int Host::add_route(const std::string& destination_cidr, const std::string& gateway, int ifindex,
                    std::string* error) {
  be32 dst = 0;
  int prefix = 0;
  if (!parse_cidr(destination_cidr, &dst, &prefix))
    return fail(error, "bad destination: " + destination_cidr);
  in_addr gw{};
  if (!gateway.empty() && ::inet_pton(AF_INET, gateway.c_str(), &gw) != 1)
    return fail(error, "bad gateway: " + gateway);
  auto lk = impl_->domain->lock_if_threaded();
  if (!impl_->stack->dev_get_by_index(ifindex))
    return fail(error, "no device with index " + std::to_string(ifindex));
  impl_->stack->add_route(dst, prefix, gw.s_addr, ifindex);
  return 0;
}

int Host::set_sysctl(const std::string& name, const std::string& value, std::string* error) {
  auto lk = impl_->domain->lock_if_threaded();
  std::string err = impl_->stack->sysctl().set(name, value);
  if (err.empty()) return 0;
  // As writing /proc/sys would: no such knob is ENOENT, a value outside its
  // range EINVAL; a value sendpath has no behaviour for, EOPNOTSUPP.
  errno = err.rfind("unknown sysctl", 0) == 0                            ? ENOENT
          : err.find("not implemented in sendpath") != std::string::npos ? EOPNOTSUPP
                                                                         : EINVAL;
  return fail(error, err);
}

int Host::run_in_thread(std::string* error) {
  return impl_->domain->start_thread(error);
}

void Host::stop() {
  impl_->domain->stop_thread();
}

bool Host::running() const {
  return impl_->domain->threaded();
}

int Host::poll() {
  if (impl_->domain->threaded()) return -1;
  return impl_->domain->poll();
}

int Host::next_timeout_ms() const {
  const Nanos next = impl_->domain->next_event();
  if (next == Stack::kNoTimer) return -1;
  const Nanos now = impl_->domain->now();
  if (next <= now) return 0;
  const Nanos ms = (next - now + kNsPerMs - 1) / kNsPerMs;
  return static_cast<int>(std::min<Nanos>(ms, 1u << 30));
}

std::vector<int> Host::fds() const {
  return impl_->domain->fds();
}

int socket(Host& host, int domain, int type, int protocol) {
  return sp::socket(host.stack(), domain, type, protocol);
}

}  // namespace sp
