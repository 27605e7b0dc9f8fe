// Device faults (issue 19): two stacks joined by tun-style devices over a
// SOCK_SEQPACKET socketpair (one message = one frame, as on /dev/net/tun),
// in virtual time. The sender's device has its system calls replaced so
// that they fail as the kernel's tun may make them fail:
//   - EAGAIN / ENOBUFS: the frame was refused, nothing left; TCP must treat
//     it as local congestion and send the same data later, not as a loss;
//   - a short write: a truncated frame reaches the peer, which drops it
//     (InTruncatedPkts), and TCP repairs the loss;
//   - EIO for two seconds: the tap's kernel side is down (no carrier);
//     frames are lost until it comes back, and the RTO repairs them;
//   - EBADFD from then on: the interface was deleted (with its namespace).
//     The device is gone, its routes with it, and the connection ends with
//     ENETUNREACH after its retries, as Linux reports a route that vanished.
// Each test checks the counters that say the fault happened and how it was
// handled, and that every byte send() accepted arrived in order, or that
// the application was told.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/e2e_support.hpp"
#include "core/mib.hpp"
#include "dev/tun.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp {
namespace {

constexpr std::uint16_t kPort = 7119;

// A byte stream both ends can generate from a seed.
class Gen {
 public:
  explicit Gen(std::uint64_t seed) : s_(seed * 0x9e3779b97f4a7c15ull | 1) {}
  void fill(std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      s_ ^= s_ << 13;
      s_ ^= s_ >> 7;
      s_ ^= s_ << 17;
      p[i] = static_cast<std::uint8_t>(s_ >> 24);
    }
  }

 private:
  std::uint64_t s_;
};

// What the sender's device does to its writes (and reads, once gone).
struct Fault {
  enum class Kind { kNone, kErrno, kShort, kCarrierDown, kGone } kind = Kind::kNone;
  int err = 0;              // kErrno: the errno to fail with
  std::uint64_t from = 0;   // the first write to fault (0 = the SYN)
  std::uint64_t count = 0;  // kErrno, kShort: how many writes
  std::uint64_t every = 1;  // kErrno, kShort: fault one write in this many
  Nanos duration = 0;       // kCarrierDown: for how long
  // Filled in as it runs.
  std::uint64_t writes = 0, faulted = 0;
  Nanos down_since = 0;
  bool gone = false;
};

struct Pair {
  SimWorld world;
  Stack& a;
  Stack& b;
  TunFdDevice* da = nullptr;
  TunFdDevice* db = nullptr;
  Fault fault;
  be32 addr_a = htonl(0x0a090001), addr_b = htonl(0x0a090002);

  Pair() : a(world.add_stack()), b(world.add_stack()) {
    // Fixed ISN, timestamp and port secrets: every run is the same run.
    a.tcp().set_secrets_from_seed(19);
    b.tcp().set_secrets_from_seed(20);
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    for (int fd : sv) {
      int big = 4 << 20;
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    }
    auto ua = std::make_unique<TunFdDevice>(sv[0], LinkType::kRawIp, false, 0);
    auto ub = std::make_unique<TunFdDevice>(sv[1], LinkType::kRawIp, false, 0);
    da = ua.get();
    db = ub.get();
    a.add_address(a.register_netdev(std::move(ua)), addr_a, 24);
    b.add_address(b.register_netdev(std::move(ub)), addr_b, 24);
    TunFdDevice::FdOps ops;
    ops.writev = [this](int fd, const iovec* iov, int n) { return faulty_writev(fd, iov, n); };
    ops.readv = [this](int fd, const iovec* iov, int n) -> ssize_t {
      if (fault.gone) {
        errno = EBADFD;
        return -1;
      }
      return ::readv(fd, iov, n);
    };
    da->set_fd_ops(std::move(ops));
  }

  ssize_t faulty_writev(int fd, const iovec* iov, int n) {
    Fault& f = fault;
    const std::uint64_t k = f.writes++;
    bool hit = false;
    switch (f.kind) {
      case Fault::Kind::kNone:
        break;
      case Fault::Kind::kErrno:
      case Fault::Kind::kShort:
        hit = k >= f.from && (k - f.from) % f.every == 0 && (k - f.from) / f.every < f.count;
        break;
      case Fault::Kind::kCarrierDown:
        if (k == f.from) f.down_since = world.now();
        hit = k >= f.from && world.now() < f.down_since + f.duration;
        break;
      case Fault::Kind::kGone:
        if (k >= f.from) f.gone = true;
        hit = f.gone;
        break;
    }
    if (!hit) return ::writev(fd, iov, n);
    f.faulted++;
    switch (f.kind) {
      case Fault::Kind::kShort: {
        std::vector<std::uint8_t> frame;
        for (int i = 0; i < n; ++i) {
          const auto* p = static_cast<const std::uint8_t*>(iov[i].iov_base);
          frame.insert(frame.end(), p, p + iov[i].iov_len);
        }
        return ::write(fd, frame.data(), frame.size() / 2);
      }
      case Fault::Kind::kCarrierDown:
        errno = EIO;
        return -1;
      case Fault::Kind::kGone:
        errno = EBADFD;
        return -1;
      default:
        errno = f.err;
        return -1;
    }
  }
};

