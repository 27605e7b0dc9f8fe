// Sender-side reactions on virtual time: RTT estimation (RFC 6298), RTO
// backoff, zero-window probing, TIME_WAIT, RST in each state, keepalive.
#include <cerrno>

#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

class TimerTest : public TcpRecvTest {
 protected:
  // Active open whose SYN-ACK arrives `rtt_ms` after the SYN left.
  TcpSock* open_with_rtt(std::uint32_t rtt_ms, std::uint16_t peer_win = 65535) {
    TcpSock* sk = connect_sock();
    ParsedSeg syn = pop_sent();
    our_isn_ = syn.seq;
    peer_nxt_ = 5001;
    advance_ms(rtt_ms);
    inject("S.", 5000, our_isn_ + 1, peer_win, TcpOpts().with_mss(1460));
    EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
    clear_sent();
    return sk;
  }
  void ack_to(TcpSock* sk, std::uint32_t ack, std::uint16_t win = 65535) {
    (void)sk;
    inject(".", peer_nxt_, ack, win);
  }
  // We close first: our FIN, the peer's ACK of it, then the peer's FIN.
  void close_first(TcpSock* sk) {
    tcp_shutdown(sk, SEND_SHUTDOWN);
    const ParsedSeg fin = last_sent();
    inject(".", peer_nxt_, fin.seq + 1, 65535);
    inject("F.", peer_nxt_, fin.seq + 1, 65535);
  }
};

TEST_F(TimerTest, first_rtt_sample_sets_srtt_and_rttvar_per_rfc6298) {
  TcpSock* sk = open_with_rtt(100);
  // RFC 6298 2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR = 3R.
  EXPECT_EQ(sk->srtt_us >> 3, 100000u);
  EXPECT_EQ(sk->mdev_us, 200000u) << "4 * RTTVAR";
  EXPECT_EQ(inet_csk(sk)->icsk_rto, 300u);
}

TEST_F(TimerTest, later_samples_are_smoothed_with_gains_one_eighth_and_one_quarter) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 100), 100);
  ASSERT_EQ(sent_count(), 1u);
  advance_ms(200);
  ack_to(sk, our_isn_ + 1 + 100);
  // RFC 6298 2.3: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms,
  // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms, RTO = 112.5 + 4 * 62.5 = 362.5 ms.
  EXPECT_EQ(sk->srtt_us >> 3, 112500u);
  EXPECT_EQ(sk->mdev_us, 250000u);
  EXPECT_EQ(inet_csk(sk)->icsk_rto, 363u);
}

TEST_F(TimerTest, rto_is_never_below_srtt_plus_200ms) {
  TcpSock* sk = open_with_rtt(10);
  EXPECT_EQ(inet_csk(sk)->icsk_rto, 210u)
      << "rttvar is floored at rto_min (Linux: RTO >= SRTT + 200 ms)";
}

TEST_F(TimerTest, rto_doubles_on_successive_timeouts_and_retransmits_the_head) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 100), 100);
  ASSERT_EQ(sent_count(), 1u);
  const std::uint32_t seq = dev_->sent.front().seq;
  advance_ms(300 + 600 + 1200 + 10);
  ASSERT_EQ(sent_count(), 4u);
  EXPECT_EQ(dev_->sent_at[1] - dev_->sent_at[0], 300 * kNsPerMs);
  EXPECT_EQ(dev_->sent_at[2] - dev_->sent_at[1], 600 * kNsPerMs);
  EXPECT_EQ(dev_->sent_at[3] - dev_->sent_at[2], 1200 * kNsPerMs);
  for (const ParsedSeg& s : dev_->sent) {
    EXPECT_EQ(s.seq, seq) << "always the earliest unacknowledged segment";
    EXPECT_EQ(s.payload_len, 100u);
  }
  EXPECT_EQ(inet_csk(sk)->icsk_rto, 2400u);
  EXPECT_EQ(sk->snd_cwnd, 1u) << "RFC 5681 3.1: loss window after an RTO";
  EXPECT_EQ(mib(MibId::TcpExtTCPTimeouts), 3u);
}

