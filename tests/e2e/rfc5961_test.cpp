// RFC 5961 on a SimLink: a blind attacker's RSTs, SYNs, data and ACKs are
// forged into one end's device (as if from the wire, with the peer's
// addresses) while the two stacks hold a real connection. Every reply the
// victim makes is read from its device, and each case asserts what Linux
// 6.12 does (net/ipv4/tcp_input.c tcp_validate_incoming / tcp_ack /
// tcp_send_challenge_ack, tcp_minisocks.c): a reset only exactly at
// rcv_nxt, a challenge ACK (seq = snd_nxt, ack = rcv_nxt) for an in-window
// RST or any SYN, a duplicate ACK for data out of the window, nothing for an
// ACK of unsent data, a challenge ACK for one older than the peer's largest
// window, the per-socket tcp_invalid_ratelimit and the stack's
// tcp_challenge_ack_limit budget. The connection then still moves data,
// byte for byte.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/tcp_packets.hpp"
#include "common/wire_spy.hpp"
#include "core/mib.hpp"
#include "dev/net_device.hpp"
#include "harness/sim_transfer.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp {
namespace {

using test::Flow;
using test::kTcpAck;
using test::kTcpRst;
using test::kTcpSyn;
using test::ParsedSeg;
using test::WireSpy;

constexpr std::uint32_t kVictimIp = 0x0a000001;  // 10.0.0.1, host order
constexpr std::uint32_t kPeerIp = 0x0a000002;
constexpr std::uint16_t kPort = 5961;

void advance_world(SimWorld& w, Nanos d) {
  const Nanos end = w.now() + d;
  w.run_for(d);
  if (w.now() < end) w.clock().advance_to(end);
}

be32 nbo(std::uint32_t host) {
  return htonl(host);
}

sockaddr_in endpoint(std::uint32_t host_addr, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = nbo(host_addr);
  return sin;
}

struct Rfc5961Test : ::testing::Test {
  // From 1 s: a reply stamped at jiffy 0 reads as "never replied"
  // (last_oow_ack_time 0), which on Linux, whose jiffies start at -300 s,
  // only happens at a wrap.
  SimWorld world{kNsPerSec};
  Stack& victim = world.add_stack();
  Stack& peer = world.add_stack();
  WireSpy* spy = nullptr;
  int vfd = -1, lfd = -1, pfd = -1;
  Flow forged;  // peer -> victim, as the attacker spoofs it
  std::vector<std::uint8_t> to_peer, to_victim, got_by_peer, got_by_victim;

  void SetUp() override {
    SimLinkConfig c;
    c.a_to_b.delay = c.b_to_a.delay = 1 * kNsPerMs;
    c.a_to_b.rate_bps = c.b_to_a.rate_bps = 1'000'000'000;
    world.connect(victim, nbo(kVictimIp), peer, nbo(kPeerIp), 24, c,
                  [this](std::unique_ptr<NetDevice> d) {
                    auto s = std::make_unique<WireSpy>(std::move(d));
                    spy = s.get();
                    return s;
                  });
  }
  void TearDown() override {
    for (int fd : {vfd, lfd, pfd})
      if (fd >= 0) sp::close(fd);
  }

  std::uint64_t counter(MibId id) { return victim.mib().get(id); }

