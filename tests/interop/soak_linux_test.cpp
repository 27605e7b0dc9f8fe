// Soak against Linux over the tap (issue 19): sendpath opens connections to
// a Linux echo server, sends each a request, reads the echo back, checks
// every byte and closes, again and again for SENDPATH_SOAK_SECONDS (20 in
// CI; the by-hand run is 1800), at most kConcurrent at once. A FaultDevice
// between sendpath and the tap loses, duplicates and reorders 1% of the
// frames each way, so both TCPs repair faults the whole time: sendpath's
// data lost on the way out is a real loss to it (Linux never sees it), and
// Linux's is lost, duplicated or reordered on the way in.
//
// Linux closes first (it knows the request's length from its header), so
// sendpath keeps no TIME_WAIT and at the end no socket, skb or page of its
// may be left. The counters must show the faults were met and repaired.
#include <fcntl.h>
#include <poll.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dev/fault_dev.hpp"
#include "gtest/gtest.h"
#include "interop_lab.hpp"
#include "linux_peer.hpp"
#include "sendpath/api.hpp"
#include "skb/skbuff.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp::interop {
namespace {

constexpr std::uint16_t kEchoPort = 5019;
constexpr std::size_t kConcurrent = 32;
constexpr std::uint32_t kMaxRequest = 96 * 1024;

double soak_seconds() {
  const char* s = std::getenv("SENDPATH_SOAK_SECONDS");
  const double v = s ? std::atof(s) : 20.0;
  return v > 0 ? v : 20.0;
}

// Linux's side: an echo server. Each connection starts with an 8-byte
// header (id, length); the server echoes the header and `length` bytes,
// then closes. It stops when `stop` reaches end of file and reports
// "served N resets R" on `out`.
int linux_echo(int out, int stop) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kEchoPort);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, 256) != 0)
    return 101;
  ::fcntl(l, F_SETFL, O_NONBLOCK);
  write_line(out, "ready");
  struct C {
    std::vector<std::uint8_t> pending;  // read, not yet echoed
    std::uint64_t read = 0, want = ~std::uint64_t{0};
  };
  std::map<int, C> cs;
  std::vector<std::uint8_t> buf(1 << 16);
  long served = 0, resets = 0;
  for (;;) {
    std::vector<pollfd> pf{{stop, POLLIN, 0}, {l, POLLIN, 0}};
    for (auto& [fd, c] : cs)
      pf.push_back({fd, static_cast<short>(c.pending.empty() ? POLLIN : POLLIN | POLLOUT), 0});
    if (::poll(pf.data(), pf.size(), 1000) < 0 && errno != EINTR) return 102;
    if (pf[0].revents) break;
    if (pf[1].revents & POLLIN)
      for (int fd; (fd = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) cs[fd];
    for (std::size_t i = 2; i < pf.size(); ++i) {
      const int fd = pf[i].fd;
      C& c = cs[fd];
      bool end = false;
      if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t r = ::read(fd, buf.data(), buf.size());
        if (r > 0) {
          if (c.read < 8 && c.read + static_cast<std::uint64_t>(r) >= 8) {
            std::uint8_t h[8];
            const std::size_t have = c.pending.size();
            std::memcpy(h, c.pending.data(), have);
            std::memcpy(h + have, buf.data(), 8 - have);
            std::uint32_t len;
            std::memcpy(&len, h + 4, 4);
            c.want = 8 + static_cast<std::uint64_t>(len);
          }
          c.read += static_cast<std::uint64_t>(r);
          c.pending.insert(c.pending.end(), buf.begin(), buf.begin() + r);
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          if (r < 0 && errno == ECONNRESET) ++resets;
          end = true;  // the client never closes first: this is an error
        }
      }
      if (!end && !c.pending.empty() && c.read >= 8) {
        const ssize_t w = ::write(fd, c.pending.data(), c.pending.size());
        if (w > 0) c.pending.erase(c.pending.begin(), c.pending.begin() + w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) end = true;
      }
      if (!end && c.read == c.want && c.pending.empty()) {
        ++served;
        end = true;
      }
      if (end) {
        ::close(fd);
        cs.erase(fd);
      }
    }
  }
  write_line(out, "served " + std::to_string(served) + " resets " + std::to_string(resets));
  return 0;
}

