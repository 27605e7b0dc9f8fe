// Stack: one single-threaded event loop owning devices, addresses, routes,
// neighbours, timers, the sysctl table, MIB counters and the protocol
// handlers. Several stacks may live in one process (the simulator runs two).
//
// CONTRACT between layers: TCP (src/tcp, src/sock) uses only what is declared
// here plus sysctl.hpp, mib.hpp and timer.hpp; the IP/device side implements
// it. Adding members is fine; changing a signature updates every caller in the
// same commit.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/mib.hpp"
#include "core/sysctl.hpp"
#include "core/timer.hpp"
#include "dev/net_device.hpp"
#include "skb/skbuff.hpp"

namespace sp {

class TcpStackState;  // tcp/: hash tables, sockets, per-stack TCP state

// IPv4 addresses are kept in network byte order everywhere (__be32).
using be32 = std::uint32_t;

// Per-route metrics (`ip route ... advmss N mtu [lock] N initcwnd N`, the
// RTAX_* values of a fib entry); 0 means unset.
struct RouteMetrics {
  std::uint32_t advmss = 0;    // RTAX_ADVMSS: the MSS we announce in SYN / SYN-ACK
  std::uint32_t mtu = 0;       // RTAX_MTU: path MTU instead of the device's
  bool mtu_locked = false;     // "mtu lock": ICMP-learned PMTU does not lower it
  std::uint32_t initcwnd = 0;  // RTAX_INITCWND: initial congestion window
};

struct RouteResult {
  NetDevice* dev = nullptr;
  be32 saddr = 0;         // preferred source address on dev
  be32 nexthop = 0;       // gateway, or daddr when on-link
  std::uint32_t mtu = 0;  // path MTU (device MTU unless PMTU learned less)
  RouteMetrics metrics;   // of the matching route
};

// What ip_queue_xmit needs from the socket (inet_sock / flowi4).
struct IpXmitParams {
  be32 saddr = 0;
  be32 daddr = 0;
  std::uint8_t protocol = 6;
  std::uint8_t ttl = 64;  // sysctl ip_default_ttl
  std::uint8_t tos = 0;
  bool df = true;  // IP_PMTUDISC_DO/WANT: DF set on TCP
  // inet_sk(sk)->inet_id: the socket's IP ID counter, advanced by the number
  // of segments sent. nullptr: a per-destination counter (socketless replies).
  std::uint16_t* ip_id = nullptr;
};

// Handler for an IP protocol: skb->data at the transport header,
// network_header set, len = transport length.
using ProtoHandler = std::function<void(SkbPtr)>;
// ICMP error for a protocol: type, code, info (next-hop MTU for frag-needed),
// and the offending packet's quoted IPv4+transport header (skb->data at the
// quoted IP header).
using ProtoErrHandler =
    std::function<void(const SkBuff* quoted, int type, int code, std::uint32_t info)>;
// Handler for a non-IP ethertype (ARP): skb->data at the network header,
// mac_header set (struct packet_type).
using PacketTypeHandler = std::function<void(SkbPtr)>;

class NeighTable;

// Serialises calls into a stack from threads other than the one running its
// loop (sendpath/stack.hpp's Host::run_in_thread). The BSD-shaped calls take
// it around their work (api/call_guard.hpp); a blocking call's wait driver
// gives it up while it sleeps. Single-threaded stacks have none.
class CallLock {
 public:
  virtual void lock() = 0;
  virtual void unlock() = 0;

 protected:
  ~CallLock() = default;
};

class Stack {
 public:
  explicit Stack(Clock& clock);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // --- time and timers ------------------------------------------------------
  Clock& clock() { return clock_; }
  Nanos now() const { return clock_.now_ns(); }
  // mod_timer / del_timer on this stack's timer queue. Expired timers run
  // from run_timers() (called by poll()).
  void mod_timer(Timer& t, Nanos expires);
  void del_timer(Timer& t);
  // Earliest pending expiry, or kNoTimer.
  static constexpr Nanos kNoTimer = ~Nanos{0};
  Nanos next_timer_expiry() const;
  int run_timers();  // runs all timers with expires <= now(); returns count

  // Deferred work (the kernel's tasklets/softirq, e.g. the TSQ handler): run
  // at the end of the current poll(), never re-entrantly from the caller.
  void defer(std::function<void()> fn);

  // --- configuration and counters --------------------------------------------
  Sysctl& sysctl() { return sysctl_; }
  Mib& mib() { return mib_; }
  // get_random_u32_below(n): uniform in [0, n) (n = 0: any u32, as Linux's
  // non-constant form), for the few places Linux draws a random value
  // (sk_stream_wait_memory's vm_wait, the challenge ACK budget). A fixed
  // seed per stack, so that a simulated run repeats.
  std::uint32_t random_u32_below(std::uint32_t n);

