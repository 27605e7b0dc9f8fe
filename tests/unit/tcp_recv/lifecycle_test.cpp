// The edges of a connection's life: TIME_WAIT reuse by a newer SYN, the
// FIN_WAIT2 timeout of an orphan, ICMP errors and path MTU, D-SACK.
#include <cerrno>

#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

class LifecycleTest : public TcpRecvTest {
 protected:
  // An ICMP error quoting a segment we sent (20-byte IPv4 header + 8 bytes
  // of TCP), as the IP layer hands it to tcp_v4_err.
  void icmp_error(const ParsedSeg& quoted, int type, int code, std::uint32_t info) {
    std::vector<std::uint8_t> q(28, 0);
    q[0] = 0x45;
    store_be16(q.data() + 2, 40);
    q[9] = 6;
    store_be32(q.data() + 12, quoted.saddr);
    store_be32(q.data() + 16, quoted.daddr);
    store_be16(q.data() + 20, quoted.sport);
    store_be16(q.data() + 22, quoted.dport);
    store_be32(q.data() + 24, quoted.seq);
    SkbPtr skb = alloc_skb(64);
    std::copy(q.begin(), q.end(), skb_put(skb.get(), static_cast<std::uint32_t>(q.size())));
    tcp_v4_err(st_, skb.get(), type, code, info);
  }
};

TEST_F(LifecycleTest, new_syn_with_higher_sequence_reopens_a_time_wait_connection) {
  TcpSock* child = passive_open(1000);
  ASSERT_NE(child, nullptr);
  sock_hold(child);
  // The peer closes first; we close too; the peer's last ACK... here we are
  // the active closer: shut down, they ACK and FIN.
  tcp_shutdown(child, SEND_SHUTDOWN);
  ParsedSeg fin = last_sent();
  inject(".", peer_nxt_, fin.seq + 1, 65535);
  inject("F.", peer_nxt_, fin.seq + 1, 65535);
  ASSERT_EQ(st_.tcp().tw_count(), 1u);
  clear_sent();
  // A new SYN on the same 4-tuple, above the old sequence space.
  inject("S", peer_nxt_ + 100000, 0, 65535, TcpOpts().with_mss(1460));
  EXPECT_EQ(st_.tcp().tw_count(), 0u);
  EXPECT_EQ(mib(MibId::TcpExtTWRecycled), 1u);
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg synack = pop_sent();
  EXPECT_TRUE(synack.has(kTcpSyn | kTcpAck));
  EXPECT_TRUE(after(synack.seq, fin.seq + 65535)) << "the new ISN is beyond the old connection's";
  sock_put(child);
}

TEST_F(LifecycleTest, old_syn_to_a_time_wait_connection_is_answered_with_an_ack) {
  TcpSock* child = passive_open(1000);
  ASSERT_NE(child, nullptr);
  sock_hold(child);
  tcp_shutdown(child, SEND_SHUTDOWN);
  ParsedSeg fin = last_sent();
  inject(".", peer_nxt_, fin.seq + 1, 65535);
  inject("F.", peer_nxt_, fin.seq + 1, 65535);
  clear_sent();
  inject("S", 900, 0, 65535, TcpOpts().with_mss(1460));  // an old duplicate
  EXPECT_EQ(st_.tcp().tw_count(), 1u);
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg a = pop_sent();
  EXPECT_EQ(a.flags, kTcpAck);
  EXPECT_EQ(a.ack, peer_nxt_ + 1);
  sock_put(child);
}

TEST_F(LifecycleTest, orphan_in_fin_wait2_is_closed_after_tcp_fin_timeout) {
  st_.sysctl().tcp_fin_timeout = 30;
  TcpSock* child = passive_open(1000);
  ASSERT_NE(child, nullptr);
  tcp_close(child, 0);  // the application is gone
  ParsedSeg fin = last_sent();
  ASSERT_TRUE(fin.has(kTcpFin));
  inject(".", peer_nxt_, fin.seq + 1, 65535);
  // Without the application a FIN_WAIT2 connection becomes a time-wait sock
  // that expires after tcp_fin_timeout.
  EXPECT_EQ(st_.tcp().tw_count(), 1u);
  advance_ms(29 * 1000);
  EXPECT_EQ(st_.tcp().tw_count(), 1u);
  advance_ms(2 * 1000);
  EXPECT_EQ(st_.tcp().tw_count(), 0u);
}

