// What the examples share: two hosts in this process joined by a simulated
// link (the default: no privileges, no network), or one host on a tap
// device talking to Linux, and a few small helpers.
#pragma once
#include <arpa/inet.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sendpath/api.hpp>
#include <sendpath/socket.hpp>
#include <sendpath/stack.hpp>
#include <string>

namespace ex {

// Command-line options every example takes.
struct Options {
  std::string tap;                    // --tap DEV: one host on this tap device
  std::string netns;                  // --netns NS: the tap lives in this namespace
  std::string addr = "10.77.0.2/24";  // --addr A/P: our address on the tap
  std::string gw;                     // --gw IP: default route
  std::string connect;                // --connect IP:PORT: the Linux peer to talk to
  int listen_port = 0;                // --listen PORT: serve Linux clients instead
  int count = 0;                      // --count N: messages, clients or MiB
  double loss = 0;                    // --loss P: loss on the simulated link
};

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

// Exits with errno's message when a call failed.
inline void check(bool ok, const char* what) {
  if (!ok) die(std::string(what) + ": " + std::strerror(errno));
}

inline Options parse(int argc, char** argv, const char* usage) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value\n" + usage);
      return argv[++i];
    };
    if (a == "--tap")
      o.tap = value();
    else if (a == "--netns")
      o.netns = value();
    else if (a == "--addr")
      o.addr = value();
    else if (a == "--gw")
      o.gw = value();
    else if (a == "--connect")
      o.connect = value();
    else if (a == "--listen")
      o.listen_port = std::atoi(value().c_str());
    else if (a == "--count")
      o.count = std::atoi(value().c_str());
    else if (a == "--loss")
      o.loss = std::atof(value().c_str());
    else if (a == "-h" || a == "--help") {
      std::printf("%s", usage);
      std::exit(0);
    } else {
      die("unknown option " + a + "\n" + usage);
    }
  }
  return o;
}

// The addresses of the two simulated hosts.
inline constexpr const char* kClientAddr = "10.0.0.1";
inline constexpr const char* kServerAddr = "10.0.0.2";

// Joins client (10.0.0.1) and server (10.0.0.2) by a simulated 1 Gbit/s
// Ethernet link with 1 ms of delay each way.
inline void join_sim(sp::Host& client, sp::Host& server, const std::string& link, double loss = 0) {
  sp::DeviceOptions d;
  d.kind = sp::DeviceKind::kSimLink;
  d.name = link;
  d.sim_loss = loss;
  std::string err;
  const int c = client.open_device(d, &err);
  if (c < 0) die("client: " + err);
  const int s = server.open_device(d, &err);
  if (s < 0) die("server: " + err);
  if (client.add_address(c, std::string(kClientAddr) + "/24", &err) < 0) die(err);
  if (server.add_address(s, std::string(kServerAddr) + "/24", &err) < 0) die(err);
}

// One host on the tap device the options name (needs CAP_NET_ADMIN; see
// scripts/netns-lab for a namespace with Linux on the other end).
inline void open_tap(sp::Host& host, const Options& o) {
  sp::DeviceOptions d;
  d.kind = sp::DeviceKind::kTap;
  d.name = o.tap;
  d.netns = o.netns;
  std::string err;
  const int ifindex = host.open_device(d, &err);
  if (ifindex < 0) die("cannot open tap " + o.tap + ": " + err);
  if (host.add_address(ifindex, o.addr, &err) < 0) die(err);
  if (!o.gw.empty() && host.add_route("0.0.0.0/0", o.gw, ifindex, &err) < 0) die(err);
}

inline sockaddr_in make_addr(const std::string& ip, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &sin.sin_addr) != 1) die("bad address " + ip);
  return sin;
}

// "10.77.0.1:7" -> sockaddr_in.
inline sockaddr_in parse_host_port(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) die("want IP:PORT, got " + s);
  return make_addr(s.substr(0, colon),
                   static_cast<std::uint16_t>(std::atoi(s.c_str() + colon + 1)));
}

// A listening socket on port (all addresses of the host).
inline int listen_on(sp::Host& host, std::uint16_t port, int flags = 0) {
  const int fd = sp::socket(host, AF_INET, SOCK_STREAM | flags, 0);
  check(fd >= 0, "socket");
  const int one = 1;
  check(sp::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
  sockaddr_in any = make_addr("0.0.0.0", port);
  check(sp::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0, "bind");
  check(sp::listen(fd, 128) == 0, "listen");
  return fd;
}

// Sends all of buf (a blocking socket).
inline void send_all(int fd, const void* buf, std::size_t len) {
  const auto* p = static_cast<const char*>(buf);
  while (len > 0) {
    const ssize_t n = sp::send(fd, p, len, 0);
    check(n > 0, "send");
    p += n;
    len -= static_cast<std::size_t>(n);
  }
}

}  // namespace ex
