// Loss detection and recovery on the ACK path, on virtual time, as the
// peer's ACKs drive it: fast retransmit on duplicate ACKs (RFC 5681 3.2),
// NewReno partial ACKs (RFC 6582), RACK's reordering window (RFC 8985),
// Proportional Rate Reduction (RFC 6937) and D-SACK undo (RFC 2883).
#include <ostream>

#include "unit/tcp_timers/tcp_timers_fixture.hpp"

namespace sp::test {
namespace {

class TcpRecoveryTest : public TcpTimersTest {
 protected:
  // An ACK of `offset` carrying SACK blocks [start, end) (stream offsets).
  void sack(std::uint32_t offset,
            std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> blocks,
            std::uint16_t win = 65535) {
    TcpOpts o;
    for (auto [s, e] : blocks) o.with_sack(data_seq(s), data_seq(e));
    inject(".", peer_nxt_, data_seq(offset), win, o);
  }
  // The data segments sent since the last call, as stream offsets.
  std::vector<std::uint32_t> sent_offsets() {
    std::vector<std::uint32_t> v;
    while (sent_count()) v.push_back(pop_sent().seq - data_seq(0));
    return v;
  }
};

TEST_F(TcpRecoveryTest, three_dupacks_without_sack_fast_retransmit_the_head) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  ASSERT_EQ(send_bytes(sk, 30000), 30000);
  ASSERT_EQ(sent_offsets().size(), 10u) << "the initial window";
  advance_ms(100);
  // Segment 1 arrives (slow start: cwnd 11, two new segments), segment 2 is
  // lost: every later arrival repeats ACK 1000.
  ack(1000);
  EXPECT_EQ(sent_offsets(), (std::vector<std::uint32_t>{10000, 11000}));
  // The first two duplicates each let one new segment out (limited
  // transmit, RFC 3042): a duplicate means a segment left the network.
  advance_ms(2);
  ack(1000);
  EXPECT_EQ(sent_offsets(), std::vector<std::uint32_t>{12000});
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Disorder);
  advance_ms(2);
  ack(1000);
  EXPECT_EQ(sent_offsets(), std::vector<std::uint32_t>{13000});
  EXPECT_EQ(sk->sacked_out, 2u) << "each duplicate counts one segment delivered";
  // The third is dupthresh: fast retransmit of the head, Recovery.
  advance_ms(2);
  ack(1000);
  EXPECT_EQ(sent_offsets(), std::vector<std::uint32_t>{1000});
  const ::tcp_info ti = info(sk);
  EXPECT_EQ(ti.tcpi_ca_state, TCP_CA_Recovery);
  EXPECT_EQ(ti.tcpi_lost, 1u);
  EXPECT_EQ(ti.tcpi_retrans, 1u);
  EXPECT_EQ(ti.tcpi_snd_ssthresh, 7u) << "CUBIC: 11 * 0.7";
  EXPECT_EQ(mib(MibId::TcpExtTCPRenoRecovery), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPFastRetrans), 1u);
}

TEST_F(TcpRecoveryTest, newreno_partial_ack_retransmits_the_next_hole_at_once) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  ASSERT_EQ(send_bytes(sk, 10000), 10000);
  clear_sent();
  advance_ms(100);
  // Segments 2 and 3 lost.
  ack(1000);
  for (int i = 0; i < 3; i++) {
    advance_ms(2);
    ack(1000);
  }
  EXPECT_EQ(sent_offsets(), std::vector<std::uint32_t>{1000});
  ASSERT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Recovery);
  // The retransmission arrives: ACK 2000 is partial (below high_seq), so
  // the next segment is lost too (RFC 6582 3.2 step 3).
  advance_ms(100);
  ack(2000);
  EXPECT_EQ(sent_offsets(), std::vector<std::uint32_t>{2000});
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Recovery);
  // Everything acknowledged, but snd_una == high_seq: NewReno stays in
  // Recovery (RFC 6582 3.2 step 1, tcp_is_non_sack_preventing_reopen) so
  // that a duplicate of an old ACK cannot start another fast retransmit.
  advance_ms(100);
  ack(10000);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Recovery);
  EXPECT_EQ(sk->lost_out + sk->retrans_out + sk->sacked_out, 0u);
  // The first ACK beyond high_seq ends it, at ssthresh.
  ASSERT_EQ(send_bytes(sk, 1000), 1000);
  advance_ms(100);
  ack(11000);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Open);
  EXPECT_EQ(sk->snd_cwnd, sk->snd_ssthresh);
}