struct Outcome {
  std::uint64_t accepted = 0;  // bytes send() took
  std::uint64_t received = 0;  // bytes the receiver read, all checked
  bool intact = true;          // every byte read matched the stream
  bool eof = false;            // the receiver read the sender's FIN
  int send_errno = 0;          // the error the sender's socket reported
  std::string why;
};

// a sends `bytes` to b; the receiver checks each byte against the stream.
// Ends at b's EOF, at an error on a's socket, or at the virtual deadline.
Outcome transfer(Pair& p, std::uint64_t bytes, Nanos limit) {
  Outcome o;
  const int lfd = sp::socket(p.b, AF_INET, SOCK_STREAM, 0);
  const sockaddr_in sin = test::inet_sockaddr(p.addr_b, kPort);
  if (sp::bind(lfd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 ||
      sp::listen(lfd, 8) != 0) {
    o.why = "listen failed";
    return o;
  }
  sp::fcntl(lfd, F_SETFL, O_NONBLOCK);
  const int cfd = sp::socket(p.a, AF_INET, SOCK_STREAM, 0);
  sp::fcntl(cfd, F_SETFL, O_NONBLOCK);
  if (sp::connect(cfd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 &&
      errno != EINPROGRESS) {
    o.why = std::string("connect: ") + std::strerror(errno);
    return o;
  }
  Gen out(7), in(7);
  std::vector<std::uint8_t> chunk(64 * 1024), buf(64 * 1024), want(64 * 1024);
  std::size_t off = chunk.size();
  int sfd = -1;
  bool shut = false;
  const Nanos deadline = p.world.now() + limit;
  for (int round = 0; round < 2'000'000 && p.world.now() < deadline; ++round) {
    p.world.step(p.world.now() + kNsPerMs);
    if (sfd < 0) sfd = sp::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
    while (!shut && o.send_errno == 0) {
      if (off == chunk.size()) {
        const std::uint64_t left = bytes - o.accepted;
        if (left == 0) {
          sp::shutdown(cfd, SHUT_WR);
          shut = true;
          break;
        }
        chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(left, 64 * 1024)));
        out.fill(chunk.data(), chunk.size());
        off = 0;
      }
      const ssize_t w = sp::send(cfd, chunk.data() + off, chunk.size() - off, MSG_DONTWAIT);
      if (w < 0) {
        if (errno != EAGAIN) o.send_errno = errno;
        break;
      }
      off += static_cast<std::size_t>(w);
      o.accepted += static_cast<std::uint64_t>(w);
    }
    if (o.send_errno) break;
    while (sfd >= 0 && !o.eof) {
      const ssize_t r = sp::recv(sfd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (r == 0) o.eof = true;
      if (r <= 0) break;
      in.fill(want.data(), static_cast<std::size_t>(r));
      if (std::memcmp(buf.data(), want.data(), static_cast<std::size_t>(r)) != 0) o.intact = false;
      o.received += static_cast<std::uint64_t>(r);
    }
    if (o.eof) break;
  }
  if (o.send_errno == 0) {
    int err = 0;
    socklen_t len = sizeof err;
    sp::getsockopt(cfd, SOL_SOCKET, SO_ERROR, &err, &len);
    o.send_errno = err;
  }
  sp::close(cfd);
  if (sfd >= 0) sp::close(sfd);
  sp::close(lfd);
  return o;
}

constexpr std::uint64_t kBytes = 4 << 20;

TEST(DeviceFault, CleanRunHasNoFaultsAndNoRetransmissions) {
  Pair p;
  const Outcome o = transfer(p, kBytes, 60 * kNsPerSec);
  ASSERT_EQ(o.why, "");
  EXPECT_TRUE(o.eof);
  EXPECT_TRUE(o.intact);
  EXPECT_EQ(o.received, kBytes);
  EXPECT_EQ(p.da->tun_stats().tx_write_errors, 0u);
  EXPECT_EQ(p.a.mib().get(MibId::TcpRetransSegs), 0u);
}

class RefusedWrites : public ::testing::TestWithParam<int> {};

// A refused write is not a loss: the frame never left, so TCP keeps the data
// unsent, backs off (CWR) and sends it again later; the stream arrives whole
// and no error reaches the application. (Not asserted: that no segment is
// retransmitted. With some ISN/timestamp secrets one refusal is followed by
// a dozen spurious fast retransmissions, D-SACKed by the peer; the cause is
// not found yet, see docs/linux-differences.md section 10. A device that refuses
// everything for long is another story: with nothing in flight TCP probes
// every TCP_RESOURCE_PROBE_INTERVAL and gives up after tcp_retries2
// probes, ETIMEDOUT, as Linux's tcp_probe_timer does.)
TEST_P(RefusedWrites, LoseNothingAndTheStreamArrivesWhole) {
  Pair p;
  p.fault.kind = Fault::Kind::kErrno;
  p.fault.err = GetParam();
  p.fault.from = 30;
  p.fault.every = 7;
  p.fault.count = 50;
  const Outcome o = transfer(p, kBytes, 60 * kNsPerSec);
  ASSERT_EQ(o.why, "");
  EXPECT_EQ(p.fault.faulted, 50u);
  EXPECT_EQ(p.da->tun_stats().tx_busy, 50u);
  EXPECT_EQ(p.da->tun_stats().tx_short_writes, 0u);
  EXPECT_TRUE(p.da->carrier_ok());
  EXPECT_TRUE(o.eof);
  EXPECT_TRUE(o.intact);
  EXPECT_EQ(o.received, kBytes);
  EXPECT_EQ(o.send_errno, 0);
  // Nothing refused reached the wire: the peer received exactly the frames
  // the device wrote.
  EXPECT_EQ(p.b.mib().get(MibId::IpInReceives), p.da->stats.tx_packets);
}

INSTANTIATE_TEST_SUITE_P(DeviceFault, RefusedWrites, ::testing::Values(EAGAIN, ENOBUFS, ENOMEM),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == EAGAIN    ? "EAGAIN"
                                              : i.param == ENOBUFS ? "ENOBUFS"
                                                                   : "ENOMEM");
                         });

