// RTO recovery (the TCP_CA_Loss state): F-RTO (RFC 5682, tcp_frto = 2)
// telling a spurious timeout from a real one, the timestamp undo of a
// spurious RTO (RFC 4015's detection through an echoed TSval), and the
// ACK of a tail loss probe (tcp_process_tlp_ack).
#include "tcp_timers_fixture.hpp"

namespace sp::test {
namespace {

class FrtoTest : public TcpTimersTest {
 protected:
  // 20 segments queued, the initial window (10) sent at t0, then the RTO
  // after 300 ms resends the first segment: the Loss state with F-RTO on.
  TcpSock* rto_with_data_waiting(bool sack) {
    // No tail loss probe (it would go first on a SACK connection): the RTO
    // alone.
    st_.sysctl().tcp_early_retrans = 0;
    TcpSock* sk = open_with_rtt(100, sack);
    EXPECT_EQ(send_bytes(sk, 20000), 20000);
    EXPECT_EQ(sent_count(), 10u);
    clear_sent();
    advance_ms(300);
    EXPECT_EQ(sent_count(), 1u);
    EXPECT_EQ(last_sent().seq, data_seq(0));
    EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Loss);
    EXPECT_TRUE(sk->frto);
    EXPECT_EQ(sk->snd_cwnd, 1u);
    clear_sent();
    advance_ms(10);
    return sk;
  }
};

TEST_F(FrtoTest, first_ack_after_the_rto_sends_two_new_segments_not_retransmissions) {
  TcpSock* sk = rto_with_data_waiting(/*sack=*/false);
  // RFC 5682 3.1 step 2b: the ACK covers only the retransmission, so send
  // new data to see whether the original flight is still arriving.
  ack(1000);
  ASSERT_EQ(sent_count(), 2u);
  EXPECT_EQ(dev_->sent[0].seq, data_seq(10000));
  EXPECT_EQ(dev_->sent[1].seq, data_seq(11000));
  EXPECT_TRUE(sk->frto);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Loss);
}

TEST_F(FrtoTest, ack_of_never_retransmitted_data_undoes_the_spurious_rto) {
  TcpSock* sk = rto_with_data_waiting(/*sack=*/false);
  const std::uint32_t ssthresh_before = sk->prior_ssthresh;
  ack(1000);
  clear_sent();
  // Step 3b: the next ACK covers segments sent only once, before the RTO:
  // the timeout was spurious.
  ack(3000);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Open);
  EXPECT_GE(sk->snd_cwnd, 10u) << "cwnd is restored to its value before the RTO";
  EXPECT_EQ(sk->snd_ssthresh, ssthresh_before);
  EXPECT_EQ(sk->lost_out, 0u) << "nothing is presumed lost any more";
  EXPECT_EQ(mib(MibId::TcpExtTCPSpuriousRTOs), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPLossUndo), 1u);
  for (const ParsedSeg& s : dev_->sent)
    EXPECT_FALSE(before(s.seq, data_seq(10000))) << "no go-back-N retransmission after the undo";
}

TEST_F(FrtoTest, duplicate_ack_after_the_new_data_means_the_loss_was_real) {
  TcpSock* sk = rto_with_data_waiting(/*sack=*/false);
  ack(1000);
  clear_sent();
  // Step 3a: a duplicate ACK: the original flight is lost, recover as usual.
  ack(1000);
  EXPECT_FALSE(sk->frto);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Loss);
  ASSERT_GE(sent_count(), 1u);
  EXPECT_EQ(dev_->sent[0].seq, data_seq(1000)) << "go-back-N from the next hole";
  EXPECT_EQ(mib(MibId::TcpExtTCPSpuriousRTOs), 0u);
  EXPECT_LT(sk->snd_cwnd, 10u);
}

TEST_F(FrtoTest, sack_of_original_data_right_after_the_rto_undoes_it_at_once) {
  TcpSock* sk = rto_with_data_waiting(/*sack=*/true);
  // The SACK-enhanced F-RTO: a SACK for a segment never retransmitted
  // proves the flight was only delayed.
  inject(".", peer_nxt_, data_seq(0), 65535, TcpOpts().with_sack(data_seq(1000), data_seq(3000)));
  // Out of Loss; the SACKed data above the hole leaves it in Disorder.
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Disorder);
  EXPECT_EQ(sk->lost_out, 0u);
  EXPECT_EQ(mib(MibId::TcpExtTCPSpuriousRTOs), 1u);
  EXPECT_GE(sk->snd_cwnd, 10u);
}

