// SYN cookies against the host's Linux: a Linux client connects through a
// cookie of sendpath's (tcp_syncookies = 2) and its bytes arrive whole; and
// Linux's listener, given tcp_syncookies = 2 and sendpath's SYN, encodes
// the SYN's window scale and SACK in its SYN-ACK's TSval the way sendpath's
// does (cookie_init_timestamp), and takes sendpath's ACK as a cookie.
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "gtest/gtest.h"
#include "interop_lab.hpp"
#include "linux_peer.hpp"
#include "sendpath/api.hpp"
#include "tcp/tcp.hpp"

namespace sp::interop {
namespace {

constexpr std::uint16_t kPort = 5011;

std::string read_all(int fd) {
  std::string s;
  char b[4096];
  for (int i = 0; i < 100000; i++) {
    const ssize_t r = ::read(fd, b, sizeof(b));
    if (r <= 0) break;
    s.append(b, static_cast<std::size_t>(r));
  }
  return s;
}

bool wait_ready(int fd) {
  std::string got;
  for (int i = 0; i < 64 && got.find("ready\n") == std::string::npos; i++) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    char c;
    if (::read(fd, &c, 1) != 1) return false;
    got += c;
  }
  return got.find("ready\n") != std::string::npos;
}

// A TcpExt counter of the namespace's Linux (/proc/net/netstat read there).
std::optional<std::uint64_t> linux_tcpext(const Netns& ns, const std::string& name) {
  const std::string cmd = "timeout 10 ip netns exec " + ns.name() + " cat /proc/net/netstat";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string text;
  char b[4096];
  for (std::size_t n; (n = std::fread(b, 1, sizeof b, p)) > 0;) text.append(b, n);
  ::pclose(p);
  // Two "TcpExt:" lines: the names, then the values.
  const auto h = text.find("TcpExt:");
  const auto v = h == std::string::npos ? h : text.find("TcpExt:", h + 1);
  if (v == std::string::npos) return std::nullopt;
  auto words = [](const std::string& line) {
    std::vector<std::string> w;
    std::size_t i = 0;
    while (i < line.size()) {
      const auto j = line.find(' ', i);
      w.push_back(line.substr(i, j == std::string::npos ? std::string::npos : j - i));
      if (j == std::string::npos) break;
      i = j + 1;
    }
    return w;
  };
  const auto names = words(text.substr(h, text.find('\n', h) - h));
  const auto values = words(text.substr(v, text.find('\n', v) - v));
  for (std::size_t i = 0; i < names.size() && i < values.size(); i++)
    if (names[i] == name) return std::stoull(values[i]);
  return std::nullopt;
}

// The first segment in the capture with exactly these flags (SYN, SYN|ACK)
// from saddr: its window scale option and TSval, if present.
struct Seen {
  bool found = false;
  int wscale = -1;
  bool sack_perm = false;
  std::optional<std::uint32_t> tsval;
};
Seen first_segment(const std::string& pcap_path, std::uint8_t flags, be32 saddr) {
  Seen s;
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(pcap_path.c_str(), err);
  if (!p) return s;
  pcap_pkthdr* h;
  const u_char* d;
  while (!s.found && pcap_next_ex(p, &h, &d) == 1) {
    if (h->caplen < 14 + 20 + 20 || d[12] != 0x08 || d[13] != 0x00) continue;
    const u_char* ip = d + 14;
    const std::size_t ihl = (ip[0] & 0xf) * 4u;
    be32 src;
    std::memcpy(&src, ip + 12, 4);
    if (ip[9] != 6 || src != saddr || h->caplen < 14 + ihl + 20) continue;
    const u_char* th = ip + ihl;
    if ((th[13] & 0x3f) != flags) continue;
    s.found = true;
    const std::size_t doff = (th[12] >> 4) * 4u;
    for (std::size_t i = 20; i < doff && 14 + ihl + i < h->caplen;) {
      const u_char kind = th[i];
      if (kind == 0) break;
      if (kind == 1) {
        i++;
        continue;
      }
      const u_char len = th[i + 1];
      if (len < 2) break;
      if (kind == 3 && len == 3) s.wscale = th[i + 2];
      if (kind == 4 && len == 2) s.sack_perm = true;
      if (kind == 8 && len == 10)
        s.tsval = (std::uint32_t{th[i + 2]} << 24) | (std::uint32_t{th[i + 3]} << 16) |
                  (std::uint32_t{th[i + 4]} << 8) | th[i + 5];
      i += len;
    }
  }
  pcap_close(p);
  return s;
}

TEST(SyncookiesInterop, LinuxClientConnectsThroughASendpathCookie) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  constexpr std::uint64_t kBytes = 1ull << 20;
  TapLab lab;
  ASSERT_EQ(lab.error(), "");
  ASSERT_EQ(lab.stack().sysctl().set("net.ipv4.tcp_syncookies", "2"), "");
  const int lfd = sp::socket(lab.stack(), AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = inet(kSendpathIp);
  ASSERT_EQ(sp::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(sp::listen(lfd, 8), 0);
  timeval tv{10, 0};
  sp::setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  NetnsChild child(lab.ns().name(), [w = pipefd[1]] {
    return linux_source(w, kSendpathIp, kPort, 1, kBytes, 7, {});
  });
  ::close(pipefd[1]);
  const int fd = sp::accept(lfd, nullptr, nullptr);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  sp::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(lab.stack().mib().get(MibId::TcpExtSyncookiesSent), 1u);
  EXPECT_EQ(lab.stack().mib().get(MibId::TcpExtSyncookiesRecv), 1u);

  // Linux offered everything; the child got it back from the cookie.
  tcp_info ti{};
  socklen_t len = sizeof ti;
  ASSERT_EQ(sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
  const unsigned all = TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE;
  EXPECT_EQ(ti.tcpi_options & all, all);
  EXPECT_EQ(ti.tcpi_snd_mss, 1448u) << "Linux's MSS 1460 is in the table";

  Digest d;
  std::uint64_t got = 0;
  std::vector<std::uint8_t> buf(1 << 16);
  for (int i = 0; i < 100000; i++) {
    const ssize_t r = sp::recv(fd, buf.data(), buf.size(), 0);
    if (r <= 0) break;
    d.update(buf.data(), static_cast<std::size_t>(r));
    got += static_cast<std::uint64_t>(r);
  }
  sp::close(fd);  // our FIN, which Linux's source waits for
  EXPECT_TRUE(lab.run_until_child_exits(child, 30));
  EXPECT_EQ(child.status(), 0);
  lab.loop().run_until([] { return false; }, lab.stack().now() + 100 * kNsPerMs);
  sp::close(lfd);
  const auto linux_side = parse_results(read_all(pipefd[0]));
  ::close(pipefd[0]);
  EXPECT_EQ(got, kBytes);
  ASSERT_EQ(linux_side.size(), 1u);
  EXPECT_EQ(linux_side[0].bytes, kBytes);
  EXPECT_EQ(linux_side[0].sha, d.hex());
}

TEST(SyncookiesInterop, LinuxCookieTimestampCarriesTheSynOptionsAsSendpaths) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  const std::string pcap = "/tmp/syncookies_interop_" + unique_suffix() + ".pcap";
  LabOptions o;
  o.pcap = pcap;
  std::optional<TapLab> lab_storage;
  lab_storage.emplace(o);
  TapLab& lab = *lab_storage;
  ASSERT_EQ(lab.error(), "");
  // Cookies for every SYN, and timestamps without the per-connection
  // offset (tcp_timestamps = 2), so the TSval's low bits are readable.
  ASSERT_TRUE(lab.ns().exec("sysctl -qw net.ipv4.tcp_syncookies=2 net.ipv4.tcp_timestamps=2"));
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  NetnsChild child(lab.ns().name(), [w = pipefd[1]] { return linux_sink(w, kPort, 1, {}); });
  ::close(pipefd[1]);
  ASSERT_TRUE(wait_ready(pipefd[0])) << "Linux sink did not start";

  const int fd = sp::socket(lab.stack(), AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  sp::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sp::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = inet(kLinuxIp);
  ASSERT_EQ(sp::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  std::vector<std::uint8_t> data(256 * 1024, 'c');
  std::size_t sent = 0;
  for (int i = 0; i < 10000 && sent < data.size(); i++) {
    const ssize_t w = sp::send(fd, data.data() + sent, data.size() - sent, 0);
    if (w <= 0) break;
    sent += static_cast<std::size_t>(w);
  }
  EXPECT_EQ(sent, data.size());
  sp::shutdown(fd, SHUT_WR);
  char b[16];
  EXPECT_EQ(sp::recv(fd, b, sizeof b, 0), 0) << "Linux's FIN";
  sp::close(fd);
  EXPECT_TRUE(lab.run_until_child_exits(child, 30));
  EXPECT_EQ(child.status(), 0);
  const auto linux_side = parse_results(read_all(pipefd[0]));
  ::close(pipefd[0]);
  ASSERT_EQ(linux_side.size(), 1u);
  EXPECT_EQ(linux_side[0].bytes, data.size());

  EXPECT_EQ(linux_tcpext(lab.ns(), "SyncookiesSent"), std::optional<std::uint64_t>(1));
  EXPECT_EQ(linux_tcpext(lab.ns(), "SyncookiesRecv"), std::optional<std::uint64_t>(1));

  lab.close_pcap();
  const Seen syn = first_segment(pcap, 0x02, inet(kSendpathIp));
  const Seen synack = first_segment(pcap, 0x12, inet(kLinuxIp));
  lab_storage.reset();
  std::filesystem::remove(pcap);
  ASSERT_TRUE(syn.found);
  ASSERT_TRUE(synack.found);
  ASSERT_GE(syn.wscale, 0);
  ASSERT_TRUE(syn.sack_perm);
  ASSERT_TRUE(synack.tsval.has_value());
  // What sendpath's cookie_init_timestamp puts there for the same SYN.
  RequestSock req(nullptr);
  req.wscale_ok = true;
  req.snd_wscale = static_cast<std::uint8_t>(syn.wscale);
  req.sack_ok = true;
  const std::uint32_t ours = cookie_init_timestamp(&req, 0) & ((1u << TSBITS) - 1);
  EXPECT_EQ(*synack.tsval & ((1u << TSBITS) - 1), ours)
      << "Linux's cookie TSval low bits: wscale " << syn.wscale << " | SACK";
  std::printf(
      "[ cookie ts] sendpath SYN wscale %d + SACK: Linux SYN-ACK TSval %u, low bits 0x%02x\n",
      syn.wscale, *synack.tsval, *synack.tsval & 0x3f);
}

}  // namespace
}  // namespace sp::interop
