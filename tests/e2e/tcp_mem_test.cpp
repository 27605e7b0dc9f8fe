// net.ipv4.tcp_mem end to end on a SimLink: many connections whose peers do
// not read push a stack past tcp_mem's "high". The sending stack refuses
// more queueing (EAGAIN, a blocking send waits), moderates the send buffers
// and counts the pressure; the receiving stack drops what it cannot charge
// (TCPRcvQDrop, TCPOFODrop) and answers with a zero window. Once the
// readers drain the queues the stacks leave pressure, every byte arrives
// intact, new transfers complete, and after the close every page is back.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "api/fd_table.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp {
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

// Byte `off` of connection `conn`'s stream.
std::uint8_t pattern(int conn, std::uint64_t off) {
  return static_cast<std::uint8_t>((static_cast<std::uint64_t>(conn) * 131 + off) % 251);
}

Sock* sk_of(int fd) {
  Socket* s = sockfd_lookup(fd);
  return s ? s->sk : nullptr;
}

struct Pair {
  int c = -1;  // client end
  int s = -1;  // server end (accepted)
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  bool corrupt = false;
};

struct TcpMemE2e : ::testing::Test {
  SimWorld world;
  Stack& client = world.add_stack();
  Stack& server = world.add_stack();
  be32 caddr = ip("10.0.0.1"), saddr = ip("10.0.0.2");
  int listen_fd = -1;
  std::vector<Pair> pairs;

  void SetUp() override {
    SimLinkConfig c;
    c.a_to_b.delay = c.b_to_a.delay = 1 * kNsPerMs;
    world.connect(client, caddr, server, saddr, 24, c);
  }
  void TearDown() override { close_all(); }

