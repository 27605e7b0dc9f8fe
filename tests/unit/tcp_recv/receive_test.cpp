// The receive path on virtual time: in-order and out-of-order data, SACK
// blocks, quick and delayed ACKs, FIN.
#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

class ReceiveTest : public TcpRecvTest {
 protected:
  void SetUp() override {
    sk_ = passive_open(1000, 65535, TcpOpts().with_mss(1460).with_sack_perm().with_wscale(7));
    ASSERT_NE(sk_, nullptr);
    clear_sent();
  }
  void data(std::uint32_t off, std::size_t len, std::string_view flags = "P.") {
    inject(flags, peer_nxt_ + off, our_isn_ + 1, 65535, {}, payload_of(len));
  }
  // Use up the quick ACKs a new connection starts with.
  void leave_quickack_mode() {
    for (int i = 0; i < 64; i++) {
      data(off_, 10);
      off_ += 10;
      if (!tcp_in_quickack_mode(sk_)) break;
    }
    advance_ms(100);  // flush a pending delayed ACK (but stay under an RTO of silence)
    clear_sent();
  }
  TcpSock* sk_ = nullptr;
  std::uint32_t off_ = 0;
};

TEST_F(ReceiveTest, in_order_data_is_queued_for_the_reader_and_advances_rcv_nxt) {
  data(0, 100);
  data(100, 50);
  EXPECT_EQ(sk_->rcv_nxt, peer_nxt_ + 150);
  EXPECT_EQ(sk_->sk_receive_queue.qlen(), 2u);
  EXPECT_GT(sk_->sk_rmem_alloc, 0) << "queued data is charged to the receive buffer";
  EXPECT_EQ(sk_->bytes_received, 150u);
  EXPECT_EQ(sk_->data_segs_in, 2u);
}

TEST_F(ReceiveTest, receiver_estimates_the_rtt_from_the_time_a_window_takes_to_arrive) {
  // One window of data takes 50 ms to arrive in full: the RTT is at most that.
  data(0, 100);
  const std::uint32_t window_end = sk_->rcv_rtt_est.seq;
  advance_ms(50);
  data(100, window_end - sk_->rcv_nxt);
  EXPECT_EQ(sk_->rcv_rtt_est.rtt_us >> 3, 50000u);
}

TEST_F(ReceiveTest, in_order_segments_take_the_header_prediction_fast_path) {
  const std::uint64_t before = mib(MibId::TcpExtTCPHPHits);
  data(0, 100);
  data(100, 100);
  EXPECT_EQ(mib(MibId::TcpExtTCPHPHits), before + 2);
  // A window change (or anything unusual) goes the slow way.
  inject("P.", peer_nxt_ + 200, our_isn_ + 1, 1234, {}, payload_of(100));
  EXPECT_EQ(mib(MibId::TcpExtTCPHPHits), before + 2);
  EXPECT_EQ(sk_->rcv_nxt, peer_nxt_ + 300);
}

TEST_F(ReceiveTest, gro_packet_reports_its_segment_size_as_the_peer_mss_estimate) {
  auto p = tcp_pkt(in_flow(), ".", peer_nxt_, our_isn_ + 1, 65535, {}, payload_of(5000));
  SkbPtr skb = make_rx_skb(p);
  skb_shinfo(skb.get())->gso_size = 1000;
  skb_shinfo(skb.get())->gso_segs = 5;
  tcp_v4_rcv(st_, std::move(skb));
  EXPECT_EQ(sk_->rcv_nxt, peer_nxt_ + 5000);
  EXPECT_EQ(inet_csk(sk_)->icsk_ack.rcv_mss, 1000);
  EXPECT_EQ(sk_->segs_in, 5u) << "a GRO packet counts as its segments";
}

TEST_F(ReceiveTest, first_segments_of_a_connection_are_acked_at_once) {
  data(0, 100);
  ASSERT_EQ(sent_count(), 1u) << "quick-ACK mode at the start (RFC 9293 3.8.6.3 allows it)";
  EXPECT_EQ(pop_sent().ack, peer_nxt_ + 100);
}

TEST_F(ReceiveTest, lone_segment_is_acked_after_the_40ms_delayed_ack_timeout) {
  leave_quickack_mode();
  const Nanos t0 = clock_.now_ns();
  data(off_, 10);
  EXPECT_EQ(sent_count(), 0u) << "held back";
  advance_ms(39);
  EXPECT_EQ(sent_count(), 0u);
  advance_ms(1);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(dev_->sent_at.front() - t0, TCP_DELACK_MIN * kNsPerMs);
  EXPECT_EQ(pop_sent().ack, peer_nxt_ + off_ + 10);
  EXPECT_GE(mib(MibId::TcpExtDelayedACKs), 1u);
}

