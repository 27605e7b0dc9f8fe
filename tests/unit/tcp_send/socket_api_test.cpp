// The socket API end to end: two stacks on a simulated link, every call
// through sendpath/api.hpp (and the RAII layer), blocking calls driven by the
// simulated world.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "dev/sim_link.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "sendpath/socket.hpp"
#include "tcp/tcp.hpp"

namespace sp::send_test {
namespace {

constexpr std::uint32_t kClientAddr = 0x0a000001;  // 10.0.0.1
constexpr std::uint32_t kServerAddr = 0x0a000002;  // 10.0.0.2
constexpr std::uint16_t kPort = 5001;

class SocketApiTest : public ::testing::Test {
 protected:
  SocketApiTest()
      : world_(1 * kNsPerSec), client_(world_.add_stack()), server_(world_.add_stack()) {
    SimLinkConfig cfg;
    cfg.a_to_b.delay = cfg.b_to_a.delay = 5 * kNsPerMs;
    world_.connect(client_, htonl(kClientAddr), server_, htonl(kServerAddr), 24, cfg);
  }

  // A listening socket on the server.
  TcpSocket listener(int backlog = 8) {
    TcpSocket l = TcpSocket::open(server_);
    EXPECT_TRUE(l.valid());
    int one = 1;
    EXPECT_EQ(sp::setsockopt(l.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    EXPECT_EQ(l.bind(kServerAddr, kPort), 0);
    EXPECT_EQ(l.listen(backlog), 0);
    return l;
  }

  // client connected to server, and the server's accepted end.
  std::pair<TcpSocket, TcpSocket> connected_pair(TcpSocket& l) {
    TcpSocket c = TcpSocket::open(client_);
    EXPECT_EQ(c.connect(kServerAddr, kPort), 0) << strerror(errno);
    TcpSocket s = l.accept();
    EXPECT_TRUE(s.valid()) << strerror(errno);
    return {std::move(c), std::move(s)};
  }

  // Move data from a to b until n bytes arrived, both sides non-blocking,
  // the world running in between. Returns what b read.
  std::vector<std::uint8_t> transfer(TcpSocket& a, TcpSocket& b,
                                     const std::vector<std::uint8_t>& data) {
    a.set_nonblocking(true);
    b.set_nonblocking(true);
    std::vector<std::uint8_t> got;
    std::size_t off = 0;
    std::vector<std::uint8_t> buf(65536);
    for (int i = 0; i < 100000 && got.size() < data.size(); ++i) {
      if (off < data.size()) {
        ssize_t n = a.send(std::span<const std::uint8_t>(data).subspan(off));
        if (n > 0) off += static_cast<std::size_t>(n);
      }
      ssize_t r = b.recv(buf);
      if (r > 0) got.insert(got.end(), buf.begin(), buf.begin() + r);
      world_.step(world_.now() + 50 * kNsPerMs);
    }
    return got;
  }

  SimWorld world_;
  Stack& client_;
  Stack& server_;
};

TEST_F(SocketApiTest, blocking_connect_and_accept_establish_a_connection) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  ASSERT_TRUE(c.valid());
  ASSERT_TRUE(s.valid());
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  ASSERT_EQ(sp::getpeername(s.fd(), reinterpret_cast<sockaddr*>(&peer), &len), 0);
  EXPECT_EQ(ntohl(peer.sin_addr.s_addr), kClientAddr);
  sockaddr_in me{};
  len = sizeof me;
  ASSERT_EQ(sp::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&me), &len), 0);
  EXPECT_EQ(ntohl(me.sin_addr.s_addr), kClientAddr);
  EXPECT_EQ(ntohs(me.sin_port), ntohs(peer.sin_port));
}

TEST_F(SocketApiTest, data_crosses_intact_both_ways) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  std::vector<std::uint8_t> up(300000), down(200000);
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<std::uint8_t>(i * 31 + 7);
  for (std::size_t i = 0; i < down.size(); ++i) down[i] = static_cast<std::uint8_t>(i * 17 + 3);
  EXPECT_TRUE(transfer(c, s, up) == up);
  EXPECT_TRUE(transfer(s, c, down) == down);
}

