// Ethernet II, ARP and ICMP.
#include <gtest/gtest.h>

#include "trace.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"

namespace sp {
namespace {

using test::Bytes;
using test::bytes;
using test::cat;

constexpr MacAddr kMacA = {0x02, 0, 0, 0, 0, 0x0a};
constexpr MacAddr kMacB = {0x02, 0, 0, 0, 0, 0x0b};

Bytes eth(const MacAddr& dst, const MacAddr& src, std::uint16_t type, const Bytes& payload) {
  Bytes b(ETH_HLEN);
  EthernetRepr{dst, src, type}.emit(b.data());
  return cat(b, payload);
}

Bytes arp(std::uint16_t op, const MacAddr& sha, Ipv4Addr sip, const MacAddr& tha, Ipv4Addr tip) {
  Bytes b(kArpEthIpv4Len);
  ArpRepr{op, sha, sip, tha, tip}.emit(b.data());
  return b;
}

// --- Ethernet --------------------------------------------------------------

TEST(Ethernet, frame_fields_read_back_as_emitted) {
  Bytes f = eth(kBroadcastMac, kMacA, ETH_P_ARP, bytes({1, 2, 3}));
  auto v = EthernetView::parse(f);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->dst(), kBroadcastMac);
  EXPECT_EQ(v->src(), kMacA);
  EXPECT_EQ(v->ethertype(), ETH_P_ARP);
  EXPECT_EQ(v->payload().size(), 3u);
  EXPECT_EQ(f[12], 0x08);
  EXPECT_EQ(f[13], 0x06);
}

TEST(Ethernet, repr_round_trips) {
  EthernetRepr r{kMacA, kMacB, ETH_P_IP};
  Bytes f(ETH_HLEN);
  r.emit(f.data());
  EXPECT_EQ(*EthernetRepr::parse(f), r);
}

TEST(Ethernet, frame_shorter_than_14_bytes_is_too_short) {
  Bytes f = eth(kMacA, kMacB, ETH_P_IP, {});
  f.pop_back();
  EXPECT_EQ(EthernetView::parse(f).error(), WireError::kTruncated);
}

TEST(Ethernet, mac_prints_as_colon_hex) {
  EXPECT_EQ(mac_to_string(kMacB), "02:00:00:00:00:0b");
}

// --- ARP ----------------------------------------------------------------------

TEST(Arp, request_for_the_server_reads_back) {
  Bytes p = arp(ARPOP_REQUEST, kMacA, test::kClient, kZeroMac, test::kServer);
  EXPECT_EQ(Bytes(p.begin(), p.begin() + 8), bytes({0, 1, 8, 0, 6, 4, 0, 1}));
  auto r = ArpRepr::parse(p);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->op, ARPOP_REQUEST);
  EXPECT_EQ(r->sha, kMacA);
  EXPECT_EQ(r->sip, test::kClient);
  EXPECT_EQ(r->tip, test::kServer);
}

TEST(Arp, reply_with_ethernet_padding_parses) {
  Bytes p = cat(arp(ARPOP_REPLY, kMacB, test::kServer, kMacA, test::kClient), Bytes(18, 0));
  auto r = ArpRepr::parse(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (ArpRepr{ARPOP_REPLY, kMacB, test::kServer, kMacA, test::kClient}));
}

TEST(Arp, truncated_packet_is_too_short) {
  Bytes p = arp(ARPOP_REPLY, kMacB, test::kServer, kMacA, test::kClient);
  p.resize(27);
  EXPECT_EQ(ArpRepr::parse(p).error(), WireError::kTruncated);
  p.resize(7);
  EXPECT_EQ(ArpRepr::parse(p).error(), WireError::kTruncated);
}

TEST(Arp, non_ethernet_hardware_is_rejected) {
  Bytes p = arp(ARPOP_REQUEST, kMacA, test::kClient, kZeroMac, test::kServer);
  p[1] = 6;  // IEEE 802
  EXPECT_EQ(ArpRepr::parse(p).error(), WireError::kArpBadHardware);
}

