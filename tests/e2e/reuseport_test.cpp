// SO_REUSEPORT on the SimLink: several listeners on one port form a group,
// and incoming connections are spread over them by a hash of the peer's
// address and port (reuseport_select_sock), each handshake reaching one
// listener from SYN to accept. Servers such as nginx start one listener per
// worker this way; without the group every connection would land on the
// first listener, or the second bind would fail.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/e2e_support.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"

namespace sp {
namespace {

constexpr std::uint16_t kPort = 8119;
constexpr int kListeners = 4;
constexpr int kConnections = 200;

struct Group {
  SimWorld world;
  Stack& client = world.add_stack();
  Stack& server = world.add_stack();
  const be32 ca = htonl(0x0a140001), sa = htonl(0x0a140002);
  std::vector<int> listeners;

  Group() {
    SimLinkConfig lc;
    lc.a_to_b.delay = lc.b_to_a.delay = kNsPerMs;
    world.connect(client, ca, server, sa, 24, lc);
    const sockaddr_in sin = test::inet_sockaddr(sa, kPort);
    for (int i = 0; i < kListeners; ++i) {
      const int l = sp::socket(server, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      const int one = 1;
      EXPECT_EQ(sp::setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
      EXPECT_EQ(sp::bind(l, reinterpret_cast<const sockaddr*>(&sin), sizeof sin), 0)
          << "listener " << i << ": " << std::strerror(errno);
      EXPECT_EQ(sp::listen(l, 256), 0);
      listeners.push_back(l);
    }
  }

  // Opens n connections, sends one byte each; returns how many each
  // listener accepted (and checks the byte arrives on the accepted socket).
  std::vector<int> connect_all(int n, int* bytes_ok) {
    const sockaddr_in sin = test::inet_sockaddr(sa, kPort);
    std::vector<int> cfds;
    for (int i = 0; i < n; ++i) {
      const int c = sp::socket(client, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      sp::connect(c, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
      cfds.push_back(c);
    }
    world.run_for(50 * kNsPerMs);
    for (int c : cfds) {
      const char x = 'x';
      EXPECT_EQ(sp::send(c, &x, 1, 0), 1);
    }
    world.run_for(50 * kNsPerMs);
    std::vector<int> per(listeners.size(), 0);
    *bytes_ok = 0;
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      for (int round = 0; round < n + 1; ++round) {
        const int a = sp::accept4(listeners[i], nullptr, nullptr, SOCK_NONBLOCK);
        if (a < 0) break;
        ++per[i];
        char got = 0;
        if (sp::recv(a, &got, 1, 0) == 1 && got == 'x') ++*bytes_ok;
        sp::close(a);
      }
    }
    for (int c : cfds) sp::close(c);
    world.run_for(10 * kNsPerSec);
    return per;
  }
};

TEST(ReusePort, ConnectionsAreSpreadOverEveryListenerOfTheGroup) {
  Group g;
  int ok = 0;
  const std::vector<int> per = g.connect_all(kConnections, &ok);
  int total = 0;
  for (std::size_t i = 0; i < per.size(); ++i) {
    std::printf("listener %zu accepted %d\n", i, per[i]);
    // An even spread gives 50 each; a hash may stray, not starve one.
    EXPECT_GT(per[i], kConnections / kListeners / 3) << "listener " << i;
    total += per[i];
  }
  EXPECT_EQ(total, kConnections);
  EXPECT_EQ(ok, kConnections) << "every connection's byte reached its accepted socket";
}

TEST(ReusePort, ClosingOneListenerLeavesTheRestOfTheGroupServing) {
  Group g;
  sp::close(g.listeners.back());
  g.listeners.pop_back();
  int ok = 0;
  const std::vector<int> per = g.connect_all(60, &ok);
  int total = 0;
  for (int n : per) {
    EXPECT_GT(n, 0);
    total += n;
  }
  EXPECT_EQ(total, 60);
  EXPECT_EQ(ok, 60);
}

TEST(ReusePort, WithoutTheOptionTheSecondBindFails) {
  SimWorld world;
  Stack& st = world.add_stack();
  const sockaddr_in sin = test::inet_sockaddr(htonl(INADDR_ANY), kPort);
  const int a = sp::socket(st, AF_INET, SOCK_STREAM, 0);
  const int b = sp::socket(st, AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ASSERT_EQ(sp::setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
  ASSERT_EQ(sp::bind(a, reinterpret_cast<const sockaddr*>(&sin), sizeof sin), 0);
  EXPECT_EQ(sp::bind(b, reinterpret_cast<const sockaddr*>(&sin), sizeof sin), -1);
  EXPECT_EQ(errno, EADDRINUSE);
  sp::close(a);
  sp::close(b);
}

}  // namespace
}  // namespace sp
