// RFC 5961 against Linux: the same blind segments forged from a raw socket
// at two victims, and their reactions compared case by case.
//
//  - sendpath: a connection from a Linux client (kernel socket, in the lab
//    namespace) to sendpath over the tap. A raw socket in the lab namespace
//    sends the forged segments toward sendpath with the client's addresses;
//    sendpath's replies are read off its device and its counters.
//  - Linux: a connection over loopback inside a namespace of its own
//    (rfc5961-*), between two kernel sockets; the forged segments go from a
//    raw socket to the accepted one, its replies are read from a packet
//    socket on lo, and its TCPChallengeACK from the namespace's
//    /proc/net/netstat.
//
// Each case is judged by what the victim sends (nothing, or one pure ACK at
// snd_nxt acknowledging rcv_nxt), how many challenge ACKs it counted, and
// whether the connection was reset. Timestamps are off in both namespaces,
// so no case turns on PAWS or on a host kernel's handling of segments
// without the option.
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "common/tcp_packets.hpp"
#include "common/wire_spy.hpp"
#include "gtest/gtest.h"
#include "interop_lab.hpp"
#include "linux_peer.hpp"
#include "sendpath/api.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp::interop {
namespace {

constexpr std::uint16_t kPort = 5961;

struct SeqState {
  std::uint32_t rcv_nxt = 0, snd_nxt = 0, snd_una = 0;
};

// The forged segments, relative to the victim's sequence state. The offsets
// are far beyond any window either stack offers here.
struct Case {
  const char* name;
  const char* flags;
  std::uint32_t (*seq)(const SeqState&);
  std::uint32_t (*ack)(const SeqState&);
  std::size_t data;
  // Linux changed this case after 6.12 (sendpath keeps 6.12's answer): an
  // ACK beyond snd_nxt in ESTABLISHED is dropped silently by 6.12 and
  // challenged by later kernels (6.18 has tcp_ack send the challenge ACK,
  // citing RFC 793 3.9 and RFC 5961 5.2).
  bool changed_after_6_12 = false;
};

const Case kCases[] = {
    {"rst_in_window", "R", [](const SeqState& s) { return s.rcv_nxt + 1; },
     [](const SeqState&) { return 0u; }, 0},
    {"rst_beyond_window", "R", [](const SeqState& s) { return s.rcv_nxt + 0x40000000u; },
     [](const SeqState&) { return 0u; }, 0},
    {"rst_before_window", "R", [](const SeqState& s) { return s.rcv_nxt - 1; },
     [](const SeqState&) { return 0u; }, 0},
    {"syn_in_window", "S", [](const SeqState& s) { return s.rcv_nxt + 1; },
     [](const SeqState&) { return 0u; }, 0},
    {"syn_beyond_window", "S", [](const SeqState& s) { return s.rcv_nxt + 0x40000000u; },
     [](const SeqState&) { return 0u; }, 0},
    {"data_beyond_window", ".", [](const SeqState& s) { return s.rcv_nxt + 0x40000000u; },
     [](const SeqState& s) { return s.snd_nxt; }, 10},
    {"ack_of_unsent_data", ".", [](const SeqState& s) { return s.rcv_nxt; },
     [](const SeqState& s) { return s.snd_nxt + 0x10000u; }, 0, true},
    {"ack_too_old", ".", [](const SeqState& s) { return s.rcv_nxt; },
     [](const SeqState& s) { return s.snd_una - 0x20000000u; }, 0},
    {"rst_at_rcv_nxt", "R", [](const SeqState& s) { return s.rcv_nxt; },
     [](const SeqState&) { return 0u; }, 0},
};

std::vector<std::uint8_t> forge(const Case& c, const test::Flow& f, const SeqState& s) {
  return test::tcp_pkt(f, c.flags, c.seq(s), c.ack(s), 65535, {}, test::payload_of(c.data, 'F'));
}

// One victim's reaction to one case.
struct Reaction {
  int acks = 0;        // pure ACKs sent
  int right_acks = 0;  // of those, at snd_nxt acknowledging rcv_nxt
  int other = 0;       // anything else sent
  int challenge = 0;   // TCPChallengeACK delta
  bool reset = false;  // the connection is gone
  std::string str() const {
    std::ostringstream o;
    o << "acks=" << acks << " right=" << right_acks << " other=" << other
      << " challenge=" << challenge << " reset=" << reset;
    return o.str();
  }
  bool operator==(const Reaction&) const = default;
};

void classify(Reaction& r, const test::ParsedSeg& s, const SeqState& st) {
  if (s.flags == test::kTcpAck && s.payload_len == 0) {
    ++r.acks;
    if (s.seq == st.snd_nxt && s.ack == st.rcv_nxt) ++r.right_acks;
  } else {
    ++r.other;
  }
}

// --- Linux as the victim: loopback in a namespace of its own -------------------------

std::uint64_t netstat_counter(const char* name) {
  std::ifstream in("/proc/self/net/netstat");
  std::string head, vals;
  while (std::getline(in, head) && std::getline(in, vals)) {
    if (head.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream h(head), v(vals);
    std::string k, x;
    while (h >> k && v >> x)
      if (k == name) return std::stoull(x);
  }
  return 0;
}

// Writes "<case> acks right other challenge reset" per case to out; runs in
// the namespace. Exit status: 0, or the step that failed.
int linux_victim(int out) {
  ::alarm(60);  // a bound on the whole run: the parent reads until this process ends
  const int cap = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ETH_P_IP));
  if (cap < 0) return 2;
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_IP);
  ll.sll_ifindex = static_cast<int>(::if_nametoindex("lo"));
  if (::bind(cap, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0) return 3;
  const int raw = ::socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (raw < 0) return 4;

  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0) return 5;
  const int c = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 6;
  const int v = ::accept(l, nullptr, nullptr);
  if (v < 0) return 7;
  sockaddr_in cl{};
  socklen_t len = sizeof cl;
  ::getsockname(c, reinterpret_cast<sockaddr*>(&cl), &len);
  const std::uint16_t cport = ntohs(cl.sin_port);

  char buf[1000] = {};
  if (::send(c, buf, sizeof buf, 0) != 1000 || ::send(v, buf, sizeof buf, 0) != 1000) return 8;
  for (int got = 0, i = 0; got < 1000 && i < 100; ++i)
    got += static_cast<int>(::recv(v, buf, 1000, 0));
  for (int got = 0, i = 0; got < 1000 && i < 100; ++i)
    got += static_cast<int>(::recv(c, buf, 1000, 0));
  ::usleep(300 * 1000);  // delayed ACKs out

  // The victim's sequence state from the capture of the whole connection.
  SeqState st;
  bool seen_v = false, seen_c = false;
  auto drain = [&](std::vector<test::ParsedSeg>* from_victim, bool track_client) {
    std::uint8_t p[70000];
    sockaddr_ll from{};
    for (int i = 0; i < 10000; ++i) {
      socklen_t fl = sizeof from;
      const ssize_t n = ::recvfrom(cap, p, sizeof p, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n <= 0) break;
      // On lo a packet shows as it comes in (PACKET_HOST); skip any
      // outgoing copy so none is counted twice.
      if (from.sll_pkttype != PACKET_HOST) continue;
      auto s = test::parse_ip_tcp(std::span<const std::uint8_t>(p, static_cast<std::size_t>(n)));
      if (!s) continue;
      const std::uint32_t end = s->seq + s->payload_len + ((s->flags & test::kTcpSyn) ? 1 : 0) +
                                ((s->flags & test::kTcpFin) ? 1 : 0);
      if (s->sport == kPort && s->dport == cport) {
        if (from_victim) from_victim->push_back(*s);
        if (!seen_v || after(end, st.snd_nxt)) st.snd_nxt = end;
        seen_v = true;
      } else if (track_client && s->sport == cport && s->dport == kPort) {
        if (!seen_c || after(end, st.rcv_nxt)) st.rcv_nxt = end;
        if (s->flags & test::kTcpAck) st.snd_una = s->ack;
        seen_c = true;
      }
    }
  };
  drain(nullptr, true);
  if (!seen_v || !seen_c || st.snd_una != st.snd_nxt) {
    std::fprintf(stderr, "linux victim: capture saw victim %d client %d, snd_una %u snd_nxt %u\n",
                 seen_v, seen_c, st.snd_una, st.snd_nxt);
    return 9;
  }

  const test::Flow f{0x7f000001, 0x7f000001, cport, kPort};
  for (const Case& k : kCases) {
    Reaction r;
    const std::uint64_t before = netstat_counter("TCPChallengeACK");
    const std::vector<std::uint8_t> pkt = forge(k, f, st);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::sendto(raw, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) !=
        static_cast<ssize_t>(pkt.size()))
      return 10;
    ::usleep(100 * 1000);
    std::vector<test::ParsedSeg> sent;
    const SeqState at = st;
    drain(&sent, false);  // the forged segments show as outgoing on lo too
    for (const auto& s : sent) classify(r, s, at);
    r.challenge = static_cast<int>(netstat_counter("TCPChallengeACK") - before);
    char b;
    const ssize_t n = ::recv(v, &b, 1, MSG_DONTWAIT);
    r.reset = n < 0 && errno == ECONNRESET;
    write_line(out, std::string(k.name) + " " + std::to_string(r.acks) + " " +
                        std::to_string(r.right_acks) + " " + std::to_string(r.other) + " " +
                        std::to_string(r.challenge) + " " + std::to_string(r.reset));
    ::usleep(600 * 1000);  // past tcp_invalid_ratelimit
  }
  return 0;
}