// A receive buffer roomy enough that the window we offer is not eaten by
// what arrives (rcv_ssthresh, not free space, bounds it).
class ReceiveRoomyBufferTest : public ReceiveTest {
 protected:
  void SetUp() override {
    st_.sysctl().tcp_rmem[1] = 1 << 20;
    ReceiveTest::SetUp();
  }
};

// 6.12 applies RFC 5681 4.2's rule when the ACK would also move the
// window's right edge (__tcp_select_window() >= rcv_wnd), which it does
// while the buffer has room.
TEST_F(ReceiveRoomyBufferTest, more_than_one_full_segment_unacked_is_acked_at_once) {
  leave_quickack_mode();
  data(off_, 1460);
  data(off_ + 1460, 1460);
  ASSERT_GE(sent_count(), 1u) << "RFC 5681 4.2: ACK at least every second full segment";
  EXPECT_EQ(last_sent().ack, peer_nxt_ + off_ + 2920);
}

// When the unread data shrinks the window we could offer below what we
// offered, the second full segment does not force an ACK (it would not open
// the window; the reader's tcp_cleanup_rbuf will): the delayed-ACK timer
// sends it.
TEST_F(ReceiveTest, full_segments_that_cannot_open_the_window_wait_for_the_delayed_ack) {
  leave_quickack_mode();
  data(off_, 1460);
  data(off_ + 1460, 1460);
  ASSERT_LT(__tcp_select_window(sk_), sk_->rcv_wnd) << "the premise: unread data ate the window";
  EXPECT_EQ(sent_count(), 0u);
  const std::uint64_t dack0 = mib(MibId::TcpExtDelayedACKs);
  advance_ms(jiffies_to_msecs(TCP_DELACK_MAX));
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(last_sent().ack, peer_nxt_ + off_ + 2920);
  EXPECT_EQ(mib(MibId::TcpExtDelayedACKs), dack0 + 1);
}

TEST_F(ReceiveTest, out_of_order_segment_is_acked_at_once_with_a_sack_block) {
  leave_quickack_mode();
  const std::uint32_t base = peer_nxt_ + off_;
  data(off_ + 1000, 500);  // a hole of 1000 bytes
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg a = pop_sent();
  EXPECT_EQ(a.ack, base) << "duplicate ACK for the hole";
  ASSERT_EQ(a.sack.size(), 1u);
  EXPECT_EQ(a.sack[0], std::make_pair(base + 1000, base + 1500));
  EXPECT_EQ(sk_->rcv_nxt, base);
  EXPECT_EQ(sk_->out_of_order_queue.size(), 1u);
}

TEST_F(ReceiveTest, sack_blocks_list_the_most_recent_block_first_and_merge_adjacent_ones) {
  const std::uint32_t base = peer_nxt_;
  data(1000, 100);
  data(3000, 100);
  data(2000, 100);
  ParsedSeg a = last_sent();
  ASSERT_EQ(a.sack.size(), 3u);
  EXPECT_EQ(a.sack[0], std::make_pair(base + 2000, base + 2100));
  EXPECT_EQ(a.sack[1], std::make_pair(base + 3000, base + 3100));
  EXPECT_EQ(a.sack[2], std::make_pair(base + 1000, base + 1100));
  data(2100, 900);  // joins 2000..2100 and 3000..3100
  a = last_sent();
  ASSERT_EQ(a.sack.size(), 2u);
  EXPECT_EQ(a.sack[0], std::make_pair(base + 2000, base + 3100));
  EXPECT_EQ(a.sack[1], std::make_pair(base + 1000, base + 1100));
}

