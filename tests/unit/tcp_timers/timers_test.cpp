// Timer-driven recovery on virtual time, as a user of the connection sees it
// on the wire: the tail loss probe (RFC 8985 7), RTO backoff with
// tcpi_backoff, TCP_USER_TIMEOUT (RFC 5482) on retransmissions and on
// window probes under local congestion, and the lone FIN against a full cwnd.
#include <cerrno>

#include "tcp_timers_fixture.hpp"

namespace sp::test {
namespace {

TEST_F(TcpTimersTest, tlp_retransmits_the_last_mss_two_srtt_after_the_flight) {
  TcpSock* sk = open_with_rtt(100);
  const Nanos t0 = now();
  ASSERT_EQ(send_bytes(sk, 3000), 3000);
  ASSERT_EQ(sent_count(), 3u);
  // PTO = 2 * SRTT + TCP_TIMEOUT_MIN (several segments out) = 202 ms, before
  // the RTO (300 ms).
  advance_ms(201);
  EXPECT_EQ(sent_count(), 3u);
  advance_ms(1);
  ASSERT_EQ(sent_count(), 4u);
  EXPECT_EQ(dev_->sent_at[3] - t0, 202 * kNsPerMs);
  const ParsedSeg probe = last_sent();
  EXPECT_EQ(probe.seq, data_seq(2000)) << "the probe is the last segment sent";
  EXPECT_EQ(probe.payload_len, 1000u) << "split to one MSS";
  EXPECT_EQ(mib(MibId::TcpExtTCPLossProbes), 1u);
  EXPECT_EQ(sk->tlp_high_seq, sk->snd_nxt);
  EXPECT_TRUE(sk->tlp_retrans);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Open) << "a probe is not a loss event";
  EXPECT_EQ(sk->snd_cwnd, 10u);
  // The RTO then runs a full RTO from the probe and resends the head.
  EXPECT_EQ(inet_csk(sk)->icsk_pending, ICSK_TIME_RETRANS);
  advance_ms(299);
  EXPECT_EQ(sent_count(), 4u);
  advance_ms(1);
  ASSERT_EQ(sent_count(), 5u);
  EXPECT_EQ(last_sent().seq, data_seq(0));
  EXPECT_EQ(mib(MibId::TcpExtTCPLossProbes), 1u) << "one probe per tail loss episode";
  EXPECT_EQ(mib(MibId::TcpExtTCPTimeouts), 1u);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Loss);
}

TEST_F(TcpTimersTest, tlp_for_a_single_segment_is_clamped_to_the_rto) {
  TcpSock* sk = open_with_rtt(100);
  const Nanos t0 = now();
  ASSERT_EQ(send_bytes(sk, 100), 100);
  // One segment out: PTO = 2 * SRTT + rto_min (the peer may delay its ACK)
  // = 400 ms, later than the RTO, so the probe goes at the RTO's time.
  advance_ms(300);
  ASSERT_EQ(sent_count(), 2u);
  EXPECT_EQ(dev_->sent_at[1] - t0, 300 * kNsPerMs);
  EXPECT_EQ(last_sent().seq, data_seq(0));
  EXPECT_EQ(mib(MibId::TcpExtTCPLossProbes), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPTimeouts), 0u);
  EXPECT_EQ(inet_csk(sk)->icsk_backoff, 0u) << "a probe does not back off";
  advance_ms(300);
  ASSERT_EQ(sent_count(), 3u);
  EXPECT_EQ(mib(MibId::TcpExtTCPTimeouts), 1u);
}

TEST_F(TcpTimersTest, tlp_sends_new_data_when_the_peer_window_has_room) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 15000), 15000);
  ASSERT_EQ(sent_count(), 10u) << "the initial window";
  advance_ms(202);
  ASSERT_EQ(sent_count(), 11u);
  EXPECT_EQ(last_sent().seq, data_seq(10000)) << "new data, past the cwnd";
  EXPECT_EQ(last_sent().payload_len, 1000u);
  EXPECT_FALSE(sk->tlp_retrans);
  EXPECT_EQ(sk->tlp_high_seq, data_seq(11000));
}

TEST_F(TcpTimersTest, without_sack_there_is_no_probe_only_the_rto) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  ASSERT_EQ(send_bytes(sk, 3000), 3000);
  advance_ms(299);
  EXPECT_EQ(sent_count(), 3u);
  advance_ms(1);
  ASSERT_EQ(sent_count(), 4u);
  EXPECT_EQ(last_sent().seq, data_seq(0));
  EXPECT_EQ(mib(MibId::TcpExtTCPLossProbes), 0u);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_Loss);
}