  // The victim connects to the peer; each side sends some data so that
  // rcv_nxt, snd_una and bytes_acked have moved. The peer's receive buffer
  // is small so its window (the victim's max_window) stays well below what
  // the victim has had acknowledged.
  void establish(std::size_t v_bytes = 300000, std::size_t p_bytes = 20000) {
    lfd = sp::socket(peer, AF_INET, SOCK_STREAM, 0);
    const int rcvbuf = 32768;
    ASSERT_EQ(sp::setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    sockaddr_in sin = endpoint(kPeerIp, kPort);
    ASSERT_EQ(sp::bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    ASSERT_EQ(sp::listen(lfd, 4), 0);
    vfd = sp::socket(victim, AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(sp::connect(vfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    pfd = sp::accept(lfd, nullptr, nullptr);
    ASSERT_GE(pfd, 0);
    sockaddr_in local{};
    socklen_t len = sizeof local;
    ASSERT_EQ(sp::getsockname(vfd, reinterpret_cast<sockaddr*>(&local), &len), 0);
    forged = Flow{kPeerIp, kVictimIp, kPort, ntohs(local.sin_port)};
    exchange(v_bytes, p_bytes);
    advance(1000 * kNsPerMs);  // delayed ACKs out, the rate limits expired
  }

  // Both ways at once on non-blocking calls, stepping the world when neither
  // side can move; the bytes are kept for the check.
  void exchange(std::size_t v_bytes, std::size_t p_bytes) {
    std::vector<std::uint8_t> a(v_bytes), b(p_bytes);
    payload_fill(5961, 0, to_peer.size(), a.data(), a.size());
    payload_fill(1337, 0, to_victim.size(), b.data(), b.size());
    to_peer.insert(to_peer.end(), a.begin(), a.end());
    to_victim.insert(to_victim.end(), b.begin(), b.end());
    std::size_t a_off = 0, b_off = 0;
    std::vector<std::uint8_t> buf(65536);
    auto pump_send = [](int fd, const std::vector<std::uint8_t>& v, std::size_t& off) {
      if (off == v.size()) return false;
      const ssize_t n = sp::send(fd, v.data() + off, v.size() - off, MSG_DONTWAIT);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
      return true;
    };
    auto pump_recv = [&](int fd, std::vector<std::uint8_t>& into) {
      const ssize_t n = sp::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) return false;
      into.insert(into.end(), buf.begin(), buf.begin() + n);
      return true;
    };
    for (int i = 0; i < 100000; ++i) {
      if (a_off == a.size() && b_off == b.size() && got_by_peer.size() == to_peer.size() &&
          got_by_victim.size() == to_victim.size())
        break;
      bool progress = pump_send(vfd, a, a_off);
      progress |= pump_send(pfd, b, b_off);
      progress |= pump_recv(pfd, got_by_peer);
      progress |= pump_recv(vfd, got_by_victim);
      if (!progress && !world.step()) break;
    }
    ASSERT_EQ(got_by_peer.size(), to_peer.size());
    ASSERT_EQ(got_by_victim.size(), to_victim.size());
  }
  // The connection still works and nothing forged got into either stream.
  void expect_survives() {
    ASSERT_EQ(vsk()->sk_state, TCP_ESTABLISHED);
    exchange(100000, 100000);
    EXPECT_TRUE(got_by_peer == to_peer) << "victim -> peer stream changed";
    EXPECT_TRUE(got_by_victim == to_victim) << "peer -> victim stream changed";
  }

  // The victim's connected socket.
  TcpSock* vsk() {
    TcpSock* found = nullptr;
    victim.tcp().for_each_sock([&](Sock* sk) {
      if (sk->sk_state != TCP_LISTEN && sk->sk_state != TCP_CLOSE) found = tcp_sk(sk);
    });
    return found;
  }

  // Forge one segment, let the victim answer (no timers run: the reply is
  // immediate), and return what it sent.
  std::vector<ParsedSeg> forge(std::string_view flags, std::uint32_t seq, std::uint32_t ack,
                               std::span<const std::uint8_t> data = {},
                               const test::TcpOpts& opts = {}) {
    spy->sent.clear();
    spy->inject(test::tcp_pkt(forged, flags, seq, ack, 65535, opts, data));
    world.step(world.now());
    return spy->sent;
  }
  // Run the world for d; an idle world's clock moves on all the same.
  void advance(Nanos d) { advance_world(world, d); }
  // Past the per-socket tcp_invalid_ratelimit (500 ms).
  void wait_ratelimit() { advance(600 * kNsPerMs); }

  // The one ACK the victim sent: pure, at snd_nxt, acknowledging rcv_nxt.
  void expect_challenge_ack(const std::vector<ParsedSeg>& out, const char* what) {
    ASSERT_EQ(out.size(), 1u) << what;
    const TcpSock* tp = vsk();
    EXPECT_EQ(out[0].flags, kTcpAck) << what;
    EXPECT_EQ(out[0].payload_len, 0u) << what;
    EXPECT_EQ(out[0].seq, tp->snd_nxt) << what;
    EXPECT_EQ(out[0].ack, tp->rcv_nxt) << what;
  }
};

TEST_F(Rfc5961Test, rst_exactly_at_rcv_nxt_resets_the_connection_without_a_reply) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const std::uint32_t rcv_nxt = vsk()->rcv_nxt;
  EXPECT_TRUE(forge("R", rcv_nxt, 0).empty());
  char c;
  EXPECT_EQ(sp::recv(vfd, &c, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(counter(MibId::TcpEstabResets), 1u);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 0u);
}

TEST_F(Rfc5961Test, rst_in_the_window_up_to_its_right_edge_draws_a_challenge_ack) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const TcpSock* tp = vsk();
  const std::uint32_t rcv_nxt = tp->rcv_nxt, wnd = tcp_receive_window(tp);
  ASSERT_GT(wnd, 2u);
  expect_challenge_ack(forge("R", rcv_nxt + 1, 0), "rcv_nxt + 1");
  wait_ratelimit();
  expect_challenge_ack(forge("R.", rcv_nxt + wnd / 2, vsk()->snd_nxt), "mid-window RST|ACK");
  wait_ratelimit();
  expect_challenge_ack(forge("R", rcv_nxt + wnd, 0), "right edge (tcp_sequence: not after it)");
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 3u);
  EXPECT_EQ(counter(MibId::TcpEstabResets), 0u);
  expect_survives();
}

TEST_F(Rfc5961Test, rst_outside_the_window_is_dropped_silently) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const TcpSock* tp = vsk();
  const std::uint32_t rcv_nxt = tp->rcv_nxt, wnd = tcp_receive_window(tp);
  ASSERT_EQ(tp->rcv_wup, rcv_nxt) << "everything received was acknowledged";
  EXPECT_TRUE(forge("R", rcv_nxt + wnd + 1, 0).empty()) << "past the right edge";
  EXPECT_TRUE(forge("R", rcv_nxt - 1, 0).empty()) << "one before rcv_nxt in ESTABLISHED";
  EXPECT_TRUE(forge("R", rcv_nxt - 100000, 0).empty()) << "far behind";
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 0u);
  expect_survives();
}

TEST_F(Rfc5961Test, rst_one_below_rcv_nxt_after_the_peers_fin_resets_close_wait) {
  ASSERT_NO_FATAL_FAILURE(establish());
  ASSERT_EQ(sp::shutdown(pfd, SHUT_WR), 0);
  advance(100 * kNsPerMs);
  ASSERT_EQ(vsk()->sk_state, TCP_CLOSE_WAIT);
  // tcp_reset_check: the FIN's own sequence number, as macOS sends it.
  EXPECT_TRUE(forge("R", vsk()->rcv_nxt - 1, 0).empty());
  EXPECT_EQ(vsk(), nullptr) << "reset";
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 0u);
}

