// Bad input: every malformed or unacceptable segment is dropped, counted
// under the kernel's drop reason (and MIB counter), and answered the way
// RFC 9293 / RFC 5961 say.
#include <cerrno>

#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

using DropTest = TcpRecvTest;
using R = SkbDropReason;

TEST_F(DropTest, bad_checksum_is_dropped_as_tcp_csum_and_counted_in_csum_errors) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  auto p = tcp_pkt(in_flow(), "P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload("hello"));
  p[20 + 16] ^= 0x55;  // TCP checksum field
  inject(p);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_CSUM), 1u);
  EXPECT_EQ(mib(MibId::TcpInCsumErrors), 1u);
  EXPECT_EQ(mib(MibId::TcpInErrs), 1u);
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_) << "no data was taken";
}

TEST_F(DropTest, segment_shorter_than_a_tcp_header_is_pkt_too_small) {
  auto p = tcp_pkt(in_flow(), "S", 1, 0, 100);
  p.resize(20 + 12);
  store_be16(p.data() + 2, static_cast<std::uint16_t>(p.size()));
  inject(p);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_PKT_TOO_SMALL), 1u);
  EXPECT_EQ(mib(MibId::TcpInErrs), 1u);
}

TEST_F(DropTest, data_offset_below_five_words_is_pkt_too_small) {
  auto p = tcp_pkt(in_flow(), "S", 1, 0, 100);
  p[20 + 12] = 4 << 4;
  fix_tcp_csum(p);
  inject(p);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_PKT_TOO_SMALL), 1u);
}

TEST_F(DropTest, data_offset_past_the_segment_is_pkt_too_small) {
  auto p = tcp_pkt(in_flow(), "S", 1, 0, 100);
  p[20 + 12] = 15 << 4;  // 60-byte header in a 20-byte segment
  fix_tcp_csum(p);
  inject(p);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_PKT_TOO_SMALL), 1u);
}

TEST_F(DropTest, segment_for_a_closed_port_is_no_socket_and_answered_with_rst) {
  inject("S", 1000, 0, 65535);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_NO_SOCKET), 1u);
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg rst = pop_sent();
  EXPECT_EQ(rst.flags, kTcpRst | kTcpAck);
  EXPECT_EQ(rst.seq, 0u);
  EXPECT_EQ(rst.ack, 1001u);
  EXPECT_EQ(mib(MibId::TcpOutRsts), 1u);
}

TEST_F(DropTest, ack_for_a_closed_port_gets_rst_with_seq_from_the_ack) {
  inject(".", 1000, 4242, 65535);
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg rst = pop_sent();
  EXPECT_EQ(rst.flags, kTcpRst);
  EXPECT_EQ(rst.seq, 4242u);
}

TEST_F(DropTest, rst_for_a_closed_port_is_never_answered) {
  inject("R", 1000, 0, 0);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_NO_SOCKET), 1u);
  EXPECT_EQ(sent_count(), 0u);
}

TEST_F(DropTest, segment_beyond_the_window_is_invalid_sequence_and_gets_a_duplicate_ack) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  const std::uint32_t far = peer_nxt_ + sk->rcv_wnd + 1000;
  inject("P.", far, our_isn_ + 1, 65535, {}, payload("x"));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_INVALID_SEQUENCE), 1u);
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg ack = pop_sent();
  EXPECT_EQ(ack.ack, peer_nxt_) << "the ACK tells the peer where we are";
}

TEST_F(DropTest, segment_wholly_before_the_window_is_old_sequence) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  inject("P.", peer_nxt_ - 100, our_isn_ + 1, 65535, {}, payload("old"));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_OLD_SEQUENCE), 1u);
}

TEST_F(DropTest, retransmitted_data_already_received_is_old_data_and_acked_at_once) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  inject("P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload("hello"));
  clear_sent();
  advance_ms(300);  // let any delayed ACK go
  clear_sent();
  inject("P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload("hello"));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_OLD_DATA), 1u);
  ASSERT_EQ(sent_count(), 1u) << "the duplicate is ACKed immediately";
  EXPECT_EQ(pop_sent().ack, peer_nxt_ + 5);
  EXPECT_EQ(mib(MibId::TcpExtDelayedACKLost), 1u);
}

TEST_F(DropTest, data_starting_at_the_right_window_edge_is_overwindow) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  const std::uint32_t edge = sk->rcv_nxt + tcp_receive_window(sk);
  inject("P.", edge, our_isn_ + 1, 65535, {}, payload("x"));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_OVERWINDOW), 1u);
}

