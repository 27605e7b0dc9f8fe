// A segment whose TCP header lies (partly) in page frags, as a GRO'd or
// paged device read delivers it: tcp_v4_rcv copies it linear first
// (pskb_may_pull) and then handles it like any other.
#include <cstring>

#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

// The rx skb for ip_packet with only `linear` bytes of the TCP segment in
// the head and the rest in one page frag.
SkbPtr make_paged_rx_skb(const std::vector<std::uint8_t>& ip_packet, std::uint32_t linear) {
  const std::uint32_t ihl = (ip_packet[0] & 0x0f) * 4u;
  SkbPtr skb = alloc_skb_with_headroom(64, ihl + linear);
  skb_put_data(skb.get(), ip_packet.data(), ihl + linear);
  skb_reset_network_header(skb.get());
  skb_pull(skb.get(), ihl);
  skb_reset_transport_header(skb.get());
  const auto rest = static_cast<std::uint32_t>(ip_packet.size()) - ihl - linear;
  Page* p = alloc_pages(0);
  std::memcpy(p->addr, ip_packet.data() + ihl + linear, rest);
  skb_fill_page_desc(skb.get(), 0, p, 0, rest);
  skb->len += rest;
  skb->data_len += rest;
  skb->truesize += rest;
  skb->protocol = 0x0800;
  return skb;
}

class PagedHeaderTest : public TcpRecvTest {
 protected:
  // A SYN to the listener with opts, delivered with `linear` bytes of its
  // TCP header in the skb's head.
  void inject_paged_syn(const TcpOpts& opts, std::uint32_t linear) {
    tcp_v4_rcv(st_, make_paged_rx_skb(tcp_pkt(in_flow(), "S", 777, 0, 65535, opts), linear));
  }
};

TEST_F(PagedHeaderTest, syn_with_its_fixed_header_in_a_frag_is_answered) {
  listen_sock();
  inject_paged_syn(TcpOpts().with_mss(1000), 8);  // 8 of the 20 fixed bytes linear
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg s = pop_sent();
  EXPECT_EQ(s.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(s.ack, 778u);
}

TEST_F(PagedHeaderTest, syn_with_its_options_in_a_frag_is_answered_with_them) {
  listen_sock();
  inject_paged_syn(TcpOpts().with_mss(1000).with_wscale(7), 20);  // options paged
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg s = pop_sent();
  EXPECT_EQ(s.flags, kTcpSyn | kTcpAck);
  EXPECT_TRUE(s.wscale.has_value()) << "the window scale option in the frag was read";
}

}  // namespace
}  // namespace sp::test
