// The L3 flavour: a tun device (raw IPv4, no Ethernet, no ARP) between
// sendpath and Linux, with the same vnet header offloads as the tap.
#include <fcntl.h>

#include <filesystem>

#include "gtest/gtest.h"
#include "interop_lab.hpp"
#include "linux_peer.hpp"
#include "sendpath/api.hpp"

namespace sp::interop {
namespace {

constexpr std::uint16_t kPort = 5004;
constexpr std::uint64_t kBytes = 32ull << 20;

TEST(Tun, SendpathSendsToLinuxOverTunWithTsoAndCleanCapture) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  const std::string pcap =
      (std::filesystem::temp_directory_path() / ("sp_tun_" + unique_suffix() + ".pcap")).string();
  std::string linux_sha, our_sha;
  std::uint64_t tso_frames = 0;
  {
    LabOptions lo;
    lo.tun = true;
    lo.pcap = pcap;
    TapLab lab(lo);
    ASSERT_EQ(lab.error(), "");
    EXPECT_EQ(lab.tap().type, LinkType::kRawIp);
    int pfd[2];
    ASSERT_EQ(::pipe2(pfd, O_CLOEXEC), 0);
    NetnsChild child(lab.ns().name(), [w = pfd[1]] { return linux_sink(w, kPort, 1, {}); });
    ::close(pfd[1]);
    ASSERT_TRUE(wait_ready(pfd[0], 10000)) << "Linux sink did not start";
    const int fd = sp::socket(lab.stack(), AF_INET, SOCK_STREAM, 0);
    timeval tv{30, 0};
    sp::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    a.sin_addr.s_addr = inet(kLinuxIp);
    ASSERT_EQ(sp::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0)
        << std::strerror(errno);
    Stream s(11);
    Digest d;
    std::vector<std::uint8_t> buf(1 << 18);
    for (std::uint64_t sent = 0; sent < kBytes; sent += buf.size()) {
      s.fill(buf.data(), buf.size());
      d.update(buf.data(), buf.size());
      for (std::size_t off = 0; off < buf.size();) {
        const ssize_t w = sp::send(fd, buf.data() + off, buf.size() - off, 0);
        ASSERT_GT(w, 0) << std::strerror(errno);
        off += static_cast<std::size_t>(w);
      }
    }
    our_sha = d.hex();
    sp::shutdown(fd, SHUT_WR);
    char b[64];
    while (sp::recv(fd, b, sizeof(b), 0) > 0) {
    }
    sp::close(fd);
    ASSERT_TRUE(lab.run_until_child_exits(child, 30));
    EXPECT_EQ(child.status(), 0);
    tso_frames = lab.tap().tun_stats().tx_gso_frames;
    const auto res = parse_results(drain(pfd[0]));
    ::close(pfd[0]);
    ASSERT_EQ(res.size(), 1u);
    EXPECT_EQ(res[0].bytes, kBytes);
    linux_sha = res[0].sha;
  }
  EXPECT_EQ(linux_sha, our_sha);
  EXPECT_GT(tso_frames, 0u) << "TSO frames cross a tun as they do a tap";
  if (have_tshark()) {
    const TsharkReport r = tshark_check(pcap);
    std::printf("[tun] tshark: %s\n", r.summary().c_str());
    EXPECT_TRUE(r.ran);
    EXPECT_EQ(r.malformed, 0);
    EXPECT_EQ(r.bad_ip_csum, 0);
    EXPECT_EQ(r.bad_tcp_csum, 0);
  }
  std::filesystem::remove(pcap);
}

}  // namespace
}  // namespace sp::interop
