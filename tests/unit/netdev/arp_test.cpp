// ARP on a recording Ethernet device: replies for our addresses, learning,
// resolution with queued packets, retransmits and failure on virtual time,
// gratuitous announcements.
#include "ip/arp.hpp"

#include "gtest/gtest.h"
#include "ip/neighbour.hpp"
#include "stack_fixture.hpp"

namespace sp {
namespace {

using namespace test;

constexpr MacAddr kOurMac = {0x02, 0x5e, 0x00, 0x00, 0x00, 0x02};

ArpRepr sent_arp(const Frame& f, EthernetRepr* e = nullptr) {
  auto eh = EthernetRepr::parse(f);
  EXPECT_TRUE(eh.ok());
  if (e && eh) *e = *eh;
  EXPECT_EQ(eh->ethertype, ETH_P_ARP);
  auto a = ArpRepr::parse(std::span<const std::uint8_t>(f).subspan(ETH_HLEN));
  EXPECT_TRUE(a.ok());
  return a ? *a : ArpRepr{};
}

// An IP packet handed to the IP layer towards the peer (a UDP-ish payload;
// ARP does not care what it is).
void send_ip_to_peer(StackFixture& f) {
  SkbPtr skb = alloc_skb_with_headroom(128, 8);
  skb_reset_transport_header(skb.get());
  std::memset(skb_put(skb.get(), 8), 0xab, 8);
  IpXmitParams p;
  p.saddr = be(kOurIp);
  p.daddr = be(kPeerIp);
  p.protocol = 253;  // RFC 3692 experimental
  p.df = false;
  ASSERT_EQ(f.stack.ip_queue_xmit(std::move(skb), p), 0);
}

TEST(Arp, RequestForOurAddressGetsAReplyToTheAsker) {
  StackFixture f;
  f.inject(eth(kBroadcastMac, kPeerMac, ETH_P_ARP,
               arp(ARPOP_REQUEST, kPeerMac, kPeerIp, kZeroMac, kOurIp)));
  ASSERT_EQ(f.sent().size(), 1u);
  EthernetRepr e;
  ArpRepr r = sent_arp(f.sent()[0], &e);
  EXPECT_EQ(e.dst, kPeerMac);
  EXPECT_EQ(e.src, kOurMac);
  EXPECT_EQ(r.op, ARPOP_REPLY);
  EXPECT_EQ(r.sha, kOurMac);
  EXPECT_EQ(r.sip, kOurIp);
  EXPECT_EQ(r.tha, kPeerMac);
  EXPECT_EQ(r.tip, kPeerIp);
}

TEST(Arp, RequestForAnotherHostIsNotAnswered) {
  StackFixture f;
  f.inject(eth(kBroadcastMac, kPeerMac, ETH_P_ARP,
               arp(ARPOP_REQUEST, kPeerMac, kPeerIp, kZeroMac, ipv4_addr(10, 77, 0, 9))));
  EXPECT_TRUE(f.sent().empty());
}

TEST(Arp, RequestForUsTeachesUsTheAskersAddress) {
  StackFixture f;
  f.inject(eth(kBroadcastMac, kPeerMac, ETH_P_ARP,
               arp(ARPOP_REQUEST, kPeerMac, kPeerIp, kZeroMac, kOurIp)));
  Neighbour* n = f.stack.neigh().lookup(f.ifindex, be(kPeerIp));
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->nud_state, NudState::kReachable);
  EXPECT_EQ(n->ha, kPeerMac);
}

TEST(Arp, UnsolicitedReplyCreatesNoCacheEntry) {
  StackFixture f;
  f.inject(eth(kOurMac, kPeerMac, ETH_P_ARP, arp(ARPOP_REPLY, kPeerMac, kPeerIp, kOurMac, kOurIp)));
  EXPECT_EQ(f.stack.neigh().lookup(f.ifindex, be(kPeerIp)), nullptr);
}

TEST(Arp, PacketToUnknownNeighbourSendsBroadcastRequestAndWaits) {
  StackFixture f;
  send_ip_to_peer(f);
  ASSERT_EQ(f.sent().size(), 1u) << "only the request; the packet waits for the answer";
  EthernetRepr e;
  ArpRepr r = sent_arp(f.sent()[0], &e);
  EXPECT_EQ(e.dst, kBroadcastMac);
  EXPECT_EQ(r.op, ARPOP_REQUEST);
  EXPECT_EQ(r.sip, kOurIp);
  EXPECT_EQ(r.tip, kPeerIp);
  EXPECT_EQ(r.tha, kZeroMac);
}

TEST(Arp, ReplyReleasesTheQueuedPacketToTheLearnedAddress) {
  StackFixture f;
  send_ip_to_peer(f);
  send_ip_to_peer(f);
  f.sent().clear();
  f.inject(eth(kOurMac, kPeerMac, ETH_P_ARP, arp(ARPOP_REPLY, kPeerMac, kPeerIp, kOurMac, kOurIp)));
  ASSERT_EQ(f.sent().size(), 2u);
  for (const Frame& fr : f.sent()) {
    auto e = EthernetRepr::parse(fr);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->dst, kPeerMac);
    EXPECT_EQ(e->ethertype, ETH_P_IP);
  }
}

