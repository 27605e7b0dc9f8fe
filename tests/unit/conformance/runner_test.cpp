// The runner itself, independent of sendpath's TCP: a tiny scripted peer
// (FakeTcp) answers on the ScriptDevice, so each test shows the runner
// passing a right script and failing a wrong one on the right line, with
// packetdrill's words.
#include "runner.hpp"

#include <gtest/gtest.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/stack.hpp"
#include "packet.hpp"
#include "parser.hpp"
#include "report.hpp"

namespace sp::drill {
namespace {

// A deliberately simple TCP: passive open only, sends each write as one
// packet at once, ACKs every data packet at once, ISN 1000.
class FakeTcp : public Target {
 public:
  // `burst`: the most payload one transmitted packet carries (a stack that
  // cuts a write into several TSO skbs); 0 for no limit.
  // `psh_first`: PSH on the first packet of a write instead of the last
  // (Linux's forced PSH on a GSO skb followed by a plain one).
  explicit FakeTcp(Stack& st, std::uint32_t burst = 0, bool psh_first = false)
      : st_(st), burst_(burst), psh_first_(psh_first) {
    st_.register_protocol(6, [this](SkbPtr skb) { rcv(std::move(skb)); });
  }
  int socket(int, int type, int proto) override {
    if (type != SOCK_STREAM || proto != IPPROTO_TCP) return -EPROTONOSUPPORT;
    return next_fd_++;
  }
  int bind(int, std::uint32_t addr, std::uint16_t port) override {
    local_ip_ = addr;
    local_port_ = port;
    return 0;
  }
  int listen(int, int) override { return 0; }
  int accept(int) override {
    if (!st_.wait_until([&] { return established_; }, Stack::kNoTimer)) return -EAGAIN;
    return next_fd_++;
  }
  int connect(int, std::uint32_t, std::uint16_t) override { return -EOPNOTSUPP; }
  long sendmsg(int, const std::vector<std::size_t>& iov, int) override {
    if (calls_at) calls_at->push_back(st_.now());
    std::size_t len = 0;
    for (std::size_t l : iov) len += l;
    std::uint32_t left = static_cast<std::uint32_t>(len);
    while (left > 0) {
      std::uint32_t n = burst_ ? std::min(left, burst_) : left;
      const bool psh = psh_first_ ? left == len : n == left;
      send(psh ? TH_PSH | TH_ACK : TH_ACK, n, {});
      snd_nxt_ += n;
      left -= n;
    }
    return static_cast<long>(len);
  }
  RecvResult recvmsg(int, std::size_t len, int flags, std::size_t controllen) override {
    RecvResult r;
    if (controllen_out) *controllen_out = controllen;
    if (flags & MSG_ERRQUEUE) {
      // One zerocopy completion, its data err_cmsg_len bytes long.
      Cmsg c{SOL_IP, IP_RECVERR, std::vector<std::uint8_t>(err_cmsg_len)};
      sock_extended_err ee{};
      ee.ee_origin = SO_EE_ORIGIN_ZEROCOPY;
      std::memcpy(c.data.data(), &ee, std::min(sizeof ee, c.data.size()));
      r.control.push_back(std::move(c));
      r.msg_flags = MSG_ERRQUEUE;
      return r;
    }
    if (!st_.wait_until([&] { return rcv_queue_ > 0; }, Stack::kNoTimer)) {
      r.ret = -EAGAIN;
      return r;
    }
    std::size_t n = std::min<std::size_t>(len, rcv_queue_);
    rcv_queue_ -= static_cast<std::uint32_t>(n);
    r.ret = static_cast<long>(n);
    return r;
  }
  int setsockopt(int, int, int, const void*, unsigned) override { return 0; }
  int getsockopt(int, int, int, void* v, unsigned* len) override {
    std::memset(v, 0, *len);
    return 0;
  }
  int close(int) override { return 0; }
  int shutdown(int, int) override { return 0; }
  int fcntl(int, int, long) override { return 0; }
  int ioctl(int, unsigned long, int* v) override {
    *v = static_cast<int>(rcv_queue_);
    return 0;
  }
  int poll(struct pollfd*, unsigned, int) override { return -EOPNOTSUPP; }
  int epoll_create(int) override { return -EOPNOTSUPP; }
  int epoll_ctl(int, int, int, struct epoll_event*) override { return -EOPNOTSUPP; }
  int epoll_wait(int, struct epoll_event*, int, int) override { return -EOPNOTSUPP; }
  std::size_t* controllen_out = nullptr;      // where recvmsg records its control buffer size
  std::vector<Nanos>* received_at = nullptr;  // the stack's clock at each packet received
  std::vector<Nanos>* calls_at = nullptr;     // the stack's clock at each sendmsg()
  std::size_t err_cmsg_len = sizeof(sock_extended_err) + sizeof(sockaddr_in);