TEST_F(FrtoTest, without_frto_the_first_ack_retransmits_the_next_hole) {
  st_.sysctl().tcp_frto = 0;
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  ASSERT_EQ(send_bytes(sk, 20000), 20000);
  advance_ms(300);
  EXPECT_FALSE(sk->frto);
  clear_sent();
  advance_ms(10);
  ack(1000);
  ASSERT_GE(sent_count(), 1u);
  EXPECT_EQ(dev_->sent[0].seq, data_seq(1000));
}

TEST_F(FrtoTest, timestamp_older_than_the_retransmission_undoes_the_rto) {
  st_.sysctl().tcp_timestamps = 1;
  st_.sysctl().tcp_early_retrans = 0;  // the RTO, without a TLP first
  // SACK: a Reno sender would undo cwnd too but stay in Loss until data
  // above high_seq is acknowledged (tcp_is_non_sack_preventing_reopen).
  TcpSock* sk = open_with_rtt(100, /*sack=*/true, /*tstamps=*/true);
  const unsigned mss = sk->mss_cache;
  ASSERT_EQ(send_bytes(sk, 2 * mss), static_cast<int>(2 * mss));
  ASSERT_EQ(sent_count(), 2u);
  ASSERT_TRUE(dev_->sent[0].ts.has_value());
  const std::uint32_t orig_tsval = dev_->sent[0].ts->first;
  clear_sent();
  advance_ms(300);
  ASSERT_EQ(sent_count(), 1u) << "the RTO";
  ASSERT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Loss);
  advance_ms(5);
  // The ACK echoes the original transmission's TSval (RFC 7323 4.1): the
  // retransmission was not needed (tcp_packet_delayed).
  inject(".", peer_nxt_, data_seq(mss), 65535, TcpOpts().with_ts(peer_tsval_ + 1, orig_tsval));
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Open);
  EXPECT_EQ(sk->snd_cwnd, 10u);
  EXPECT_EQ(mib(MibId::TcpExtTCPLossUndo), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPSpuriousRTOs), 0u) << "undone by timestamps, not F-RTO";
}

TEST_F(FrtoTest, ack_covering_a_new_data_probe_ends_the_tlp_episode) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 15000), 15000);
  advance_ms(202);
  ASSERT_EQ(sk->tlp_high_seq, data_seq(11000));
  ack(11000);
  EXPECT_EQ(sk->tlp_high_seq, 0u);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Open);
  EXPECT_EQ(mib(MibId::TcpExtTCPLossProbeRecovery), 0u);
}

TEST_F(FrtoTest, ack_past_a_retransmitted_probe_reveals_a_repaired_loss_and_reduces_cwnd) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 3000), 3000);
  advance_ms(202);
  ASSERT_TRUE(sk->tlp_retrans);
  ASSERT_EQ(sk->tlp_high_seq, data_seq(3000));
  // The last segment was lost and the probe repaired it: the ACK covers
  // everything and is not a D-SACK of the probe. Up to tlp_high_seq that
  // is not yet proof (the original may have arrived too) ...
  ack(3000);
  EXPECT_EQ(sk->tlp_high_seq, data_seq(3000));
  EXPECT_EQ(sk->snd_cwnd, 10u);
  // ... an ACK beyond it without any duplicate in between is.
  ASSERT_EQ(send_bytes(sk, 1000), 1000);
  ack(4000);
  EXPECT_EQ(sk->tlp_high_seq, 0u);
  EXPECT_EQ(mib(MibId::TcpExtTCPLossProbeRecovery), 1u);
  EXPECT_LT(sk->snd_cwnd, 10u) << "a loss happened: cwnd reduced (CWR)";
}

TEST_F(FrtoTest, duplicate_ack_for_a_retransmitted_probe_means_nothing_was_lost) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 3000), 3000);
  ack(3000);
  ASSERT_EQ(send_bytes(sk, 3000), 3000);
  advance_ms(202);
  ASSERT_TRUE(sk->tlp_retrans);
  const std::uint32_t high = sk->tlp_high_seq;
  ASSERT_EQ(high, data_seq(6000));
  // Original and probe both arrived: the probe's ACK is a pure duplicate.
  ack(6000);
  ack(6000);
  EXPECT_EQ(sk->tlp_high_seq, 0u);
  EXPECT_EQ(mib(MibId::TcpExtTCPLossProbeRecovery), 0u);
}

}  // namespace
}  // namespace sp::test