TEST_F(TcpTimersTest, each_rto_doubles_the_timeout_and_shows_in_tcpi_backoff) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  ASSERT_EQ(send_bytes(sk, 100), 100);
  const std::uint32_t expect_rto[] = {600, 1200, 2400};
  std::uint32_t wait = 300;
  for (std::uint8_t i = 1; i <= 3; i++) {
    advance_ms(wait);
    ASSERT_EQ(sent_count(), 1u + i);
    const ::tcp_info ti = info(sk);
    EXPECT_EQ(ti.tcpi_backoff, i);
    EXPECT_EQ(ti.tcpi_retransmits, i);
    EXPECT_EQ(ti.tcpi_ca_state, TCP_CA_Loss);
    EXPECT_EQ(inet_csk(sk)->icsk_rto, expect_rto[i - 1]);
    wait = expect_rto[i - 1];
  }
  EXPECT_EQ(sk->total_rto, 3u);
  EXPECT_EQ(sk->total_rto_recoveries, 1u) << "one episode";
  // The ACK ends the episode's retransmission count (Karn: no RTT sample,
  // so the backed-off RTO stays until a clean measurement).
  ack(100);
  EXPECT_EQ(info(sk).tcpi_retransmits, 0u);
}

TEST_F(TcpTimersTest, user_timeout_ends_the_connection_at_the_clamped_rto) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  sock_hold(sk);
  sk->icsk_user_timeout = 1000;
  const Nanos t0 = now();
  ASSERT_EQ(send_bytes(sk, 100), 100);
  // RTOs at +300 (the first retransmission starts the clock) and +900; the
  // next would be at +2100, but is clamped to 1000 ms after +300.
  advance_ms(1299);
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  EXPECT_EQ(sent_count(), 3u);
  advance_ms(1);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
  EXPECT_EQ(now() - t0, 1300 * kNsPerMs);
  EXPECT_EQ(sent_count(), 3u) << "no retransmission once the user timeout passed";
  EXPECT_EQ(mib(MibId::TcpExtTCPAbortOnTimeout), 1u);
  EXPECT_EQ(send_bytes(sk, 10), -ETIMEDOUT);
  sock_put(sk);
}

TEST_F(TcpTimersTest, refused_window_probes_retry_every_500ms_until_the_user_timeout) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  sock_hold(sk);
  sk->icsk_user_timeout = 3000;
  ASSERT_EQ(send_bytes(sk, 24), 24);
  advance_ms(100);
  ack(24);
  ASSERT_EQ(sk->packets_out, 0u);
  // From now on the device refuses every frame (a full qdisc).
  dev_->refuse = true;
  ASSERT_EQ(send_bytes(sk, 24), 24);
  EXPECT_EQ(dev_->refused, 1);
  EXPECT_EQ(inet_csk(sk)->icsk_pending, ICSK_TIME_PROBE0);
  EXPECT_EQ(inet_csk(sk)->icsk_ca_state, TCP_CA_CWR) << "a local drop is a congestion signal";
  // The first probe comes after the probe timer's base (the RTO); from
  // then on local congestion retries every TCP_RESOURCE_PROBE_INTERVAL
  // without backing off.
  advance_ms(tcp_probe0_base(sk));
  EXPECT_EQ(dev_->refused, 2);
  const Nanos first_probe = now();
  for (int k = 1; k <= 5; k++) {
    advance_ms(500);
    EXPECT_EQ(dev_->refused, 2 + k);
    EXPECT_EQ(info(sk).tcpi_backoff, 0u);
  }
  EXPECT_EQ(info(sk).tcpi_probes, 6u);
  // TCP_USER_TIMEOUT counts from the first probe.
  advance_ms(499);
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  advance_ms(1);
  EXPECT_EQ(now() - first_probe, 3000 * kNsPerMs);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
  EXPECT_EQ(info(sk).tcpi_probes, 6u);
  EXPECT_EQ(info(sk).tcpi_backoff, 0u);
  EXPECT_EQ(send_bytes(sk, 24), -ETIMEDOUT);
  sock_put(sk);
}