TEST_F(Rfc5961Test, rst_at_the_end_of_the_highest_sack_block_resets) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const std::uint32_t rcv_nxt = vsk()->rcv_nxt;
  const std::uint32_t snd_nxt = vsk()->snd_nxt;
  // Two out-of-order blocks (forged data in the window is taken: RFC 5961
  // does not stop that); the victim SACKs them.
  auto out = forge(".", rcv_nxt + 1000, snd_nxt, test::payload_of(100));
  ASSERT_EQ(out.size(), 1u);
  wait_ratelimit();
  out = forge(".", rcv_nxt + 3000, snd_nxt, test::payload_of(100));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(vsk()->rx_opt.num_sacks, 2u);
  wait_ratelimit();
  expect_challenge_ack(forge("R", rcv_nxt + 1100, 0), "end of the lower SACK block");
  wait_ratelimit();
  EXPECT_TRUE(forge("R", rcv_nxt + 3100, 0).empty()) << "end of the highest block";
  EXPECT_EQ(vsk(), nullptr) << "reset";
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 1u);
}

TEST_F(Rfc5961Test, syn_in_or_out_of_the_window_draws_a_challenge_ack) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const TcpSock* tp = vsk();
  const std::uint32_t rcv_nxt = tp->rcv_nxt, wnd = tcp_receive_window(tp);
  expect_challenge_ack(forge("S", rcv_nxt + 10, 0), "SYN in the window");
  wait_ratelimit();
  expect_challenge_ack(forge("S", rcv_nxt + wnd + 1000, 0), "SYN past the window");
  wait_ratelimit();
  expect_challenge_ack(forge("S", rcv_nxt, 0), "SYN at rcv_nxt");
  EXPECT_EQ(counter(MibId::TcpExtTCPSYNChallenge), 3u);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 3u);
  EXPECT_EQ(counter(MibId::TcpInErrs), 3u) << "ESTABLISHED counts each in InErrs (syn_inerr)";
  expect_survives();
}