TEST(Arp, ResolvedNeighbourIsUsedWithoutAskingAgain) {
  StackFixture f;
  send_ip_to_peer(f);
  f.inject(eth(kOurMac, kPeerMac, ETH_P_ARP, arp(ARPOP_REPLY, kPeerMac, kPeerIp, kOurMac, kOurIp)));
  f.sent().clear();
  send_ip_to_peer(f);
  ASSERT_EQ(f.sent().size(), 1u);
  EXPECT_EQ(EthernetRepr::parse(f.sent()[0])->ethertype, ETH_P_IP);
}

TEST(Arp, UnansweredRequestIsRetriedThenTheEntryFails) {
  StackFixture f;
  send_ip_to_peer(f);
  const int max_probes = f.stack.neigh().parms().max_probes;
  const Nanos retrans = f.stack.neigh().parms().retrans_time;
  for (int i = 0; i < max_probes + 2; ++i) {
    f.clock.advance_by(retrans);
    f.stack.poll();
  }
  int requests = 0;
  for (const Frame& fr : f.sent()) {
    if (EthernetRepr::parse(fr)->ethertype == ETH_P_ARP) ++requests;
    EXPECT_NE(EthernetRepr::parse(fr)->ethertype, ETH_P_IP) << "the queued packet never leaves";
  }
  EXPECT_EQ(requests, max_probes);
  Neighbour* n = f.stack.neigh().lookup(f.ifindex, be(kPeerIp));
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->nud_state, NudState::kFailed);
  EXPECT_EQ(arp_stats(f.stack).tx_requests, static_cast<std::uint64_t>(max_probes));
}

TEST(Arp, StaleEntryIsReconfirmedWithAUnicastRequest) {
  StackFixture f;
  send_ip_to_peer(f);
  f.inject(eth(kOurMac, kPeerMac, ETH_P_ARP, arp(ARPOP_REPLY, kPeerMac, kPeerIp, kOurMac, kOurIp)));
  // Past reachable_time the entry goes stale; the next packet still leaves
  // at once, and ARP re-asks the host it believes has the address directly.
  for (int i = 0; i < 4; ++i) {
    f.clock.advance_by(f.stack.neigh().parms().reachable_time);
    f.stack.poll();
  }
  f.sent().clear();
  send_ip_to_peer(f);
  for (int i = 0; i < 4; ++i) {
    f.clock.advance_by(f.stack.neigh().parms().retrans_time);
    f.stack.poll();
  }
  bool unicast_probe = false, ip_sent = false;
  for (const Frame& fr : f.sent()) {
    EthernetRepr e;
    if (EthernetRepr::parse(fr)->ethertype == ETH_P_IP) {
      ip_sent = true;
      continue;
    }
    ArpRepr r = sent_arp(fr, &e);
    if (r.op == ARPOP_REQUEST && e.dst == kPeerMac && r.tip == kPeerIp) unicast_probe = true;
  }
  EXPECT_TRUE(ip_sent) << "a stale entry is still used";
  EXPECT_TRUE(unicast_probe) << "re-confirmation goes to the known MAC, not broadcast";
}

TEST(Arp, AnnounceSendsGratuitousRequestForEachAddress) {
  StackFixture f;
  f.stack.add_address(f.ifindex, be(ipv4_addr(10, 88, 0, 2)), 24);
  EXPECT_EQ(arp_announce(f.stack, f.ifindex), 2);
  ASSERT_EQ(f.sent().size(), 2u);
  EthernetRepr e;
  ArpRepr r = sent_arp(f.sent()[0], &e);
  EXPECT_EQ(e.dst, kBroadcastMac);
  EXPECT_EQ(r.op, ARPOP_REQUEST);
  EXPECT_EQ(r.sip, kOurIp);
  EXPECT_EQ(r.tip, kOurIp) << "gratuitous: sender and target are both our address";
  EXPECT_EQ(sent_arp(f.sent()[1]).sip, ipv4_addr(10, 88, 0, 2));
  EXPECT_EQ(arp_stats(f.stack).tx_announces, 2u);
}

TEST(Arp, TruncatedArpIsCountedAndIgnored) {
  StackFixture f;
  Frame body = arp(ARPOP_REQUEST, kPeerMac, kPeerIp, kZeroMac, kOurIp);
  body.resize(20);
  f.inject(eth(kBroadcastMac, kPeerMac, ETH_P_ARP, body));
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(arp_stats(f.stack).rx_malformed, 1u);
}

TEST(Arp, SenderWithMulticastMacIsNotBelieved) {
  StackFixture f;
  const MacAddr mc = {0x01, 0x00, 0x5e, 0, 0, 1};
  f.inject(
      eth(kBroadcastMac, kPeerMac, ETH_P_ARP, arp(ARPOP_REQUEST, mc, kPeerIp, kZeroMac, kOurIp)));
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.stack.neigh().lookup(f.ifindex, be(kPeerIp)), nullptr);
}

}  // namespace
}  // namespace sp