TEST_F(TcpTimersTest, a_lone_fin_waits_for_the_congestion_window_as_linux_6_12) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 10000), 10000);
  ASSERT_EQ(sent_count(), 10u);
  ASSERT_EQ(tcp_packets_in_flight(sk), sk->snd_cwnd);
  tcp_shutdown(sk, SEND_SHUTDOWN);
  EXPECT_EQ(sent_count(), 10u) << "6.12's tcp_cwnd_test has no FIN exemption";
  EXPECT_EQ(sk->sk_state, TCP_FIN_WAIT1);
  // No ACK comes: the tail loss probe (2*srtt + 2 ms) sends the FIN as new data.
  advance_ms(199);
  EXPECT_EQ(sent_count(), 10u);
  advance_ms(4);
  ASSERT_EQ(sent_count(), 11u);
  const ParsedSeg fin = last_sent();
  EXPECT_TRUE(fin.has(kTcpFin | kTcpAck));
  EXPECT_EQ(fin.seq, data_seq(10000));
  EXPECT_EQ(fin.payload_len, 0u);
}

TEST_F(TcpTimersTest, a_lone_fin_goes_out_with_the_congestion_window_full_on_request) {
  st_.sysctl().sendpath_tcp_lone_fin_ignores_cwnd = 1;  // the older kernels' exemption
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 10000), 10000);
  ASSERT_EQ(sent_count(), 10u);
  ASSERT_EQ(tcp_packets_in_flight(sk), sk->snd_cwnd);
  tcp_shutdown(sk, SEND_SHUTDOWN);
  ASSERT_EQ(sent_count(), 11u);
  const ParsedSeg fin = last_sent();
  EXPECT_TRUE(fin.has(kTcpFin | kTcpAck));
  EXPECT_EQ(fin.seq, data_seq(10000));
  EXPECT_EQ(fin.payload_len, 0u);
  EXPECT_EQ(sk->sk_state, TCP_FIN_WAIT1);
}

TEST_F(TcpTimersTest, a_fin_riding_on_several_segments_waits_for_the_window) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 12000), 12000);
  ASSERT_EQ(sent_count(), 10u);
  tcp_shutdown(sk, SEND_SHUTDOWN);
  EXPECT_EQ(sent_count(), 10u) << "2000 bytes + FIN are two segments: cwnd applies";
  ack(2000);
  ASSERT_GE(sent_count(), 12u);
  EXPECT_TRUE(last_sent().has(kTcpFin));
}

TEST_F(TcpTimersTest, shutdown_in_syn_recv_holds_the_fin_until_established) {
  // Simultaneous open: our SYN crosses the peer's, we answer SYN-ACK.
  TcpSock* sk = connect_sock();
  our_isn_ = pop_sent().seq;
  inject("S", 5000, 0, 65535, TcpOpts().with_mss(1000));
  ASSERT_EQ(sk->sk_state, TCP_SYN_RECV);
  clear_sent();
  // shutdown(SHUT_WR) as inet_shutdown does it: the flag, then the protocol.
  sk->sk_shutdown |= SEND_SHUTDOWN;
  tcp_shutdown(sk, SEND_SHUTDOWN);
  EXPECT_EQ(sent_count(), 0u) << "no FIN before the handshake completes";
  EXPECT_EQ(sk->sk_state, TCP_SYN_RECV);
  inject(".", 5001, our_isn_ + 1, 65535);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_TRUE(last_sent().has(kTcpFin | kTcpAck));
  EXPECT_EQ(last_sent().seq, our_isn_ + 1);
  EXPECT_EQ(sk->sk_state, TCP_FIN_WAIT1);
}