std::map<std::string, Reaction> parse_reactions(const std::string& text) {
  std::map<std::string, Reaction> m;
  std::istringstream in(text);
  std::string name;
  Reaction r;
  int reset = 0;
  while (in >> name >> r.acks >> r.right_acks >> r.other >> r.challenge >> reset) {
    r.reset = reset != 0;
    m[name] = r;
  }
  return m;
}

std::string read_all_fd(int fd) {
  std::string s;
  char b[4096];
  for (int i = 0; i < 1000; ++i) {
    const ssize_t n = ::read(fd, b, sizeof b);
    if (n <= 0) break;
    s.append(b, static_cast<std::size_t>(n));
  }
  return s;
}

// --- sendpath as the victim, over the lab's tap --------------------------------------

// A child in the lab namespace sending what the parent writes to its pipe
// (a 4-byte length, then the IPv4 packet) from a raw socket.
int raw_injector(int in) {
  const int raw = ::socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (raw < 0) return 2;
  for (int i = 0; i < 1000; ++i) {
    std::uint32_t n = 0;
    if (::read(in, &n, sizeof n) != sizeof n || n == 0) return 0;
    std::vector<std::uint8_t> p(n);
    if (::read(in, p.data(), n) != static_cast<ssize_t>(n)) return 3;
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_addr.s_addr = inet(kSendpathIp);
    if (::sendto(raw, p.data(), n, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) !=
        static_cast<ssize_t>(n))
      return 4;
  }
  return 0;
}

