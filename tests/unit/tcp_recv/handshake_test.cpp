// Connection establishment, both ways: option negotiation, ISNs, SYN
// retries, the SYN and accept queues.
#include <linux/net_tstamp.h>

#include <cerrno>

#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

using HandshakeTest = TcpRecvTest;

TEST_F(HandshakeTest, passive_open_answers_syn_with_synack_and_establishes_a_child_on_ack) {
  TcpSock* child = establish_child();
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->rcv_nxt, 1001u);
  EXPECT_EQ(child->snd_una, our_isn_ + 1);
  EXPECT_EQ(inet_csk(listener_)->icsk_accept_queue.accept_q.size(), 1u);
  EXPECT_EQ(inet_csk(listener_)->icsk_accept_queue.qlen, 0u) << "the request left the SYN queue";
  EXPECT_EQ(mib(MibId::TcpPassiveOpens), 1u);
}

TEST_F(HandshakeTest, synack_acknowledges_the_syn_and_offers_our_mss) {
  listen_sock();
  inject("S", 777, 0, 65535, TcpOpts().with_mss(1000));
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg s = pop_sent();
  EXPECT_EQ(s.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(s.ack, 778u);
  ASSERT_TRUE(s.mss.has_value());
  EXPECT_EQ(*s.mss, 1460) << "our MSS (MTU 1500 - 40), whatever the peer's is";
  EXPECT_FALSE(s.wscale.has_value()) << "no window scale unless the SYN offered it";
  EXPECT_FALSE(s.sack_perm);
}

TEST_F(HandshakeTest, a_synack_counts_once_in_tcp_out_segs) {
  listen_sock();
  inject("S", 777, 0, 65535, TcpOpts().with_mss(1460));
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(mib(MibId::TcpOutSegs), 1u) << "tcp_make_synack counts it; sending it does not again";
}

TEST_F(HandshakeTest, synack_echoes_negotiated_sack_wscale_and_timestamps) {
  st_.sysctl().tcp_timestamps = 1;
  listen_sock();
  inject("S", 777, 0, 65535,
         TcpOpts().with_mss(1460).with_wscale(7).with_sack_perm().with_ts(100u, 0u));
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg s = pop_sent();
  EXPECT_TRUE(s.sack_perm);
  ASSERT_TRUE(s.wscale.has_value());
  ASSERT_TRUE(s.ts.has_value());
  EXPECT_EQ(s.ts->second, 100u) << "TSecr echoes the SYN's TSval";
}

TEST_F(HandshakeTest, active_open_acks_the_synack_and_adopts_peer_window_and_mss) {
  TcpSock* sk = active_open(5000, 30000, TcpOpts().with_mss(1000));
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg ack = pop_sent();
  EXPECT_EQ(ack.flags & (kTcpAck | kTcpSyn), kTcpAck);
  EXPECT_EQ(ack.ack, 5001u);
  EXPECT_EQ(ack.seq, our_isn_ + 1);
  EXPECT_EQ(sk->snd_wnd, 30000u) << "the SYN-ACK window is never scaled";
  EXPECT_EQ(sk->rx_opt.mss_clamp, 1000);
  EXPECT_LE(sk->mss_cache, 1000u);
}

TEST_F(HandshakeTest, window_scale_applies_only_after_the_handshake) {
  TcpSock* sk = active_open(5000, 1000, TcpOpts().with_mss(1460).with_wscale(4));
  ASSERT_NE(sk, nullptr);
  EXPECT_EQ(sk->snd_wnd, 1000u);
  EXPECT_EQ(sk->rx_opt.snd_wscale, 4);
  inject(".", 5001, our_isn_ + 1, 1000);
  EXPECT_EQ(sk->snd_wnd, 16000u);
}

TEST_F(HandshakeTest, send_buffer_is_sized_for_two_initial_windows_when_the_connection_opens) {
  TcpSock* sk = active_open();
  ASSERT_NE(sk, nullptr);
  EXPECT_GT(sk->sk_sndbuf, st_.sysctl().tcp_wmem[1])
      << "tcp_init_buffer_space -> tcp_sndbuf_expand";
  EXPECT_GE(sk->sk_sndbuf, static_cast<int>(2 * TCP_INIT_CWND * sk->mss_cache));
}

TEST_F(HandshakeTest, isn_differs_per_connection_and_moves_with_time) {
  std::uint32_t a =
      secure_tcp_seq(st_, be_addr(10, 0, 0, 1), be_addr(10, 0, 0, 2), htons(1000), htons(80));
  std::uint32_t b =
      secure_tcp_seq(st_, be_addr(10, 0, 0, 1), be_addr(10, 0, 0, 2), htons(1001), htons(80));
  EXPECT_NE(a, b);
  clock_.advance_by(64 * 1000);  // the RFC 6528 clock ticks every 64 ns
  std::uint32_t a2 =
      secure_tcp_seq(st_, be_addr(10, 0, 0, 1), be_addr(10, 0, 0, 2), htons(1000), htons(80));
  EXPECT_EQ(a2 - a, 1000u);
}

TEST_F(HandshakeTest, unanswered_syn_is_retried_then_connect_fails_with_etimedout) {
  st_.sysctl().tcp_syn_retries = 2;
  st_.sysctl().tcp_syn_linear_timeouts = 0;
  TcpSock* sk = new_sock();
  sockaddr_in sin = peer_sockaddr();
  ASSERT_EQ(tcp_v4_connect(sk, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(sent_count(), 1u);
  const Nanos t0 = dev_->sent_at.front();
  advance_ms(10000);
  ASSERT_EQ(sent_count(), 3u) << "the SYN and two retries";
  EXPECT_EQ(dev_->sent_at[1] - t0, 1 * kNsPerSec);
  EXPECT_EQ(dev_->sent_at[2] - dev_->sent_at[1], 2 * kNsPerSec) << "the SYN RTO doubles";
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ETIMEDOUT);
}

TEST_F(HandshakeTest, retransmitted_syn_gets_the_same_synack_again) {
  listen_sock();
  inject("S", 777, 0, 65535, TcpOpts().with_mss(1460));
  inject("S", 777, 0, 65535, TcpOpts().with_mss(1460));
  ASSERT_EQ(sent_count(), 2u);
  ParsedSeg a = pop_sent(), b = pop_sent();
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_TRUE(b.has(kTcpSyn | kTcpAck));
}

TEST_F(HandshakeTest, synack_is_retransmitted_with_backoff_then_the_request_expires) {
  st_.sysctl().tcp_synack_retries = 2;
  TcpSock* l = listen_sock();
  inject("S", 777, 0, 65535, TcpOpts().with_mss(1460));
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 1u);
  advance_ms(20000);
  ASSERT_EQ(sent_count(), 3u);
  EXPECT_EQ(dev_->sent_at[1] - dev_->sent_at[0], 1 * kNsPerSec);
  EXPECT_EQ(dev_->sent_at[2] - dev_->sent_at[1], 2 * kNsPerSec);
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 0u);
}

