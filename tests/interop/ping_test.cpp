// ping from Linux (inside the lab namespace) to sendpath's address: ARP
// resolves sendpath's MAC through the tap, ICMP echo replies come back.
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <filesystem>

#include "gtest/gtest.h"
#include "interop_lab.hpp"

namespace sp::interop {
namespace {

std::uint16_t icmp_csum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) s += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) s += static_cast<std::uint32_t>(p[n - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

// Linux's side: `count` echo requests on a raw ICMP socket (no ping binary
// needed), each answered within 2 s. Exit status = replies missing.
int linux_ping(const char* dst, int count, std::size_t payload) {
  const int s = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (s < 0) return 100;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  ::inet_pton(AF_INET, dst, &to.sin_addr);
  int missing = 0;
  const std::uint16_t id = static_cast<std::uint16_t>(::getpid());
  for (int seq = 1; seq <= count; ++seq) {
    std::vector<std::uint8_t> m(8 + payload);
    m[0] = 8;  // echo request
    m[4] = static_cast<std::uint8_t>(id >> 8);
    m[5] = static_cast<std::uint8_t>(id);
    m[6] = static_cast<std::uint8_t>(seq >> 8);
    m[7] = static_cast<std::uint8_t>(seq);
    for (std::size_t i = 0; i < payload; ++i) m[8 + i] = static_cast<std::uint8_t>(i + seq);
    const std::uint16_t c = icmp_csum(m.data(), m.size());
    m[2] = static_cast<std::uint8_t>(c >> 8);
    m[3] = static_cast<std::uint8_t>(c);
    if (::sendto(s, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0) {
      ++missing;
      continue;
    }
    bool got = false;
    for (int tries = 0; tries < 20 && !got; ++tries) {
      pollfd pf{s, POLLIN, 0};
      if (::poll(&pf, 1, 100) <= 0) continue;
      std::uint8_t buf[65536];
      const ssize_t n = ::recv(s, buf, sizeof(buf), 0);
      if (n < 20) continue;
      const std::size_t ihl = (buf[0] & 0x0f) * 4u;
      if (static_cast<std::size_t>(n) != ihl + m.size()) continue;
      const std::uint8_t* r = buf + ihl;
      // An echo reply to this request, with the data intact.
      if (r[0] == 0 && std::memcmp(r + 4, m.data() + 4, 4) == 0 &&
          std::memcmp(r + 8, m.data() + 8, payload) == 0 && icmp_csum(r, m.size()) == 0) {
        got = true;
      }
    }
    if (!got) ++missing;
  }
  ::close(s);
  return missing;
}

TEST(Ping, LinuxPingsSendpathAndEveryEchoIsAnswered) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  const std::string pcap =
      (std::filesystem::temp_directory_path() / ("sp_ping_" + unique_suffix() + ".pcap")).string();
  {
    LabOptions lo;
    lo.pcap = pcap;
    TapLab lab(lo);
    ASSERT_EQ(lab.error(), "");
    NetnsChild child(lab.ns().name(), [] { return linux_ping(kSendpathIp, 5, 56); });
    ASSERT_TRUE(child.started());
    ASSERT_TRUE(lab.run_until_child_exits(child, 30)) << "ping did not finish in 30 s";
    EXPECT_EQ(child.status(), 0) << "echo requests left unanswered";
    EXPECT_EQ(lab.stack().mib().get(MibId::IcmpOutEchoReps), 5u);
    EXPECT_GE(arp_stats(lab.stack()).tx_replies, 1u) << "Linux had to ARP for us";
  }
  if (!have_tshark()) {
    std::filesystem::remove(pcap);
    GTEST_SKIP() << "tshark not installed: capture not checked";
  }
  TsharkReport r = tshark_check(pcap);
  std::printf("tshark: %s\n", r.summary().c_str());
  EXPECT_TRUE(r.ran);
  EXPECT_GE(r.frames, 12);  // 5 requests + 5 replies + ARP
  EXPECT_EQ(r.malformed, 0);
  EXPECT_EQ(r.bad_ip_csum, 0);
  EXPECT_EQ(r.bad_icmp_csum, 0);
  std::filesystem::remove(pcap);
}

TEST(Ping, LargeEchoWithinTheMtuIsAnswered) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  TapLab lab;
  ASSERT_EQ(lab.error(), "");
  NetnsChild child(lab.ns().name(), [] { return linux_ping(kSendpathIp, 3, 1472); });
  ASSERT_TRUE(lab.run_until_child_exits(child, 30));
  EXPECT_EQ(child.status(), 0);
}

}  // namespace
}  // namespace sp::interop