TEST(Arp, non_ipv4_protocol_is_rejected) {
  Bytes p = arp(ARPOP_REQUEST, kMacA, test::kClient, kZeroMac, test::kServer);
  p[5] = 16;
  EXPECT_EQ(ArpRepr::parse(p).error(), WireError::kArpBadProtocol);
}

TEST(Arp, rarp_operation_is_rejected) {
  Bytes p = arp(3, kMacA, test::kClient, kZeroMac, test::kServer);
  EXPECT_EQ(ArpRepr::parse(p).error(), WireError::kArpBadOperation);
}

// --- ICMP ---------------------------------------------------------------------

TEST(Icmp, echo_request_round_trips_with_valid_checksum) {
  Bytes data = bytes({'p', 'i', 'n', 'g', '!'});
  IcmpRepr r{ICMP_ECHO, 0, (0x1234u << 16) | 7, data};
  Bytes b(r.len());
  r.emit(b.data());
  auto v = IcmpView::parse(b);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->verify_checksum());
  EXPECT_EQ(v->echo_id(), 0x1234);
  EXPECT_EQ(v->echo_seq(), 7);
  auto back = IcmpRepr::parse(b);
  ASSERT_TRUE(back);
  EXPECT_EQ(Bytes(back->payload.begin(), back->payload.end()), data);
}

TEST(Icmp, corrupted_message_fails_checksum) {
  IcmpRepr r{ICMP_ECHOREPLY, 0, 1, {}};
  Bytes b(r.len());
  r.emit(b.data());
  b[5] ^= 0x80;
  EXPECT_EQ(IcmpRepr::parse(b).error(), WireError::kIcmpBadChecksum);
}

TEST(Icmp, shorter_than_8_bytes_is_too_short) {
  EXPECT_EQ(IcmpView::parse(bytes({3, 4, 0, 0, 0, 0, 5})).error(), WireError::kTruncated);
}

TEST(Icmp, frag_needed_gives_next_hop_mtu_and_the_quoted_tcp_segment) {
  // A router says 1400 fits; it quotes our IPv4 header and 8 bytes of TCP.
  Bytes quoted = test::ipv4(IPPROTO_TCP_, test::tcp(".", 5000, 1, 100, {}, 1000));
  quoted.resize(28);
  IcmpRepr r{ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400, quoted};
  Bytes b(r.len());
  r.emit(b.data());
  auto v = IcmpView::parse(b);
  ASSERT_TRUE(v);
  EXPECT_TRUE(icmp_is_error(v->type()));
  EXPECT_EQ(v->next_hop_mtu(), 1400);
  auto q = icmp_parse_quote(v->payload());
  ASSERT_TRUE(q) << to_string(q.error());
  EXPECT_EQ(*q, (IcmpQuote{IPPROTO_TCP_, test::kClient, test::kServer, test::kClientPort,
                           test::kServerPort, 5000}));
}

TEST(Icmp, quote_shorter_than_header_plus_8_is_rejected) {
  Bytes quoted = test::ipv4(IPPROTO_TCP_, test::tcp(".", 1, 1, 1));
  quoted.resize(27);
  EXPECT_EQ(icmp_parse_quote(quoted).error(), WireError::kIcmpQuotedTooShort);
}

TEST(Icmp, quote_with_options_must_hold_8_bytes_after_them) {
  Bytes quoted = test::ipv4(IPPROTO_TCP_, test::tcp(".", 1, 1, 1));
  quoted[0] = 0x46;  // 4 bytes of options: 24 + 8 needed, 31 quoted
  quoted.resize(31);
  EXPECT_EQ(icmp_parse_quote(quoted).error(), WireError::kIcmpQuotedTooShort);
}

TEST(Icmp, quote_of_non_ipv4_header_is_rejected) {
  Bytes quoted = test::ipv4(IPPROTO_TCP_, test::tcp(".", 1, 1, 1));
  quoted[0] = 0x60;
  EXPECT_EQ(icmp_parse_quote(quoted).error(), WireError::kIcmpQuotedBadHeader);
}

}  // namespace
}  // namespace sp
