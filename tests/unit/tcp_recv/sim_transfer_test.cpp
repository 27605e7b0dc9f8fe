// Both halves together over a simulated link: a bulk transfer completes with
// every byte in order, with and without loss, and recovery keeps it moving.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <vector>

#include "harness/sim_world.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp::test {
namespace {

be32 addr(std::uint8_t d) {
  return htonl((10u << 24) | d);
}

struct Transfer {
  std::uint64_t received = 0;
  bool in_order = true;
  Nanos virtual_ns = 0;
  std::uint64_t retrans = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t fast_retrans = 0;
};

// Sends `total` bytes of a position-dependent pattern from a client on
// stack a to a server on stack b and reads them back.
Transfer run_transfer(std::uint64_t total, const SimLinkConfig& cfg, const char* cc, Nanos limit) {
  SimWorld w(1 * kNsPerSec);
  Stack& a = w.add_stack();
  Stack& b = w.add_stack();
  a.sysctl().tcp_congestion_control = cc;
  b.sysctl().tcp_congestion_control = cc;
  w.connect(a, addr(1), b, addr(2), 24, cfg);

  Sock* l = tcp_prot.alloc(b);
  tcp_prot.init(l);
  inet_sk(l)->inet_rcv_saddr = inet_sk(l)->inet_saddr = addr(2);
  EXPECT_EQ(b.tcp().inet_csk_get_port(l, 80), 0);
  l->sk_max_ack_backlog = 8;
  tcp_set_state(l, TCP_LISTEN);
  b.tcp().inet_listen_hash(l);

  Sock* c = tcp_prot.alloc(a);
  tcp_prot.init(c);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(80);
  sin.sin_addr.s_addr = addr(2);
  EXPECT_EQ(tcp_v4_connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  auto& q = inet_csk(l)->icsk_accept_queue.accept_q;
  EXPECT_TRUE(w.run_until([&] { return c->sk_state == TCP_ESTABLISHED && !q.empty(); },
                          w.now() + 5 * kNsPerSec));
  Transfer r;
  if (q.empty()) return r;
  Sock* s = q.front();

  std::vector<std::uint8_t> buf(256 * 1024);
  // The next bytes to send: the pattern from stream offset chunk_pos.
  std::vector<std::uint8_t> chunk(256 * 1024);
  std::uint64_t chunk_pos = 0, chunk_len = 0, sent = 0;
  const Nanos start = w.now();
  while (r.received < total && w.now() - start < limit) {
    // Fill the send buffer.
    while (sent < total) {
      if (sent >= chunk_pos + chunk_len) {
        chunk_pos = sent;
        chunk_len = std::min<std::uint64_t>(chunk.size(), total - sent);
        for (std::uint64_t i = 0; i < chunk_len; i++)
          chunk[i] = static_cast<std::uint8_t>((sent + i) * 7 + ((sent + i) >> 12));
      }
      const std::size_t off = static_cast<std::size_t>(sent - chunk_pos);
      const std::size_t n = static_cast<std::size_t>(chunk_len) - off;
      iovec iov{chunk.data() + off, n};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_flags = MSG_DONTWAIT;
      int k = tcp_sendmsg(c, &m, n);
      if (k <= 0) break;
      sent += static_cast<std::uint64_t>(k);
    }
    // Drain the receive queue and check every byte.
    for (;;) {
      iovec iov{buf.data(), buf.size()};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      int k = tcp_recvmsg(s, &m, buf.size(), MSG_DONTWAIT, nullptr);
      if (k <= 0) break;
      for (int i = 0; i < k && r.in_order; i++) {
        std::uint64_t pos = r.received + static_cast<std::uint64_t>(i);
        if (buf[static_cast<std::size_t>(i)] != static_cast<std::uint8_t>(pos * 7 + (pos >> 12)))
          r.in_order = false;
      }
      r.received += static_cast<std::uint64_t>(k);
    }
    if (!w.step(start + limit)) break;
  }
  r.virtual_ns = w.now() - start;
  r.retrans = tcp_sk(c)->total_retrans;
  r.timeouts = a.mib().get(MibId::TcpExtTCPTimeouts);
  // Fast recoveries: with SACK (the default) Linux counts TCPSackRecovery.
  r.fast_retrans =
      a.mib().get(MibId::TcpExtTCPRenoRecovery) + a.mib().get(MibId::TcpExtTCPSackRecovery);
  ::testing::Test::RecordProperty("virtual_ms", static_cast<int>(r.virtual_ns / kNsPerMs));
  ::testing::Test::RecordProperty("retransmits", static_cast<int>(r.retrans));
  ::testing::Test::RecordProperty("rto_timeouts", static_cast<int>(r.timeouts));
  ::testing::Test::RecordProperty("fast_recoveries", static_cast<int>(r.fast_retrans));
  return r;
}

SimLinkConfig link(double loss, std::uint64_t rate_bps, Nanos one_way) {
  SimLinkConfig cfg;
  cfg.a_to_b.rate_bps = cfg.b_to_a.rate_bps = rate_bps;
  cfg.a_to_b.delay = cfg.b_to_a.delay = one_way;
  cfg.a_to_b.loss = loss;
  cfg.seed = 11;
  return cfg;
}

TEST(SimTransferTest, eight_mebibytes_arrive_in_order_over_a_clean_link) {
  const std::uint64_t total = 8 << 20;
  Transfer r = run_transfer(total, link(0, 1'000'000'000, 10 * kNsPerMs), "cubic", 60 * kNsPerSec);
  EXPECT_EQ(r.received, total);
  EXPECT_TRUE(r.in_order);
  EXPECT_EQ(r.retrans, 0u);
  // 8 MiB at 1 Gbit/s with a 20 ms RTT: slow start dominates; well under 2 s.
  EXPECT_LT(r.virtual_ns, 2 * kNsPerSec);
}

TEST(SimTransferTest, four_mebibytes_arrive_in_order_with_one_percent_loss) {
  const std::uint64_t total = 4 << 20;
  Transfer r =
      run_transfer(total, link(0.01, 100'000'000, 10 * kNsPerMs), "cubic", 120 * kNsPerSec);
  EXPECT_EQ(r.received, total);
  EXPECT_TRUE(r.in_order);
  EXPECT_GT(r.retrans, 0u);
  EXPECT_GT(r.fast_retrans, 0u) << "most losses are repaired by fast retransmit, not RTOs";
}

TEST(SimTransferTest, reno_also_completes_with_loss) {
  const std::uint64_t total = 2 << 20;
  Transfer r = run_transfer(total, link(0.01, 100'000'000, 5 * kNsPerMs), "reno", 120 * kNsPerSec);
  EXPECT_EQ(r.received, total);
  EXPECT_TRUE(r.in_order);
}

}  // namespace
}  // namespace sp::test
