// The receiver's ACK pattern as Linux 6.12's: compressed SACK
// (__tcp_ack_snd_check, tcp_sack_compress_send_ack, tcp_compressed_ack_kick),
// quick-ACK accounting (tcp_dec_quickack_mode) and the delayed-ACK timeout.
#include "tcp/recovery/tcp_recovery.hpp"
#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

constexpr std::uint32_t kSeg = 1000;

class AckCompressTest : public TcpRecvTest {
 protected:
  void SetUp() override { open(TcpOpts().with_mss(1460).with_sack_perm().with_wscale(7)); }
  // A passive open whose handshake takes 50 ms, so srtt is 50 ms: the
  // compressed-ACK delay takes the smaller of srtt and the receiver's RTT.
  void open(const TcpOpts& syn_opts) {
    listener_ = listen_sock();
    inject("S", 1000, 0, 65535, syn_opts);
    ASSERT_EQ(sent_count(), 1u);
    our_isn_ = pop_sent().seq;
    peer_nxt_ = 1001;
    advance_ms(50);
    inject(".", peer_nxt_, our_isn_ + 1, 65535);
    int err = 0;
    Sock* child = inet_csk_accept(listener_, O_NONBLOCK, &err);
    ASSERT_NE(child, nullptr);
    sk_ = tcp_sk(child);
    ASSERT_EQ(sk_->srtt_us >> 3, 50000u);
    clear_sent();
  }
  void data(std::uint32_t off, std::size_t len, std::string_view flags = ".") {
    inject(flags, peer_nxt_ + off, our_isn_ + 1, 65535, {}, payload_of(len));
  }
  // Use up the quick ACKs a new connection starts with (bounded: 64 rounds).
  void leave_quickack_mode() {
    for (int i = 0; i < 64 && tcp_in_quickack_mode(sk_); i++) {
      data(off_, 10);
      off_ += 10;
    }
    advance_ms(100);
    clear_sent();
  }
  // A receiver RTT estimate of rtt_ms: a window's worth of data takes that
  // long to arrive (tcp_rcv_rtt_measure), without timestamps.
  void learn_rcv_rtt(std::uint64_t rtt_ms) {
    data(off_, 100);
    off_ += 100;
    const std::uint32_t window_end = sk_->rcv_rtt_est.seq;
    advance_ms(rtt_ms);
    const std::uint32_t n = window_end - sk_->rcv_nxt;
    data(off_, n);
    off_ += n;
    advance_ms(300);  // any delayed ACK goes
    leave_quickack_mode();
  }
  // n out-of-order segments after a one-segment hole at off_.
  void ooo_segments(int n) {
    for (int i = 0; i < n; i++) data(off_ + kSeg * (1 + i), kSeg);
  }
  TcpSock* sk_ = nullptr;
  std::uint32_t off_ = 0;
};

TEST_F(AckCompressTest, after_three_dupacks_out_of_order_acks_are_compressed_until_the_timer) {
  learn_rcv_rtt(50);
  ASSERT_EQ(sk_->rcv_rtt_est.rtt_us >> 3, 50000u);
  const std::uint32_t hole = peer_nxt_ + off_;
  const std::uint64_t compressed0 = mib(MibId::TcpExtTCPAckCompressed);
  const Nanos t0 = clock_.now_ns();
  ooo_segments(10);
  // TCP_FASTRETRANS_THRESH duplicate ACKs go at once, each with the SACK
  // block as it grew; the other seven are held.
  ASSERT_EQ(sent_count(), 3u);
  for (std::uint32_t i = 1; i <= 3; i++) {
    ParsedSeg a = pop_sent();
    EXPECT_EQ(a.ack, hole);
    ASSERT_EQ(a.sack.size(), 1u);
    EXPECT_EQ(a.sack[0], std::make_pair(hole + kSeg, hole + kSeg + i * kSeg));
  }
  EXPECT_EQ(sk_->compressed_ack, 7u);
  EXPECT_TRUE(sk_->compressed_ack_timer.pending());
  // delay = min(tcp_comp_sack_delay_ns = 1 ms, 5% of 50 ms), plus the
  // hrtimer's 100 us of slack.
  const Nanos due = t0 + 1 * kNsPerMs + 100 * kNsPerUs;
  advance(due - clock_.now_ns() - 1);
  EXPECT_EQ(sent_count(), 0u) << "still held";
  advance(1);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(dev_->sent_at.front(), due);
  ParsedSeg a = pop_sent();
  EXPECT_EQ(a.ack, hole);
  ASSERT_EQ(a.sack.size(), 1u);
  EXPECT_EQ(a.sack[0], std::make_pair(hole + kSeg, hole + 11 * kSeg)) << "all ten segments";
  // Seven held, one sent for them: six ACKs saved, as Linux counts.
  EXPECT_EQ(mib(MibId::TcpExtTCPAckCompressed) - compressed0, 6u);
  EXPECT_EQ(sk_->compressed_ack, 0u);
}

