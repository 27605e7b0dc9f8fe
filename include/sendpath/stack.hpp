/// @file sendpath/stack.hpp
/// @brief Creating a sendpath stack, giving it devices, addresses and routes,
/// and running it: on a thread of its own, or from the program's event loop.
///
/// A program makes an sp::Host, opens devices on it, and then either
///
/// - calls Host::run_in_thread(): the stack runs on a thread it owns, and the
///   program calls the socket API (sendpath/api.hpp) from any of its own
///   threads. Each call holds the host's lock while it works; a call that
///   must wait (accept, connect, recv on an empty queue, send into a full
///   buffer, poll, epoll_wait) sleeps without the lock, so the stack thread
///   and other callers go on; or
/// - drives the stack itself: Host::poll() does the pending work,
///   Host::next_timeout_ms() says when the next timer is due and Host::fds()
///   lists the descriptors to wait on (readable = frames arrived). A blocking
///   socket call made in this mode runs the same loop until it can finish,
///   so a simple program needs neither: it just calls the API.
///
/// @code
/// sp::Host host;
/// int ifindex = host.open_device({.kind = sp::DeviceKind::kTap, .name = "sptap0"});
/// host.add_address(ifindex, "10.77.0.2/24");
/// host.run_in_thread();
/// int fd = sp::socket(host, AF_INET, SOCK_STREAM, 0);
/// @endcode
///
/// Two hosts in one process can be joined by a simulated link (no
/// privileges needed): open a DeviceKind::kSimLink device with the same name
/// on both. Hosts joined so share one loop and one lock: run_in_thread() on
/// either runs both, poll() on either polls both.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sp {

class Stack;

/// The kinds of device a Host can open.
enum class DeviceKind {
  kTap,      ///< a Linux tap interface (Ethernet frames, ARP); needs CAP_NET_ADMIN
  kTun,      ///< a Linux tun interface (raw IPv4, no ARP); needs CAP_NET_ADMIN
  kSimLink,  ///< one end of an in-process simulated Ethernet link to another Host
};

/// How to open a device: the options of `sendpath send` / `sendpath serve`
/// (`--dev`, `--tun`, `--netns`, `--mac`, `--pcap`, `--no-tso`, `--no-csum`,
/// `--up`, `--mtu`) plus the shape of a simulated link.
struct DeviceOptions {
  /// Tap, tun or simulated link.
  DeviceKind kind = DeviceKind::kTap;
  /// Interface name (created when missing) for a tap or tun; for a
  /// SimLink, the link's name: the first Host to open a name gets one end,
  /// the second the other.
  std::string name = "sptap0";
  /// Open a tap or tun inside this named network namespace
  /// (/var/run/netns/NAME); empty: the caller's namespace.
  std::string netns;
  /// Our MAC address ("02:00:00:00:00:01"); empty picks a random local one.
  std::string mac;
  /// Write every frame crossing a tap or tun to this pcap file.
  std::string pcap;
  /// Negotiate TCP segmentation offload with the kernel (tap, tun).
  bool tso = true;
  /// Negotiate checksum offload with the kernel (tap, tun); off implies no TSO.
  bool csum = true;
  /// Set the kernel end of a tap or tun up.
  bool bring_up = false;
  /// Link MTU.
  std::uint32_t mtu = 1500;

  /// SimLink only, set by the end opened first: rate of each direction in
  /// bits per second (0: no serialisation delay).
  std::uint64_t sim_rate_bps = 1'000'000'000;
  /// SimLink only: one-way propagation delay in microseconds.
  std::uint32_t sim_delay_us = 1000;
  /// SimLink only: probability that a frame is lost, each direction.
  double sim_loss = 0;
  /// SimLink only: seed of the link's random choices.
  std::uint64_t sim_seed = 1;
};

/// One sendpath TCP/IPv4 stack with its devices, addresses and routes, and
/// the loop that runs it.
///
/// A Host is neither copyable nor movable (the stack thread and the sockets
/// refer to it). Destroying it stops its thread (unless a Host joined to it
/// by a SimLink still runs) and closes its devices; descriptors still open
/// on it then fail with ENOTCONN, and sp::close() releases them.
///
/// Methods return 0 (or an index) on success and -1 on failure, with a
/// message in `*error` when `error` is not null. They may be called from any
/// thread, also while the host runs in its thread.
class Host {
 public:
  /// A stack with no devices. `name` labels it in traces and statistics.
  explicit Host(const std::string& name = "");
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  /// Opens a device and registers it with the stack.
  /// @return the device's interface index (1, 2, ...), or -1.
  /// A tap or tun needs CAP_NET_ADMIN (or a device the caller owns); a
  /// SimLink end must be opened before either of the two hosts runs.
  int open_device(const DeviceOptions& options, std::string* error = nullptr);

  /// Adds an address to a device, e.g. add_address(1, "10.77.0.2/24"), and
  /// with it the route to its subnet (as `ip addr add` does). On an
  /// Ethernet device the stack announces it with a gratuitous ARP.
  int add_address(int ifindex, const std::string& cidr, std::string* error = nullptr);

  /// Adds a route: add_route("0.0.0.0/0", "10.77.0.1", 1) is a default route
  /// through a gateway; an empty gateway makes the destination on-link.
  int add_route(const std::string& destination_cidr, const std::string& gateway, int ifindex,
                std::string* error = nullptr);

  /// Sets one of the stack's sysctls by its Linux name, e.g.
  /// ("net.ipv4.tcp_congestion_control", "reno") or ("net.ipv4.tcp_wmem",
  /// "4096 16384 4194304"). Returns -1 with errno ENOENT for an unknown name,
  /// EINVAL for a value Linux refuses, EOPNOTSUPP for one whose behaviour
  /// sendpath does not have (docs/linux-differences.md lists them); *error
  /// then names the knob.
  int set_sysctl(const std::string& name, const std::string& value, std::string* error = nullptr);

  /// Starts the stack's own thread (and that of every Host joined to it by
  /// a SimLink). From then on socket calls may come from any thread.
  /// @return 0, or -1 when it already runs or the thread cannot start.
  int run_in_thread(std::string* error = nullptr);
  /// Stops the thread run_in_thread() started and waits for it; the host
  /// can then be driven with poll() again. Does nothing when not running.
  void stop();
  /// Whether run_in_thread() is in effect.
  bool running() const;

  /// Does the work that is due: reads frames from the devices, runs expired
  /// timers and transmits what they release. Only without run_in_thread().
  /// @return the amount of work done (0: idle), or -1 when running in a thread.
  int poll();
  /// Milliseconds until poll() has timer work to do (0: now), or -1 when no
  /// timer is pending: the timeout to give poll(2) / epoll_wait(2).
  int next_timeout_ms() const;
  /// Descriptors to watch for readability next to the program's own; when
  /// one is readable, call poll(). Changes only when a device is opened.
  std::vector<int> fds() const;

  /// The stack inside (for code built with sendpath's sources only: the
  /// type is not part of the installed API).
  Stack& stack();

  /// The implementation (opaque).
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sp