  // --- devices, addresses, routes ---------------------------------------------
  // Registers dev (sets ifindex and rx_handler); returns the ifindex.
  int register_netdev(std::unique_ptr<NetDevice> dev);
  NetDevice* dev_get_by_index(int ifindex) const;
  const std::vector<std::unique_ptr<NetDevice>>& devices() const { return devs_; }
  void add_address(int ifindex, be32 addr, int prefix_len);
  bool is_local_address(be32 addr) const;
  void add_route(be32 dst, int prefix_len, be32 gateway, int ifindex);
  // `ip route change`: replace the gateway, device and metrics of the route
  // for exactly dst/prefix_len; -ENOENT when there is none (no NLM_F_CREATE).
  int change_route(be32 dst, int prefix_len, be32 gateway, int ifindex,
                   const RouteMetrics& metrics);
  // Bumped by every route change (rt_genid): a socket's cached route is
  // stale when its genid differs, and is looked up again (__sk_dst_check).
  std::uint32_t route_genid() const;
  // ip_route_output_key: nullopt-like (dev == nullptr) when unreachable.
  RouteResult ip_route_output(be32 daddr) const;
  // Learned PMTU (ICMP frag-needed) for a destination.
  void update_pmtu(be32 daddr, std::uint32_t mtu);
  // Static neighbour entry (tests, sim links with fixed MACs).
  void neigh_add(int ifindex, be32 addr, const std::array<std::uint8_t, 6>& mac);

  // --- the data path ---------------------------------------------------------
  // ip_queue_xmit: skb->data at the transport header (transport_header set).
  // Pushes the IPv4 header, routes, segments in software when the device
  // cannot do TSO/checksum, resolves the neighbour and hands to the device.
  // Returns 0, or a negative errno (-EHOSTUNREACH, -ENOBUFS, ...). The skb is
  // consumed either way.
  int ip_queue_xmit(SkbPtr skb, const IpXmitParams& p);
  // netif_receive_skb: a frame from a device (skb->data at the link header).
  void netif_receive_skb(SkbPtr skb);
  void register_protocol(std::uint8_t proto, ProtoHandler rcv, ProtoErrHandler err = {});
  // dev_add_pack: frames of this ethertype (host order) go to fn.
  void register_packet_type(std::uint16_t ethertype, PacketTypeHandler fn);
  // ICMP calls this with an error quoting a packet of `proto`; false when the
  // protocol has no err handler.
  bool deliver_icmp_error(std::uint8_t proto, const SkBuff* quoted, int type, int code,
                          std::uint32_t info);
  // The neighbour table (ARP plugs its solicit hook in here).
  NeighTable& neigh();
  // Addresses configured on a device (network byte order), first is primary.
  std::vector<be32> dev_addresses(int ifindex) const;
  // A source address for replies sent out of dev towards daddr (inet_select_addr).
  be32 inet_select_addr(int ifindex, be32 daddr) const;

  // --- the loop ---------------------------------------------------------------
  // One pass: poll every device (bounded budget), run expired timers, run
  // deferred work. Returns the amount of work done (0 = idle).
  int poll();

  // Blocking calls in one thread: a call that must wait (connect, accept,
  // send in sk_stream_wait_memory, recv) calls wait_until(cond, deadline),
  // which runs the wait driver until cond() holds or the deadline passes
  // (false). The driver runs whatever moves the world forward: in
  // simulation the whole simulated world (both stacks, links, the virtual
  // clock); on real devices it polls their fds; in the packetdrill runner the
  // script's next events. Default driver: poll() this stack, and on a virtual
  // clock jump to the next timer, on a real clock wait on device fds.
  using WaitDriver = std::function<void(Nanos deadline)>;
  void set_wait_driver(WaitDriver d) { wait_driver_ = std::move(d); }
  bool wait_until(const std::function<bool()>& cond, Nanos deadline);
  // A wait driver that moved something (another stack, a link) without this
  // stack's own poll() doing work calls this, so wait_until does not take
  // the pass for a stall. A driver pass that neither advances the clock nor
  // notes progress means nothing can happen any more: wait_until returns
  // false.
  void note_progress();
  std::uint64_t progress() const;

  // The lock calls from other threads take (nullptr: single-threaded).
  void set_call_lock(CallLock* l) { call_lock_ = l; }
  CallLock* call_lock() const { return call_lock_; }

  // --- tracing ----------------------------------------------------------------
  // The name trace events carry ("client", "server"); default "stack<N>".
  void set_name(std::string_view name);
  std::string_view name() const;
  std::uint16_t trace_id() const { return trace_id_; }

  // Per-stack TCP state (owned here, defined in tcp/).
  TcpStackState& tcp();

  // The IP/device side's private state (core/stack_impl.hpp).
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  Clock& clock_;
  Sysctl sysctl_;
  Mib mib_;
  std::uint64_t prandom_ = 0x5e9d9a7b0f1c2d3eull;
  std::vector<std::unique_ptr<NetDevice>> devs_;
  WaitDriver wait_driver_;
  CallLock* call_lock_ = nullptr;
  std::unique_ptr<TcpStackState> tcp_;
  std::unique_ptr<Impl> impl_;
  std::uint16_t trace_id_ = 0;
};

}  // namespace sp