TEST_F(AckCompressTest, timer_is_five_percent_of_the_rtt_when_that_is_shorter) {
  st_.sysctl().tcp_comp_sack_delay_ns = 10'000'000;  // 10 ms: the RTT term decides
  learn_rcv_rtt(20);
  const Nanos t0 = clock_.now_ns();
  ooo_segments(5);
  ASSERT_EQ(sent_count(), 3u);
  clear_sent();
  advance(2 * kNsPerMs);
  ASSERT_EQ(sent_count(), 1u);
  // 5% of 20 ms = 1 ms, plus 100 us of slack.
  EXPECT_EQ(dev_->sent_at.front() - t0, 1 * kNsPerMs + 100 * kNsPerUs);
}

// The hrtimer's slack (net.ipv4.tcp_comp_sack_slack_ns, 100 us by default)
// is the end of the range the timer may fire in: 500 us of slack, 500 us later.
TEST_F(AckCompressTest, tcp_comp_sack_slack_ns_is_added_to_the_timer) {
  st_.sysctl().tcp_comp_sack_delay_ns = 10'000'000;
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_comp_sack_slack_ns", "500000"), "");
  learn_rcv_rtt(20);
  const Nanos t0 = clock_.now_ns();
  ooo_segments(5);
  ASSERT_EQ(sent_count(), 3u);
  clear_sent();
  advance(3 * kNsPerMs);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(dev_->sent_at.front() - t0, 1 * kNsPerMs + 500 * kNsPerUs);
}

TEST_F(AckCompressTest, tcp_comp_sack_nr_held_acks_send_the_next_at_once) {
  st_.sysctl().tcp_comp_sack_nr = 4;
  learn_rcv_rtt(50);
  const std::uint64_t compressed0 = mib(MibId::TcpExtTCPAckCompressed);
  ooo_segments(3 + 4);  // three dupacks, then four held
  ASSERT_EQ(sent_count(), 3u);
  EXPECT_EQ(sk_->compressed_ack, 4u);
  data(off_ + 8 * kSeg, kSeg);
  ASSERT_EQ(sent_count(), 4u) << "compressed_ack >= tcp_comp_sack_nr: this one goes now";
  EXPECT_EQ(mib(MibId::TcpExtTCPAckCompressed) - compressed0, 4u)
      << "the ACK that left stands for the four held (tcp_event_ack_sent)";
  EXPECT_EQ(sk_->compressed_ack, 0u);
  EXPECT_FALSE(sk_->compressed_ack_timer.pending()) << "cancelled by the ACK that left";
}

TEST_F(AckCompressTest, tcp_comp_sack_nr_zero_sends_every_out_of_order_ack) {
  st_.sysctl().tcp_comp_sack_nr = 0;
  learn_rcv_rtt(50);
  ooo_segments(10);
  EXPECT_EQ(sent_count(), 10u);
  EXPECT_EQ(sk_->compressed_ack, 0u);
  EXPECT_FALSE(sk_->compressed_ack_timer.pending());
  EXPECT_EQ(mib(MibId::TcpExtTCPAckCompressed), 0u);
}

TEST_F(AckCompressTest, a_new_sack_block_beyond_the_second_flushes_the_held_acks) {
  learn_rcv_rtt(50);
  const std::uint32_t hole = peer_nxt_ + off_;
  ooo_segments(5);  // 3 sent, 2 held; one block [hole+1000, hole+6000)
  ASSERT_EQ(sent_count(), 3u);
  ASSERT_EQ(sk_->compressed_ack, 2u);
  clear_sent();
  // A second hole: a new block at position 0 (held: the new range is
  // the first block, no flush), then a third block.
  data(off_ + 7 * kSeg, kSeg);
  EXPECT_EQ(sent_count(), 0u);
  EXPECT_EQ(sk_->compressed_ack, 3u);
  data(off_ + 9 * kSeg, kSeg);
  // Two blocks exist, so the new one is the third: the held ACKs leave at
  // once as one, with the two blocks they knew. That ACK answered this
  // segment too (the scheduled ACK is cleared), so none is held after it.
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(sk_->compressed_ack, 0u);
  EXPECT_FALSE(sk_->compressed_ack_timer.pending());
  ParsedSeg a = pop_sent();
  ASSERT_EQ(a.sack.size(), 2u);
  EXPECT_EQ(a.sack[0], std::make_pair(hole + 7 * kSeg, hole + 8 * kSeg));
  EXPECT_EQ(a.sack[1], std::make_pair(hole + kSeg, hole + 6 * kSeg));
}

class AckCompressNoSackTest : public AckCompressTest {
 protected:
  void SetUp() override { open(TcpOpts().with_mss(1460).with_wscale(7)); }
};