  int tcp_info(int, struct tcp_info* ti) override {
    std::memset(ti, 0, sizeof *ti);
    ti->tcpi_snd_cwnd = 10;
    ti->tcpi_bytes_received = bytes_received_;
    return 0;
  }

 private:
  void rcv(SkbPtr skb) {
    if (received_at) received_at->push_back(st_.now());
    const std::uint8_t* ip = skb_network_header(skb.get());
    std::string err;
    auto p = parse_ipv4_tcp(ip, skb->len + (skb->data - ip), &err);
    if (!p) return;
    if (p->flags & TH_SYN) {
      peer_ip_ = p->saddr;
      peer_port_ = p->sport;
      rcv_nxt_ = p->seq + 1;
      std::vector<std::uint8_t> opts = {2, 4, 0x05, 0xb4, 1, 3, 3, 8};  // mss 1460,nop,wscale 8
      send(TH_SYN | TH_ACK, 0, opts);
      snd_nxt_ = kIsn + 1;
      return;
    }
    if (!established_ && (p->flags & TH_ACK)) established_ = true;
    if (p->payload_len) {
      rcv_nxt_ += p->payload_len;
      rcv_queue_ += p->payload_len;
      bytes_received_ += p->payload_len;
      send(TH_ACK, 0, {});
    }
  }

  void send(std::uint8_t flags, std::uint32_t len, std::vector<std::uint8_t> opts) {
    WirePacket w;
    w.saddr = local_ip_;
    w.daddr = peer_ip_;
    w.ttl = 64;
    w.sport = local_port_;
    w.dport = peer_port_;
    w.flags = flags;
    w.seq = (flags & TH_SYN) ? kIsn : snd_nxt_;
    w.ack_seq = rcv_nxt_;
    w.window = 502;
    w.options = std::move(opts);
    w.payload_len = len;
    std::vector<std::uint8_t> b = build_ipv4_tcp(w);
    SkbPtr skb = alloc_skb(static_cast<std::uint32_t>(b.size()));
    std::memcpy(skb_put(skb.get(), static_cast<std::uint32_t>(b.size())), b.data(), b.size());
    st_.devices().front()->xmit(std::move(skb));
  }

  static constexpr std::uint32_t kIsn = 1000;
  Stack& st_;
  std::uint32_t burst_ = 0;
  bool psh_first_ = false;
  int next_fd_ = 3;
  std::uint32_t local_ip_ = 0, peer_ip_ = 0;
  std::uint16_t local_port_ = 0, peer_port_ = 0;
  std::uint32_t snd_nxt_ = 0, rcv_nxt_ = 0, rcv_queue_ = 0;
  std::uint64_t bytes_received_ = 0;
  bool established_ = false;
};

const char* kHandshake =
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"       // 1
    "+0 bind(3, ..., ...) = 0\n"                          // 2
    "+0 listen(3, 1) = 0\n"                               // 3
    "+.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"  // 4
    "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>\n"      // 5
    "+.1 < . 1:1(0) ack 1 win 257\n"                      // 6
    "+0 accept(3, ..., ...) = 4\n";                       // 7

ScriptResult run(const std::string& text, std::uint32_t burst = 0, bool psh_first = false) {
  auto parsed = parse_script(text, "test.pkt");
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << e->to_string("test.pkt");
    return {};
  }
  RunnerConfig cfg;
  // The pure virtual clock: every event exactly at its scripted time (the
  // host's latency has tests of its own, below).
  cfg.event_latency_us = 0;
  cfg.make_target = [burst, psh_first](Stack& st) {
    return std::make_unique<FakeTcp>(st, burst, psh_first);
  };
  return run_script(std::get<Script>(parsed), cfg);
}

TEST(DrillRunner, RightScriptPasses) {
  ScriptResult r = run(std::string(kHandshake) +
                       "+0 write(4, ..., 1000) = 1000\n"
                       "+0 > P. 1:1001(1000) ack 1\n"
                       "+.1 < . 1:1(0) ack 1001 win 257\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kPass) << r.line << ": " << r.reason;
  EXPECT_NEAR(r.virtual_secs, 0.3, 1e-9);
}

TEST(DrillRunner, WrongSequenceFailsOnItsLine) {
  ScriptResult r = run(std::string(kHandshake) +
                       "+0 write(4, ..., 1000) = 1000\n"  // 8
                       "+0 > P. 2:1002(1000) ack 1\n");   // 9
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 9);
  EXPECT_NE(r.reason.find("live packet field tcp_seq: expected: 2 (0x2) vs actual: 1 (0x1)"),
            std::string::npos)
      << r.reason;
}

TEST(DrillRunner, WrongOptionFailsOnItsLine) {
  std::string s = kHandshake;
  s.replace(s.find("<mss 1460,nop,wscale 8>"), 23, "<mss 1460,nop,wscale 7>");
  ScriptResult r = run(s);
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 5);
  EXPECT_NE(r.reason.find("bad outbound TCP options"), std::string::npos) << r.reason;
}