struct Conn {
  int fd = -1;
  std::vector<std::uint8_t> out;  // header + request
  std::size_t sent = 0, got = 0;
};

TEST(SoakLinux, ConnectionsThroughFaultsBothWays) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  const double seconds = soak_seconds();
  const SkbPoolUsage pool0 = skb_pool_process_usage();
  std::uint64_t done = 0, bytes = 0, failures = 0;
  std::string failure;
  std::string linux_report;
  FaultStats rx{}, tx{};
  Mib mib{};
  std::size_t socks_left = 0;
  {
    FaultDevice* faults = nullptr;
    LabOptions lo;
    lo.tso = false;  // one segment per frame: a fault hits one segment
    lo.wrap = [&](std::unique_ptr<NetDevice> dev) -> std::unique_ptr<NetDevice> {
      FaultConfig f;
      f.loss = 0.01;
      f.dup = 0.01;
      f.reorder = 0.01;
      auto d = std::make_unique<FaultDevice>(std::move(dev), f, f, 19);
      faults = d.get();
      return d;
    };
    TapLab lab(lo);
    ASSERT_EQ(lab.error(), "");
    int results[2], stop[2];
    ASSERT_EQ(::pipe2(results, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
    // The child has a copy of every descriptor (fork without exec): it must
    // close its copy of the stop pipe's write end to see end of file there.
    NetnsChild child(lab.ns().name(), [r = results[1], s = stop[0], w = stop[1], rr = results[0]] {
      ::close(w);
      ::close(rr);
      return linux_echo(r, s);
    });
    ::close(results[1]);
    ::close(stop[0]);
    {
      std::string got;
      for (int i = 0; i < 1000 && got.find("ready\n") == std::string::npos; ++i) {
        pollfd p{results[0], POLLIN, 0};
        if (::poll(&p, 1, 10) > 0) {
          char c;
          if (::read(results[0], &c, 1) == 1) got += c;
        }
      }
      ASSERT_NE(got.find("ready\n"), std::string::npos) << "the Linux echo server did not start";
    }

    Stack& st = lab.stack();
    const Nanos t0 = st.now();
    const Nanos open_until = t0 + static_cast<Nanos>(seconds * 1e9);
    const Nanos deadline = open_until + 120 * kNsPerSec;
    std::map<int, Conn> conns;
    std::uint64_t next_id = 0;
    std::vector<std::uint8_t> buf(1 << 16);
    const auto fail = [&](const std::string& why) {
      if (failures++ == 0) failure = why;
    };
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(kEchoPort);
    dst.sin_addr.s_addr = inet(kLinuxIp);
    while (st.now() < deadline) {
      if (st.now() >= open_until && conns.empty()) break;
      while (st.now() < open_until && conns.size() < kConcurrent) {
        Conn c;
        c.fd = sp::socket(st, AF_INET, SOCK_STREAM, 0);
        if (c.fd < 0) {
          fail(std::string("socket: ") + std::strerror(errno));
          break;
        }
        sp::fcntl(c.fd, F_SETFL, O_NONBLOCK);
        if (sp::connect(c.fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0 &&
            errno != EINPROGRESS) {
          fail(std::string("connect: ") + std::strerror(errno));
          sp::close(c.fd);
          break;
        }
        const std::uint32_t id = static_cast<std::uint32_t>(next_id++);
        const std::uint32_t len = 1 + static_cast<std::uint32_t>((id * 2654435761u) % kMaxRequest);
        c.out.resize(8 + len);
        std::memcpy(c.out.data(), &id, 4);
        std::memcpy(c.out.data() + 4, &len, 4);
        Stream(id).fill(c.out.data() + 8, len);
        conns.emplace(c.fd, std::move(c));
      }
      lab.loop().run_once(st.now() + kNsPerMs);
      for (auto it = conns.begin(); it != conns.end();) {
        Conn& c = it->second;
        bool end = false;
        while (c.sent < c.out.size()) {
          const ssize_t w =
              sp::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_DONTWAIT);
          if (w <= 0) {
            if (w < 0 && errno != EAGAIN && errno != ENOTCONN) {
              fail(std::string("send: ") + std::strerror(errno));
              end = true;
            }
            break;
          }
          c.sent += static_cast<std::size_t>(w);
        }
        while (!end) {
          const ssize_t r = sp::recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
          if (r == 0) {
            if (c.got == c.out.size()) {
              ++done;
              bytes += c.out.size();
            } else {
              fail("echo of " + std::to_string(c.got) + " bytes, expected " +
                   std::to_string(c.out.size()));
            }
            end = true;
          } else if (r < 0) {
            if (errno != EAGAIN && errno != ENOTCONN) {
              fail(std::string("recv: ") + std::strerror(errno));
              end = true;
            }
            break;
          } else if (c.got + static_cast<std::size_t>(r) > c.out.size() ||
                     std::memcmp(buf.data(), c.out.data() + c.got, static_cast<std::size_t>(r))) {
            fail("echo differs at byte " + std::to_string(c.got));
            end = true;
          } else {
            c.got += static_cast<std::size_t>(r);
          }
        }
        if (end) {
          sp::close(c.fd);
          it = conns.erase(it);
        } else {
          ++it;
        }
      }
    }
    EXPECT_TRUE(conns.empty()) << conns.size() << " connections open at the deadline";
    for (auto& [fd, c] : conns) sp::close(fd);
    // The last ACKs of LAST_ACK, then nothing of sendpath's may be left.
    lab.loop().run_until([&] { return st.tcp().sock_count() == 0; }, st.now() + 30 * kNsPerSec);
    socks_left = st.tcp().sock_count();
    ::close(stop[1]);
    EXPECT_TRUE(lab.run_until_child_exits(child, 10));
    EXPECT_EQ(child.status(), 0);
    char b[256];
    pollfd p{results[0], POLLIN, 0};
    const ssize_t n = ::poll(&p, 1, 1000) > 0 ? ::read(results[0], b, sizeof(b) - 1) : -1;
    linux_report = n > 0 ? std::string(b, static_cast<std::size_t>(n)) : "";
    ::close(results[0]);
    rx = faults->rx_stats();
    tx = faults->tx_stats();
    mib = st.mib();
  }
  std::printf(
      "soak-linux: %.0f s, %llu connections, %llu bytes each way, %llu failed; faults in: "
      "%llu lost %llu duplicated %llu reordered of %llu; out: %llu lost %llu duplicated %llu "
      "reordered of %llu; sendpath RetransSegs=%llu TCPDSACKOldSent=%llu TCPSACKReorder=%llu; "
      "Linux: %s\n",
      seconds, static_cast<unsigned long long>(done), static_cast<unsigned long long>(bytes),
      static_cast<unsigned long long>(failures), static_cast<unsigned long long>(rx.lost),
      static_cast<unsigned long long>(rx.duplicated), static_cast<unsigned long long>(rx.reordered),
      static_cast<unsigned long long>(rx.frames), static_cast<unsigned long long>(tx.lost),
      static_cast<unsigned long long>(tx.duplicated), static_cast<unsigned long long>(tx.reordered),
      static_cast<unsigned long long>(tx.frames),
      static_cast<unsigned long long>(mib.get(MibId::TcpRetransSegs)),
      static_cast<unsigned long long>(mib.get(MibId::TcpExtTCPDSACKOldSent)),
      static_cast<unsigned long long>(mib.get(MibId::TcpExtTCPSACKReorder)), linux_report.c_str());
  EXPECT_EQ(failures, 0u) << failure;
  EXPECT_GT(done, 0u);
  EXPECT_NE(linux_report.find("served " + std::to_string(done) + " resets 0"), std::string::npos)
      << "Linux must have served every connection, without a reset: " << linux_report;
  EXPECT_EQ(socks_left, 0u);
  // The faults happened and TCP repaired them.
  EXPECT_GT(tx.lost, 0u);
  EXPECT_GT(rx.lost + rx.duplicated + rx.reordered, 0u);
  EXPECT_GT(mib.get(MibId::TcpRetransSegs), 0u) << "sendpath's lost frames must be retransmitted";
  EXPECT_GT(mib.get(MibId::TcpExtTCPDSACKOldSent), 0u)
      << "duplicated data from Linux should draw D-SACKs";
  const SkbPoolUsage pool1 = skb_pool_process_usage();
  EXPECT_EQ(pool1.skbs, pool0.skbs);
  EXPECT_EQ(pool1.pages_4k, pool0.pages_4k);
}

}  // namespace
}  // namespace sp::interop