TEST_F(TimerTest, user_timeout_gives_up_retransmitting_after_that_long) {
  TcpSock* sk = open_with_rtt(100);
  sock_hold(sk);
  sk->icsk_user_timeout = 2000;  // TCP_USER_TIMEOUT, ms
  ASSERT_EQ(send_bytes(sk, 100), 100);
  advance_ms(1900);
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  advance_ms(400);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
  sock_put(sk);
}

TEST_F(TimerTest, rto_is_capped_at_120_seconds) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 100), 100);
  for (int i = 0; i < 12; i++) advance_ms(130000);
  EXPECT_EQ(inet_csk(sk)->icsk_rto, TCP_RTO_MAX);
}

TEST_F(TimerTest, ack_after_a_retransmission_gives_no_rtt_sample_karn) {
  TcpSock* sk = open_with_rtt(100);
  const std::uint32_t srtt = sk->srtt_us;
  ASSERT_EQ(send_bytes(sk, 100), 100);
  advance_ms(300);  // RTO: retransmitted
  ASSERT_EQ(sent_count(), 2u);
  advance_ms(5);
  ack_to(sk, our_isn_ + 1 + 100);
  EXPECT_EQ(sk->srtt_us, srtt) << "ambiguous: the ACK may be for either transmission";
  EXPECT_EQ(inet_csk(sk)->icsk_rto, 600u) << "the backed-off RTO stays until a valid sample";
}

TEST_F(TimerTest, ack_of_all_data_stops_the_retransmit_timer) {
  TcpSock* sk = open_with_rtt(100);
  ASSERT_EQ(send_bytes(sk, 100), 100);
  advance_ms(50);
  ack_to(sk, our_isn_ + 1 + 100);
  EXPECT_EQ(sk->packets_out, 0u);
  clear_sent();
  advance_ms(5000);
  EXPECT_EQ(sent_count(), 0u);
}

TEST_F(TimerTest, zero_window_is_probed_with_backoff_and_recovers_when_it_opens) {
  TcpSock* sk = open_with_rtt(100, 0);
  ASSERT_EQ(sk->snd_wnd, 0u);
  const Nanos t0 = clock_.now_ns();
  ASSERT_EQ(send_bytes(sk, 1000), 1000);
  EXPECT_EQ(sent_count(), 0u) << "nothing fits a zero window";
  advance_ms(300 + 600 + 1200 + 10);
  ASSERT_EQ(sent_count(), 3u);
  for (const ParsedSeg& s : dev_->sent) {
    EXPECT_EQ(s.payload_len, 0u);
    EXPECT_EQ(s.seq, our_isn_) << "probe: snd_una - 1, which the peer must answer";
  }
  // The persist timer starts at the RTO (300 ms) and doubles per probe.
  EXPECT_EQ(dev_->sent_at[0] - t0, 300 * kNsPerMs);
  EXPECT_EQ(dev_->sent_at[1] - dev_->sent_at[0], 600 * kNsPerMs);
  EXPECT_EQ(dev_->sent_at[2] - dev_->sent_at[1], 1200 * kNsPerMs);
  clear_sent();
  // The peer's window opens: the data goes.
  ack_to(sk, our_isn_ + 1, 65535);
  ASSERT_GE(sent_count(), 1u);
  std::uint32_t bytes = 0;
  for (const ParsedSeg& s : dev_->sent) bytes += s.payload_len;
  EXPECT_EQ(bytes, 1000u);
  EXPECT_EQ(inet_csk(sk)->icsk_backoff, 0);
}

TEST_F(TimerTest, window_update_is_taken_from_newer_segments_only) {
  TcpSock* sk = open_with_rtt(10, 1000);
  ASSERT_EQ(sk->snd_wnd, 1000u);
  inject(".", peer_nxt_, our_isn_ + 1, 8000);
  EXPECT_EQ(sk->snd_wnd, 8000u) << "same SEG.SEQ, larger window: taken";
  EXPECT_EQ(sk->max_window, 8000u);
  inject(".", peer_nxt_, our_isn_ + 1, 4000);
  EXPECT_EQ(sk->snd_wnd, 8000u) << "same SEG.SEQ, smaller window: a reordered old ACK, ignored";
  inject("P.", peer_nxt_, our_isn_ + 1, 4000, {}, payload_of(10));
  EXPECT_EQ(sk->snd_wnd, 8000u) << "data at the same SEG.SEQ is not newer either";
  inject(".", peer_nxt_ + 10, our_isn_ + 1, 4000);
  EXPECT_EQ(sk->snd_wnd, 4000u) << "a newer segment (SND.WL1 < SEG.SEQ) may shrink it";
}