TEST(DrillRunner, WrongTimeFailsOnItsLine) {
  ScriptResult r = run(std::string(kHandshake) +
                       "+0 write(4, ..., 1000) = 1000\n"  // 8
                       "+.1 > P. 1:1001(1000) ack 1\n");  // 9: it leaves at once, not 100 ms later
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 9);
  EXPECT_NE(r.reason.find("timing error: expected outbound packet at 0.300000 sec but happened at "
                          "0.200000 sec; tolerance 0.004000 sec"),
            std::string::npos)
      << r.reason;
}

TEST(DrillRunner, ToleranceOptionWidensTheWindow) {
  ScriptResult r = run(std::string("--tolerance_usecs=150000\n") + kHandshake +
                       "+0 write(4, ..., 1000) = 1000\n"
                       "+.1 > P. 1:1001(1000) ack 1\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kPass) << r.line << ": " << r.reason;
}

TEST(DrillRunner, PacketThatNeverLeavesTimesOut) {
  ScriptResult r = run(std::string(kHandshake) +
                       "+0 write(4, ..., 1000) = 1000\n"     // 8
                       "+0 > P. 1:1001(1000) ack 1\n"        // 9
                       "+.2 > P. 1001:2001(1000) ack 1\n");  // 10
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 10);
  EXPECT_NE(r.reason.find("error handling packet: Timed out waiting for packet"), std::string::npos)
      << r.reason;
}

TEST(DrillRunner, ConsecutivePacketsOfOneFlightMatchOneScriptPacket) {
  ScriptResult r = run(std::string(kHandshake) +
                           "+0 write(4, ..., 1000) = 1000\n"
                           "+0 > P. 1:1001(1000) ack 1\n",
                       400);  // sent as 400 + 400 + 200
  EXPECT_EQ(r.kind, ScriptResult::Kind::kPass) << r.line << ": " << r.reason;
}

// packetdrill's aggregate_packets keeps the last packet's headers: a PSH on
// an earlier packet of the flight is not the aggregate's.
TEST(DrillRunner, AggregateTakesTheFlagsOfTheLastPacket) {
  const std::string write = std::string(kHandshake) + "+0 write(4, ..., 1000) = 1000\n";
  ScriptResult plain = run(write + "+0 > . 1:1001(1000) ack 1\n", 400, true);
  EXPECT_EQ(plain.kind, ScriptResult::Kind::kPass) << plain.line << ": " << plain.reason;
  ScriptResult push = run(write + "+0 > P. 1:1001(1000) ack 1\n", 400, true);  // line 9
  EXPECT_EQ(push.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(push.line, 9);
}

TEST(DrillRunner, StrictSegmentsChecksEachPacket) {
  ScriptResult r = run(std::string("--strict_segments\n") + kHandshake +
                           "+0 write(4, ..., 1000) = 1000\n"  // 9
                           "+0 > P. 1:1001(1000) ack 1\n",    // 10
                       400);
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 10);
  EXPECT_NE(r.reason.find("live packet payload: expected 1000 bytes vs actual 400 bytes"),
            std::string::npos)
      << r.reason;
}