TEST_F(TcpRecoveryTest, rack_marks_loss_only_after_the_reordering_window) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 4000), 4000);
  clear_sent();
  advance_ms(100);
  // Only the last segment arrived. One SACK is not dupthresh: RACK waits
  // reo_wnd = min_rtt / 4 = 25 ms (+ TCP_TIMEOUT_MIN_US) for reordering.
  sack(0, {{3000, 4000}});
  EXPECT_EQ(sent_count(), 0u);
  EXPECT_EQ(inet_csk(sk)->icsk_pending, ICSK_TIME_REO_TIMEOUT);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Disorder);
  EXPECT_EQ(info(sk).tcpi_lost, 0u);
  advance_ms(26);
  EXPECT_EQ(sent_count(), 0u);
  advance_ms(1);
  EXPECT_EQ(sent_offsets(), std::vector<std::uint32_t>{0});
  const ::tcp_info ti = info(sk);
  EXPECT_EQ(ti.tcpi_ca_state, TCP_CA_Recovery);
  EXPECT_EQ(ti.tcpi_lost, 3u) << "everything sent before the SACKed segment";
  EXPECT_EQ(ti.tcpi_sacked, 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPSackRecovery), 1u);
}

TEST_F(TcpRecoveryTest, reordering_within_the_window_is_not_loss) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 4000), 4000);
  clear_sent();
  advance_ms(100);
  sack(0, {{3000, 4000}});
  advance_ms(10);
  // The "missing" segments were only late: no retransmission, and the
  // reordering is remembered.
  ack(4000);
  advance_ms(100);
  EXPECT_EQ(sent_count(), 0u);
  const ::tcp_info ti = info(sk);
  EXPECT_EQ(ti.tcpi_ca_state, TCP_CA_Open);
  EXPECT_EQ(ti.tcpi_total_retrans, 0u);
  // Segment 1 came 4 MSS after the highest SACK: the reordering degree.
  EXPECT_EQ(ti.tcpi_reordering, 4u);
  EXPECT_EQ(ti.tcpi_reord_seen, 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPSACKReorder), 1u);
}

TEST_F(TcpRecoveryTest, one_loss_in_slow_start_prr_gives_the_rfc6937_cwnd_sequence) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 40000), 40000);
  clear_sent();
  advance_ms(100);
  // Segment 1 of the initial window is lost; 2..10 arrive 2 ms apart, one
  // SACK each.
  std::vector<std::uint32_t> cwnd, out;
  for (std::uint32_t i = 1; i < 10; i++) {
    sack(0, {{1000, 1000 * (i + 1)}});
    cwnd.push_back(sk->snd_cwnd);
    out.push_back(static_cast<std::uint32_t>(sent_count()));
    clear_sent();
    advance_ms(2);
  }
  // SACKs 1 and 2: pipe fell, one new segment each (limited transmit). The
  // third SACK is dupthresh: RACK marks segment 1 lost, Recovery with
  // ssthresh = 7 (CUBIC), prior_cwnd 10. While pipe > ssthresh, PRR sends
  // ceil(prr_delivered * 7 / 10) - prr_out per ACK (the retransmission,
  // then one new segment on each of the next two ACKs, none on the sixth);
  // once pipe <= ssthresh, PRR-SSRB refills to ssthresh (one per ACK).
  EXPECT_EQ(sk->snd_ssthresh, 7u);
  EXPECT_EQ(cwnd, (std::vector<std::uint32_t>{10, 10, 9, 9, 9, 8, 7, 7, 7}));
  EXPECT_EQ(out, (std::vector<std::uint32_t>{1, 1, 1, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(sk->prr_delivered, 7u);
  EXPECT_EQ(sk->prr_out, 5u);
  // Everything sent before the loss was detected is ACKed: recovery ends
  // and cwnd settles at ssthresh.
  advance_ms(100);
  ack(12000);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Open);
  EXPECT_EQ(sk->snd_cwnd, 7u);
}

TEST_F(TcpRecoveryTest, dsack_of_the_retransmission_undoes_the_cwnd_reduction) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 10000), 10000);
  clear_sent();
  advance_ms(100);
  sack(0, {{1000, 2000}});
  sack(0, {{1000, 3000}});
  sack(0, {{1000, 4000}});
  EXPECT_EQ(sent_offsets(), std::vector<std::uint32_t>{0}) << "fast retransmit";
  ASSERT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Recovery);
  const std::uint32_t reduced = sk->snd_ssthresh;
  EXPECT_LT(reduced, 10u);
  // The original was only delayed: it arrives, then our copy, which the
  // receiver reports with a D-SACK (RFC 2883) below the cumulative ACK.
  advance_ms(1);
  ack(4000);
  advance_ms(1);
  sack(4000, {{0, 1000}});
  EXPECT_EQ(mib(MibId::TcpExtTCPDSACKRecv), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPDSACKUndo), 1u);
  EXPECT_EQ(sk->undo_marker, 0u);
  EXPECT_EQ(sk->snd_ssthresh, TCP_INFINITE_SSTHRESH) << "ssthresh restored";
  EXPECT_GE(sk->snd_cwnd, 10u) << "cwnd restored";
  EXPECT_NE(inet_csk(sk)->icsk_ca_state, TCP_CA_Recovery);
  EXPECT_EQ(info(sk).tcpi_dsack_dups, 1u);
}

