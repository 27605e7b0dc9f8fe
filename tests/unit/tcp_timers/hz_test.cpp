// TCP's timers at HZ=250 with Linux's timer wheel: each fires on the tick
// a 250 Hz kernel would run it on. A timer armed for jiffies + n runs when
// jiffy jiffies + n + 1 begins (calc_wheel_index); at level 0 (n < 63)
// there is no further rounding. The stack's clock starts at 1 s = jiffy 250.
#include "tcp_timers_fixture.hpp"
#include "unit/tcp_recv/hz_guard.hpp"

namespace sp::test {
namespace {

class Hz250TimersTest : private HzGuard<250, true>, public TcpTimersTest {};

TEST_F(Hz250TimersTest, tlp_of_a_1ms_path_is_one_jiffy_and_fires_on_the_tick_after_it) {
  TcpSock* sk = open_with_rtt(1);  // now 1.001 s: jiffy 250
  ASSERT_EQ(now(), 1'001'000'000u);
  ASSERT_EQ(send_bytes(sk, 3000), 3000);
  ASSERT_EQ(sent_count(), 3u);
  // PTO = 2 * SRTT + TCP_TIMEOUT_MIN_US = 4 ms = usecs_to_jiffies: 1 jiffy,
  // due at jiffy 251, run when jiffy 252 begins: 1.008 s, not 1.005 s.
  EXPECT_EQ(inet_csk(sk)->icsk_pending, ICSK_TIME_LOSS_PROBE);
  EXPECT_EQ(inet_csk(sk)->icsk_timeout, 251u);
  advance(7 * kNsPerMs - 1);
  EXPECT_EQ(sent_count(), 3u);
  advance(1);
  ASSERT_EQ(sent_count(), 4u);
  EXPECT_EQ(dev_->sent_at[3], 1'008'000'000u);
  EXPECT_EQ(mib(MibId::TcpExtTCPLossProbes), 1u);
}

TEST_F(Hz250TimersTest, rto_is_whole_jiffies_and_fires_on_the_tick_after_its_jiffy) {
  TcpSock* sk = open_with_rtt(1, /*sack=*/false);  // no SACK: no TLP
  // RTO = usecs_to_jiffies(SRTT + max(mdev, rto_min)) = 201 ms: 51 jiffies.
  EXPECT_EQ(inet_csk(sk)->icsk_rto, 51u);
  ASSERT_EQ(send_bytes(sk, 1000), 1000);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(inet_csk(sk)->icsk_timeout, 250u + 51u);
  // Due at jiffy 301, run when 302 begins: 1.208 s (armed at 1.001 s).
  advance(207 * kNsPerMs - 1);
  EXPECT_EQ(sent_count(), 1u);
  advance(1);
  ASSERT_EQ(sent_count(), 2u);
  EXPECT_EQ(dev_->sent_at[1], 1'208'000'000u);
  EXPECT_EQ(mib(MibId::TcpExtTCPTimeouts), 1u);
}

TEST_F(Hz250TimersTest, delayed_ack_waits_ten_jiffies_and_fires_on_a_tick) {
  TcpSock* sk = passive_open(1000, 65535, TcpOpts().with_mss(1460).with_sack_perm().with_wscale(7));
  ASSERT_NE(sk, nullptr);
  clear_sent();
  std::uint32_t off = 0;
  auto data = [&](std::size_t len) {
    inject("P.", peer_nxt_ + off, our_isn_ + 1, 65535, {}, payload_of(len));
    off += static_cast<std::uint32_t>(len);
  };
  // Use up the quick ACKs a new connection starts with, then let the
  // pending delayed ACK go.
  for (int i = 0; i < 64; i++) {
    data(10);
    if (!tcp_in_quickack_mode(sk)) break;
  }
  advance_ms(100);
  advance(1'500'000);  // 1.5 ms into a jiffy
  clear_sent();
  const Nanos t0 = now();
  data(10);
  EXPECT_EQ(sent_count(), 0u) << "held back; quick " << int(inet_csk(sk)->icsk_ack.quick) << " ato "
                              << inet_csk(sk)->icsk_ack.ato;
  EXPECT_EQ(inet_csk(sk)->icsk_ack.ato, 10u) << "TCP_ATO_MIN = HZ / 25";
  // Due 10 jiffies after the arrival's jiffy, run when the next one begins.
  const Nanos due = jiffy_start_ns(nsecs_to_jiffies(t0) + TCP_DELACK_MIN + 1);
  ASSERT_NE(due, t0 + 40 * kNsPerMs);
  advance(due - t0 - 1);
  EXPECT_EQ(sent_count(), 0u);
  advance(1);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(dev_->sent_at.front(), due);
  EXPECT_EQ(pop_sent().ack, peer_nxt_ + off);
}

}  // namespace
}  // namespace sp::test
