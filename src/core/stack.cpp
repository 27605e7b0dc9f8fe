// Stack: the timer queue, deferred work, devices/addresses/routes, the loop
// and blocking waits. The IP data path (ip_queue_xmit, netif_receive_skb)
// lives in ip/.
#include "core/stack.hpp"

#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/jiffies.hpp"
#include "core/stack_impl.hpp"
#include "ip/arp.hpp"
#include "ip/icmp.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/trace.hpp"

namespace sp {

namespace {
// NAPI's default weight: frames one device may deliver per poll pass.
constexpr int kNapiBudget = 64;
// Deferred work that keeps deferring more (a TSQ handler that queues another)
// is finished on the next poll() rather than spinning here forever.
constexpr int kMaxDeferRounds = 64;
// ip_rt_mtu_expires: a learned PMTU is forgotten after 10 minutes.
constexpr Nanos kPmtuExpires = 600 * kNsPerSec;
// ip_rt_min_pmtu: ICMP cannot push the path MTU below this.
constexpr std::uint32_t kMinPmtu = 552;
}  // namespace

std::uint32_t Stack::random_u32_below(std::uint32_t n) {
  // splitmix64, reduced by multiply-shift.
  std::uint64_t z = (prandom_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  if (n == 0) return static_cast<std::uint32_t>(z >> 32);  // Linux: the whole u32 range
  return static_cast<std::uint32_t>(((z >> 32) * n) >> 32);
}

Stack::Stack(Clock& clock) : clock_(clock), impl_(std::make_unique<Impl>(*this)) {
  note_stack_created();
  static std::atomic<unsigned> next_stack{0};
  trace_id_ = trace::register_stack_name("stack" + std::to_string(next_stack.fetch_add(1)));
  // TcpStackState registers IPPROTO_TCP, so impl_ must exist first.
  tcp_ = std::make_unique<TcpStackState>(*this);
  arp_init(*this);
  icmp_init(*this);
}

void Stack::set_name(std::string_view name) {
  trace::rename_stack(trace_id_, name);
}
std::string_view Stack::name() const {
  return trace::stack_name(trace_id_);
}

Stack::~Stack() {
  note_stack_destroyed();
  // Teardown order matters: queued skbs carry destructors (tcp_wfree) that
  // reach into sockets, so free them while the sockets still exist.
  impl_->neigh.flush();
  impl_->deferred.clear();
  devs_.clear();
  // TCP's teardown (closing sockets, releasing ports) reaches back through
  // stack.tcp(), so the pointer stays valid while the destructor runs.
  if (tcp_) {
    tcp_.get_deleter()(tcp_.get());
    static_cast<void>(tcp_.release());
  }
  impl_->timers.clear();
  impl_.reset();
}

TcpStackState& Stack::tcp() {
  return *tcp_;
}

// --- timers ---------------------------------------------------------------------

void Stack::mod_timer(Timer& t, Nanos expires) {
  if (t.hook_.is_linked()) impl_->timers.erase(impl_->timers.iterator_to(t));
  t.expires_ = expires;
  t.order_ = impl_->timer_order++;
  impl_->timers.insert(t);
}

void Stack::del_timer(Timer& t) {
  if (t.hook_.is_linked()) impl_->timers.erase(impl_->timers.iterator_to(t));
}

Nanos Stack::next_timer_expiry() const {
  if (impl_->timers.empty()) return kNoTimer;
  return impl_->timers.begin()->expires_;
}

int Stack::run_timers() {
  // Only timers armed before this pass run in it: a callback that re-arms
  // itself for "now" runs on the next pass, as a kernel timer re-armed from
  // its handler fires on a later tick.
  const std::uint64_t armed_before = impl_->timer_order;
  const Nanos now_ns = now();
  int ran = 0;
  auto& q = impl_->timers;
  auto it = q.begin();
  while (it != q.end() && it->expires_ <= now_ns) {
    if (it->order_ >= armed_before) {
      ++it;
      continue;
    }
    Timer& t = *it;
    q.erase(it);
    // The callback may free the object owning t (a socket's last timer),
    // so it runs from a copy.
    Timer::Fn fn = t.fn_;
    if (fn) fn();
    ++ran;
    it = q.begin();
  }
  if (ran) impl_->progress++;
  return ran;
}

void Stack::defer(std::function<void()> fn) {
  impl_->deferred.push_back(std::move(fn));
}

// --- devices, addresses, routes ------------------------------------------------------

int Stack::register_netdev(std::unique_ptr<NetDevice> dev) {
  NetDevice* d = dev.get();
  d->ifindex = static_cast<int>(devs_.size()) + 1;
  d->stack = this;
  d->rx_handler = [this, d](SkbPtr skb) {
    skb->ifindex = d->ifindex;
    netif_receive_skb(std::move(skb));
  };
  devs_.push_back(std::move(dev));
  return d->ifindex;
}

NetDevice* Stack::dev_get_by_index(int ifindex) const {
  if (ifindex <= 0 || static_cast<std::size_t>(ifindex) > devs_.size()) return nullptr;
  return devs_[static_cast<std::size_t>(ifindex) - 1].get();
}

void Stack::add_address(int ifindex, be32 addr, int prefix_len) {
  prefix_len = std::clamp(prefix_len, 0, 32);
  impl_->addrs.push_back({ifindex, addr, prefix_len});
  // As Linux does (fib_add_ifaddr), an address brings its connected route.
  const std::uint32_t mask = prefix_mask_host(prefix_len);
  add_route(htonl(ntohl(addr) & mask), prefix_len, 0, ifindex);
}

bool Stack::is_local_address(be32 addr) const {
  return std::any_of(impl_->addrs.begin(), impl_->addrs.end(),
                     [addr](const IfAddr& a) { return a.addr == addr; });
}

std::vector<be32> Stack::dev_addresses(int ifindex) const {
  std::vector<be32> out;
  for (const auto& a : impl_->addrs)
    if (a.ifindex == ifindex) out.push_back(a.addr);
  return out;
}

be32 Stack::inet_select_addr(int ifindex, be32 daddr) const {
  // Prefer an address whose subnet holds daddr, else the device's primary.
  be32 primary = 0;
  for (const auto& a : impl_->addrs) {
    if (a.ifindex != ifindex) continue;
    const std::uint32_t mask = prefix_mask_host(a.prefix_len);
    if ((ntohl(a.addr) & mask) == (ntohl(daddr) & mask)) return a.addr;
    if (!primary) primary = a.addr;
  }
  return primary;
}

void Stack::add_route(be32 dst, int prefix_len, be32 gateway, int ifindex) {
  prefix_len = std::clamp(prefix_len, 0, 32);
  const std::uint32_t mask = prefix_mask_host(prefix_len);
  const be32 masked = htonl(ntohl(dst) & mask);
  for (auto& r : impl_->routes) {
    if (r.dst == masked && r.prefix_len == prefix_len) {  // replace, as `ip route replace`
      r.gateway = gateway;
      r.ifindex = ifindex;
      ++impl_->route_genid;
      return;
    }
  }
  ++impl_->route_genid;
  impl_->routes.push_back({masked, prefix_len, gateway, ifindex, {}});
}

std::uint32_t Stack::route_genid() const {
  return impl_->route_genid;
}

int Stack::change_route(be32 dst, int prefix_len, be32 gateway, int ifindex,
                        const RouteMetrics& metrics) {
  prefix_len = std::clamp(prefix_len, 0, 32);
  const be32 masked = htonl(ntohl(dst) & prefix_mask_host(prefix_len));
  for (auto& r : impl_->routes) {
    if (r.dst == masked && r.prefix_len == prefix_len) {
      r.gateway = gateway;
      r.ifindex = ifindex;
      r.metrics = metrics;
      ++impl_->route_genid;  // rt_cache_flush
      return 0;
    }
  }
  return -ENOENT;
}

RouteResult Stack::ip_route_output(be32 daddr) const {
  const Route* best = nullptr;
  const std::uint32_t d = ntohl(daddr);
  for (const auto& r : impl_->routes) {
    const std::uint32_t mask = prefix_mask_host(r.prefix_len);
    if ((d & mask) != ntohl(r.dst)) continue;
    if (!best || r.prefix_len > best->prefix_len) best = &r;  // longest prefix wins
  }
  RouteResult res;
  if (!best) return res;
  NetDevice* dev = dev_get_by_index(best->ifindex);
  // A device that is gone took its routes with it (fib_sync_down_dev).
  if (!dev || dev->gone()) return res;
  res.dev = dev;
  res.nexthop = best->gateway ? best->gateway : daddr;
  res.saddr = inet_select_addr(dev->ifindex, res.nexthop);
  // ipv4_mtu: an IPv4 route carries at most IP_MAX_MTU (65535) bytes, even
  // over a device with a larger MTU (the loopback's is 65536).
  constexpr std::uint32_t kIpMaxMtu = 0xFFFF;
  res.mtu = std::min(best->metrics.mtu ? best->metrics.mtu : dev->mtu, kIpMaxMtu);
  res.metrics = best->metrics;
  // A locked MTU metric is not lowered by learned PMTU (ip_mtu_locked).
  auto it = best->metrics.mtu_locked ? impl_->pmtu.end() : impl_->pmtu.find(daddr);
  if (it != impl_->pmtu.end()) {
    if (it->second.expires > now())
      res.mtu = std::min(res.mtu, it->second.mtu);
    else
      impl_->pmtu.erase(it);
  }
  return res;
}

void Stack::update_pmtu(be32 daddr, std::uint32_t mtu) {
  // __ip_rt_update_pmtu: a PMTU only ever shrinks (until it expires), and
  // never below ip_rt_min_pmtu, whatever the ICMP message claims.
  mtu = std::max(mtu, kMinPmtu);
  RouteResult r = ip_route_output(daddr);
  if (r.dev && (r.metrics.mtu_locked || mtu >= r.mtu)) return;
  impl_->pmtu[daddr] = {mtu, now() + kPmtuExpires};
}

void Stack::neigh_add(int ifindex, be32 addr, const std::array<std::uint8_t, 6>& mac) {
  impl_->neigh.add_static(ifindex, addr, mac);
}

NeighTable& Stack::neigh() {
  return impl_->neigh;
}

// --- protocols -----------------------------------------------------------------------

void Stack::register_protocol(std::uint8_t proto, ProtoHandler rcv, ProtoErrHandler err) {
  impl_->protos[proto] = std::move(rcv);
  impl_->proto_errs[proto] = std::move(err);
}

void Stack::register_packet_type(std::uint16_t ethertype, PacketTypeHandler fn) {
  impl_->ptypes[ethertype] = std::move(fn);
}

bool Stack::deliver_icmp_error(std::uint8_t proto, const SkBuff* quoted, int type, int code,
                               std::uint32_t info) {
  const auto& h = impl_->proto_errs[proto];
  if (!h) return false;
  h(quoted, type, code, info);
  return true;
}

// --- the loop --------------------------------------------------------------------------

int Stack::poll() {
  int work = 0;
  // Devices may be added by a handler; index, do not iterate.
  for (std::size_t i = 0; i < devs_.size(); ++i) work += devs_[i]->poll(kNapiBudget);
  work += run_timers();
  for (int round = 0; round < kMaxDeferRounds && !impl_->deferred.empty(); ++round) {
    std::deque<std::function<void()>> batch;
    batch.swap(impl_->deferred);
    for (auto& fn : batch) {
      fn();
      ++work;
    }
  }
  if (work) impl_->progress++;
  return work;
}

void Stack::note_progress() {
  impl_->progress++;
}
std::uint64_t Stack::progress() const {
  return impl_->progress;
}

bool Stack::wait_until(const std::function<bool()>& cond, Nanos deadline) {
  for (;;) {
    if (cond()) return true;
    if (now() >= deadline) return false;
    const Nanos t0 = now();
    const std::uint64_t p0 = impl_->progress;
    if (wait_driver_) {
      wait_driver_(deadline);
    } else {
      // Default driver: this stack alone.
      const int work = poll();
      if (!work && !cond()) {
        const Nanos next = std::min(next_timer_expiry(), deadline);
        if (clock_.is_virtual()) {
          if (next == kNoTimer) return false;  // nothing can ever happen
          static_cast<VirtualClock&>(clock_).advance_to(next);
        } else {
          // Sleep on the devices' fds until a frame, the next timer or the
          // deadline, whichever is first.
          std::vector<pollfd> fds;
          for (const auto& d : devs_)
            if (d->wait_fd() >= 0) fds.push_back({d->wait_fd(), POLLIN, 0});
          const Nanos n = now();
          int timeout_ms = -1;
          if (next != kNoTimer)
            timeout_ms = next > n ? static_cast<int>(std::min<Nanos>(
                                        (next - n + kNsPerMs - 1) / kNsPerMs, 1000000))
                                  : 0;
          if (fds.empty() && timeout_ms < 0) return false;
          ::poll(fds.data(), fds.size(), timeout_ms);
        }
      }
    }
    if (clock_.is_virtual() && now() == t0 && impl_->progress == p0 && !cond()) return false;
  }
}

}  // namespace sp
