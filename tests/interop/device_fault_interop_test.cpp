// Device faults on a real tap (issue 19), sendpath sending to Linux:
//   - the tap's kernel side goes down for 1.5 s mid-transfer and comes back:
//     tun refuses writes with EIO meanwhile; the transfer must complete
//     intact, the device must report the carrier going and coming back, and
//     the RTO must be what got the data through;
//   - the namespace holding the tap's kernel side is deleted mid-transfer:
//     the tap's fd then answers every call with EBADFD and polls as an
//     error forever. The device must declare itself gone (so the loop stops
//     waiting on it instead of spinning), and the connection must end with
//     the routing error after its retries, every byte Linux got intact.
// Tests/e2e/device_fault_test.cpp covers the same faults (and EAGAIN,
// ENOBUFS, short writes, which tun does not produce on demand) in virtual
// time; this is the same story against the kernel's own tun.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/mib.hpp"
#include "gtest/gtest.h"
#include "interop_lab.hpp"
#include "linux_peer.hpp"
#include "sendpath/api.hpp"

namespace sp::interop {
namespace {

constexpr std::uint16_t kPort = 5301;
constexpr std::uint64_t kMiB = 1 << 20;

struct Sent {
  std::uint64_t accepted = 0;
  std::string sha;  // of the bytes send() accepted
  int err = 0;      // the socket's error, if it ended with one
  bool finished = false;
};

// Connects to Linux's sink and sends `bytes`, calling at(accepted) after
// each round so a test can break things mid-way. Ends when Linux's FIN is
// read (finished), on a socket error, or at the deadline.
template <typename At>
Sent send_to_linux(TapLab& lab, std::uint64_t bytes, double seconds, At at) {
  Stack& st = lab.stack();
  Sent s;
  const int fd = sp::socket(st, AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = inet(kLinuxIp);
  if (fd < 0 || sp::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    s.err = errno;
    return s;
  }
  sp::fcntl(fd, F_SETFL, O_NONBLOCK);
  Stream stream(5);
  Digest digest;
  std::vector<std::uint8_t> chunk;
  std::size_t off = 0;
  bool shut = false;
  const Nanos deadline = st.now() + static_cast<Nanos>(seconds * 1e9);
  while (st.now() < deadline) {
    bool progress = false;
    while (!shut) {
      if (off == chunk.size()) {
        if (s.accepted == bytes) {
          sp::shutdown(fd, SHUT_WR);
          shut = true;
          break;
        }
        chunk.resize(
            static_cast<std::size_t>(std::min<std::uint64_t>(1 << 18, bytes - s.accepted)));
        stream.fill(chunk.data(), chunk.size());
        digest.update(chunk.data(), chunk.size());
        off = 0;
      }
      const ssize_t w = sp::send(fd, chunk.data() + off, chunk.size() - off, MSG_DONTWAIT);
      if (w < 0 && errno != EAGAIN) s.err = errno;  // the socket's error, reported once
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
      s.accepted += static_cast<std::uint64_t>(w);
      progress = true;
    }
    if (s.err) break;
    char b[256];
    const ssize_t r = sp::recv(fd, b, sizeof b, MSG_DONTWAIT);
    if (r == 0) {
      s.finished = true;
      break;
    }
    if (r < 0 && errno != EAGAIN) {
      s.err = errno;
      break;
    }
    at(s.accepted);
    if (!progress) lab.loop().run_once(deadline);
  }
  // Only what send() took is hashed: a chunk cut short by an error is
  // hashed whole, so its digest would not match; a finished run's does.
  s.sha = digest.hex();
  sp::close(fd);
  return s;
}

TEST(DeviceFaultInterop, TapDownForASecondAndAHalfThenUpTransferCompletesIntact) {
  if (const char* why = lab_unavailable()) GTEST_SKIP() << why;
  TapLab lab;
  ASSERT_EQ(lab.error(), "");
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  NetnsChild child(lab.ns().name(), [w = pipefd[1]] { return linux_sink(w, kPort, 1, {}); });
  ::close(pipefd[1]);
  ASSERT_TRUE(wait_ready(pipefd[0], 10000)) << "Linux sink did not start";

  const std::uint64_t total = 64 * kMiB;
  bool downed = false, upped = false;
  Nanos down_at = 0;
  const Sent s = send_to_linux(lab, total, 120, [&](std::uint64_t accepted) {
    if (!downed && accepted >= 8 * kMiB) {
      ASSERT_TRUE(lab.ns().exec("ip link set dev " + lab.tapname() + " down"));
      downed = true;
      down_at = lab.stack().now();
    }
    if (downed && !upped && lab.stack().now() >= down_at + 1500 * kNsPerMs) {
      ASSERT_TRUE(lab.ns().exec("ip link set dev " + lab.tapname() + " up"));
      upped = true;
    }
  });
  ASSERT_TRUE(upped) << "the transfer ended before the link came back";
  ASSERT_TRUE(lab.run_until_child_exits(child, 30));
  const auto res = parse_results(drain(pipefd[0]));
  ::close(pipefd[0]);

  const TunFdStats& ts = lab.tap().tun_stats();
  const Mib& mib = lab.stack().mib();
  std::printf("[tap down/up] carrier errors %llu, carrier changes %llu, RTOs %llu, retrans %llu\n",
              static_cast<unsigned long long>(ts.tx_carrier_errors),
              static_cast<unsigned long long>(ts.carrier_changes),
              static_cast<unsigned long long>(mib.get(MibId::TcpExtTCPTimeouts)),
              static_cast<unsigned long long>(mib.get(MibId::TcpRetransSegs)));
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.err, 0) << std::strerror(s.err);
  EXPECT_EQ(s.accepted, total);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].bytes, total);
  EXPECT_EQ(res[0].sha, s.sha);
  EXPECT_EQ(res[0].close, "fin");
  EXPECT_GT(ts.tx_carrier_errors, 0u) << "tun refuses writes with EIO while its interface is down";
  EXPECT_EQ(ts.carrier_changes, 2u);
  EXPECT_TRUE(lab.tap().carrier_ok());
  EXPECT_GE(mib.get(MibId::TcpExtTCPTimeouts), 1u);
}

