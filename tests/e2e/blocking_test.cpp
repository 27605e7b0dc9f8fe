// Blocking socket calls on a SimWorld: each call that must wait runs the
// whole simulated world (both stacks, the link, the virtual clock) through
// the stack's wait driver, so a plain single-threaded client/server program
// works unchanged.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "harness/sim_transfer.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"

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

struct BlockingTest : ::testing::Test {
  SimWorld world;
  Stack& client = world.add_stack();
  Stack& server = world.add_stack();
  be32 caddr = ip("10.0.0.1"), saddr = ip("10.0.0.2");
  std::vector<int> fds;

  void SetUp() override {
    SimLinkConfig c;
    c.a_to_b.delay = c.b_to_a.delay = 5 * kNsPerMs;
    world.connect(client, caddr, server, saddr, 24, c);
  }
  void TearDown() override {
    for (int fd : fds) sp::close(fd);
  }
  int track(int fd) {
    if (fd >= 0) fds.push_back(fd);
    return fd;
  }
  int listener(std::uint16_t port) {
    const int fd = track(sp::socket(server, AF_INET, SOCK_STREAM, 0));
    sockaddr_in sin = endpoint(saddr, port);
    EXPECT_EQ(sp::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    EXPECT_EQ(sp::listen(fd, 16), 0);
    return fd;
  }
};

TEST_F(BlockingTest, blocking_connect_returns_once_the_handshake_is_done) {
  listener(7000);
  const int c = track(sp::socket(client, AF_INET, SOCK_STREAM, 0));
  sockaddr_in sin = endpoint(saddr, 7000);
  ASSERT_EQ(sp::connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  // SYN out, SYN-ACK back: one round trip of 10 ms plus serialisation.
  EXPECT_GE(world.now(), 10 * kNsPerMs);
  EXPECT_LT(world.now(), 11 * kNsPerMs);
}

TEST_F(BlockingTest, blocking_send_accept_and_recv_move_data_in_one_thread) {
  const int l = listener(7001);
  const int c = track(sp::socket(client, AF_INET, SOCK_STREAM, 0));
  sockaddr_in sin = endpoint(saddr, 7001);
  ASSERT_EQ(sp::connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  const int s = track(sp::accept(l, nullptr, nullptr));
  ASSERT_GE(s, 0);

  std::vector<std::uint8_t> out(100000), in(out.size());
  payload_fill(9, 0, 0, out.data(), out.size());
  ASSERT_EQ(sp::send(c, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
  std::size_t got = 0;
  for (int i = 0; i < 1000 && got < in.size(); ++i) {
    const ssize_t n = sp::recv(s, in.data() + got, in.size() - got, 0);
    ASSERT_GT(n, 0);
    got += static_cast<std::size_t>(n);
  }
  ASSERT_EQ(got, out.size());
  EXPECT_EQ(in, out);
}

TEST_F(BlockingTest, blocking_recv_sees_the_peers_close_as_end_of_stream) {
  const int l = listener(7002);
  const int c = sp::socket(client, AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin = endpoint(saddr, 7002);
  ASSERT_EQ(sp::connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  const int s = track(sp::accept(l, nullptr, nullptr));
  ASSERT_EQ(sp::send(c, "bye", 3, 0), 3);
  ASSERT_EQ(sp::close(c), 0);
  char buf[16];
  ASSERT_EQ(sp::recv(s, buf, sizeof buf, 0), 3);
  EXPECT_EQ(std::memcmp(buf, "bye", 3), 0);
  EXPECT_EQ(sp::recv(s, buf, sizeof buf, 0), 0);
}

TEST_F(BlockingTest, connect_to_a_closed_port_is_refused) {
  const int c = track(sp::socket(client, AF_INET, SOCK_STREAM, 0));
  sockaddr_in sin = endpoint(saddr, 7999);
  EXPECT_EQ(sp::connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

}  // namespace
}  // namespace sp