TEST_F(TcpRecoveryTest, sack_blocks_outside_the_window_are_counted_and_ignored) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 4000), 4000);
  advance_ms(100);
  // Beyond snd_nxt, and reversed: dropped with TCPSACKDiscard, no tagging.
  sack(0, {{5000, 6000}});
  sack(0, {{3000, 2000}});
  EXPECT_EQ(mib(MibId::TcpExtTCPSACKDiscard), 2u);
  EXPECT_EQ(sk->sacked_out, 0u);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Open);
}

// tcp_sendmsg asks tcp_rate_check_app_limited before adding data: a write
// into an idle, cwnd-unlimited connection marks the delivery-rate samples
// of its segments application-limited; a write while a full window waits
// to be sent does not.
TEST_F(TcpRecoveryTest, a_write_into_an_idle_connection_flags_app_limited_samples) {
  TcpSock* sk = open_with_rtt(100);
  // Bulk: 30 segments, cwnd 10: the window is the limit.
  ASSERT_EQ(send_bytes(sk, 30000), 30000);
  clear_sent();
  advance_ms(100);
  ack(10000);
  EXPECT_EQ(sk->app_limited, 0u) << "the initial app-limited phase ends with the first delivery";
  // Another write while 10+ segments wait in the write queue: not app-limited.
  ASSERT_EQ(send_bytes(sk, 1000), 1000);
  EXPECT_EQ(sk->app_limited, 0u);
  for (std::uint32_t off = 20000; off <= 31000; off += 1000) {
    advance_ms(100);
    ack(off);
  }
  ASSERT_EQ(sk->snd_una, sk->write_seq) << "everything acknowledged";
  EXPECT_EQ(sk->rate_app_limited, false) << "bulk samples are not app-limited";
  EXPECT_EQ(info(sk).tcpi_delivery_rate_app_limited, 0);
  clear_sent();
  // Idle and nothing queued: the next write is application-limited until
  // the data in flight then (none) plus this write are delivered.
  const std::uint32_t delivered = sk->delivered;
  ASSERT_EQ(send_bytes(sk, 1000), 1000);
  EXPECT_EQ(sk->app_limited, delivered);
  const SkBuff* skb = tcp_rtx_queue_head(sk);
  ASSERT_NE(skb, nullptr);
  EXPECT_EQ(TCP_SKB_CB(skb)->tx_is_app_limited, 1);
  advance_ms(100);
  ack(32000);
  EXPECT_EQ(sk->app_limited, 0u) << "the phase ends once its data is delivered";
}

// The retransmit queue as (start, end, SACKed) stream offsets.
struct QSkb {
  std::uint32_t start, end;
  bool sacked;
  bool operator==(const QSkb&) const = default;
};
std::ostream& operator<<(std::ostream& os, const QSkb& q) {
  return os << "[" << q.start << "," << q.end << (q.sacked ? ")S" : ")");
}

class TcpSackShiftTest : public TcpRecoveryTest {
 protected:
  std::vector<QSkb> rtx_queue(TcpSock* sk) {
    std::vector<QSkb> v;
    for (SkBuff* skb = tcp_rtx_queue_head(sk); skb && v.size() < 100;
         skb = sk->tcp_rtx_queue.next(skb)) {
      const TcpSkbCb* scb = TCP_SKB_CB(skb);
      v.push_back({scb->seq - data_seq(0), scb->end_seq - data_seq(0),
                   (scb->sacked & TCPCB_SACKED_ACKED) != 0});
    }
    return v;
  }
};

