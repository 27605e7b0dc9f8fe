// Allocation failures on the receive path, one at a time (FailAlloc's Nth
// rule armed around a single segment): what Linux 6.12 does when the skb it
// needs cannot be had.
#include "skb/fail_alloc.hpp"

#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

class RecvFailAllocTest : public TcpRecvTest {
 protected:
  void SetUp() override {
    sk_ = passive_open(1000, 65535, TcpOpts().with_mss(1460));
    ASSERT_NE(sk_, nullptr);
    clear_sent();
  }
  void TearDown() override { fail_alloc_set({}); }

  // Receives pkt with the nth skb allocation after it was built failing.
  void inject_failing_nth(const std::vector<std::uint8_t>& pkt, std::uint64_t nth) {
    SkbPtr skb = make_rx_skb(pkt);
    FailAlloc f;
    f.kinds = kFailSkb;
    f.nth = nth;
    fail_alloc_set(f);
    tcp_v4_rcv(st_, std::move(skb));
    failed_ = fail_alloc_stats().failed[0];
    fail_alloc_set({});
  }

  TcpSock* sk_ = nullptr;
  std::uint64_t failed_ = 0;
};

// Header prediction with data that also acknowledges ours: sendpath keeps a
// clone of the segment to read the ACK from after queueing the data. When
// that clone cannot be made the ACK is taken first, as the slow path does,
// instead of being lost with the clone.
TEST_F(RecvFailAllocTest, fast_path_ack_survives_a_failed_clone) {
  ASSERT_EQ(send_bytes(sk_, 1000), 1000);
  ASSERT_EQ(sent_count(), 1u);
  clear_sent();
  const std::uint32_t una = our_isn_ + 1;
  ASSERT_EQ(sk_->snd_una, una);
  const std::uint64_t hp = mib(MibId::TcpExtTCPHPHits);
  inject_failing_nth(tcp_pkt(in_flow(), "P.", peer_nxt_, una + 1000, 65535, {}, payload_of(100)),
                     1);
  EXPECT_EQ(failed_, 1u) << "the clone was the allocation that failed";
  EXPECT_EQ(mib(MibId::TcpExtTCPHPHits), hp + 1) << "it came the fast way";
  EXPECT_EQ(sk_->rcv_nxt, peer_nxt_ + 100) << "the data is queued";
  EXPECT_EQ(sk_->snd_una, una + 1000) << "and the ACK it carried was taken";
  EXPECT_EQ(sk_->packets_out, 0u);
}

// tcp_send_ack without memory (__tcp_send_ack in 6.12): no ACK now; the ACK
// is scheduled and the delayed-ACK timer set TCP_DELACK_MAX (200 ms) ahead,
// with ato reset to TCP_ATO_MIN, and it goes out when that timer fires.
TEST_F(RecvFailAllocTest, ack_without_memory_is_retried_by_the_delack_timer_after_delack_max) {
  // The first data of a connection is ACKed at once (quick-ACK mode): the
  // first skb allocation after this segment arrives is that ACK.
  const Nanos t0 = clock_.now_ns();
  inject_failing_nth(tcp_pkt(in_flow(), "P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload_of(100)),
                     1);
  EXPECT_EQ(failed_, 1u);
  EXPECT_EQ(sk_->rcv_nxt, peer_nxt_ + 100);
  EXPECT_EQ(sent_count(), 0u) << "no ACK: its skb could not be allocated";
  const InetConnectionSock* icsk = inet_csk(sk_);
  EXPECT_TRUE(icsk->icsk_ack.pending & ICSK_ACK_TIMER);
  EXPECT_TRUE(icsk->icsk_ack.pending & ICSK_ACK_SCHED);
  EXPECT_EQ(icsk->icsk_ack.ato, static_cast<std::uint32_t>(TCP_ATO_MIN));
  advance(jiffies_to_nsecs(static_cast<std::uint32_t>(TCP_DELACK_MAX)) - kNsPerMs -
          (clock_.now_ns() - t0));
  EXPECT_EQ(sent_count(), 0u) << "nothing before TCP_DELACK_MAX";
  advance(2 * kNsPerMs);
  ASSERT_EQ(sent_count(), 1u) << "the delayed-ACK timer sent it";
  const ParsedSeg ack = pop_sent();
  EXPECT_TRUE(ack.has(kTcpAck));
  EXPECT_EQ(ack.ack, peer_nxt_ + 100);
  EXPECT_EQ(ack.payload_len, 0u);
}

// tcp_send_fin with nothing on the write queue and no memory for the FIN's
// skb: Linux 6.12 returns without it (no FIN, write_seq unchanged, no timer
// armed) and so does sendpath; the state has moved to FIN_WAIT1 all the
// same, and the peer sees no end of stream until something else is sent.
TEST_F(RecvFailAllocTest, fin_without_memory_is_not_sent_as_in_linux) {
  ASSERT_TRUE(sk_->sk_write_queue.empty());
  const std::uint32_t write_seq = sk_->write_seq;
  FailAlloc f;
  f.kinds = kFailSkb;
  f.nth = 1;
  fail_alloc_set(f);
  tcp_shutdown(sk_, SEND_SHUTDOWN);
  EXPECT_EQ(fail_alloc_stats().failed[0], 1u);
  fail_alloc_set({});
  EXPECT_EQ(sk_->sk_state, TCP_FIN_WAIT1);
  EXPECT_EQ(sk_->write_seq, write_seq) << "no FIN queued";
  EXPECT_EQ(sent_count(), 0u);
  EXPECT_EQ(inet_csk(sk_)->icsk_pending, 0) << "nothing will send it later";
  advance(10 * kNsPerSec);
  EXPECT_EQ(sent_count(), 0u);
}

}  // namespace
}  // namespace sp::test
