// ip_queue_xmit -> neighbour -> device, with software GSO and checksums.
#include <gtest/gtest.h>

#include "ip/gso.hpp"
#include "ip/neighbour.hpp"
#include "ip_helpers.hpp"

namespace sp {
namespace {

using test::ip;
using test::make_tcp_skb;
using test::RecordingDevice;
using test::TcpSkbSpec;

constexpr std::uint64_t kOffload = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO;
const MacAddr kPeerMac{0x02, 0, 0, 0, 0, 0x02};

struct IpOutputTest : ::testing::Test {
  VirtualClock clock;
  Stack stack{clock};
  RecordingDevice* dev = nullptr;
  int ifindex = 0;
  be32 local = ip("10.0.0.1"), peer = ip("10.0.0.2");

  void attach(std::uint64_t features, LinkType t = LinkType::kEthernet) {
    auto d = std::make_unique<RecordingDevice>(features, t);
    dev = d.get();
    ifindex = stack.register_netdev(std::move(d));
    stack.add_address(ifindex, local, 24);
  }
  IpXmitParams params(std::uint16_t* id = nullptr) {
    IpXmitParams p;
    p.saddr = local;
    p.daddr = peer;
    p.ip_id = id;
    return p;
  }
  TcpSkbSpec spec(std::uint32_t len) {
    TcpSkbSpec s;
    s.len = len;
    s.saddr = local;
    s.daddr = peer;
    return s;
  }
  // The IPv4 header of a sent frame.
  Ipv4View iph(const SkBuff* skb, std::vector<std::uint8_t>& bytes) {
    bytes = test::frame_bytes(skb);
    const std::size_t off = dev->hard_header_len;
    auto v = Ipv4View::parse({bytes.data() + off, bytes.size() - off});
    EXPECT_TRUE(v.ok());
    return *v;
  }
};

TEST_F(IpOutputTest, pushes_a_valid_ipv4_header) {
  attach(kOffload);
  stack.neigh_add(ifindex, peer, kPeerMac);
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(100)), params()), 0);
  ASSERT_EQ(dev->sent.size(), 1u);
  std::vector<std::uint8_t> b;
  Ipv4View v = iph(dev->sent[0].get(), b);
  EXPECT_EQ(v.tot_len(), 20 + 32 + 100);
  EXPECT_EQ(v.ttl(), 64);
  EXPECT_EQ(v.protocol(), 6);
  EXPECT_TRUE(v.df());
  EXPECT_EQ(v.saddr(), ntohl(local));
  EXPECT_EQ(v.daddr(), ntohl(peer));
  EXPECT_TRUE(v.verify_checksum());
  EXPECT_EQ(stack.mib().get(MibId::IpOutRequests), 1u);
}

TEST_F(IpOutputTest, ethernet_header_carries_the_neighbour_mac) {
  attach(kOffload);
  stack.neigh_add(ifindex, peer, kPeerMac);
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(10)), params()), 0);
  auto b = test::frame_bytes(dev->sent[0].get());
  auto eth = EthernetRepr::parse(b);
  ASSERT_TRUE(eth.ok());
  EXPECT_EQ(eth->dst, kPeerMac);
  EXPECT_EQ(eth->src, dev->dev_addr);
  EXPECT_EQ(eth->ethertype, ETH_P_IP);
}

TEST_F(IpOutputTest, raw_ip_device_gets_no_link_header) {
  attach(kOffload, LinkType::kRawIp);
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(10)), params()), 0);
  ASSERT_EQ(dev->sent.size(), 1u);
  EXPECT_EQ(dev->sent[0]->data[0] >> 4, 4);
  EXPECT_EQ(dev->sent[0]->len, 20u + 32 + 10);
}

