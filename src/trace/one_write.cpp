#include "trace/one_write.hpp"

#include <arpa/inet.h>

#include <vector>

#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "trace/sinks.hpp"

namespace sp::trace {
namespace {

be32 ip(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

sockaddr_in endpoint(be32 addr, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = addr;
  return sin;
}

struct Fds {
  std::vector<int> v;
  int add(int fd) {
    if (fd >= 0) v.push_back(fd);
    return fd;
  }
  ~Fds() {
    for (int fd : v) sp::close(fd);
  }
};

}  // namespace

OneWrite trace_one_write(const OneWriteOptions& o) {
  OneWrite r;
  SimWorld world;
  Stack& client = world.add_stack();
  Stack& server = world.add_stack();
  client.set_name("client");
  server.set_name("server");
  const be32 caddr = ip("10.0.0.1"), saddr = ip("10.0.0.2");
  SimLinkConfig cfg;
  cfg.mtu = o.mss + 40;
  cfg.tso = o.tso;
  cfg.sg = o.sg;
  cfg.csum_offload = o.csum_offload;
  cfg.a_to_b.delay = cfg.b_to_a.delay = static_cast<Nanos>(o.rtt_us) * 1000 / 2;
  world.connect(client, caddr, server, saddr, 24, cfg);

  Fds fds;
  const int l = fds.add(sp::socket(server, AF_INET, SOCK_STREAM, 0));
  sockaddr_in sin = endpoint(saddr, 5001);
  if (l < 0 || sp::bind(l, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      sp::listen(l, 4) != 0) {
    r.error = "listen failed";
    return r;
  }
  const int c = fds.add(sp::socket(client, AF_INET, SOCK_STREAM, 0));
  if (o.nodelay) {
    int one = 1;
    sp::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (sp::connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    r.error = "connect failed";
    return r;
  }
  const int s = fds.add(sp::accept(l, nullptr, nullptr));
  if (s < 0) {
    r.error = "accept failed";
    return r;
  }
  sockaddr_in local{};
  socklen_t len = sizeof local;
  sp::getsockname(c, reinterpret_cast<sockaddr*>(&local), &len);
  r.client = "10.0.0.1:" + std::to_string(ntohs(local.sin_port));
  r.server = "10.0.0.2:5001";
  // Let the handshake's last ACK and any window update settle first.
  world.run_for(static_cast<Nanos>(o.rtt_us) * 1000 * 2);

  std::vector<std::uint8_t> buf(o.size);
  for (std::uint32_t i = 0; i < o.size; ++i) buf[i] = static_cast<std::uint8_t>('a' + i % 26);
  const std::uint16_t cid = client.trace_id();
  {
    CallbackSink rec(o.mask, [&](const AnyEvent& e) {
      if (header_of(e).stack == cid) r.events.push_back(e);
    });
    r.write_t_ns = client.now();
    r.sent = sp::send(c, buf.data(), buf.size(), static_cast<int>(o.flags));
    if (r.sent < 0) {
      r.error = "send failed";
      return r;
    }
    // Until every byte is acknowledged, and the server has read them.
    std::vector<std::uint8_t> in(o.size);
    std::size_t got = 0;
    const bool done = world.run_until(
        [&] {
          ssize_t n;
          while (got < in.size() &&
                 (n = sp::recv(s, in.data() + got, in.size() - got, MSG_DONTWAIT)) > 0)
            got += static_cast<std::size_t>(n);
          tcp_info ti{};
          socklen_t tl = sizeof ti;
          sp::getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl);
          return got == in.size() && ti.tcpi_unacked == 0 && ti.tcpi_notsent_bytes == 0;
        },
        world.now() + 60 * kNsPerSec);
    r.acked_t_ns = client.now();
    if (!done) {
      r.error = "the write was not acknowledged within 60 s of virtual time";
      return r;
    }
    if (std::vector<std::uint8_t>(buf.begin(), buf.begin() + static_cast<long>(got)) != in) {
      r.error = "the server read different bytes";
      return r;
    }
  }
  for (const auto& e : r.events) r.frames += header_of(e).id == Ev::net_dev_xmit;
  r.ok = true;
  return r;
}

}  // namespace sp::trace