TEST_F(DropTest, data_into_a_zero_window_is_zerowindow) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  // We advertised nothing more (as a full receive buffer would).
  sk->rcv_wup = sk->rcv_nxt;
  sk->rcv_wnd = 0;
  inject("P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload("x"));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_ZEROWINDOW), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPZeroWindowDrop), 1u);
}

TEST_F(DropTest, old_timestamp_is_rejected_by_paws) {
  st_.sysctl().tcp_timestamps = 1;
  TcpSock* sk = passive_open(1000, 65535, TcpOpts().with_mss(1460).with_ts(5000u, 0u));
  ASSERT_NE(sk, nullptr);
  ASSERT_TRUE(sk->rx_opt.tstamp_ok);
  inject("P.", peer_nxt_, our_isn_ + 1, 65535, TcpOpts().with_ts(6000u, 0u), payload("a"));
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_ + 1);
  inject("P.", peer_nxt_ + 1, our_isn_ + 1, 65535, TcpOpts().with_ts(4000u, 0u), payload("b"));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_RFC7323_PAWS), 1u);
  EXPECT_EQ(mib(MibId::TcpExtPAWSEstab), 1u);
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_ + 1);
}

TEST_F(DropTest, synack_with_a_wrong_ack_is_invalid_ack_sequence_and_reset) {
  TcpSock* sk = new_sock();
  sockaddr_in sin = peer_sockaddr();
  sk->inet_rcv_saddr = sk->inet_saddr = be_addr(10, 0, 0, 1);
  ASSERT_EQ(st_.tcp().inet_csk_get_port(sk, kLocalPort), 0);
  ASSERT_EQ(tcp_v4_connect(sk, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ParsedSeg syn = pop_sent();
  inject("S.", 5000, syn.seq + 77, 65535, TcpOpts().with_mss(1460));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_INVALID_ACK_SEQUENCE), 1u);
  EXPECT_EQ(sk->sk_state, TCP_SYN_SENT);
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg rst = pop_sent();
  EXPECT_EQ(rst.flags, kTcpRst);
  EXPECT_EQ(rst.seq, syn.seq + 77);
}

TEST_F(DropTest, ack_not_covering_our_syn_in_syn_recv_is_old_ack_and_reset) {
  TcpSock* sk = connect_sock();
  ParsedSeg syn = pop_sent();
  inject("S", 9000, 0, 65535, TcpOpts().with_mss(1460));
  ASSERT_EQ(sk->sk_state, TCP_SYN_RECV);
  clear_sent();
  inject(".", 9001, syn.seq, 65535);  // acknowledges nothing
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_OLD_ACK), 1u);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_TRUE(pop_sent().has(kTcpRst));
}

TEST_F(DropTest, ack_far_below_snd_una_is_too_old_ack_and_challenged) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  // A changed window keeps it off the header-prediction fast path, which
  // (like Linux's) would queue in-order data before looking at the ACK.
  inject(".", peer_nxt_, our_isn_ + 1 - 100000, 60000, {}, payload("z"));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_TOO_OLD_ACK), 1u);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(pop_sent().ack, peer_nxt_) << "challenge ACK";
  EXPECT_EQ(mib(MibId::TcpExtTCPChallengeACK), 1u);
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_) << "its data is not taken";
}

TEST_F(DropTest, ack_for_data_never_sent_is_ack_unsent_data) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  inject(".", peer_nxt_, our_isn_ + 1 + 5000, 65535);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_ACK_UNSENT_DATA), 1u);
  EXPECT_EQ(sk->snd_una, our_isn_ + 1);
}

TEST_F(DropTest, rst_at_rcv_nxt_resets_the_connection) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  sock_hold(sk);
  inject("R", peer_nxt_, 0, 0);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_RESET), 1u);
  EXPECT_EQ(sk->sk_state, TCP_CLOSE);
  EXPECT_EQ(sk->sk_err, ECONNRESET);
  sock_put(sk);
}

TEST_F(DropTest, rst_inside_the_window_but_not_at_rcv_nxt_gets_a_challenge_ack) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  inject("R", peer_nxt_ + 10, 0, 0);
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED) << "RFC 5961 3.2: not reset";
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_RESET), 1u);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(pop_sent().ack, peer_nxt_);
}