TEST_F(IpOutputTest, socket_counter_numbers_packets_and_advances_by_segments) {
  attach(kOffload);
  stack.neigh_add(ifindex, peer, kPeerMac);
  std::uint16_t id = 500;
  TcpSkbSpec s = spec(3000);
  s.gso_size = 1000;
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(s), params(&id)), 0);
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(10)), params(&id)), 0);
  std::vector<std::uint8_t> b;
  EXPECT_EQ(iph(dev->sent[0].get(), b).id(), 500);
  EXPECT_EQ(iph(dev->sent[1].get(), b).id(), 503);
  EXPECT_EQ(id, 504);
}

TEST_F(IpOutputTest, socketless_df_packet_has_id_zero) {
  attach(kOffload);
  stack.neigh_add(ifindex, peer, kPeerMac);
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(0)), params()), 0);
  std::vector<std::uint8_t> b;
  EXPECT_EQ(iph(dev->sent[0].get(), b).id(), 0);
}

TEST_F(IpOutputTest, no_route_is_ehostunreach_and_counted) {
  attach(kOffload);
  IpXmitParams p = params();
  p.daddr = ip("192.0.2.1");
  EXPECT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(10)), p), -EHOSTUNREACH);
  EXPECT_EQ(stack.mib().get(MibId::IpOutNoRoutes), 1u);
  EXPECT_TRUE(dev->sent.empty());
}

TEST_F(IpOutputTest, packet_above_the_path_mtu_is_refused) {
  attach(kOffload);
  stack.neigh_add(ifindex, peer, kPeerMac);
  stack.update_pmtu(peer, 1000);
  EXPECT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(1200)), params()), -EMSGSIZE);
  EXPECT_EQ(stack.mib().get(MibId::IpFragFails), 1u);
  EXPECT_TRUE(dev->sent.empty());
}

TEST_F(IpOutputTest, tso_device_receives_the_gso_skb_whole) {
  attach(kOffload);
  stack.neigh_add(ifindex, peer, kPeerMac);
  TcpSkbSpec s = spec(20000);
  s.gso_size = 1448;
  s.paged = true;
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(s), params()), 0);
  ASSERT_EQ(dev->sent.size(), 1u);
  EXPECT_EQ(dev->sent[0]->len, 14u + 20 + 32 + 20000);
  EXPECT_EQ(dev->sent[0]->ip_summed, IpSummed::CHECKSUM_PARTIAL);
}

TEST_F(IpOutputTest, checksum_is_completed_in_software_without_offload) {
  attach(NETIF_F_SG);
  stack.neigh_add(ifindex, peer, kPeerMac);
  TcpSkbSpec s = spec(777);
  s.paged = true;
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(s), params()), 0);
  ASSERT_EQ(dev->sent.size(), 1u);
  EXPECT_NE(dev->sent[0]->ip_summed, IpSummed::CHECKSUM_PARTIAL);
  auto b = test::frame_bytes(dev->sent[0].get());
  auto tcp = TcpView::parse({b.data() + 34, b.size() - 34});
  ASSERT_TRUE(tcp.ok());
  EXPECT_TRUE(tcp->verify_checksum(ntohl(local), ntohl(peer)));
}

TEST_F(IpOutputTest, unresolved_neighbour_queues_and_solicits) {
  attach(kOffload);
  std::vector<be32> asked;
  stack.neigh().set_solicit(
      [&](NetDevice&, be32 target, const SkBuff*) { asked.push_back(target); });
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(1)), params()), 0);
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(2)), params()), 0);
  EXPECT_TRUE(dev->sent.empty());
  EXPECT_EQ(asked, std::vector<be32>{peer});
  Neighbour* n = stack.neigh().lookup(ifindex, peer);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->nud_state, NudState::kIncomplete);
  EXPECT_EQ(n->arp_queue.size(), 2u);
}

