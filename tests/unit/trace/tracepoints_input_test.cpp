// Input-side tracepoints with injected segments (the tcp_recv bench: one
// stack, a fake device, packets built the way a trace reads).
#include "trace/events.hpp"
#include "trace/sinks.hpp"
#include "unit/tcp_recv/tcp_recv_fixture.hpp"
#include "wire/ethernet.hpp"

namespace sp::test {
namespace {

using trace::Ev;
using trace::ev_bit;

using TraceInputTest = TcpRecvTest;

TEST_F(TraceInputTest, bad_checksum_is_traced_as_kfree_skb_tcp_csum) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  trace::Recorder rec(ev_bit(Ev::kfree_skb) | ev_bit(Ev::tcp_probe));
  auto p = tcp_pkt(in_flow(), "P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload("hello"));
  p[20 + 16] ^= 0x55;  // TCP checksum field
  inject(p);
  ASSERT_EQ(drops(SkbDropReason::SKB_DROP_REASON_TCP_CSUM), 1u);
  const auto ev = rec.of<trace::KfreeSkb>(Ev::kfree_skb);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, "TCP_CSUM");
  EXPECT_EQ(ev[0].stack, st_.trace_id());
  EXPECT_EQ(ev[0].t_ns, st_.now());
  EXPECT_EQ(ev[0].len, 20u + 5u) << "the TCP segment (skb->data at the TCP header)";
  EXPECT_EQ(ev[0].protocol, ETH_P_IP);
  EXPECT_EQ(rec.count(Ev::tcp_probe), 0u) << "never reached tcp_rcv_established";
}

TEST_F(TraceInputTest, every_counted_drop_reason_is_traced_with_its_name) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  trace::Recorder rec(ev_bit(Ev::kfree_skb));
  const std::uint64_t before = st_.tcp().drops.total();
  // A segment far outside the window, a SYN to an established connection,
  // a segment to a port nobody listens on.
  inject(".", peer_nxt_ + 10'000'000, our_isn_ + 1, 65535, {}, payload("far"));
  inject("S", peer_nxt_ + 10, 0, 65535);
  inject(
      tcp_pkt(Flow{ipv4_addr(10, 0, 0, 2), ipv4_addr(10, 0, 0, 1), kPeerPort, 9}, "S", 1, 0, 1000));
  const auto ev = rec.of<trace::KfreeSkb>(Ev::kfree_skb);
  ASSERT_EQ(ev.size(), st_.tcp().drops.total() - before);
  ASSERT_GE(ev.size(), 2u);
  for (const auto& e : ev) {
    bool known = false;
    for (std::size_t r = 0; r < kSkbDropReasonCount; ++r)
      known |= e.reason == skb_drop_reason_name(static_cast<SkbDropReason>(r));
    EXPECT_TRUE(known) << e.reason;
  }
  EXPECT_EQ(ev.back().reason, "NO_SOCKET");
}

TEST_F(TraceInputTest, tcp_probe_fires_before_the_segment_is_processed) {
  TcpSock* sk = passive_open();
  ASSERT_NE(sk, nullptr);
  trace::Recorder rec(ev_bit(Ev::tcp_probe));
  const std::uint32_t rcv_nxt = sk->rcv_nxt, rcv_wnd = sk->rcv_wnd, snd_una = sk->snd_una;
  inject("P.", peer_nxt_, our_isn_ + 1, 65535, {}, payload("hello"));
  ASSERT_EQ(sk->rcv_nxt, rcv_nxt + 5);
  const auto ev = rec.of<trace::TcpProbe>(Ev::tcp_probe);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data_len, 5u);
  EXPECT_EQ(ev[0].sport, kLocalPort);
  EXPECT_EQ(ev[0].dport, kPeerPort);
  // The state the segment found, not what its processing left (the ACK
  // for it chose a new window).
  EXPECT_EQ(ev[0].rcv_wnd, rcv_wnd);
  EXPECT_EQ(ev[0].snd_una, snd_una);
}

TEST_F(TraceInputTest, a_full_receive_buffer_is_sock_exceed_buf_limit) {
  TcpSock* sk = passive_open(1000, 65535, TcpOpts().with_mss(1460).with_wscale(7));
  ASSERT_NE(sk, nullptr);
  for (std::uint32_t i = 0; i < 8; ++i)
    inject(".", peer_nxt_ + i * 1460, our_isn_ + 1, 65535, {}, payload_of(1460, 'x'));
  sk->sk_rcvbuf = sk->sk_rmem_alloc / 2;
  sk->sk_userlocks |= SOCK_RCVBUF_LOCK;
  trace::Recorder rec(ev_bit(Ev::sock_exceed_buf_limit) | ev_bit(Ev::kfree_skb));
  inject(".", peer_nxt_ + 8 * 1460, our_isn_ + 1, 65535, {}, payload_of(1460, 'x'));
  ASSERT_EQ(mib(MibId::TcpExtTCPRcvQDrop), 1u);
  const auto ev = rec.of<trace::SockExceedBufLimit>(Ev::sock_exceed_buf_limit);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, "receive");
  EXPECT_EQ(ev[0].limit, sk->sk_rcvbuf);
  EXPECT_GT(ev[0].allocated, ev[0].limit);
  EXPECT_GT(ev[0].size, 1460);
  const auto drops = rec.of<trace::KfreeSkb>(Ev::kfree_skb);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].reason, "PROTO_MEM");
}

}  // namespace
}  // namespace sp::test
