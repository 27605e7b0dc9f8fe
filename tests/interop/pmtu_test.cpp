// Path MTU discovery against a real Linux router: sendpath (MTU 1500 tap)
// -> Linux router (lab namespace) -> a 1280-byte veth link -> a Linux server
// in a second namespace. sendpath's segments do not fit the narrow link, the
// router answers with ICMP fragmentation-needed (RFC 1191), and sendpath's
// ICMP hands it to TCP, which must shrink its MSS and still deliver every
// byte.
#include <fcntl.h>

#include "gtest/gtest.h"
#include "interop_lab.hpp"
#include "linux_peer.hpp"
#include "sendpath/api.hpp"

namespace sp::interop {
namespace {

constexpr std::uint16_t kPort = 5003;
constexpr std::uint64_t kBytes = 8ull << 20;

TEST(Pmtu, FragNeededFromALinuxRouterShrinksSendpathsSegments) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  TapLab lab;
  ASSERT_EQ(lab.error(), "");
  Netns server;
  ASSERT_TRUE(server.ok());
  Netns& router = lab.ns();
  const std::string r_if = "spr" + unique_suffix(), s_if = "sps" + unique_suffix();
  // Only the router's side of the narrow link is narrow: the server keeps a
  // 1500-byte MTU and so advertises an MSS of 1460, which is what makes
  // sendpath send segments the path cannot carry.
  ASSERT_TRUE(sh("ip link add " + r_if + " netns " + router.name() +
                 " mtu 1280 type veth peer name " + s_if + " netns " + server.name() +
                 " mtu 1500"));
  ASSERT_TRUE(router.exec("ip addr add 10.79.0.1/24 dev " + r_if));
  ASSERT_TRUE(router.exec("ip link set dev " + r_if + " up"));
  ASSERT_TRUE(router.exec("sysctl -qw net.ipv4.ip_forward=1"));
  ASSERT_TRUE(server.exec("ip addr add 10.79.0.2/24 dev " + s_if));
  ASSERT_TRUE(server.exec("ip link set dev " + s_if + " up"));
  ASSERT_TRUE(server.exec("ip link set dev lo up"));
  ASSERT_TRUE(server.exec("ip route add default via 10.79.0.1"));
  lab.stack().add_route(inet("10.79.0.0"), 24, inet(kLinuxIp), lab.tap().ifindex);

  int pfd[2];
  ASSERT_EQ(::pipe2(pfd, O_CLOEXEC), 0);
  NetnsChild child(server.name(), [w = pfd[1]] { return linux_sink(w, kPort, 1, {}); });
  ::close(pfd[1]);
  ASSERT_TRUE(wait_ready(pfd[0], 10000)) << "Linux sink did not start";

  const int fd = sp::socket(lab.stack(), AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  sp::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sp::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = inet("10.79.0.2");
  ASSERT_EQ(sp::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  Stream s(5);
  Digest d;
  std::vector<std::uint8_t> buf(1 << 16);
  std::uint64_t sent = 0;
  std::string send_error;
  while (sent < kBytes && send_error.empty()) {
    s.fill(buf.data(), buf.size());
    d.update(buf.data(), buf.size());
    for (std::size_t off = 0; off < buf.size();) {
      const ssize_t w = sp::send(fd, buf.data() + off, buf.size() - off, 0);
      if (w <= 0) {
        send_error =
            "send failed after " + std::to_string(sent + off) + " bytes: " + std::strerror(errno);
        break;
      }
      off += static_cast<std::size_t>(w);
    }
    sent += buf.size();
  }
  // ICMP's part first: the router's message was received and the path MTU
  // learned; then TCP's: the transfer finished at the smaller size.
  EXPECT_GE(lab.stack().mib().get(MibId::IcmpInDestUnreachs), 1u) << "the router must have said so";
  EXPECT_EQ(lab.stack().ip_route_output(inet("10.79.0.2")).mtu, 1280u)
      << "the learned path MTU towards the server";
  ASSERT_EQ(send_error, "") << "TCP did not recover from the smaller path MTU";
  sp::shutdown(fd, SHUT_WR);
  char b[64];
  while (sp::recv(fd, b, sizeof(b), 0) > 0) {
  }
  sp::close(fd);
  ASSERT_TRUE(lab.run_until_child_exits(child, 30));
  const auto res = parse_results(drain(pfd[0]));
  ::close(pfd[0]);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].bytes, kBytes);
  EXPECT_EQ(res[0].sha, d.hex()) << "every byte must arrive despite the narrower path";
}

}  // namespace
}  // namespace sp::interop