TEST_F(Rfc5961Test, data_outside_the_window_draws_a_duplicate_ack_every_time) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const TcpSock* tp = vsk();
  const std::uint32_t rcv_nxt = tp->rcv_nxt, wnd = tcp_receive_window(tp);
  const std::uint32_t snd_nxt = tp->snd_nxt;
  const auto junk = test::payload_of(200, 'J');
  // Beyond the right edge: data is never rate limited (no ACK loop).
  for (int i = 0; i < 3; ++i) {
    auto out = forge(".", rcv_nxt + wnd + 1, snd_nxt, junk);
    ASSERT_EQ(out.size(), 1u) << i;
    EXPECT_EQ(out[0].ack, rcv_nxt);
    EXPECT_EQ(out[0].seq, snd_nxt);
  }
  // Wholly before the window: a duplicate ACK with a D-SACK of it.
  auto out = forge(".", rcv_nxt - 5000, snd_nxt, junk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, rcv_nxt);
  ASSERT_FALSE(out[0].sack.empty());
  EXPECT_EQ(out[0].sack[0].first, rcv_nxt - 5000);
  EXPECT_EQ(out[0].sack[0].second, rcv_nxt - 4800);
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedSeq), 0u);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 0u);
  expect_survives();
}

TEST_F(Rfc5961Test, pure_acks_outside_the_window_are_answered_once_per_ratelimit) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const TcpSock* tp = vsk();
  const std::uint32_t far = tp->rcv_nxt + tcp_receive_window(tp) + 1;
  EXPECT_EQ(forge(".", far, tp->snd_nxt).size(), 1u);
  EXPECT_TRUE(forge(".", far, tp->snd_nxt).empty());
  EXPECT_TRUE(forge(".", far + 7, tp->snd_nxt).empty());
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedSeq), 2u);
  wait_ratelimit();
  EXPECT_EQ(forge(".", far, tp->snd_nxt).size(), 1u);
  expect_survives();
}

TEST_F(Rfc5961Test, ack_of_unsent_data_is_dropped_without_a_reply_in_established) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const TcpSock* tp = vsk();
  const std::uint32_t snd_una = tp->snd_una, snd_nxt = tp->snd_nxt;
  // Linux 6.12's tcp_rcv_established discards it (SKB_DROP_REASON_TCP_ACK_
  // UNSENT_DATA) and sends nothing; only the other states challenge it.
  EXPECT_TRUE(forge(".", tp->rcv_nxt, snd_nxt + 1).empty());
  EXPECT_TRUE(forge(".", tp->rcv_nxt, snd_nxt + 100000).empty());
  EXPECT_EQ(tp->snd_una, snd_una);
  EXPECT_EQ(victim.tcp().drops.get(SkbDropReason::SKB_DROP_REASON_TCP_ACK_UNSENT_DATA), 2u);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 0u);
  expect_survives();
}

TEST_F(Rfc5961Test, ack_older_than_the_largest_window_draws_a_challenge_ack) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const TcpSock* tp = vsk();
  const std::uint32_t snd_una = tp->snd_una;
  const std::uint32_t max_window = tp->max_window;
  ASSERT_GT(tp->bytes_acked, max_window) << "so max_window, not bytes_acked, bounds it";
  // At the bound: an old duplicate, ignored.
  EXPECT_TRUE(forge(".", tp->rcv_nxt, snd_una - max_window).empty());
  // One below: RFC 5961 5.2, challenged (and the segment dropped).
  expect_challenge_ack(forge(".", tp->rcv_nxt, snd_una - max_window - 1), "too old");
  EXPECT_EQ(victim.tcp().drops.get(SkbDropReason::SKB_DROP_REASON_TCP_TOO_OLD_ACK), 1u);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 1u);
  expect_survives();
}

