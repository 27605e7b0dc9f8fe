// Stack's private state, shared by the files that implement Stack (core/ and
// ip/). Nothing outside the IP/device side includes this.
#pragma once
#include <array>
#include <boost/intrusive/set.hpp>
#include <deque>
#include <unordered_map>
#include <vector>

#include "core/stack.hpp"
#include "ip/neighbour.hpp"

namespace sp {

struct TimerLess {
  bool operator()(const Timer& a, const Timer& b) const {
    if (a.expires_ != b.expires_) return a.expires_ < b.expires_;
    return a.order_ < b.order_;
  }
};

// auto_unlink hooks require a container without a cached size.
using TimerQueue = boost::intrusive::multiset<
    Timer,
    boost::intrusive::member_hook<Timer,
                                  boost::intrusive::set_member_hook<
                                      boost::intrusive::link_mode<boost::intrusive::auto_unlink>>,
                                  &Timer::hook_>,
    boost::intrusive::compare<TimerLess>, boost::intrusive::constant_time_size<false>>;

struct IfAddr {
  int ifindex = 0;
  be32 addr = 0;
  int prefix_len = 0;
};

struct Route {
  be32 dst = 0;  // network byte order, already masked
  int prefix_len = 0;
  be32 gateway = 0;  // 0: on-link
  int ifindex = 0;
  RouteMetrics metrics;
};

struct PmtuEntry {
  std::uint32_t mtu = 0;
  Nanos expires = 0;
};

struct Stack::Impl {
  explicit Impl(Stack& s) : neigh(s) {}

  TimerQueue timers;
  std::uint64_t timer_order = 0;

  std::deque<std::function<void()>> deferred;

  std::vector<IfAddr> addrs;
  std::vector<Route> routes;
  std::uint32_t route_genid = 0;
  std::unordered_map<be32, PmtuEntry> pmtu;

  NeighTable neigh;

  std::array<ProtoHandler, 256> protos;
  std::array<ProtoErrHandler, 256> proto_errs;
  std::unordered_map<std::uint16_t, PacketTypeHandler> ptypes;

  // Per-destination IP ID counters (ip_idents), for packets without a socket
  // counter.
  std::unordered_map<be32, std::uint16_t> ip_ids;

  std::uint64_t progress = 0;  // bumped by anything that moves the world
};

// Host-order mask for a prefix length 0..32.
inline std::uint32_t prefix_mask_host(int prefix_len) {
  if (prefix_len <= 0) return 0;
  if (prefix_len >= 32) return 0xffffffffu;
  return ~((1u << (32 - prefix_len)) - 1);
}

}  // namespace sp