// A short write puts a runt on the wire: the receiver drops it as truncated
// and the sender repairs the loss.
TEST(DeviceFault, ShortWritesLoseTheFrameAndTcpRepairsIt) {
  Pair p;
  p.fault.kind = Fault::Kind::kShort;
  p.fault.from = 30;
  p.fault.count = 10;
  const Outcome o = transfer(p, kBytes, 60 * kNsPerSec);
  ASSERT_EQ(o.why, "");
  EXPECT_EQ(p.da->tun_stats().tx_short_writes, 10u);
  EXPECT_EQ(p.b.mib().get(MibId::IpExtInTruncatedPkts), 10u);
  EXPECT_GT(p.a.mib().get(MibId::TcpRetransSegs), 0u);
  EXPECT_TRUE(o.eof);
  EXPECT_TRUE(o.intact);
  EXPECT_EQ(o.received, kBytes);
}

// Two seconds without carrier (EIO: the tap's kernel side is down): every
// frame is lost meanwhile; the RTO gets the data through once the link is
// back, and the device reports the link going down and up.
TEST(DeviceFault, CarrierLostForTwoSecondsThenBackTheTransferCompletes) {
  Pair p;
  p.fault.kind = Fault::Kind::kCarrierDown;
  p.fault.from = 30;
  p.fault.duration = 2 * kNsPerSec;
  const Outcome o = transfer(p, kBytes, 120 * kNsPerSec);
  ASSERT_EQ(o.why, "");
  EXPECT_GT(p.da->tun_stats().tx_carrier_errors, 0u);
  EXPECT_EQ(p.da->tun_stats().carrier_changes, 2u) << "down once, up once";
  EXPECT_TRUE(p.da->carrier_ok());
  EXPECT_FALSE(p.da->gone());
  EXPECT_GE(p.a.mib().get(MibId::TcpExtTCPTimeouts), 1u);
  EXPECT_TRUE(o.eof);
  EXPECT_TRUE(o.intact);
  EXPECT_EQ(o.received, kBytes);
  EXPECT_EQ(o.send_errno, 0);
}

// The interface is deleted mid-transfer (EBADFD from then on). The device is
// gone and its route with it: transmissions find no route (IpOutNoRoutes;
// a retransmission stops in inet_sk_rebuild_header, before 6.12 counts it
// as sent or failed) and after tcp_retries2 the connection ends with the
// routing error, ENETUNREACH, as Linux's does when inet_sk_rebuild_header
// fails. A new connect() fails at once. Every byte the receiver got is
// intact; the rest was reported, not silently lost.
TEST(DeviceFault, DeviceGoneEndsTheConnectionWithTheRoutingError) {
  Pair p;
  ASSERT_TRUE(p.a.sysctl().set("net.ipv4.tcp_retries2", "3").empty());
  p.fault.kind = Fault::Kind::kGone;
  p.fault.from = 30;
  const Outcome o = transfer(p, kBytes, 120 * kNsPerSec);
  ASSERT_EQ(o.why, "");
  EXPECT_TRUE(p.da->gone());
  EXPECT_FALSE(p.da->carrier_ok());
  EXPECT_EQ(p.da->wait_fd(), -1);
  EXPECT_FALSE(o.eof);
  EXPECT_TRUE(o.intact);
  EXPECT_LT(o.received, o.accepted);
  EXPECT_EQ(o.send_errno, ENETUNREACH) << std::strerror(o.send_errno);
  EXPECT_GT(p.a.mib().get(MibId::IpOutNoRoutes), 0u);
  EXPECT_GE(p.a.mib().get(MibId::TcpExtTCPAbortOnTimeout), 1u);

  const int fd = sp::socket(p.a, AF_INET, SOCK_STREAM, 0);
  const sockaddr_in sin = test::inet_sockaddr(p.addr_b, kPort);
  EXPECT_EQ(sp::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin), -1);
  EXPECT_EQ(errno, ENETUNREACH);
  sp::close(fd);
}

}  // namespace
}  // namespace sp
