// ICMP: echo replies (ping) and errors reaching the quoted protocol, with
// frag-needed lowering the path MTU.
#include "ip/icmp.hpp"

#include <netinet/in.h>

#include "gtest/gtest.h"
#include "ip/neighbour.hpp"
#include "stack_fixture.hpp"

namespace sp {
namespace {

using namespace test;

constexpr MacAddr kOurMac = {0x02, 0x5e, 0x00, 0x00, 0x00, 0x02};

Frame payload_of(std::size_t n) {
  Frame p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(i);
  return p;
}

struct IcmpFixture : ::testing::Test {
  StackFixture f;
  IcmpFixture() { f.stack.neigh_add(f.ifindex, be(kPeerIp), kPeerMac); }
  void ping(std::uint16_t id, std::uint16_t seq, const Frame& data, Ipv4Addr to = kOurIp) {
    f.inject(eth(kOurMac, kPeerMac, ETH_P_IP,
                 ipv4(kPeerIp, to, IPPROTO_ICMP, icmp(ICMP_ECHO, 0, (id << 16) | seq, data))));
  }
  // The one IPv4 packet sent, parsed.
  std::optional<Ipv4View> sent_ip() {
    if (f.sent().size() != 1) return std::nullopt;
    auto v = Ipv4View::parse(std::span<const std::uint8_t>(f.sent()[0]).subspan(ETH_HLEN));
    if (!v) return std::nullopt;
    return *v;
  }
};

TEST_F(IcmpFixture, EchoRequestGetsReplyWithSameIdSeqAndData) {
  const Frame data = payload_of(56);
  ping(0x1234, 7, data);
  auto ip = sent_ip();
  ASSERT_TRUE(ip.has_value());
  EXPECT_EQ(ip->saddr(), kOurIp);
  EXPECT_EQ(ip->daddr(), kPeerIp);
  EXPECT_EQ(ip->protocol(), IPPROTO_ICMP);
  auto r = IcmpRepr::parse(ip->payload());
  ASSERT_TRUE(r.ok()) << "reply checksum must verify";
  EXPECT_EQ(r->type, ICMP_ECHOREPLY);
  EXPECT_EQ(r->code, 0);
  EXPECT_EQ(r->rest, (0x1234u << 16) | 7u);
  EXPECT_EQ(Frame(r->payload.begin(), r->payload.end()), data);
  EXPECT_EQ(f.stack.mib().get(MibId::IcmpInEchos), 1u);
  EXPECT_EQ(f.stack.mib().get(MibId::IcmpOutEchoReps), 1u);
}

TEST_F(IcmpFixture, EchoWithBadChecksumIsDroppedAndCounted) {
  Frame m = icmp(ICMP_ECHO, 0, 1, payload_of(16));
  m[2] ^= 0x55;
  f.inject(eth(kOurMac, kPeerMac, ETH_P_IP, ipv4(kPeerIp, kOurIp, IPPROTO_ICMP, m)));
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.stack.mib().get(MibId::IcmpInErrors), 1u);
}

TEST_F(IcmpFixture, TruncatedIcmpIsCountedAsError) {
  f.inject(eth(kOurMac, kPeerMac, ETH_P_IP, ipv4(kPeerIp, kOurIp, IPPROTO_ICMP, Frame{8, 0, 0})));
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.stack.mib().get(MibId::IcmpInErrors), 1u);
}

TEST_F(IcmpFixture, EchoReplyIsNotAnswered) {
  f.inject(eth(kOurMac, kPeerMac, ETH_P_IP,
               ipv4(kPeerIp, kOurIp, IPPROTO_ICMP, icmp(ICMP_ECHOREPLY, 0, 1, payload_of(8)))));
  EXPECT_TRUE(f.sent().empty());
}

// A TCP segment we "sent" to a far host, as a router quotes it back.
Frame quoted_tcp(Ipv4Addr dst) {
  Frame tcp = payload_of(20);
  tcp[0] = 0x9c;  // sport 40000
  tcp[1] = 0x40;
  tcp[2] = 0x13;  // dport 5001
  tcp[3] = 0x89;
  Frame ip = ipv4(kOurIp, dst, IPPROTO_TCP, tcp);
  ip.resize(20 + 8);  // RFC 792: header + 64 bits of data
  return ip;
}