TEST_F(TimerTest, time_wait_is_entered_by_the_active_closer_and_left_after_60s) {
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  tcp_shutdown(sk, SEND_SHUTDOWN);
  ASSERT_EQ(sk->sk_state, TCP_FIN_WAIT1);
  ASSERT_GE(sent_count(), 1u);
  ParsedSeg fin = last_sent();
  ASSERT_TRUE(fin.has(kTcpFin));
  inject(".", peer_nxt_, fin.seq + 1, 65535);  // their ACK of our FIN
  EXPECT_EQ(sk->sk_state, TCP_FIN_WAIT2);
  clear_sent();
  inject("F.", peer_nxt_, fin.seq + 1, 65535);  // their FIN
  EXPECT_EQ(st_.tcp().tw_count(), 1u);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE) << "the full socket is gone, a time-wait sock remains";
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(pop_sent().ack, peer_nxt_ + 1) << "their FIN is ACKed";
  // A retransmitted FIN (our ACK was lost) is ACKed again and restarts 2MSL.
  advance_ms(30000);
  inject("F.", peer_nxt_, fin.seq + 1, 65535);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(pop_sent().ack, peer_nxt_ + 1);
  advance_ms(59000);
  EXPECT_EQ(st_.tcp().tw_count(), 1u);
  advance_ms(1001);
  EXPECT_EQ(st_.tcp().tw_count(), 0u);
  EXPECT_EQ(mib(MibId::TcpExtTW), 1u);
  sock_put(sk);
}

TEST_F(TimerTest, passive_closer_goes_close_wait_last_ack_closed_without_time_wait) {
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  inject("F.", peer_nxt_, our_isn_ + 1, 65535);
  ASSERT_EQ(sk->sk_state, TCP_CLOSE_WAIT);
  clear_sent();
  tcp_shutdown(sk, SEND_SHUTDOWN);
  ASSERT_EQ(sk->sk_state, TCP_LAST_ACK);
  ParsedSeg fin = last_sent();
  inject(".", peer_nxt_ + 1, fin.seq + 1, 65535);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(st_.tcp().tw_count(), 0u);
  sock_put(sk);
}

TEST_F(TimerTest, simultaneous_close_goes_through_closing_to_time_wait) {
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  tcp_shutdown(sk, SEND_SHUTDOWN);
  ParsedSeg fin = last_sent();
  inject("F.", peer_nxt_, our_isn_ + 1, 65535);  // their FIN, not acking ours
  EXPECT_EQ(sk->sk_state, TCP_CLOSING);
  inject(".", peer_nxt_ + 1, fin.seq + 1, 65535);
  EXPECT_EQ(st_.tcp().tw_count(), 1u);
  sock_put(sk);
}

TEST_F(TimerTest, rst_in_syn_sent_refuses_the_connection) {
  TcpSock* sk = new_sock();
  sock_hold(sk);
  sockaddr_in sin = peer_sockaddr();
  ASSERT_EQ(tcp_v4_connect(sk, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ParsedSeg syn = pop_sent();
  Flow f{ipv4_addr(10, 0, 0, 2), ipv4_addr(10, 0, 0, 1), kPeerPort, ntohs(sk->inet_sport)};
  inject(tcp_pkt(f, "R.", 0, syn.seq + 1, 0));
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ECONNREFUSED);
  sock_put(sk);
}

TEST_F(TimerTest, rst_without_ack_in_syn_sent_is_ignored) {
  TcpSock* sk = new_sock();
  sockaddr_in sin = peer_sockaddr();
  ASSERT_EQ(tcp_v4_connect(sk, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  Flow f{ipv4_addr(10, 0, 0, 2), ipv4_addr(10, 0, 0, 1), kPeerPort, ntohs(sk->inet_sport)};
  inject(tcp_pkt(f, "R", 0, 0, 0));
  EXPECT_EQ(sk->sk_state, TCP_SYN_SENT);
}

TEST_F(TimerTest, rst_for_a_request_sock_drops_the_embryonic_connection) {
  TcpSock* l = listen_sock();
  inject("S", 100, 0, 65535, TcpOpts().with_mss(1460));
  ASSERT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 1u);
  inject("R", 101, 0, 0);
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 0u);
  EXPECT_EQ(mib(MibId::TcpExtEmbryonicRsts), 1u);
}

TEST_F(TimerTest, rst_in_established_resets_with_econnreset) {
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  inject("R", peer_nxt_, 0, 0);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ECONNRESET);
  sock_put(sk);
}