TEST_F(Rfc5961Test, ack_of_unsent_data_in_close_wait_draws_a_challenge_ack) {
  ASSERT_NO_FATAL_FAILURE(establish());
  ASSERT_EQ(sp::shutdown(pfd, SHUT_WR), 0);
  advance(100 * kNsPerMs);
  const TcpSock* tp = vsk();
  ASSERT_EQ(tp->sk_state, TCP_CLOSE_WAIT);
  // tcp_rcv_state_process: tcp_ack's negative answer is challenged.
  expect_challenge_ack(forge(".", tp->rcv_nxt, tp->snd_nxt + 1000), "unsent data");
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 1u);
}

TEST_F(Rfc5961Test, challenge_acks_are_limited_per_socket_by_tcp_invalid_ratelimit) {
  ASSERT_NO_FATAL_FAILURE(establish());
  const std::uint32_t rcv_nxt = vsk()->rcv_nxt;
  int answered = 0;
  for (int i = 0; i < 20; ++i) {  // 20 RSTs 10 ms apart: 200 ms
    answered += static_cast<int>(forge("R", rcv_nxt + 1 + static_cast<std::uint32_t>(i), 0).size());
    advance(10 * kNsPerMs);
  }
  EXPECT_EQ(answered, 1);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 1u);
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedChallenge), 19u);
  // A SYN shares the socket's limit.
  EXPECT_TRUE(forge("S", rcv_nxt + 5, 0).empty());
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedChallenge), 20u);
  wait_ratelimit();
  expect_challenge_ack(forge("R", rcv_nxt + 1, 0), "after 500 ms");
  expect_survives();
}

// The stack-wide budget: tcp_invalid_ratelimit = 0 takes the per-socket
// limit away, so only tcp_challenge_ack_limit is left.
TEST_F(Rfc5961Test, tcp_challenge_ack_limit_caps_challenge_acks_per_second_and_refills) {
  ASSERT_NO_FATAL_FAILURE(establish());
  ASSERT_EQ(victim.sysctl().set("net.ipv4.tcp_invalid_ratelimit", "0"), "");
  ASSERT_EQ(victim.sysctl().set("net.ipv4.tcp_challenge_ack_limit", "5"), "");
  const std::uint32_t rcv_nxt = vsk()->rcv_nxt;
  // 100 in-window RSTs 5 ms apart, from just after a second begins.
  auto second_of = [&] { return world.now() / kNsPerSec; };
  const std::uint64_t first = second_of() + 1;
  advance(first * kNsPerSec + kNsPerMs - world.now());
  std::uint64_t prior = counter(MibId::TcpExtTCPChallengeACK);
  for (int round = 0; round < 3; ++round) {
    const std::uint64_t sec = second_of();
    int acks = 0;
    for (int i = 0; i < 100; ++i) {
      auto out = forge("R", rcv_nxt + 1 + static_cast<std::uint32_t>(i), 0);
      for (const ParsedSeg& s : out) {
        EXPECT_EQ(s.flags, kTcpAck);
        EXPECT_EQ(s.ack, vsk()->rcv_nxt);
      }
      acks += static_cast<int>(out.size());
      advance(5 * kNsPerMs);
    }
    ASSERT_EQ(second_of(), sec) << "all 100 within one second";
    // Linux 6.12: a budget of [ceil(5/2), 5 + ceil(5/2) - 1] = [3, 7] each second.
    EXPECT_GE(acks, 3) << round;
    EXPECT_LE(acks, 7) << round;
    EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK) - prior, static_cast<std::uint64_t>(acks));
    prior = counter(MibId::TcpExtTCPChallengeACK);
    advance((sec + 1) * kNsPerSec + kNsPerMs - world.now());  // the next second: refilled
  }
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedChallenge), 0u) << "no per-socket limit";
  EXPECT_EQ(counter(MibId::TcpEstabResets), 0u);

  // Back to the default (INT_MAX): every one is answered.
  ASSERT_EQ(victim.sysctl().set("net.ipv4.tcp_challenge_ack_limit", "2147483647"), "");
  int acks = 0;
  for (int i = 0; i < 100; ++i) acks += static_cast<int>(forge("R", rcv_nxt + 9, 0).size());
  EXPECT_EQ(acks, 100);
  expect_survives();
}

