// Figures, measured in one run: sendpath -> Linux over the tap with TSO on
// and off, and Linux -> Linux over a veth pair, each with the CPU time of
// both ends. Asserts only that every transfer arrived intact; the numbers are
// printed for the notes (they depend on the machine).
//
// CPU accounting: sendpath's figure is this process's user+system time over
// the transfer; the tap write runs Linux's receive path (netif_rx, TCP input)
// in our system time too, as the veth sender's does for its peer. The Linux
// ends' figures are the children's own times (wait4).
#include <fcntl.h>
#include <sys/resource.h>

#include <filesystem>

#include "gtest/gtest.h"
#include "interop_lab.hpp"
#include "linux_peer.hpp"
#include "sendpath/api.hpp"

namespace sp::interop {
namespace {

constexpr std::uint64_t kBytes = 256ull << 20;
constexpr std::uint16_t kPort = 5002;

double self_cpu() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double wall() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

bool wait_line(int fd, const char* want, int timeout_ms) {
  std::string got;
  while (got.find(want) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    if (::read(fd, &c, 1) != 1) return false;
    got += c;
  }
  return true;
}

struct Figure {
  double seconds = 0, sender_cpu = 0, receiver_cpu = 0;
  bool intact = false;
  void print(const char* what) const {
    std::printf("FIGURE %-28s %7.1f Mbit/s  %6.3f s  cpu sender %6.3f s  receiver %6.3f s\n", what,
                static_cast<double>(kBytes) * 8 / seconds / 1e6, seconds, sender_cpu, receiver_cpu);
  }
};

// sendpath -> Linux sink over the tap, blocking sends from one socket.
Figure sendpath_over_tap(bool tso) {
  Figure f;
  LabOptions lo;
  lo.tso = tso;
  TapLab lab(lo);
  if (!lab.error().empty()) return f;
  int pfd[2];
  if (::pipe2(pfd, O_CLOEXEC) != 0) return f;
  NetnsChild child(lab.ns().name(), [w = pfd[1]] { return linux_sink(w, kPort, 1, {}); });
  ::close(pfd[1]);
  if (!wait_line(pfd[0], "ready\n", 10000)) return f;
  const int fd = sp::socket(lab.stack(), AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = inet(kLinuxIp);
  if (sp::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return f;
  Stream s(99);
  Digest d;
  std::vector<std::uint8_t> buf(1 << 18);
  const double c0 = self_cpu(), t0 = wall();
  for (std::uint64_t sent = 0; sent < kBytes;) {
    s.fill(buf.data(), buf.size());
    d.update(buf.data(), buf.size());
    for (std::size_t off = 0; off < buf.size();) {
      const ssize_t w = sp::send(fd, buf.data() + off, buf.size() - off, 0);
      if (w <= 0) return f;
      off += static_cast<std::size_t>(w);
    }
    sent += buf.size();
  }
  sp::shutdown(fd, SHUT_WR);
  char b[64];
  while (sp::recv(fd, b, sizeof(b), 0) > 0) {
  }
  f.seconds = wall() - t0;
  f.sender_cpu = self_cpu() - c0;
  sp::close(fd);
  lab.run_until_child_exits(child, 30);
  f.receiver_cpu = child.cpu_seconds();
  const auto res = parse_results(drain(pfd[0]));
  ::close(pfd[0]);
  f.intact = res.size() == 1 && res[0].bytes == kBytes && res[0].sha == d.hex();
  return f;
}

// Linux -> Linux over a veth pair between two namespaces.
Figure linux_over_veth() {
  Figure f;
  Netns a, b;
  if (!a.ok() || !b.ok()) return f;
  const std::string va = "spva" + unique_suffix(), vb = "spvb" + unique_suffix();
  if (!sh("ip link add " + va + " netns " + a.name() + " type veth peer name " + vb + " netns " +
          b.name()) ||
      !a.exec("ip addr add 10.78.0.1/24 dev " + va) ||
      !b.exec("ip addr add 10.78.0.2/24 dev " + vb) || !a.exec("ip link set dev " + va + " up") ||
      !b.exec("ip link set dev " + vb + " up") || !a.exec("ip link set dev lo up") ||
      !b.exec("ip link set dev lo up")) {
    return f;
  }
  int sink_pipe[2], src_pipe[2];
  if (::pipe2(sink_pipe, O_CLOEXEC) != 0 || ::pipe2(src_pipe, O_CLOEXEC) != 0) return f;
  NetnsChild sink(b.name(), [w = sink_pipe[1]] { return linux_sink(w, kPort, 1, {}); });
  ::close(sink_pipe[1]);
  if (!wait_line(sink_pipe[0], "ready\n", 10000)) return f;
  const double t0 = wall();
  NetnsChild src(a.name(), [w = src_pipe[1]] {
    return linux_source(w, "10.78.0.2", kPort, 1, kBytes, 99, {});
  });
  ::close(src_pipe[1]);
  // Both ends are kernel sockets in child processes: wait for them.
  for (int i = 0; i < 60000 && !(src.done() && sink.done()); ++i) ::usleep(1000);
  f.seconds = wall() - t0;
  f.sender_cpu = src.cpu_seconds();
  f.receiver_cpu = sink.cpu_seconds();
  const auto got = parse_results(drain(sink_pipe[0]));
  const auto sent = parse_results(drain(src_pipe[0]));
  ::close(sink_pipe[0]);
  ::close(src_pipe[0]);
  f.intact =
      got.size() == 1 && sent.size() == 1 && got[0].sha == sent[0].sha && got[0].bytes == kBytes;
  return f;
}

TEST(InteropFigures, SendpathOverTapAndLinuxOverVethInOneRun) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  const Figure tso = sendpath_over_tap(true);
  const Figure notso = sendpath_over_tap(false);
  const Figure veth = linux_over_veth();
  tso.print("sendpath->linux tap TSO on");
  notso.print("sendpath->linux tap TSO off");
  veth.print("linux->linux veth");
  EXPECT_TRUE(tso.intact);
  EXPECT_TRUE(notso.intact);
  EXPECT_TRUE(veth.intact);
}

}  // namespace
}  // namespace sp::interop