TEST_F(DropTest, segment_without_ack_rst_or_syn_is_tcp_flags) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  inject("P", peer_nxt_, 0, 65535, {}, payload("noack"));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_FLAGS), 1u);
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_);
}

TEST_F(DropTest, syn_fin_to_a_listener_is_tcp_flags) {
  listen_sock();
  inject("SF", 1, 0, 100);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_FLAGS), 1u);
  EXPECT_EQ(sent_count(), 0u);
}

TEST_F(DropTest, syn_on_an_established_connection_is_invalid_syn_with_challenge_ack) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  inject("S", peer_nxt_ + 5, 0, 65535);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_INVALID_SYN), 1u);
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(pop_sent().ack, peer_nxt_);
  EXPECT_EQ(mib(MibId::TcpExtTCPSYNChallenge), 1u);
}

TEST_F(DropTest, out_of_order_segment_already_held_is_ofomerge) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  inject("P.", peer_nxt_ + 100, our_isn_ + 1, 65535, {}, payload_of(50));
  inject("P.", peer_nxt_ + 110, our_isn_ + 1, 65535, {}, payload_of(20));
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_OFOMERGE), 1u);
  EXPECT_EQ(sk->out_of_order_queue.size(), 1u);
}

TEST_F(DropTest, challenge_acks_are_rate_limited) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  for (int i = 0; i < 5; i++) inject("S", peer_nxt_ + 5, 0, 65535);
  EXPECT_EQ(drops(R::SKB_DROP_REASON_TCP_INVALID_SYN), 5u);
  EXPECT_EQ(sent_count(), 1u) << "one challenge ACK per tcp_invalid_ratelimit (500 ms)";
  advance_ms(600);
  inject("S", peer_nxt_ + 5, 0, 65535);
  EXPECT_EQ(sent_count(), 2u);
}

// No inbound bytes may crash the stack: mutations of valid segments and
// random garbage, against a listener and an established connection.
TEST_F(DropTest, random_and_mutated_segments_never_crash_the_stack) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  auto rnd = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const char* flagsets[] = {"S", "S.", ".", "P.", "F.", "R", "R.", "SF", "SR", "FPU", ""};
  for (int i = 0; i < 3000; i++) {
    std::uint32_t seq = (rnd() & 1) ? peer_nxt_ + static_cast<std::uint32_t>(rnd() % 70000) - 1000
                                    : static_cast<std::uint32_t>(rnd());
    std::uint32_t ack = (rnd() & 1) ? our_isn_ + 1 + static_cast<std::uint32_t>(rnd() % 10)
                                    : static_cast<std::uint32_t>(rnd());
    TcpOpts o;
    if (rnd() & 1)
      o.ts = std::make_pair(static_cast<std::uint32_t>(rnd()), static_cast<std::uint32_t>(rnd()));
    if (rnd() % 4 == 0)
      o.sack.push_back({static_cast<std::uint32_t>(rnd()), static_cast<std::uint32_t>(rnd())});
    if (rnd() % 8 == 0) o.mss = static_cast<std::uint16_t>(rnd());
    if (rnd() % 8 == 0) o.wscale = static_cast<std::uint8_t>(rnd());
    auto p =
        tcp_pkt(in_flow(), flagsets[rnd() % std::size(flagsets)], seq, ack,
                static_cast<std::uint16_t>(rnd()), o, payload_of(rnd() % 3 ? rnd() % 1400 : 0));
    // Mutate a few bytes of the TCP header or options, then fix the
    // checksum half of the time so the mutation reaches the state machine.
    int n = static_cast<int>(rnd() % 4);
    for (int k = 0; k < n; k++) p[20 + rnd() % (p.size() - 20)] = static_cast<std::uint8_t>(rnd());
    if (rnd() & 1) fix_tcp_csum(p);
    if (rnd() % 16 == 0) p.resize(20 + rnd() % 40);  // truncated
    if (p.size() < 20) continue;
    store_be16(p.data() + 2, static_cast<std::uint16_t>(p.size()));
    inject(p);
    if (rnd() % 64 == 0) advance_ms(rnd() % 3000);
  }
  SUCCEED();
}

}  // namespace
}  // namespace sp::test