TEST_F(TcpTimersTest, syn_retries_give_up_after_the_modelled_time_not_the_count) {
  // tcp_syn_retries = 1: the give-up time is what one backoff from the
  // initial RTO would take (1 s + 2 s = 3 s), while the SYNs themselves
  // keep linear 1 s timeouts (tcp_syn_linear_timeouts).
  st_.sysctl().tcp_syn_retries = 1;
  TcpSock* sk = new_sock();
  sock_hold(sk);
  sk->inet_rcv_saddr = sk->inet_saddr = be_addr(10, 0, 0, 1);
  ASSERT_EQ(st_.tcp().inet_csk_get_port(sk, kLocalPort), 0);
  sockaddr_in sin = peer_sockaddr();
  ASSERT_EQ(tcp_v4_connect(sk, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  const Nanos t0 = now();
  advance_ms(2999);
  ASSERT_EQ(sent_count(), 3u);
  EXPECT_EQ(dev_->sent_at[1] - t0, 1000 * kNsPerMs);
  EXPECT_EQ(dev_->sent_at[2] - t0, 2000 * kNsPerMs);
  EXPECT_EQ(sk->sk_state, TCP_SYN_SENT);
  advance_ms(1);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
  EXPECT_EQ(sent_count(), 3u);
  sock_put(sk);
}

TEST_F(TcpTimersTest, an_orphan_gives_up_after_tcp_orphan_retries_backoffs) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  const Nanos t0 = now();
  ASSERT_EQ(send_bytes(sk, 100), 100);
  tcp_close(sk, 0);  // orphaned in FIN_WAIT1 with data and FIN unacknowledged
  ASSERT_EQ(sent_count(), 2u);
  auto alive = [&] {
    return st_.tcp().lookup_established(htonl(in_flow().saddr), htons(kPeerPort),
                                        htonl(in_flow().daddr), kLocalPort) != nullptr;
  };
  // tcp_orphan_retries = 0 means 8 while the RTO is below TCP_RTO_MAX: the
  // time 8 backoffs from rto_min take, 511 * 200 ms = 102.2 s after the
  // first retransmission (at +300 ms). The RTO that fires first past that
  // is the 9th, at +300 + 153000 ms.
  advance_ms(153299);
  EXPECT_TRUE(alive());
  EXPECT_EQ(sent_count(), 2u + 8u) << "data and FIN, then 8 retransmissions";
  advance_ms(1);
  EXPECT_FALSE(alive());
  EXPECT_EQ(now() - t0, 153300 * kNsPerMs);
  EXPECT_EQ(mib(MibId::TcpExtTCPAbortOnTimeout), 1u);
  EXPECT_EQ(sent_count(), 10u);
}

// net.ipv4.tcp_retries2 bounds how long unacknowledged data is retried:
// the time `tcp_retries2` backoffs from rto_min take, (2^(3+1) - 1) * 200 ms
// = 3 s for 3, counted from the first retransmission (retransmits_timed_out).
TEST_F(TcpTimersTest, tcp_retries2_gives_up_after_its_backoffs_with_etimedout) {
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_retries2", "3"), "");
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  sock_hold(sk);
  const Nanos t0 = now();
  ASSERT_EQ(send_bytes(sk, 100), 100);
  ASSERT_EQ(sent_count(), 1u);
  // RTOs at +300, +900, +2100 retransmit (1.8 s since the first is under
  // 3 s); the one at +4500 finds 4.2 s and gives up.
  advance_ms(4499);
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  EXPECT_EQ(sent_count(), 1u + 3u) << "the data, then 3 retransmissions";
  advance_ms(1);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
  EXPECT_EQ(now() - t0, 4500 * kNsPerMs);
  EXPECT_EQ(mib(MibId::TcpExtTCPAbortOnTimeout), 1u);
  EXPECT_EQ(sent_count(), 4u) << "no retransmission when it gives up";
  sock_put(sk);
}

TEST_F(TcpTimersTest, keepalive_with_user_timeout_resets_once_the_user_timeout_passed) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  sock_hold(sk);
  const Nanos t0 = now();
  sk->keepalive_time = 1 * HZ;
  sk->keepalive_intvl = 1 * HZ;
  sk->keepalive_probes = 9;
  sk->icsk_user_timeout = 2500;
  tcp_set_keepalive(sk, 1);
  sock_set_flag(sk, SOCK_KEEPOPEN);
  // Probes at +1 s and +2 s; TCP_USER_TIMEOUT (not the 9 probes) decides:
  // at +3 s the peer has been silent for more than 2.5 s.
  advance_ms(2999);
  EXPECT_EQ(sent_count(), 2u);
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  advance_ms(1);
  ASSERT_EQ(sent_count(), 3u);
  EXPECT_TRUE(last_sent().has(kTcpRst));
  EXPECT_EQ(now() - t0, 3000 * kNsPerMs);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
  sock_put(sk);
}

TEST_F(TcpTimersTest, retransmissions_into_a_zero_window_stop_at_the_user_timeout) {
  TcpSock* sk = open_with_rtt(100, /*sack=*/false);
  sock_hold(sk);
  sk->icsk_user_timeout = 1000;
  const Nanos t0 = now();
  ASSERT_EQ(send_bytes(sk, 100), 100);
  advance_ms(10);
  inject(".", peer_nxt_, data_seq(0), 0);  // the peer shrinks its window to 0
  ASSERT_EQ(sk->snd_wnd, 0u);
  // The RTOs (+300, +900, +1300) are window probes; the peer answered
  // once, so only TCP_USER_TIMEOUT ends it: the first RTO more than 1 s
  // after the first retransmission, clamped to +1301.
  advance_ms(1290);
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  EXPECT_EQ(sent_count(), 4u);
  EXPECT_EQ(mib(MibId::TcpExtTCPTimeouts), 0u) << "zero-window probing is not a timeout";
  advance_ms(1);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
  EXPECT_EQ(now() - t0, 1301 * kNsPerMs);
  EXPECT_EQ(sent_count(), 4u);
  sock_put(sk);
}

}  // namespace
}  // namespace sp::test