  void listen_on(std::uint16_t port) {
    listen_fd = sp::socket(server, AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin = endpoint(saddr, port);
    ASSERT_EQ(sp::bind(listen_fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    ASSERT_EQ(sp::listen(listen_fd, 128), 0);
  }
  Pair& open_pair(std::uint16_t port) {
    Pair p;
    p.c = sp::socket(client, AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin = endpoint(saddr, port);
    EXPECT_EQ(sp::connect(p.c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    p.s = sp::accept(listen_fd, nullptr, nullptr);
    EXPECT_GE(p.s, 0);
    pairs.push_back(p);
    return pairs.back();
  }
  // Queue up to `len` more bytes of the pair's stream without blocking;
  // returns send()'s result.
  ssize_t send_some(int conn, std::size_t len, int flags = MSG_DONTWAIT) {
    Pair& p = pairs[static_cast<std::size_t>(conn)];
    std::vector<std::uint8_t> buf(len);
    for (std::size_t i = 0; i < len; ++i) buf[i] = pattern(conn, p.sent + i);
    const ssize_t n = sp::send(p.c, buf.data(), len, flags);
    if (n > 0) p.sent += static_cast<std::uint64_t>(n);
    return n;
  }
  // Read what has arrived on every server end, checking each byte.
  void read_all() {
    std::vector<std::uint8_t> buf(256 * 1024);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      Pair& p = pairs[i];
      for (int k = 0; k < 64; ++k) {
        const ssize_t n = sp::recv(p.s, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0) break;
        for (ssize_t j = 0; j < n; ++j)
          if (buf[static_cast<std::size_t>(j)] != pattern(static_cast<int>(i), p.received + j))
            p.corrupt = true;
        p.received += static_cast<std::uint64_t>(n);
      }
    }
  }
  bool all_delivered() const {
    return std::all_of(pairs.begin(), pairs.end(),
                       [](const Pair& p) { return p.received == p.sent; });
  }
  void close_all() {
    for (Pair& p : pairs) {
      if (p.c >= 0) sp::close(p.c);
      if (p.s >= 0) sp::close(p.s);
      p.c = p.s = -1;
    }
    if (listen_fd >= 0) sp::close(listen_fd);
    listen_fd = -1;
  }
};

TEST_F(TcpMemE2e, sender_past_tcp_mem_high_refuses_cleanly_moderates_and_recovers) {
  // 2, 3 and 4 MB; send buffers start at 256 KB, so 32 connections want
  // 8 MB.
  ASSERT_EQ(client.sysctl().set("net.ipv4.tcp_mem", "512 768 1024"), "");
  ASSERT_EQ(client.sysctl().set("net.ipv4.tcp_wmem", "4096 262144 4194304"), "");
  const int rsv = client.sysctl().mem_pcpu_rsv;
  listen_on(7100);
  constexpr int kConns = 32;
  for (int i = 0; i < kConns; ++i) open_pair(7100);
  for (const Pair& p : pairs) ASSERT_GE(p.s, 0);
  const TcpStackState& mem = client.tcp();

  long peak_global = 0, peak_charged = 0;
  int refused_under_own_sndbuf = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kConns; ++i) {
      for (int k = 0; k < 16; ++k) {
        const ssize_t n = send_some(i, 64 * 1024);
        peak_global = std::max(peak_global, mem.memory_allocated);
        peak_charged = std::max(peak_charged, mem.memory_charged());
        if (n < 0) {
          ASSERT_EQ(errno, EAGAIN);
          if (sk_of(pairs[i].c)->sk_wmem_queued < 262144) ++refused_under_own_sndbuf;
          break;
        }
      }
      world.run_for(2 * kNsPerMs);
    }
  }
  const MibId pressures = MibId::TcpExtTCPMemoryPressures;
  EXPECT_GE(client.mib().get(pressures), 1u);
  EXPECT_NE(mem.memory_pressure, 0u) << "nobody reads: the stack is still short";
  EXPECT_GT(refused_under_own_sndbuf, 0) << "tcp_mem, not sk_sndbuf, stopped some senders";
  // What Linux allows past "high": the cpu's reserve (the counter is read
  // without it), plus per socket the skb it was filling when refused (a
  // socket already at its moderated sndbuf finishes it: 64 KB, 17 pages).
  EXPECT_LE(peak_global, 1024 + rsv + kConns * 17);
  EXPECT_LE(peak_charged, 1024 + 2 * rsv + kConns * 17);
  int moderated = 0;
  for (const Pair& p : pairs) moderated += sk_of(p.c)->sk_sndbuf < 262144;
  EXPECT_GT(moderated, 0) << "sk_stream_moderate_sndbuf";

  // A blocking send on a new connection waits for memory (SO_SNDTIMEO 200 ms)
  // and returns what it could queue.
  open_pair(7100);
  const int late = kConns;
  const timeval tv{0, 200000};
  ASSERT_EQ(sp::setsockopt(pairs[late].c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
  const Nanos t0 = world.now();
  const ssize_t n = send_some(late, 1 << 20, 0);
  EXPECT_GE(world.now() - t0, 200 * kNsPerMs) << "it blocked";
  EXPECT_LT(n, 1 << 20);
  EXPECT_TRUE(n > 0 || errno == EAGAIN);

  // The readers drain everything: the stack leaves pressure.
  for (int i = 0; i < 5000 && !all_delivered(); ++i) {
    read_all();
    world.run_for(1 * kNsPerMs);
  }
  ASSERT_TRUE(all_delivered());
  for (const Pair& p : pairs) EXPECT_FALSE(p.corrupt);
  world.run_for(50 * kNsPerMs);
  EXPECT_EQ(mem.memory_pressure, 0u);
  EXPECT_GT(client.mib().get(MibId::TcpExtTCPMemoryPressuresChrono), 0u);

  // A new transfer completes.
  open_pair(7100);
  const int f = static_cast<int>(pairs.size()) - 1;
  const std::uint64_t total = 1 << 20;
  for (int i = 0; i < 5000 && pairs[f].received < total; ++i) {
    if (pairs[f].sent < total) {
      const ssize_t n = send_some(f, static_cast<std::size_t>(total - pairs[f].sent));
      ASSERT_TRUE(n > 0 || errno == EAGAIN);
    }
    read_all();
    world.run_for(1 * kNsPerMs);
  }
  EXPECT_EQ(pairs[f].received, std::uint64_t{1} << 20);
  EXPECT_FALSE(pairs[f].corrupt);

  // Closed and gone, every page is back.
  close_all();
  world.run_for(2 * kNsPerSec);
  EXPECT_EQ(client.tcp().memory_charged(), 0);
  EXPECT_EQ(server.tcp().memory_charged(), 0);
  EXPECT_EQ(client.tcp().sockets_allocated, 0);
}

TEST_F(TcpMemE2e, receiver_past_tcp_mem_high_drops_with_counters_and_recovers) {
  // 1, 1.5 and 2 MB on the receiving side; 24 connections send 256 KB
  // each into receive buffers of 128 KB (more with autotuning).
  ASSERT_EQ(server.sysctl().set("net.ipv4.tcp_mem", "256 384 512"), "");
  const int rsv = server.sysctl().mem_pcpu_rsv;
  listen_on(7200);
  constexpr int kConns = 24;
  for (int i = 0; i < kConns; ++i) open_pair(7200);
  for (const Pair& p : pairs) ASSERT_GE(p.s, 0);
  const TcpStackState& mem = server.tcp();

  long peak_global = 0;
  for (int i = 0; i < kConns; ++i) {
    for (int k = 0; k < 4; ++k) send_some(i, 64 * 1024);
  }
  for (int t = 0; t < 500; ++t) {
    world.run_for(2 * kNsPerMs);
    peak_global = std::max(peak_global, mem.memory_allocated);
  }
  const Mib& mib = server.mib();
  EXPECT_GE(mib.get(MibId::TcpExtTCPMemoryPressures), 1u);
  EXPECT_GT(mib.get(MibId::TcpExtTCPRcvQDrop) + mib.get(MibId::TcpExtTCPOFODrop), 0u);
  EXPECT_GT(mib.get(MibId::TcpExtPruneCalled), 0u);
  // Past "high" only the reserve and, per socket, one forced skb on an
  // empty receive queue.
  EXPECT_LE(peak_global, 512 + rsv + kConns * 2);
  for (const Pair& p : pairs) EXPECT_LT(p.received, p.sent);

  // The readers come back: everything arrives, intact.
  for (int i = 0; i < 20000 && !all_delivered(); ++i) {
    read_all();
    world.run_for(1 * kNsPerMs);
  }
  ASSERT_TRUE(all_delivered());
  for (const Pair& p : pairs) EXPECT_FALSE(p.corrupt);
  world.run_for(50 * kNsPerMs);
  EXPECT_EQ(mem.memory_pressure, 0u);
  EXPECT_GT(mib.get(MibId::TcpExtTCPMemoryPressuresChrono), 0u);

  close_all();
  world.run_for(2 * kNsPerSec);
  EXPECT_EQ(client.tcp().memory_charged(), 0);
  EXPECT_EQ(server.tcp().memory_charged(), 0);
  EXPECT_EQ(server.tcp().sockets_allocated, 0);
}

}  // namespace
}  // namespace sp