TEST_F(Rfc5961Test, tcp_challenge_ack_limit_draw_repeats_with_the_same_seed) {
  // Two identical worlds draw the same budgets (the stack's generator, not
  // the host's): the simulation repeats.
  std::vector<int> runs[2];
  for (auto& r : runs) {
    SimWorld w;
    Stack& s = w.add_stack();
    s.sysctl().tcp_challenge_ack_limit = 1000;
    for (int sec = 1; sec <= 4; ++sec) {
      advance_world(w, static_cast<Nanos>(sec) * kNsPerSec + kNsPerMs - w.now());
      int n = 0;
      while (n < 5000 && tcp_challenge_ack_allowed(s)) ++n;
      r.push_back(n);
      EXPECT_GE(n, 500);
      EXPECT_LE(n, 1499);
    }
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_FALSE(std::all_of(runs[0].begin(), runs[0].end(), [&](int n) { return n == runs[0][0]; }))
      << "the budget is drawn anew each second, not fixed";
}

TEST_F(Rfc5961Test, time_wait_answers_old_segments_once_per_ratelimit_and_dies_by_exact_rst) {
  ASSERT_NO_FATAL_FAILURE(establish());
  // The victim closes first and ends in TIME_WAIT.
  ASSERT_EQ(sp::close(vfd), 0);
  vfd = -1;
  char c;
  ASSERT_EQ(sp::recv(pfd, &c, 1, 0), 0);
  ASSERT_EQ(sp::close(pfd), 0);
  pfd = -1;
  advance(100 * kNsPerMs);
  ASSERT_EQ(victim.tcp().tw_count(), 1u);
  std::uint32_t rcv_nxt = 0, snd_nxt = 0;
  int substate = 0;
  victim.tcp().for_each_tw([&](const TcpTimewaitSock& tw) {
    rcv_nxt = tw.tw_rcv_nxt;
    snd_nxt = tw.tw_snd_nxt;
    substate = tw.tw_substate;
  });
  ASSERT_EQ(substate, TCP_TIME_WAIT);
  // The peer has closed: it would answer our ACKs with a RST at exactly
  // rcv_nxt, which ends TIME_WAIT. Keep them off the wire.
  spy->swallow = true;
  // An old ACK: re-ACKed, then limited.
  auto out = forge(".", rcv_nxt - 10, snd_nxt);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, kTcpAck);
  EXPECT_EQ(out[0].seq, snd_nxt);
  EXPECT_EQ(out[0].ack, rcv_nxt);
  EXPECT_TRUE(forge(".", rcv_nxt - 10, snd_nxt).empty());
  EXPECT_TRUE(forge("S", rcv_nxt - 10, 0).empty()) << "an old SYN shares the limit";
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedTimeWait), 2u);
  // A RST not at rcv_nxt: no challenge ACK in TIME_WAIT, nothing at all.
  wait_ratelimit();
  EXPECT_TRUE(forge("R", rcv_nxt + 1, 0).empty());
  EXPECT_EQ(victim.tcp().tw_count(), 1u);
  // Exactly at rcv_nxt: TIME_WAIT assassination (tcp_rfc1337 = 0, as Linux).
  EXPECT_TRUE(forge("R", rcv_nxt, 0).empty());
  EXPECT_EQ(victim.tcp().tw_count(), 0u);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 0u);
}

TEST_F(Rfc5961Test, fin_wait2_minisock_acks_out_of_window_rsts_and_dies_by_any_in_window_rst) {
  ASSERT_NO_FATAL_FAILURE(establish());
  // The victim closes; the peer does not: an orphan in FIN_WAIT2, which
  // Linux (tcp_fin_timeout 60 s = TCP_TIMEWAIT_LEN) keeps as a minisock.
  ASSERT_EQ(sp::close(vfd), 0);
  vfd = -1;
  advance(100 * kNsPerMs);
  ASSERT_EQ(victim.tcp().tw_count(), 1u);
  std::uint32_t rcv_nxt = 0, snd_nxt = 0, wnd = 0;
  int substate = 0;
  victim.tcp().for_each_tw([&](const TcpTimewaitSock& tw) {
    rcv_nxt = tw.tw_rcv_nxt;
    snd_nxt = tw.tw_snd_nxt;
    wnd = tw.tw_rcv_wnd;
    substate = tw.tw_substate;
  });
  ASSERT_EQ(substate, TCP_FIN_WAIT2);
  spy->swallow = true;  // the peer's answers are not under test
  // Out of the window, even a RST is ACKed (tcp_timewait_state_process runs
  // the window check before the RST bit), once per tcp_invalid_ratelimit.
  auto out = forge("R", rcv_nxt + wnd + 1000, 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, kTcpAck);
  EXPECT_EQ(out[0].seq, snd_nxt);
  EXPECT_EQ(out[0].ack, rcv_nxt);
  EXPECT_TRUE(forge("R", rcv_nxt + wnd + 1000, 0).empty());
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedFinWait2), 1u);
  // In the window, any RST ends it: no RFC 5961 exact-match test here.
  EXPECT_TRUE(forge("R", rcv_nxt + 1, 0).empty());
  EXPECT_EQ(victim.tcp().tw_count(), 0u);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 0u);
}