TEST(DeviceFaultInterop, NamespaceDeletedMidTransferDeviceGoneErrorReportedNoSpin) {
  if (const char* why = lab_unavailable()) GTEST_SKIP() << why;
  TapLab lab;
  ASSERT_EQ(lab.error(), "");
  ASSERT_TRUE(lab.stack().sysctl().set("net.ipv4.tcp_retries2", "3").empty());
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  NetnsChild child(lab.ns().name(), [w = pipefd[1]] { return linux_sink(w, kPort, 1, {}); });
  ::close(pipefd[1]);
  ASSERT_TRUE(wait_ready(pipefd[0], 10000)) << "Linux sink did not start";

  bool deleted = false;
  RealtimeLoopStats before{};
  const Sent s = send_to_linux(lab, 256 * kMiB, 60, [&](std::uint64_t accepted) {
    if (deleted || accepted < 8 * kMiB) return;
    // Silence Linux first, so the sink's death sends no RST that would end
    // the connection before the device goes; then end the sink and delete
    // the namespace: its last user gone, the kernel deletes the tap.
    ASSERT_TRUE(lab.ns().exec("nft add table inet spfault"));
    ASSERT_TRUE(
        lab.ns().exec("nft add chain inet spfault out { type filter hook output priority 0 \\; "
                      "policy drop \\; }"));
    child.kill();
    ASSERT_TRUE(sh("ip netns del " + lab.ns().name()));
    deleted = true;
    before = lab.loop().stats();
  });
  ::close(pipefd[0]);
  ASSERT_TRUE(deleted);
  const RealtimeLoopStats after = lab.loop().stats();
  const Mib& mib = lab.stack().mib();
  std::printf("[netns deleted] error %s, loop sleeps %llu fd wakeups %llu since, no-route %llu\n",
              std::strerror(s.err), static_cast<unsigned long long>(after.sleeps - before.sleeps),
              static_cast<unsigned long long>(after.fd_wakeups - before.fd_wakeups),
              static_cast<unsigned long long>(mib.get(MibId::IpOutNoRoutes)));
  EXPECT_TRUE(lab.tap().gone());
  EXPECT_EQ(lab.tap().wait_fd(), -1);
  EXPECT_FALSE(s.finished);
  EXPECT_EQ(s.err, ENETUNREACH) << std::strerror(s.err);
  EXPECT_GT(mib.get(MibId::IpOutNoRoutes), 0u);
  EXPECT_GE(mib.get(MibId::TcpExtTCPAbortOnTimeout), 1u);
  // A few seconds of retries: a loop that waited on the dead fd would have
  // woken millions of times.
  EXPECT_LT(after.fd_wakeups - before.fd_wakeups, 20u);
  EXPECT_LT(after.sleeps - before.sleeps, 200u);
}

}  // namespace
}  // namespace sp::interop