TEST(DrillRunner, LongerPacketThanScriptedIsAPayloadMismatch) {
  ScriptResult r = run(std::string(kHandshake) +
                       "+0 write(4, ..., 1000) = 1000\n"  // 8
                       "+0 > P. 1:501(500) ack 1\n");     // 9
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 9);
  EXPECT_NE(r.reason.find("live packet payload: expected 500 bytes vs actual 1000 bytes"),
            std::string::npos)
      << r.reason;
}

TEST(DrillRunner, WrongSystemCallResultFailsOnItsLine) {
  ScriptResult r = run(std::string(kHandshake) + "+0 write(4, ..., 1000) = 999\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 8);
  EXPECT_EQ(r.reason, "runtime error in write call: Expected result 999 but got 1000");
}

TEST(DrillRunner, ErrnoMismatchIsReported) {
  ScriptResult r = run("0 socket(..., SOCK_STREAM, IPPROTO_UDP) = -1 EINVAL (Invalid argument)\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 1);
  EXPECT_NE(
      r.reason.find("Expected errno 22 (Invalid argument) but got 93 (Protocol not supported)"),
      std::string::npos)
      << r.reason;
}

TEST(DrillRunner, BlockingReadReturnsWhenTheScriptDeliversData) {
  ScriptResult r = run(std::string(kHandshake) +
                       "+0...0.100 read(4, ..., 1000) = 1000\n"
                       "+.1 < P. 1:1001(1000) ack 1 win 257\n"
                       "+0 > . 1:1(0) ack 1001\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kPass) << r.line << ": " << r.reason;
}

TEST(DrillRunner, BlockingCallReturningAtTheWrongTimeFails) {
  ScriptResult r = run(std::string(kHandshake) +
                       "+0...0.300 read(4, ..., 1000) = 1000\n"  // 8
                       "+.1 < P. 1:1001(1000) ack 1 win 257\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 8);
  EXPECT_NE(
      r.reason.find("timing error: expected system call return at 0.500000 sec but happened at "
                    "0.300000 sec"),
      std::string::npos)
      << r.reason;
}

TEST(DrillRunner, CodeAssertSeesTcpInfo) {
  ScriptResult ok =
      run(std::string(kHandshake) + "+0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%\n");
  EXPECT_EQ(ok.kind, ScriptResult::Kind::kPass) << ok.reason;
  ScriptResult bad =
      run(std::string(kHandshake) +
          "+0 %{\nassert tcpi_snd_cwnd == 10\nassert tcpi_snd_cwnd == 11, tcpi_snd_cwnd\n}%\n");
  EXPECT_EQ(bad.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(bad.line, 10);  // the block opens on line 8; the failing assert is its third line
  EXPECT_NE(
      bad.reason.find(
          "assertion failed: assert tcpi_snd_cwnd == 11, tcpi_snd_cwnd -> AssertionError: 10"),
      std::string::npos)
      << bad.reason;
}

TEST(DrillRunner, TcpInfoStructFieldsAreCompared) {
  ScriptResult ok = run(std::string(kHandshake) +
                        "+0 getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_snd_cwnd=10}, [232]) = 0\n");
  EXPECT_EQ(ok.kind, ScriptResult::Kind::kPass) << ok.reason;
  ScriptResult bad = run(std::string(kHandshake) +
                         "+0 getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_snd_cwnd=11}, [232]) = 0\n");
  EXPECT_EQ(bad.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(bad.line, 8);
  EXPECT_EQ(bad.reason,
            "runtime error in getsockopt call: Bad getsockopt TCP_INFO tcpi_snd_cwnd: expected: 11 "
            "actual: 10");
}

TEST(DrillRunner, UnknownShellCommandIsUnsupportedAndNotRun) {
  ScriptResult r = run(std::string(kHandshake) + "+0 `ethtool -K tun0 gro off`\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kUnsupported);
  EXPECT_EQ(r.line, 8);
  EXPECT_EQ(r.reason, "shell command `ethtool -K tun0 gro off`");
  EXPECT_EQ(r.virtual_secs, 0);  // nothing ran
}

TEST(DrillRunner, UnknownScriptSysctlIsUnsupported) {
  ScriptResult r = run(std::string("`sysctl -q net.ipv4.tcp_no_such_thing=1`\n") + kHandshake);
  EXPECT_EQ(r.kind, ScriptResult::Kind::kUnsupported);
  EXPECT_EQ(r.line, 1);
  EXPECT_NE(r.reason.find("net.ipv4.tcp_no_such_thing"), std::string::npos) << r.reason;
}

TEST(DrillRunner, DeclaredFailureThatHappensCountsAsPass) {
  ScriptResult r =
      run("0 socket(..., SOCK_STREAM, IPPROTO_UDP) = -1\n"
          "// Failure: runtime error in socket call: Expected non-negative result but got -1 with "
          "errno 93 \\(Protocol not supported\\)\n"
          "+0 socket(..., SOCK_STREAM, IPPROTO_UDP) = 3\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kPass) << r.line << ": " << r.reason;
  EXPECT_TRUE(r.failed_as_declared);
}

TEST(DrillRunner, DeclaredFailureThatDoesNotHappenFails) {
  ScriptResult r =
      run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n// Failure: boom\n+0 close(3) = 0\n");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 3);
}

// A system under test that dies inside a call, as a stack bug would.
class CrashingTarget final : public FakeTcp {
 public:
  using FakeTcp::FakeTcp;
  int listen(int, int) override { std::abort(); }
};

TEST(DrillRunner, IsolatedRunReportsACrashAtTheEventThatCrashed) {
  std::string path = ::testing::TempDir() + "/drill_crash.pkt";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs(kHandshake, f);
    std::fclose(f);
  }
  RunnerConfig cfg;
  cfg.make_target = [](Stack& st) { return std::make_unique<CrashingTarget>(st); };
  RunRecord rec = run_isolated({path, "drill_crash.pkt"}, cfg);
  EXPECT_EQ(rec.result.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(rec.result.line, 3);  // listen()
  EXPECT_NE(rec.result.reason.find("crashed with signal 6"), std::string::npos)
      << rec.result.reason;
  std::remove(path.c_str());
}

// packetdrill's cmsg_new gives the live recvmsg a control buffer exactly as
// large as the scripted messages, and cmsg_expect_eq compares cmsg_len.
const char* kErrqueueRecv =
    "+0 recvmsg(4, {msg_name(...)=..., msg_iov(1)=[{...,0}], msg_flags=MSG_ERRQUEUE,\n"
    "    msg_control=[{cmsg_level=CMSG_LEVEL_IP, cmsg_type=CMSG_TYPE_RECVERR,\n"
    "                  cmsg_data={ee_errno=0, ee_origin=SO_EE_ORIGIN_ZEROCOPY, ee_type=0,\n"
    "                             ee_code=0, ee_info=0, ee_data=0}}]}, MSG_ERRQUEUE) = 0\n";

ScriptResult run_errqueue(std::size_t err_cmsg_len, std::size_t* controllen) {
  auto parsed = parse_script(std::string(kHandshake) + kErrqueueRecv, "test.pkt");
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << e->to_string("test.pkt");
    return {};
  }
  RunnerConfig cfg;
  cfg.make_target = [controllen, err_cmsg_len](Stack& st) {
    auto t = std::make_unique<FakeTcp>(st);
    t->err_cmsg_len = err_cmsg_len;
    t->controllen_out = controllen;
    return t;
  };
  return run_script(std::get<Script>(parsed), cfg);
}

TEST(DrillRunner, RecvmsgControlBufferIsAsLargeAsTheScriptedCmsgs) {
  std::size_t controllen = 0;
  ScriptResult r = run_errqueue(sizeof(sock_extended_err) + sizeof(sockaddr_in), &controllen);
  EXPECT_EQ(r.kind, ScriptResult::Kind::kPass) << r.line << ": " << r.reason;
  EXPECT_EQ(controllen, CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in)));
}

TEST(DrillRunner, CmsgOfTheWrongLengthFails) {
  std::size_t controllen = 0;
  ScriptResult r = run_errqueue(sizeof(sock_extended_err), &controllen);
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 8);
  EXPECT_NE(r.reason.find("Bad len in cmsg 0"), std::string::npos) << r.reason;
}

// A system under test whose epoll_wait reports a fixed event (or none).
class EpollTarget final : public FakeTcp {
 public:
  EpollTarget(Stack& st, int count, std::uint32_t events) : FakeTcp(st), count_(count) {
    ev_.events = events;
    ev_.data.u64 = 4;
  }
  int epoll_create(int) override { return 5; }
  int epoll_ctl(int, int, int, struct epoll_event*) override { return 0; }
  int epoll_wait(int, struct epoll_event* evs, int, int) override {
    if (count_ > 0) evs[0] = ev_;
    return count_;
  }

 private:
  int count_;
  epoll_event ev_{};
};

ScriptResult run_epoll(const std::string& text, int count, std::uint32_t events) {
  auto parsed = parse_script(text, "test.pkt");
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << e->to_string("test.pkt");
    return {};
  }
  RunnerConfig cfg;
  cfg.make_target = [count, events](Stack& st) {
    return std::make_unique<EpollTarget>(st, count, events);
  };
  return run_script(std::get<Script>(parsed), cfg);
}

const char* kEpollSetup =
    "+0 epoll_create(1) = 5\n"                                                  // 8
    "+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLET, fd=4}) = 0\n";  // 9

TEST(DrillRunner, EpollWaitEventIsCompared) {
  const std::string script = std::string(kHandshake) + kEpollSetup +
                             "+0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1\n";  // 10
  ScriptResult ok = run_epoll(script, 1, EPOLLIN);
  EXPECT_EQ(ok.kind, ScriptResult::Kind::kPass) << ok.line << ": " << ok.reason;
  ScriptResult bad = run_epoll(script, 1, EPOLLIN | EPOLLOUT);
  EXPECT_EQ(bad.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(bad.line, 10);
  EXPECT_EQ(bad.reason, "runtime error in epoll_wait call: Expected events 1 but got 5");
}

// packetdrill compares the first event even when none was returned, so a
// script expecting an event with a count of 0 is wrong, not ignored.
TEST(DrillRunner, EpollWaitEventIsComparedWhenNoneReturned) {
  ScriptResult quiet = run_epoll(
      std::string(kHandshake) + kEpollSetup + "+0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0\n", 0,
      0);
  EXPECT_EQ(quiet.kind, ScriptResult::Kind::kPass) << quiet.line << ": " << quiet.reason;
  ScriptResult bad = run_epoll(std::string(kHandshake) + kEpollSetup +
                                   "+0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 0\n",
                               0, 0);
  EXPECT_EQ(bad.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(bad.line, 10);
  EXPECT_EQ(bad.reason, "runtime error in epoll_wait call: Expected events 1 but got 0");
}

namespace latency {

// The runner's model of the host's event latency (docs/linux-differences.md,
// "Event latency"): what the stack under test saw, and when.
struct Timeline {
  ScriptResult result;
  std::vector<Nanos> received;  // stack clock at each inbound packet, from kClockStart
  std::vector<Nanos> calls;     // stack clock at each sendmsg()
};

constexpr Nanos kStart = 10 * kNsPerSec;  // the runner's kClockStart

Timeline run_timed(const std::string& text, std::int64_t latency_us) {
  Timeline t;
  auto parsed = parse_script(text, "test.pkt");
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << e->to_string("test.pkt");
    return t;
  }
  RunnerConfig cfg;
  cfg.event_latency_us = latency_us;
  cfg.make_target = [&t](Stack& st) {
    auto f = std::make_unique<FakeTcp>(st);
    f->received_at = &t.received;
    f->calls_at = &t.calls;
    return f;
  };
  t.result = run_script(std::get<Script>(parsed), cfg);
  for (Nanos& n : t.received) n -= kStart;
  for (Nanos& n : t.calls) n -= kStart;
  return t;
}

// Absolute times, so each event's scheduled time is plain to see.
const char* kAbsolute =
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"         // 1
    "0 bind(3, ..., ...) = 0\n"                             // 2
    "0 listen(3, 1) = 0\n"                                  // 3
    "0.100 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"  // 4
    "0.100 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>\n"     // 5
    "0.200 < . 1:1(0) ack 1 win 257\n"                      // 6
    "0.200 accept(3, ..., ...) = 4\n"                       // 7
    "0.300 write(4, ..., 1000) = 1000\n"                    // 8
    "0.300 > P. 1:1001(1000) ack 1\n"                       // 9
    "0.400 < . 1:1(0) ack 1001 win 257\n";                  // 10

TEST(DrillEventLatency, InboundPacketsAndCallsReachTheStackOneLatencyLate) {
  Timeline t = run_timed(kAbsolute, 7);
  ASSERT_EQ(t.result.kind, ScriptResult::Kind::kPass) << t.result.line << ": " << t.result.reason;
  ASSERT_EQ(t.received.size(), 3u);
  EXPECT_EQ(t.received[0], 100 * kNsPerMs + 7 * kNsPerUs);  // the SYN
  EXPECT_EQ(t.received[1], 200 * kNsPerMs + 7 * kNsPerUs);
  EXPECT_EQ(t.received[2], 400 * kNsPerMs + 7 * kNsPerUs);
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0], 300 * kNsPerMs + 7 * kNsPerUs);  // write()
}

TEST(DrillEventLatency, ZeroLatencyIsThePureVirtualClock) {
  Timeline t = run_timed(kAbsolute, 0);
  ASSERT_EQ(t.result.kind, ScriptResult::Kind::kPass) << t.result.line << ": " << t.result.reason;
  ASSERT_EQ(t.received.size(), 3u);
  EXPECT_EQ(t.received[0], 100 * kNsPerMs);
  EXPECT_EQ(t.received[2], 400 * kNsPerMs);
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0], 300 * kNsPerMs);
}

// The outbound packet is checked at the time it left, which the latency
// moved 7 us past 0.300: within packetdrill's tolerance it passes (above);
// with a tolerance below the latency the same packet is late, so the check
// compares the real departure time and hides nothing.
TEST(DrillEventLatency, OutboundCheckUsesTheDepartureTime) {
  Timeline t = run_timed(std::string("--tolerance_usecs=5\n") + kAbsolute, 7);
  EXPECT_EQ(t.result.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(t.result.line, 6);  // the SYN-ACK, line 5 of the script body
  EXPECT_NE(t.result.reason.find("expected outbound packet at 0.100000 sec but happened at "
                                 "0.100007 sec"),
            std::string::npos)
      << t.result.reason;
  Timeline ok = run_timed(std::string("--tolerance_usecs=7\n") + kAbsolute, 7);
  EXPECT_EQ(ok.result.kind, ScriptResult::Kind::kPass)
      << ok.result.line << ": " << ok.result.reason;
}

// Relative times count from when the runner was done with the event before,
// as packetdrill's adjust_relative_event_times counts from now_usecs(): a
// call one latency after its time, an outbound packet one latency after it
// left; a train of inbound packets counts from the first one's scheduled
// time (is_event_start_time_anchored), so it does not gather latency.
TEST(DrillEventLatency, RelativeTimesCountFromWhenTheEventBeforeWasDone) {
  Timeline t = run_timed(
      "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"       // 1: at 10 us
      "+0 bind(3, ..., ...) = 0\n"                          // 2: at 20 us
      "+0 listen(3, 1) = 0\n"                               // 3: at 30 us
      "+.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"  // 4: due 0.100030, at 0.100040
      "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>\n"      // 5: left 0.100040, done 0.100050
      "+.1 < . 1:1(0) ack 1 win 257\n"                      // 6: due 0.200050, at 0.200060
      "+.001 < . 1:1001(1000) ack 1 win 257\n"              // 7: due 0.201050, at 0.201060
      "+.001 < . 1001:2001(1000) ack 1 win 257\n",          // 8: due 0.202050, at 0.202060
      10);
  ASSERT_EQ(t.result.kind, ScriptResult::Kind::kPass) << t.result.line << ": " << t.result.reason;
  ASSERT_EQ(t.received.size(), 4u);
  EXPECT_EQ(t.received[0], 100 * kNsPerMs + 40 * kNsPerUs);
  EXPECT_EQ(t.received[1], 200 * kNsPerMs + 60 * kNsPerUs);
  EXPECT_EQ(t.received[2], 201 * kNsPerMs + 60 * kNsPerUs);
  EXPECT_EQ(t.received[3], 202 * kNsPerMs + 60 * kNsPerUs);
}

}  // namespace latency

}  // namespace
}  // namespace sp::drill