TEST_F(IpOutputTest, answer_releases_queued_packets_in_order) {
  attach(kOffload);
  stack.neigh().set_solicit([](NetDevice&, be32, const SkBuff*) {});
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(1)), params()), 0);
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(2)), params()), 0);
  stack.neigh().neigh_update(peer, kPeerMac);
  ASSERT_EQ(dev->sent.size(), 2u);
  EXPECT_EQ(dev->sent[0]->len, 14u + 20 + 32 + 1);
  EXPECT_EQ(dev->sent[1]->len, 14u + 20 + 32 + 2);
  auto eth = EthernetRepr::parse(test::frame_bytes(dev->sent[1].get()));
  EXPECT_EQ(eth->dst, kPeerMac);
  EXPECT_EQ(stack.neigh().lookup(ifindex, peer)->nud_state, NudState::kReachable);
}

TEST_F(IpOutputTest, solicitation_is_retried_then_fails_and_drops_the_queue) {
  attach(kOffload);
  int solicits = 0;
  stack.neigh().set_solicit([&](NetDevice&, be32, const SkBuff*) { ++solicits; });
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(1)), params()), 0);
  for (int i = 0; i < 5; ++i) {
    clock.advance_by(kNsPerSec);
    stack.run_timers();
  }
  EXPECT_EQ(solicits, 3);
  Neighbour* n = stack.neigh().lookup(ifindex, peer);
  EXPECT_EQ(n->nud_state, NudState::kFailed);
  EXPECT_TRUE(n->arp_queue.empty());
  EXPECT_EQ(stack.mib().get(MibId::IpOutDiscards), 1u);
  EXPECT_TRUE(dev->sent.empty());
}

TEST_F(IpOutputTest, neighbour_queue_is_bounded_dropping_the_oldest) {
  attach(kOffload);
  stack.neigh().set_solicit([](NetDevice&, be32, const SkBuff*) {});
  const std::uint32_t truesize = make_tcp_skb(spec(10))->truesize;
  stack.neigh().parms().queue_len_bytes = 3 * truesize;
  for (std::uint32_t i = 1; i <= 10; ++i)
    ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(i)), params()), 0);
  Neighbour* n = stack.neigh().lookup(ifindex, peer);
  EXPECT_LE(n->arp_queue_len_bytes, 3u * truesize);
  EXPECT_LT(n->arp_queue.size(), 10u);
  EXPECT_GT(stack.neigh().stats().unres_discards, 0u);
  stack.neigh().neigh_update(peer, kPeerMac);
  // The newest packet survived: the last one sent carries 10 payload bytes.
  ASSERT_FALSE(dev->sent.empty());
  EXPECT_EQ(dev->sent.back()->len, 14u + 20 + 32 + 10);
}

TEST_F(IpOutputTest, reachable_entry_goes_stale_and_is_still_used) {
  attach(kOffload);
  int solicits = 0;
  stack.neigh().set_solicit([&](NetDevice&, be32, const SkBuff*) { ++solicits; });
  stack.neigh().neigh_update(ifindex, peer, kPeerMac, /*create=*/true);
  clock.advance_by(31 * kNsPerSec);
  stack.run_timers();
  EXPECT_EQ(stack.neigh().lookup(ifindex, peer)->nud_state, NudState::kStale);
  ASSERT_EQ(stack.ip_queue_xmit(make_tcp_skb(spec(5)), params()), 0);
  EXPECT_EQ(dev->sent.size(), 1u);  // sent at once
  EXPECT_EQ(solicits, 1);           // and re-confirmed in the background
}

TEST_F(IpOutputTest, static_entry_is_not_overwritten_by_an_answer) {
  attach(kOffload);
  stack.neigh_add(ifindex, peer, kPeerMac);
  stack.neigh().neigh_update(peer, MacAddr{0x02, 9, 9, 9, 9, 9});
  EXPECT_EQ(stack.neigh().lookup(ifindex, peer)->ha, kPeerMac);
  EXPECT_EQ(stack.neigh().lookup(ifindex, peer)->nud_state, NudState::kPermanent);
}

}  // namespace
}  // namespace sp