TEST_F(HandshakeTest, full_accept_queue_drops_new_syns_and_counts_overflow) {
  TcpSock* l = listen_sock(1);
  // Clients complete handshakes nobody accepts until the queue is full.
  std::uint16_t port = 5000;
  for (int i = 0; i < 8 && !sk_acceptq_is_full(l); i++, port++) {
    Flow f{ipv4_addr(10, 0, 0, 2), ipv4_addr(10, 0, 0, 1), port, kLocalPort};
    inject(tcp_pkt(f, "S", 100, 0, 65535, TcpOpts().with_mss(1460)));
    ASSERT_EQ(sent_count(), 1u);
    ParsedSeg sa = pop_sent();
    inject(tcp_pkt(f, ".", 101, sa.seq + 1, 65535));
  }
  ASSERT_TRUE(sk_acceptq_is_full(l));
  const std::size_t queued = inet_csk(l)->icsk_accept_queue.accept_q.size();
  // The next client is refused silently: its SYN is dropped.
  inject(tcp_pkt(Flow{ipv4_addr(10, 0, 0, 3), ipv4_addr(10, 0, 0, 1), 5555, kLocalPort}, "S", 9, 0,
                 65535, TcpOpts().with_mss(1460)));
  EXPECT_EQ(sent_count(), 0u);
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.accept_q.size(), queued);
  EXPECT_EQ(mib(MibId::TcpExtListenOverflows), 1u);
  EXPECT_EQ(drops(SkbDropReason::SKB_DROP_REASON_SOCKET_BACKLOG), 1u);
}