// Linux's client: connects, sends and reads 1000 bytes, then waits for the
// connection to end (the last case resets it on sendpath's side only; the
// parent closes after).
int linux_client() {
  const int c = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  a.sin_addr.s_addr = inet(kSendpathIp);
  if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 2;
  char buf[1000] = {};
  if (::send(c, buf, sizeof buf, 0) != 1000) return 3;
  int got = 0;
  for (int i = 0; i < 100 && got < 1000; ++i) {
    const ssize_t n = ::recv(c, buf, sizeof buf, 0);
    if (n <= 0) return 4;
    got += static_cast<int>(n);
  }
  timeval tv{30, 0};
  ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (int i = 0; i < 100; ++i)
    if (::recv(c, buf, sizeof buf, 0) <= 0) break;
  return 0;
}

TEST(Rfc5961Interop, sendpath_reacts_to_blind_segments_as_a_linux_socket_does) {
  if (const char* why = lab_unavailable()) GTEST_SKIP() << why;

  // Linux against itself first, in its own namespace (deleted on the way out).
  std::map<std::string, Reaction> linux_r;
  {
    const std::string ns = "rfc5961-" + unique_suffix();
    ASSERT_TRUE(sh("ip netns add " + ns));
    struct Del {
      std::string n;
      ~Del() { sh("ip netns del " + n); }
    } del{ns};
    ASSERT_TRUE(sh("ip netns exec " + ns + " ip link set dev lo up"));
    ASSERT_TRUE(sh("ip netns exec " + ns + " sysctl -qw net.ipv4.tcp_timestamps=0"));
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    NetnsChild child(ns, [&] {
      ::close(p[0]);
      return linux_victim(p[1]);
    });
    ::close(p[1]);
    ASSERT_TRUE(child.started());
    const std::string text = read_all_fd(p[0]);
    ::close(p[0]);
    for (int i = 0; i < 300 && !child.done(); ++i) ::usleep(100 * 1000);
    ASSERT_TRUE(child.done());
    ASSERT_EQ(child.status(), 0) << "the Linux victim's set-up failed at step " << child.status();
    linux_r = parse_reactions(text);
    ASSERT_EQ(linux_r.size(), std::size(kCases)) << text;
  }

  // Then sendpath.
  LabOptions o;
  test::WireSpy* spy = nullptr;
  o.wrap = [&spy](std::unique_ptr<NetDevice> d) -> std::unique_ptr<NetDevice> {
    auto s = std::make_unique<test::WireSpy>(std::move(d));
    spy = s.get();
    return s;
  };
  TapLab lab(o);
  ASSERT_TRUE(lab.error().empty()) << lab.error();
  ASSERT_TRUE(lab.ns().exec("sysctl -qw net.ipv4.tcp_timestamps=0"));
  Stack& st = lab.stack();
  const int lfd = sp::socket(st, AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(kPort);
  sin.sin_addr.s_addr = inet(kSendpathIp);
  ASSERT_EQ(sp::bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(sp::listen(lfd, 1), 0);
  NetnsChild client(lab.ns().name(), [] { return linux_client(); });
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  NetnsChild injector(lab.ns().name(), [&] {
    ::close(pipefd[1]);
    return raw_injector(pipefd[0]);
  });
  ::close(pipefd[0]);
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } close_inj{pipefd[1]};

  // Non-blocking calls, the loop run between them, each bounded in time.
  int fd = -1;
  lab.loop().run_until(
      [&] { return (fd = sp::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; },
      st.now() + 10 * kNsPerSec);
  ASSERT_GE(fd, 0) << "Linux's client did not connect (its exit status "
                   << (client.done() ? client.status() : -1) << ")";
  char buf[1000] = {};
  int got = 0;
  lab.loop().run_until(
      [&] {
        const ssize_t n = sp::recv(fd, buf, sizeof buf - static_cast<std::size_t>(got), 0);
        if (n > 0) got += static_cast<int>(n);
        return got == 1000 || n == 0;
      },
      st.now() + 10 * kNsPerSec);
  ASSERT_EQ(got, 1000);
  ASSERT_EQ(sp::send(fd, buf, sizeof buf, 0), 1000);
  auto run_for = [&](Nanos d) { lab.loop().run_until([] { return false; }, st.now() + d); };
  run_for(300 * kNsPerMs);

  TcpSock* tp = nullptr;
  st.tcp().for_each_sock([&](Sock* sk) {
    if (sk->sk_state == TCP_ESTABLISHED) tp = tcp_sk(sk);
  });
  ASSERT_NE(tp, nullptr);
  ASSERT_EQ(tp->snd_una, tp->snd_nxt) << "everything sendpath sent is acknowledged";
  const test::Flow f{ntohl(inet(kLinuxIp)), ntohl(inet(kSendpathIp)),
                     ntohs(inet_sk(tp)->inet_dport), kPort};
  std::map<std::string, Reaction> sp_r;
  for (const Case& k : kCases) {
    const SeqState at{tp->rcv_nxt, tp->snd_nxt, tp->snd_una};
    const std::uint64_t before = st.mib().get(MibId::TcpExtTCPChallengeACK);
    spy->sent.clear();
    const std::vector<std::uint8_t> pkt = forge(k, f, at);
    const auto n = static_cast<std::uint32_t>(pkt.size());
    ASSERT_EQ(::write(pipefd[1], &n, sizeof n), static_cast<ssize_t>(sizeof n));
    ASSERT_EQ(::write(pipefd[1], pkt.data(), n), static_cast<ssize_t>(n));
    // Until sendpath has taken the segment in (the Linux client is idle, so
    // it is the only one coming), then a moment for the reply.
    const std::uint64_t in_before = st.mib().get(MibId::TcpInSegs);
    ASSERT_TRUE(lab.loop().run_until([&] { return st.mib().get(MibId::TcpInSegs) > in_before; },
                                     st.now() + 5 * kNsPerSec))
        << k.name << ": the forged segment never arrived";
    run_for(50 * kNsPerMs);
    Reaction r;
    for (const auto& s : spy->sent)
      if (s.dport == f.sport) classify(r, s, at);
    r.challenge = static_cast<int>(st.mib().get(MibId::TcpExtTCPChallengeACK) - before);
    char b;
    const ssize_t rn = sp::recv(fd, &b, 1, MSG_DONTWAIT);
    r.reset = rn < 0 && errno == ECONNRESET;
    sp_r[k.name] = r;
    run_for(600 * kNsPerMs);
  }
  sp::close(fd);
  sp::close(lfd);

  for (const Case& k : kCases) {
    const Reaction& want = linux_r[k.name];
    const Reaction& got_r = sp_r[k.name];
    if (k.changed_after_6_12) {
      // Linux 6.12's answer is sendpath's; the host may be either.
      Reaction challenged;
      challenged.acks = challenged.right_acks = challenged.challenge = 1;
      EXPECT_TRUE(want == got_r || want == challenged) << k.name << ": Linux " << want.str();
    } else {
      EXPECT_EQ(got_r, want) << k.name << ": sendpath " << got_r.str() << ", Linux " << want.str();
    }
    std::printf("%-20s sendpath %s | Linux %s\n", k.name, got_r.str().c_str(), want.str().c_str());
  }
  // What Linux 6.12 does, so a host kernel that changed would show here too.
  EXPECT_EQ(sp_r["rst_in_window"].challenge, 1);
  EXPECT_EQ(sp_r["rst_in_window"].right_acks, 1);
  EXPECT_EQ(sp_r["syn_in_window"].challenge, 1);
  EXPECT_EQ(sp_r["rst_beyond_window"].acks, 0);
  EXPECT_EQ(sp_r["data_beyond_window"].right_acks, 1);
  EXPECT_EQ(sp_r["data_beyond_window"].challenge, 0);
  EXPECT_EQ(sp_r["ack_of_unsent_data"].acks, 0);
  EXPECT_EQ(sp_r["ack_too_old"].challenge, 1);
  EXPECT_TRUE(sp_r["rst_at_rcv_nxt"].reset);
  EXPECT_EQ(sp_r["rst_at_rcv_nxt"].acks, 0);
}

}  // namespace
}  // namespace sp::interop