// SYN_RECV: the victim listens; a forged SYN makes a request sock.
struct Rfc5961SynRecvTest : Rfc5961Test {
  std::uint32_t rcv_isn = 7000000, snt_isn = 0;
  void listen_and_take_syn() {
    lfd = sp::socket(victim, AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin = endpoint(kVictimIp, kPort);
    ASSERT_EQ(sp::bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    ASSERT_EQ(sp::listen(lfd, 4), 0);
    forged = Flow{kPeerIp, kVictimIp, 45961, kPort};
    spy->swallow = true;
    auto out = forge("S", rcv_isn, 0, {}, test::TcpOpts().with_mss(1460));
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(out[0].has(kTcpSyn | kTcpAck));
    snt_isn = out[0].seq;
  }
};

TEST_F(Rfc5961SynRecvTest, rst_in_the_window_but_not_at_rcv_nxt_draws_a_challenge_ack) {
  ASSERT_NO_FATAL_FAILURE(listen_and_take_syn());
  // Linux 6.12.y (tcp_check_req -> tcp_reqsk_send_challenge_ack).
  auto out = forge("R", rcv_isn + 100, 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, kTcpAck);
  EXPECT_EQ(out[0].seq, snt_isn + 1);
  EXPECT_EQ(out[0].ack, rcv_isn + 1);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 1u);
  EXPECT_TRUE(forge("R", rcv_isn + 200, 0).empty()) << "the request's own rate limit";
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedChallenge), 1u);
  // The request survived: the handshake completes.
  EXPECT_TRUE(forge(".", rcv_isn + 1, snt_isn + 1).empty());
  const int fd = sp::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
  EXPECT_GE(fd, 0);
  if (fd >= 0) sp::close(fd);
}

TEST_F(Rfc5961SynRecvTest, rst_at_rcv_nxt_kills_the_request) {
  ASSERT_NO_FATAL_FAILURE(listen_and_take_syn());
  EXPECT_TRUE(forge("R", rcv_isn + 1, 0).empty());
  EXPECT_EQ(counter(MibId::TcpExtEmbryonicRsts), 1u);
  EXPECT_EQ(counter(MibId::TcpExtTCPChallengeACK), 0u);
}

TEST_F(Rfc5961SynRecvTest,
       retransmitted_syns_and_out_of_window_acks_are_answered_once_per_ratelimit) {
  ASSERT_NO_FATAL_FAILURE(listen_and_take_syn());
  // The SYN again: one SYN-ACK, then limited.
  auto out = forge("S", rcv_isn, 0, {}, test::TcpOpts().with_mss(1460));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has(kTcpSyn | kTcpAck));
  EXPECT_TRUE(forge("S", rcv_isn, 0, {}, test::TcpOpts().with_mss(1460)).empty());
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedSynRecv), 1u);
  wait_ratelimit();
  // A pure ACK past the SYN-ACK's window: an ACK, then limited.
  out = forge(".", rcv_isn + 1 + 70000, snt_isn + 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].flags, kTcpAck);
  EXPECT_EQ(out[0].ack, rcv_isn + 1);
  EXPECT_TRUE(forge(".", rcv_isn + 1 + 70000, snt_isn + 1).empty());
  EXPECT_EQ(counter(MibId::TcpExtTCPACKSkippedSynRecv), 2u);
}

}  // namespace
}  // namespace sp