TEST_F(ReceiveTest, filling_the_hole_delivers_everything_in_order_and_clears_the_sack_blocks) {
  const std::uint32_t base = peer_nxt_;
  data(500, 500);
  data(1000, 500);
  EXPECT_EQ(sk_->rcv_nxt, base);
  data(0, 500);
  EXPECT_EQ(sk_->rcv_nxt, base + 1500);
  EXPECT_TRUE(sk_->out_of_order_queue.empty());
  EXPECT_EQ(sk_->rx_opt.num_sacks, 0);
  ParsedSeg a = last_sent();
  EXPECT_EQ(a.ack, base + 1500) << "the filled hole is ACKed at once";
  EXPECT_TRUE(a.sack.empty());
  // The receive queue holds the bytes in sequence order.
  std::uint32_t expect = base;
  for (SkBuff& skb : sk_->sk_receive_queue) {
    EXPECT_EQ(TCP_SKB_CB(&skb)->seq, expect);
    expect = TCP_SKB_CB(&skb)->end_seq;
  }
  EXPECT_EQ(expect, base + 1500);
}

TEST_F(ReceiveTest, overlapping_retransmission_fills_only_the_new_part) {
  const std::uint32_t base = peer_nxt_;
  data(0, 100);
  data(50, 100);  // 50 old bytes, 50 new ones
  EXPECT_EQ(sk_->rcv_nxt, base + 150);
}

TEST_F(ReceiveTest, fin_moves_to_close_wait_and_is_acked) {
  data(0, 10, "F.");
  EXPECT_EQ(sk_->sk_state, TCP_CLOSE_WAIT);
  EXPECT_EQ(sk_->rcv_nxt, peer_nxt_ + 11) << "the FIN takes one sequence number";
  EXPECT_TRUE(sk_->sk_shutdown & RCV_SHUTDOWN);
  advance_ms(300);
  ASSERT_GE(sent_count(), 1u);
  EXPECT_EQ(last_sent().ack, peer_nxt_ + 11);
}

TEST_F(ReceiveTest, fin_after_a_hole_waits_for_the_hole) {
  data(100, 10, "F.");
  EXPECT_EQ(sk_->sk_state, TCP_ESTABLISHED);
  data(0, 100);
  EXPECT_EQ(sk_->sk_state, TCP_CLOSE_WAIT);
  EXPECT_EQ(sk_->rcv_nxt, peer_nxt_ + 111);
}

// On a long-RTT path the delayed-ACK timeout (ato) backs off from 40 ms as
// timers expire, but an ACK is never held longer than 200 ms
// (TCP_DELACK_MAX; RFC 1122 4.2.3.2 allows 500 ms).
TEST_F(TcpRecvTest, delayed_ack_timeout_backs_off_from_40ms_but_never_exceeds_200ms) {
  listen_sock();
  inject("S", 1000, 0, 65535, TcpOpts().with_mss(1460));
  ParsedSeg synack = pop_sent();
  advance_ms(300);  // a 300 ms round trip
  inject(".", 1001, synack.seq + 1, 65535);
  clear_sent();
  std::uint32_t off = 0;
  std::vector<Nanos> delays;
  for (int i = 0; i < 30; i++) {
    const Nanos t0 = clock_.now_ns();
    inject("P.", 1001 + off, synack.seq + 1, 65535, {}, payload_of(10));
    off += 10;
    for (int ms = 0; ms < 1000 && sent_count() == 0; ms++) advance_ms(1);
    ASSERT_EQ(sent_count(), 1u);
    delays.push_back(dev_->sent_at.front() - t0);
    clear_sent();
  }
  // Quick ACKs first, then delayed ones growing from 40 ms to the cap.
  EXPECT_EQ(delays.front(), 0u);
  EXPECT_NE(std::find(delays.begin(), delays.end(), TCP_ATO_MIN * kNsPerMs), delays.end());
  EXPECT_EQ(delays.back(), TCP_DELACK_MAX * kNsPerMs);
  for (Nanos d : delays) EXPECT_LE(d, TCP_DELACK_MAX * kNsPerMs);
}

// A receive buffer larger than the initial window: the advertised window
// opens as full-sized segments arrive (tcp_grow_window).
class WindowGrowthTest : public ReceiveTest {
 protected:
  void SetUp() override {
    st_.sysctl().tcp_rmem[1] = 1 << 20;
    ReceiveTest::SetUp();
  }
};

TEST_F(WindowGrowthTest, advertised_window_grows_as_full_segments_arrive) {
  const std::uint32_t before_ssthresh = sk_->rcv_ssthresh;
  for (int i = 0; i < 10; i++) data(static_cast<std::uint32_t>(i) * 1460, 1460);
  EXPECT_GT(sk_->rcv_ssthresh, before_ssthresh);
  EXPECT_GT(std::uint32_t{last_sent().win} << sk_->rx_opt.rcv_wscale, before_ssthresh);
}

}  // namespace
}  // namespace sp::test