TEST_F(TimerTest, rst_in_close_wait_reports_epipe) {
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  inject("F.", peer_nxt_, our_isn_ + 1, 65535);
  ASSERT_EQ(sk->sk_state, TCP_CLOSE_WAIT);
  inject("R", peer_nxt_ + 1, 0, 0);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, EPIPE);
  sock_put(sk);
}

TEST_F(TimerTest, rst_in_fin_wait1_resets) {
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  tcp_shutdown(sk, SEND_SHUTDOWN);
  ASSERT_EQ(sk->sk_state, TCP_FIN_WAIT1);
  inject("R", peer_nxt_, 0, 0);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ECONNRESET);
  sock_put(sk);
}

TEST_F(TimerTest, rst_in_time_wait_ends_it_early) {
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  close_first(sk);
  ASSERT_EQ(st_.tcp().tw_count(), 1u);
  inject("R", peer_nxt_ + 1, 0, 0);
  EXPECT_EQ(st_.tcp().tw_count(), 0u) << "tcp_rfc1337 = 0: a RST kills TIME_WAIT";
  sock_put(sk);
}

// net.ipv4.tcp_max_tw_buckets full: the connection that would enter
// TIME_WAIT closes at once instead, counted as TCPTimeWaitOverflow
// (tcp_time_wait's "TCP: time wait bucket table overflow").
TEST_F(TimerTest, tcp_max_tw_buckets_full_closes_without_time_wait) {
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_max_tw_buckets", "0"), "");
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  close_first(sk);
  EXPECT_EQ(st_.tcp().tw_count(), 0u);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(st_.mib().get(MibId::TcpExtTCPTimeWaitOverflow), 1u);
  sock_put(sk);
}

TEST_F(TimerTest, keepalive_probes_an_idle_connection_and_gives_up_without_answer) {
  TcpSock* sk = open_with_rtt(10);
  sock_hold(sk);
  sk->keepalive_time = 10 * HZ;
  sk->keepalive_intvl = 1 * HZ;
  sk->keepalive_probes = 3;
  tcp_set_keepalive(sk, 1);
  sock_set_flag(sk, SOCK_KEEPOPEN);
  advance_ms(10 * 1000 + 10);
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg probe = pop_sent();
  EXPECT_EQ(probe.seq, our_isn_) << "keepalive: an ACK with snd_una - 1";
  EXPECT_EQ(probe.payload_len, 0u);
  advance_ms(3 * 1000 + 10);
  ASSERT_EQ(sent_count(), 3u) << "two more probes, one per interval, then the RST";
  EXPECT_TRUE(last_sent().has(kTcpRst)) << "Linux resets a connection keepalive gives up on";
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
  sock_put(sk);
}

TEST_F(TimerTest, answered_keepalive_keeps_the_connection) {
  TcpSock* sk = open_with_rtt(10);
  sk->keepalive_time = 10 * HZ;
  sk->keepalive_intvl = 1 * HZ;
  sk->keepalive_probes = 3;
  tcp_set_keepalive(sk, 1);
  sock_set_flag(sk, SOCK_KEEPOPEN);
  for (int i = 0; i < 5; i++) {
    advance_ms(10 * 1000 + 10);
    ack_to(sk, our_isn_ + 1);  // the peer answers each probe
  }
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
}

}  // namespace
}  // namespace sp::test