TEST_F(AckCompressNoSackTest, without_sack_every_duplicate_ack_goes_at_once) {
  ASSERT_FALSE(tcp_is_sack(sk_));
  learn_rcv_rtt(50);
  ooo_segments(10);
  EXPECT_EQ(sent_count(), 10u) << "duplicate ACKs are a SACK-less sender's only signal";
  EXPECT_EQ(sk_->compressed_ack, 0u);
  EXPECT_EQ(mib(MibId::TcpExtTCPAckCompressed), 0u);
}

TEST_F(AckCompressTest, filling_the_hole_acks_at_once_and_cancels_compression) {
  learn_rcv_rtt(50);
  const std::uint32_t hole = peer_nxt_ + off_;
  ooo_segments(6);
  ASSERT_EQ(sk_->compressed_ack, 3u);
  clear_sent();
  data(off_, kSeg);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(pop_sent().ack, hole + 7 * kSeg);
  EXPECT_EQ(sk_->compressed_ack, 0u);
  EXPECT_FALSE(sk_->compressed_ack_timer.pending());
  advance_ms(5);
  EXPECT_EQ(sent_count(), 0u) << "no late compressed ACK";
}

// Quick ACKs are used up only by ACKs that acknowledge received data.
TEST_F(AckCompressTest, quickack_counts_only_acks_of_received_data) {
  const unsigned quick0 = inet_csk(sk_)->icsk_ack.quick;
  data(0, 100);  // the first data: the quick-ACK budget is set
  const unsigned quick1 = inet_csk(sk_)->icsk_ack.quick;
  EXPECT_GE(quick1, 2u);
  EXPECT_GE(quick1, quick0);
  // An ACK with nothing scheduled (a window update, a pure ACK we send on
  // our own) leaves the budget alone.
  ASSERT_FALSE(inet_csk_ack_scheduled(sk_));
  tcp_send_ack(sk_);
  EXPECT_EQ(inet_csk(sk_)->icsk_ack.quick, quick1);
  data(100, 100);
  EXPECT_EQ(inet_csk(sk_)->icsk_ack.quick, quick1 - 1);
}

TEST_F(AckCompressTest, leaving_quickack_mode_resets_ato_to_the_minimum) {
  data(0, 100);
  inet_csk(sk_)->icsk_ack.quick = 1;
  inet_csk(sk_)->icsk_ack.ato = TCP_ATO_MIN * 3;
  data(100, 100);  // acked at once, using the last quick ACK
  EXPECT_EQ(inet_csk(sk_)->icsk_ack.quick, 0u);
  EXPECT_EQ(inet_csk(sk_)->icsk_ack.ato, static_cast<std::uint32_t>(TCP_ATO_MIN));
}

// The ato estimate never exceeds TCP_DELACK_MAX, whatever the RTO.
TEST_F(AckCompressTest, ato_grows_with_the_gap_but_stays_within_delack_max) {
  leave_quickack_mode();
  inet_csk(sk_)->icsk_rto = 3 * HZ;  // a long RTO: only TCP_DELACK_MAX bounds ato
  inet_csk(sk_)->icsk_ack.ato = 4 * TCP_DELACK_MAX;
  advance_ms(2 * jiffies_to_msecs(TCP_DELACK_MAX));  // a gap shorter than ato, longer than ATO_MIN
  data(off_, 10);
  EXPECT_LE(inet_csk(sk_)->icsk_ack.ato, static_cast<std::uint32_t>(TCP_DELACK_MAX));
  // The delayed-ACK timer inflates ato, and the same cap holds.
  const std::uint64_t dack0 = mib(MibId::TcpExtDelayedACKs);
  advance_ms(jiffies_to_msecs(TCP_DELACK_MAX) + 1);
  EXPECT_EQ(mib(MibId::TcpExtDelayedACKs), dack0 + 1);
  EXPECT_LE(inet_csk(sk_)->icsk_ack.ato, static_cast<std::uint32_t>(TCP_DELACK_MAX));
}

// Silence longer than an RTO gives the peer quick ACKs again, without
// leaving interactive (pingpong) mode (6.12's tcp_incr_quickack).
TEST_F(AckCompressTest, data_after_an_rto_of_silence_earns_quick_acks_but_keeps_pingpong) {
  leave_quickack_mode();
  inet_csk(sk_)->icsk_ack.pingpong = 3;
  advance_ms(jiffies_to_msecs(inet_csk(sk_)->icsk_rto) + 100);
  data(off_, 10);
  EXPECT_GE(inet_csk(sk_)->icsk_ack.quick, 1u);
  EXPECT_EQ(inet_csk(sk_)->icsk_ack.pingpong, 3u);
}

}  // namespace
}  // namespace sp::test