// SACKed data joins the SACKed skb before it (tcp_shift_skb_data) instead
// of being split off: the queue stays three skbs however the SACKs land,
// and the counters count segments, not skbs.
TEST_F(TcpSackShiftTest, scattered_sacks_coalesce_into_the_previous_sacked_skb) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 10000), 10000);
  ASSERT_EQ(rtx_queue(sk), (std::vector<QSkb>{{0, 2000, false},
                                              {2000, 4000, false},
                                              {4000, 6000, false},
                                              {6000, 8000, false},
                                              {8000, 10000, false}}))
      << "two-segment TSO skbs";
  advance_ms(100);
  // No SACKed skb before it: the first block splits.
  sack(0, {{2000, 3000}});
  EXPECT_EQ(rtx_queue(sk), (std::vector<QSkb>{{0, 2000, false},
                                              {2000, 3000, true},
                                              {3000, 4000, false},
                                              {4000, 6000, false},
                                              {6000, 8000, false},
                                              {8000, 10000, false}}));
  EXPECT_EQ(mib(MibId::TcpExtTCPSackShiftFallback), 1u);
  // The block grows by a segment: [3000,4000) is merged into [2000,3000).
  advance_ms(1);
  sack(0, {{2000, 4000}});
  EXPECT_EQ(rtx_queue(sk), (std::vector<QSkb>{{0, 2000, false},
                                              {2000, 4000, true},
                                              {4000, 6000, false},
                                              {6000, 8000, false},
                                              {8000, 10000, false}}));
  EXPECT_EQ(mib(MibId::TcpExtTCPSackMerged), 1u);
  EXPECT_EQ(sk->sacked_out, 2u);
  // A separate block past a hole (a tail, which cannot move back) splits.
  // Three segments SACKed: Recovery, and PRR resends one segment of the
  // head skb, which tcp_retransmit_skb splits off.
  advance_ms(1);
  sack(0, {{2000, 4000}, {5000, 6000}});
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Recovery);
  EXPECT_EQ(rtx_queue(sk), (std::vector<QSkb>{{0, 1000, false},
                                              {1000, 2000, false},
                                              {2000, 4000, true},
                                              {4000, 5000, false},
                                              {5000, 6000, true},
                                              {6000, 8000, false},
                                              {8000, 10000, false}}));
  // The hole fills and the block reaches into [6000,8000): [4000,5000) and
  // then [5000,6000) are merged into [2000,4000), and the first segment of
  // [6000,8000) is shifted there, not split off.
  advance_ms(1);
  sack(0, {{2000, 7000}});
  EXPECT_EQ(rtx_queue(sk), (std::vector<QSkb>{{0, 1000, false},
                                              {1000, 2000, false},
                                              {2000, 7000, true},
                                              {7000, 8000, false},
                                              {8000, 10000, false}}));
  EXPECT_EQ(mib(MibId::TcpExtTCPSackMerged), 3u);
  EXPECT_EQ(mib(MibId::TcpExtTCPSackShifted), 1u);
  EXPECT_EQ(tcp_skb_pcount(sk->tcp_rtx_queue.find_containing(data_seq(2000))), 5);
  EXPECT_EQ(sk->sacked_out, 5u);
  EXPECT_EQ(sk->packets_out, 10u);
  EXPECT_EQ(info(sk).tcpi_sacked, 5u);
  // Everything acknowledged: the queue and the counters empty.
  advance_ms(1);
  ack(10000);
  EXPECT_TRUE(rtx_queue(sk).empty());
  EXPECT_EQ(sk->sacked_out, 0u);
  EXPECT_EQ(sk->packets_out, 0u);
}

// MSG_EOR skbs keep their boundaries: SACKs never move data across them
// (tcp_skb_can_collapse), so each write stays its own skb.
TEST_F(TcpSackShiftTest, eor_skbs_are_not_merged) {
  TcpSock* sk = open_with_rtt(100);
  for (int i = 0; i < 6; i++) ASSERT_EQ(send_bytes(sk, 1000, MSG_DONTWAIT | MSG_EOR), 1000);
  ASSERT_EQ(rtx_queue(sk).size(), 6u);
  advance_ms(100);
  sack(0, {{1000, 2000}});
  advance_ms(1);
  sack(0, {{1000, 3000}});
  advance_ms(1);
  sack(0, {{1000, 3000}, {4000, 5000}});
  advance_ms(1);
  sack(0, {{1000, 5000}});
  EXPECT_EQ(rtx_queue(sk), (std::vector<QSkb>{{0, 1000, false},
                                              {1000, 2000, true},
                                              {2000, 3000, true},
                                              {3000, 4000, true},
                                              {4000, 5000, true},
                                              {5000, 6000, false}}));
  EXPECT_EQ(mib(MibId::TcpExtTCPSackShifted), 0u);
  EXPECT_EQ(mib(MibId::TcpExtTCPSackMerged), 0u);
  EXPECT_EQ(sk->sacked_out, 4u);
}

}  // namespace
}  // namespace sp::test