TEST_F(SocketApiTest, blocking_recv_waits_for_data) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  const char msg[] = "hello";
  ASSERT_EQ(sp::send(c.fd(), msg, 5, 0), 5);
  char buf[16] = {};
  const Nanos t0 = world_.now();
  ASSERT_EQ(sp::recv(s.fd(), buf, sizeof buf, 0), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_GE(world_.now() - t0, 5 * kNsPerMs) << "the data needed a one-way delay to arrive";
}

TEST_F(SocketApiTest, close_sends_fin_and_the_peer_reads_end_of_file) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  ASSERT_EQ(sp::send(c.fd(), "abc", 3, 0), 3);
  c.reset();
  char buf[8];
  ASSERT_EQ(sp::recv(s.fd(), buf, sizeof buf, 0), 3);
  EXPECT_EQ(sp::recv(s.fd(), buf, sizeof buf, 0), 0) << "orderly EOF";
  pollfd p{s.fd(), POLLIN | POLLRDHUP, 0};
  ASSERT_EQ(sp::poll(&p, 1, 0), 1);
  EXPECT_TRUE(p.revents & POLLRDHUP);
}

TEST_F(SocketApiTest, shutdown_wr_sends_fin_but_the_socket_still_receives) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  ASSERT_EQ(c.shutdown(SHUT_WR), 0);
  char buf[8];
  EXPECT_EQ(sp::recv(s.fd(), buf, sizeof buf, 0), 0);
  ASSERT_EQ(sp::send(s.fd(), "xyz", 3, 0), 3);
  ASSERT_EQ(sp::recv(c.fd(), buf, sizeof buf, 0), 3);
  EXPECT_EQ(std::string(buf, 3), "xyz");
  EXPECT_EQ(sp::send(c.fd(), "q", 1, 0), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST_F(SocketApiTest, close_with_unread_data_resets_the_connection) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  ASSERT_EQ(sp::send(c.fd(), "unread", 6, 0), 6);
  world_.run_for(20 * kNsPerMs);
  const std::uint64_t rsts = server_.mib().get(MibId::TcpOutRsts);
  s.reset();  // 6 bytes never read: RST, not FIN (RFC 2525 2.17)
  EXPECT_EQ(server_.mib().get(MibId::TcpOutRsts), rsts + 1);
  world_.run_for(20 * kNsPerMs);
  char buf[8];
  EXPECT_EQ(sp::recv(c.fd(), buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST_F(SocketApiTest, so_linger_zero_aborts_with_rst) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  linger lg{1, 0};
  ASSERT_EQ(sp::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  const std::uint64_t rsts = client_.mib().get(MibId::TcpOutRsts);
  c.reset();
  EXPECT_EQ(client_.mib().get(MibId::TcpOutRsts), rsts + 1);
  world_.run_for(20 * kNsPerMs);
  char buf[8];
  EXPECT_EQ(sp::recv(s.fd(), buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST_F(SocketApiTest, connect_to_a_closed_port_is_refused) {
  TcpSocket c = TcpSocket::open(client_);
  EXPECT_EQ(c.connect(kServerAddr, 9), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST_F(SocketApiTest, nonblocking_connect_completes_and_so_error_is_zero) {
  TcpSocket l = listener();
  TcpSocket c = TcpSocket::open(client_);
  c.set_nonblocking(true);
  EXPECT_EQ(c.connect(kServerAddr, kPort), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  pollfd p{c.fd(), POLLOUT, 0};
  EXPECT_EQ(sp::poll(&p, 1, 1000), 1);
  EXPECT_TRUE(p.revents & POLLOUT);
  int err = -1;
  socklen_t len = sizeof err;
  ASSERT_EQ(sp::getsockopt(c.fd(), SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, 0);
}

TEST_F(SocketApiTest, nonblocking_accept_without_pending_connection_is_eagain) {
  TcpSocket l = listener();
  l.set_nonblocking(true);
  EXPECT_EQ(sp::accept(l.fd(), nullptr, nullptr), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(SocketApiTest, bind_to_a_port_in_use_is_eaddrinuse) {
  TcpSocket l = listener();
  TcpSocket other = TcpSocket::open(server_);
  EXPECT_EQ(other.bind(kServerAddr, kPort), -1);
  EXPECT_EQ(errno, EADDRINUSE);
}

TEST_F(SocketApiTest, bind_to_a_foreign_address_is_eaddrnotavail) {
  TcpSocket s = TcpSocket::open(server_);
  EXPECT_EQ(s.bind(0x0a0000fe, 80), -1);
  EXPECT_EQ(errno, EADDRNOTAVAIL);
}

TEST_F(SocketApiTest, tcp_info_reports_the_connection) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  std::vector<std::uint8_t> data(100000, 'z');
  ASSERT_EQ(transfer(c, s, data).size(), data.size());
  world_.run_for(100 * kNsPerMs);
  tcp_info_612 ti{};
  socklen_t len = sizeof ti;
  ASSERT_EQ(sp::getsockopt(c.fd(), IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
  EXPECT_EQ(len, sizeof(tcp_info_612));
  EXPECT_EQ(ti.v.tcpi_state, TCP_ESTABLISHED);
  EXPECT_EQ(ti.v.tcpi_snd_mss, 1448u) << "1500 - 20 - 20 - 12 bytes of timestamps";
  EXPECT_TRUE(ti.v.tcpi_options & TCPI_OPT_TIMESTAMPS);
  EXPECT_TRUE(ti.v.tcpi_options & TCPI_OPT_SACK);
  EXPECT_TRUE(ti.v.tcpi_options & TCPI_OPT_WSCALE);
  EXPECT_EQ(ti.v.tcpi_bytes_acked, 100001u) << "the SYN counts, as in Linux";
  EXPECT_EQ(ti.v.tcpi_unacked, 0u);
  EXPECT_GE(ti.v.tcpi_rtt, 10000u) << "about 10 ms round trip";
  EXPECT_GE(ti.v.tcpi_snd_cwnd, TCP_INIT_CWND);
  EXPECT_GT(ti.tcpi_rcv_wnd, 0u);
  // A caller with the plain system struct gets the prefix.
  ::tcp_info plain{};
  len = sizeof plain;
  ASSERT_EQ(sp::getsockopt(c.fd(), IPPROTO_TCP, TCP_INFO, &plain, &len), 0);
  EXPECT_EQ(len, sizeof plain);
  EXPECT_EQ(plain.tcpi_snd_mss, 1448u);
}

TEST_F(SocketApiTest, tcp_congestion_option_selects_by_name) {
  TcpSocket c = TcpSocket::open(client_);
  char name[16] = {};
  socklen_t len = sizeof name;
  ASSERT_EQ(sp::getsockopt(c.fd(), IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
  EXPECT_STREQ(name, "cubic");
  ASSERT_EQ(sp::setsockopt(c.fd(), IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
  len = sizeof name;
  ASSERT_EQ(sp::getsockopt(c.fd(), IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
  EXPECT_STREQ(name, "reno");
  EXPECT_EQ(sp::setsockopt(c.fd(), IPPROTO_TCP, TCP_CONGESTION, "nosuch", 6), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(SocketApiTest, tcp_notsent_lowat_option_reads_back_the_socket_setting_not_the_sysctl) {
  client_.sysctl().tcp_notsent_lowat = 4000;
  TcpSocket c = TcpSocket::open(client_);
  int val = -1;
  socklen_t len = sizeof val;
  ASSERT_EQ(sp::getsockopt(c.fd(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &val, &len), 0);
  EXPECT_EQ(val, 0) << "unset reads 0 even though the sysctl limit applies";
  ASSERT_EQ(c.set_int_option(IPPROTO_TCP, TCP_NOTSENT_LOWAT, 1234), 0);
  len = sizeof val;
  ASSERT_EQ(sp::getsockopt(c.fd(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &val, &len), 0);
  EXPECT_EQ(val, 1234);
}

TEST_F(SocketApiTest, tcp_maxseg_lowers_the_mss_both_ways) {
  TcpSocket l = listener();
  TcpSocket c = TcpSocket::open(client_);
  ASSERT_EQ(c.set_int_option(IPPROTO_TCP, TCP_MAXSEG, 1000), 0);
  ASSERT_EQ(c.connect(kServerAddr, kPort), 0);
  TcpSocket s = l.accept();
  int mss = 0;
  socklen_t len = sizeof mss;
  ASSERT_EQ(sp::getsockopt(c.fd(), IPPROTO_TCP, TCP_MAXSEG, &mss, &len), 0);
  EXPECT_LE(mss, 1000);
  ASSERT_EQ(sp::getsockopt(s.fd(), IPPROTO_TCP, TCP_MAXSEG, &mss, &len), 0);
  EXPECT_LE(mss, 1000) << "the peer honours the MSS option we advertised";
}

TEST_F(SocketApiTest, poll_reports_writable_then_readable) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  pollfd p[2] = {{c.fd(), POLLOUT, 0}, {s.fd(), POLLIN, 0}};
  ASSERT_EQ(sp::poll(p, 2, 0), 1);
  EXPECT_TRUE(p[0].revents & POLLOUT);
  EXPECT_EQ(p[1].revents, 0);
  ASSERT_EQ(sp::send(c.fd(), "x", 1, 0), 1);
  pollfd r{s.fd(), POLLIN, 0};
  ASSERT_EQ(sp::poll(&r, 1, 1000), 1) << "poll waits while the segment crosses";
  EXPECT_TRUE(r.revents & POLLIN);
}

TEST_F(SocketApiTest, listener_close_resets_unaccepted_connections) {
  TcpSocket l = listener();
  TcpSocket c = TcpSocket::open(client_);
  ASSERT_EQ(c.connect(kServerAddr, kPort), 0);
  world_.run_for(20 * kNsPerMs);
  l.reset();
  world_.run_for(20 * kNsPerMs);
  char b;
  EXPECT_EQ(sp::recv(c.fd(), &b, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST_F(SocketApiTest, unsupported_family_and_type_are_rejected) {
  EXPECT_EQ(sp::socket(client_, AF_INET6, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  EXPECT_EQ(sp::socket(client_, AF_INET, SOCK_DGRAM, 0), -1);
  EXPECT_EQ(errno, ESOCKTNOSUPPORT);
}

TEST_F(SocketApiTest, siocinq_counts_unread_bytes) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  ASSERT_EQ(sp::send(c.fd(), "0123456789", 10, 0), 10);
  world_.run_for(20 * kNsPerMs);
  int inq = -1;
  ASSERT_EQ(sp::ioctl(s.fd(), SIOCINQ, &inq), 0);
  EXPECT_EQ(inq, 10);
  char buf[4];
  ASSERT_EQ(sp::recv(s.fd(), buf, 4, 0), 4);
  ASSERT_EQ(sp::ioctl(s.fd(), SIOCINQ, &inq), 0);
  EXPECT_EQ(inq, 6);
}

TEST_F(SocketApiTest, msg_peek_leaves_the_data_queued) {
  TcpSocket l = listener();
  auto [c, s] = connected_pair(l);
  ASSERT_EQ(sp::send(c.fd(), "peek", 4, 0), 4);
  char buf[8] = {};
  ASSERT_EQ(sp::recv(s.fd(), buf, sizeof buf, MSG_PEEK), 4);
  ASSERT_EQ(sp::recv(s.fd(), buf, sizeof buf, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "peek");
}

TEST_F(SocketApiTest, raii_socket_closes_once_when_moved) {
  TcpSocket a = TcpSocket::open(client_);
  const int fd = a.fd();
  TcpSocket b = std::move(a);
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.fd(), fd);
  b.reset();
  EXPECT_EQ(sp::close(fd), -1) << "already closed by the owner";
  EXPECT_EQ(errno, EBADF);
}

}  // namespace
}  // namespace sp::send_test