TEST_F(HandshakeTest, simultaneous_open_goes_through_syn_recv_to_established) {
  TcpSock* sk = connect_sock();
  ParsedSeg syn = pop_sent();
  inject("S", 9000, 0, 65535, TcpOpts().with_mss(1460));  // their SYN crosses ours
  EXPECT_EQ(sk->sk_state, TCP_SYN_RECV);
  ASSERT_GE(sent_count(), 1u);
  ParsedSeg synack = pop_sent();
  EXPECT_TRUE(synack.has(kTcpSyn | kTcpAck));
  EXPECT_EQ(synack.seq, syn.seq);
  EXPECT_EQ(synack.ack, 9001u);
  // Their SYN-ACK (the answer to our SYN) completes it.
  inject("S.", 9000, syn.seq + 1, 65535, TcpOpts().with_mss(1460));
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
}

// Simultaneous open after our SYN was resent by the RTO: the SYN-ACK is
// tcp_send_synack's transmission of the SYN skb, not a retransmission, so
// retrans_out still counts the skb once (it counted it twice, a
// fuzz_stack_ops finding) and TcpRetransSegs only the RTO's resend.
TEST_F(HandshakeTest, simultaneous_open_synack_after_a_syn_rto_is_not_a_second_retransmission) {
  TcpSock* sk = connect_sock();
  ParsedSeg syn = pop_sent();
  advance(jiffies_to_nsecs(static_cast<std::uint32_t>(TCP_TIMEOUT_INIT)) + kNsPerMs);
  ASSERT_EQ(sent_count(), 1u) << "the SYN went again after the initial RTO";
  pop_sent();
  ASSERT_EQ(sk->retrans_out, 1u);
  const std::uint64_t retrans_segs = mib(MibId::TcpRetransSegs);
  inject("S", 9000, 0, 65535, TcpOpts().with_mss(1460));  // their SYN crosses ours
  EXPECT_EQ(sk->sk_state, TCP_SYN_RECV);
  ASSERT_EQ(sent_count(), 1u);
  const ParsedSeg synack = pop_sent();
  EXPECT_TRUE(synack.has(kTcpSyn | kTcpAck));
  EXPECT_EQ(synack.seq, syn.seq);
  EXPECT_EQ(sk->retrans_out, 1u) << "one skb, sent again once";
  EXPECT_EQ(sk->packets_out, 1u);
  EXPECT_EQ(mib(MibId::TcpRetransSegs), retrans_segs);
  inject("S.", 9000, syn.seq + 1, 65535, TcpOpts().with_mss(1460));
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  EXPECT_EQ(sk->retrans_out, 0u);
  EXPECT_EQ(sk->packets_out, 0u);
}

// SO_ZEROCOPY, SO_TIMESTAMPING and TCP_INQ set on the listener carry over to
// the child, while its zerocopy ids start again at 0 (sk_clone_lock).
TEST_F(HandshakeTest, child_inherits_zerocopy_timestamping_and_inq) {
  listener_ = listen_sock();
  sock_set_flag(listener_, SOCK_ZEROCOPY);
  listener_->sk_tsflags = SOF_TIMESTAMPING_TX_ACK | SOF_TIMESTAMPING_SOFTWARE;
  listener_->sk_zckey = 5;
  listener_->recvmsg_inq = true;
  inject("S", 1000, 0, 65535);
  ASSERT_EQ(sent_count(), 1u);
  const ParsedSeg synack = pop_sent();
  inject(".", 1001, synack.seq + 1, 65535);
  int err = 0;
  Sock* sk = inet_csk_accept(listener_, O_NONBLOCK, &err);
  ASSERT_NE(sk, nullptr);
  TcpSock* child = tcp_sk(sk);
  EXPECT_TRUE(sock_flag(child, SOCK_ZEROCOPY));
  EXPECT_EQ(child->sk_tsflags, SOF_TIMESTAMPING_TX_ACK | SOF_TIMESTAMPING_SOFTWARE);
  EXPECT_EQ(child->sk_zckey, 0u);
  EXPECT_TRUE(child->recvmsg_inq);
}

}  // namespace
}  // namespace sp::test