TEST_F(LifecycleTest, data_after_fin_wait2_reaches_time_wait_via_the_minisock) {
  TcpSock* child = passive_open(1000);
  ASSERT_NE(child, nullptr);
  tcp_close(child, 0);
  ParsedSeg fin = last_sent();
  inject(".", peer_nxt_, fin.seq + 1, 65535);
  ASSERT_EQ(st_.tcp().tw_count(), 1u);
  clear_sent();
  inject("F.", peer_nxt_, fin.seq + 1, 65535);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(pop_sent().ack, peer_nxt_ + 1) << "the FIN is ACKed from FIN_WAIT2's minisock";
  EXPECT_EQ(st_.tcp().tw_count(), 1u);
  advance_ms(61 * 1000);
  EXPECT_EQ(st_.tcp().tw_count(), 0u);
  EXPECT_EQ(mib(MibId::TcpExtTW), 1u);
}

TEST_F(LifecycleTest, icmp_port_unreachable_while_connecting_fails_the_connect) {
  TcpSock* sk = new_sock();
  sock_hold(sk);
  sockaddr_in sin = peer_sockaddr();
  ASSERT_EQ(tcp_v4_connect(sk, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ParsedSeg syn = pop_sent();
  icmp_error(syn, 3, 3, 0);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ECONNREFUSED);
  sock_put(sk);
}

TEST_F(LifecycleTest, icmp_error_on_an_established_connection_is_soft) {
  TcpSock* sk = active_open();
  ASSERT_EQ(send_bytes(sk, 100), 100);
  ParsedSeg seg = last_sent();
  icmp_error(seg, 3, 1, 0);  // host unreachable
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  EXPECT_EQ(sk->sk_err, 0);
  EXPECT_EQ(sk->sk_err_soft, EHOSTUNREACH);
}

TEST_F(LifecycleTest, icmp_quoting_a_sequence_not_in_flight_is_ignored) {
  TcpSock* sk = active_open();
  ParsedSeg bogus = last_sent();
  bogus.seq += 100000;
  icmp_error(bogus, 3, 1, 0);
  EXPECT_EQ(sk->sk_err_soft, 0);
  EXPECT_EQ(mib(MibId::TcpExtOutOfWindowIcmps), 1u);
}

TEST_F(LifecycleTest, frag_needed_shrinks_the_mss_and_resends_smaller_segments) {
  TcpSock* sk = active_open();
  ASSERT_EQ(send_bytes(sk, 1400), 1400);
  ParsedSeg seg = last_sent();
  ASSERT_EQ(seg.payload_len, 1400u);
  clear_sent();
  icmp_error(seg, 3, 4, 1000);  // fragmentation needed, next-hop MTU 1000
  EXPECT_LE(sk->mss_cache, 960u);
  ASSERT_GE(sent_count(), 1u);
  for (const ParsedSeg& s : dev_->sent) EXPECT_LE(s.payload_len, 960u);
  EXPECT_EQ(dev_->sent.front().seq, seg.seq) << "the lost segment is resent at once";
  EXPECT_EQ(sk->snd_cwnd, 10u) << "a path MTU change is not congestion";
}

TEST_F(LifecycleTest, duplicate_data_is_reported_with_a_dsack_block) {
  TcpSock* sk = passive_open(1000, 65535, TcpOpts().with_mss(1460).with_sack_perm());
  ASSERT_NE(sk, nullptr);
  inject("P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload_of(100));
  advance_ms(300);
  clear_sent();
  inject("P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload_of(100));
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg a = pop_sent();
  ASSERT_EQ(a.sack.size(), 1u);
  EXPECT_EQ(a.sack[0], std::make_pair(peer_nxt_, peer_nxt_ + 100))
      << "RFC 2883: the first block is the duplicate";
}

}  // namespace
}  // namespace sp::test