struct ErrSeen {
  int calls = 0, type = -1, code = -1;
  std::uint32_t info = 0;
  Ipv4Addr quoted_daddr = 0;
  std::uint16_t quoted_dport = 0;
};

void catch_tcp_errors(Stack& s, ErrSeen* seen) {
  s.register_protocol(
      IPPROTO_TCP, [](SkbPtr) {},
      [seen](const SkBuff* q, int type, int code, std::uint32_t info) {
        seen->calls++;
        seen->type = type;
        seen->code = code;
        seen->info = info;
        seen->quoted_daddr = load_be32(q->data + 16);
        seen->quoted_dport = load_be16(skb_transport_header(q) + 2);
      });
}

TEST_F(IcmpFixture, FragNeededReachesTcpErrHandlerWithNextHopMtu) {
  ErrSeen seen;
  catch_tcp_errors(f.stack, &seen);
  const Ipv4Addr far = ipv4_addr(192, 0, 2, 9);
  const Ipv4Addr router = ipv4_addr(10, 77, 0, 1);
  f.inject(eth(kOurMac, kPeerMac, ETH_P_IP,
               ipv4(router, kOurIp, IPPROTO_ICMP,
                    icmp(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400, quoted_tcp(far)))));
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.type, ICMP_DEST_UNREACH);
  EXPECT_EQ(seen.code, ICMP_FRAG_NEEDED);
  EXPECT_EQ(seen.info, 1400u);
  EXPECT_EQ(seen.quoted_daddr, far);
  EXPECT_EQ(seen.quoted_dport, 5001);
}

TEST_F(IcmpFixture, FragNeededLowersThePathMtuTowardsTheQuotedDestination) {
  f.stack.add_route(0, 0, be(kPeerIp), f.ifindex);  // default via the peer
  const Ipv4Addr far = ipv4_addr(192, 0, 2, 9);
  ASSERT_EQ(f.stack.ip_route_output(be(far)).mtu, 1500u);
  f.inject(eth(kOurMac, kPeerMac, ETH_P_IP,
               ipv4(kPeerIp, kOurIp, IPPROTO_ICMP,
                    icmp(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400, quoted_tcp(far)))));
  EXPECT_EQ(f.stack.ip_route_output(be(far)).mtu, 1400u);
}

TEST_F(IcmpFixture, FragNeededWithImpossibleMtuIsIgnored) {
  ErrSeen seen;
  catch_tcp_errors(f.stack, &seen);
  const Ipv4Addr far = ipv4_addr(192, 0, 2, 9);
  f.inject(eth(kOurMac, kPeerMac, ETH_P_IP,
               ipv4(kPeerIp, kOurIp, IPPROTO_ICMP,
                    icmp(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 40, quoted_tcp(far)))));
  EXPECT_EQ(seen.calls, 0);
}

TEST_F(IcmpFixture, PortUnreachableReachesTcpErrHandler) {
  ErrSeen seen;
  catch_tcp_errors(f.stack, &seen);
  f.inject(eth(kOurMac, kPeerMac, ETH_P_IP,
               ipv4(kPeerIp, kOurIp, IPPROTO_ICMP,
                    icmp(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, quoted_tcp(kPeerIp)))));
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.code, ICMP_PORT_UNREACH);
  EXPECT_EQ(f.stack.mib().get(MibId::IcmpInDestUnreachs), 1u);
}

TEST_F(IcmpFixture, ErrorQuotingSomeoneElsesPacketIsIgnored) {
  ErrSeen seen;
  catch_tcp_errors(f.stack, &seen);
  Frame q = quoted_tcp(kPeerIp);
  // Rewrite the quoted source to an address that is not ours.
  Frame tcp(q.begin() + 20, q.end());
  Frame other = ipv4(ipv4_addr(10, 77, 0, 50), kPeerIp, IPPROTO_TCP, tcp);
  f.inject(eth(
      kOurMac, kPeerMac, ETH_P_IP,
      ipv4(kPeerIp, kOurIp, IPPROTO_ICMP, icmp(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, other))));
  EXPECT_EQ(seen.calls, 0);
}

}  // namespace
}  // namespace sp
