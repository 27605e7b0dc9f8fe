// Software GSO (skb_gso_segment) and checksum completion.
#include "ip/gso.hpp"

#include <gtest/gtest.h>

#include "ip_helpers.hpp"

namespace sp {
namespace {

using test::ip;
using test::make_tcp_skb;
using test::TcpSkbSpec;

const be32 kSrc = ip("10.0.0.1"), kDst = ip("10.0.0.2");

// A GSO skb as the device sees it: IPv4 header pushed, data at the IP header.
SkbPtr gso_packet(std::uint32_t len, std::uint16_t mss, std::uint8_t flags, bool paged,
                  std::uint16_t id = 100) {
  TcpSkbSpec s;
  s.len = len;
  s.gso_size = mss;
  s.flags = flags;
  s.paged = paged;
  s.saddr = kSrc;
  s.daddr = kDst;
  s.seq = 5000;
  SkbPtr skb = make_tcp_skb(s);
  Ipv4Repr r;
  r.id = id;
  r.protocol = 6;
  r.saddr = ntohl(kSrc);
  r.daddr = ntohl(kDst);
  r.payload_len = static_cast<std::uint16_t>(skb->len);
  r.emit(skb_push(skb.get(), 20));
  skb_reset_network_header(skb.get());
  return skb;
}

struct Seg {
  Ipv4View ip;
  TcpView tcp;
  std::vector<std::uint8_t> bytes;
};

Seg parse(const SkBuff* skb) {
  Seg s;
  s.bytes = test::frame_bytes(skb);
  auto v = Ipv4View::parse(s.bytes);
  EXPECT_TRUE(v.ok());
  s.ip = *v;
  auto t = TcpView::parse({s.bytes.data() + 20, s.bytes.size() - 20});
  EXPECT_TRUE(t.ok());
  s.tcp = *t;
  return s;
}

TEST(Gso, splits_into_mss_sized_segments_with_a_short_tail) {
  SkbPtr skb = gso_packet(3500, 1000, TCPHDR_ACK, false);
  auto segs = skb_gso_segment(skb.get(), 0);
  ASSERT_EQ(segs.size(), 4u);
  const std::uint32_t want[] = {1000, 1000, 1000, 500};
  for (std::size_t i = 0; i < segs.size(); ++i) {
    Seg s = parse(segs[i].get());
    EXPECT_EQ(s.tcp.payload().size(), want[i]) << i;
    EXPECT_EQ(s.ip.tot_len(), 20 + 32 + want[i]) << i;
  }
}

TEST(Gso, sequence_numbers_and_ip_ids_advance_per_segment) {
  SkbPtr skb = gso_packet(3000, 1000, TCPHDR_ACK, false, 0xfffe);
  auto segs = skb_gso_segment(skb.get(), 0);
  ASSERT_EQ(segs.size(), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) {
    Seg s = parse(segs[i].get());
    EXPECT_EQ(s.tcp.seq(), 5000 + i * 1000);
    EXPECT_EQ(s.ip.id(), static_cast<std::uint16_t>(0xfffe + i));  // wraps
    EXPECT_TRUE(s.ip.verify_checksum());
  }
}

TEST(Gso, psh_and_fin_only_on_the_last_cwr_only_on_the_first) {
  SkbPtr skb = gso_packet(3000, 1000, TCPHDR_ACK | TCPHDR_PSH | TCPHDR_FIN | TCPHDR_CWR, false);
  auto segs = skb_gso_segment(skb.get(), 0);
  ASSERT_EQ(segs.size(), 3u);
  Seg a = parse(segs[0].get()), b = parse(segs[1].get()), c = parse(segs[2].get());
  EXPECT_EQ(a.tcp.flags(), TCPHDR_ACK | TCPHDR_CWR);
  EXPECT_EQ(b.tcp.flags(), TCPHDR_ACK);
  EXPECT_EQ(c.tcp.flags(), TCPHDR_ACK | TCPHDR_PSH | TCPHDR_FIN);
}

TEST(Gso, payload_bytes_land_in_order) {
  SkbPtr skb = gso_packet(5000, 1448, TCPHDR_ACK, true);
  auto segs = skb_gso_segment(skb.get(), NETIF_F_SG);
  std::uint32_t idx = 0;
  for (auto& sg : segs) {
    Seg s = parse(sg.get());
    for (std::uint8_t byte : s.tcp.payload()) ASSERT_EQ(byte, test::pattern(idx++));
  }
  EXPECT_EQ(idx, 5000u);
}

TEST(Gso, software_checksums_verify_without_offload) {
  SkbPtr skb = gso_packet(4000, 1448, TCPHDR_ACK, true);
  auto segs = skb_gso_segment(skb.get(), NETIF_F_SG);
  ASSERT_EQ(segs.size(), 3u);
  for (auto& sg : segs) {
    EXPECT_EQ(sg->ip_summed, IpSummed::CHECKSUM_NONE);
    Seg s = parse(sg.get());
    EXPECT_TRUE(s.tcp.verify_checksum(ntohl(kSrc), ntohl(kDst)));
  }
}

// Without SG or checksum offload the payload is summed while it is copied
// (skb_segment's copy-and-checksum); odd MSS values put segment starts at
// odd offsets of the source and of its pages.
TEST(Gso, copied_segments_checksum_while_copying_linear_and_paged_at_odd_mss) {
  for (bool paged : {false, true}) {
    for (std::uint16_t mss : {1448, 1447, 999, 536}) {
      SkbPtr skb = gso_packet(20001, mss, TCPHDR_ACK | TCPHDR_PSH, paged);
      auto segs = skb_gso_segment(skb.get(), 0);
      ASSERT_EQ(segs.size(), (20001u + mss - 1) / mss) << "paged " << paged << " mss " << mss;
      for (auto& sg : segs) {
        EXPECT_EQ(sg->ip_summed, IpSummed::CHECKSUM_NONE);
        EXPECT_FALSE(skb_is_nonlinear(sg.get()));
        Seg s = parse(sg.get());
        EXPECT_TRUE(s.tcp.verify_checksum(ntohl(kSrc), ntohl(kDst)))
            << "paged " << paged << " mss " << mss << " seq " << s.tcp.seq();
      }
    }
  }
}

TEST(Gso, offloading_device_gets_partial_checksums_that_complete_correctly) {
  SkbPtr skb = gso_packet(3000, 1448, TCPHDR_ACK, false);
  auto segs = skb_gso_segment(skb.get(), NETIF_F_SG | NETIF_F_HW_CSUM);
  ASSERT_EQ(segs.size(), 3u);
  for (auto& sg : segs) {
    ASSERT_EQ(sg->ip_summed, IpSummed::CHECKSUM_PARTIAL);
    ASSERT_EQ(skb_checksum_help(sg.get()), 0);
    Seg s = parse(sg.get());
    EXPECT_TRUE(s.tcp.verify_checksum(ntohl(kSrc), ntohl(kDst)));
  }
}

TEST(Gso, scatter_gather_shares_pages_instead_of_copying) {
  SkbPtr skb = gso_packet(3000, 1000, TCPHDR_ACK, true);
  Page* page = skb_shinfo(skb.get())->frags[0].page;
  const std::uint32_t refs = page->refcount;
  auto segs = skb_gso_segment(skb.get(), NETIF_F_SG);
  EXPECT_GT(page->refcount, refs);
  EXPECT_TRUE(skb_is_nonlinear(segs[0].get()));
  auto lin = skb_gso_segment(skb.get(), 0);
  EXPECT_FALSE(skb_is_nonlinear(lin[0].get()));
}

int g_destructed = 0;
void count_destructor(SkBuff*) {
  ++g_destructed;
}

TEST(Gso, socket_destructor_moves_to_the_last_segment) {
  g_destructed = 0;
  SkbPtr skb = gso_packet(3000, 1000, TCPHDR_ACK, false);
  int sock = 0;
  skb->sk = &sock;
  skb->destructor = count_destructor;
  const std::uint32_t truesize = skb->truesize;
  auto segs = skb_gso_segment(skb.get(), 0);
  skb.reset();
  EXPECT_EQ(g_destructed, 0);
  EXPECT_EQ(segs.back()->destructor, count_destructor);
  EXPECT_EQ(segs.back()->truesize, truesize);
  segs[0].reset();
  segs[1].reset();
  EXPECT_EQ(g_destructed, 0);
  segs[2].reset();
  EXPECT_EQ(g_destructed, 1);
}

TEST(Gso, needs_gso_unless_the_device_has_tso_sg_and_csum) {
  SkbPtr skb = gso_packet(3000, 1000, TCPHDR_ACK, false);
  EXPECT_FALSE(skb_needs_gso(skb.get(), NETIF_F_TSO | NETIF_F_SG | NETIF_F_HW_CSUM));
  EXPECT_TRUE(skb_needs_gso(skb.get(), NETIF_F_TSO | NETIF_F_SG));
  EXPECT_TRUE(skb_needs_gso(skb.get(), NETIF_F_SG | NETIF_F_HW_CSUM));
  SkbPtr plain = gso_packet(500, 0, TCPHDR_ACK, false);
  EXPECT_FALSE(skb_needs_gso(plain.get(), 0));
}

TEST(Gso, malformed_headers_give_no_segments) {
  SkbPtr skb = gso_packet(3000, 1000, TCPHDR_ACK, false);
  skb->data[20 + 12] = 0x10;  // doff 1: shorter than a TCP header
  EXPECT_TRUE(skb_gso_segment(skb.get(), 0).empty());
}

TEST(Checksum, help_completes_a_partial_checksum_over_frags) {
  TcpSkbSpec s;
  s.len = 9001;  // odd length across several pages
  s.paged = true;
  s.saddr = kSrc;
  s.daddr = kDst;
  SkbPtr skb = make_tcp_skb(s);
  ASSERT_EQ(skb_checksum_help(skb.get()), 0);
  EXPECT_EQ(skb->ip_summed, IpSummed::CHECKSUM_NONE);
  auto b = test::frame_bytes(skb.get());
  auto t = TcpView::parse(b);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->verify_checksum(ntohl(kSrc), ntohl(kDst)));
}

TEST(Checksum, skb_checksum_matches_a_flat_sum_at_odd_offsets) {
  TcpSkbSpec s;
  s.len = 5000;
  s.paged = true;
  SkbPtr skb = make_tcp_skb(s);
  auto b = test::frame_bytes(skb.get());
  for (std::uint32_t off : {0u, 1u, 33u, 4097u}) {
    const std::uint32_t len = skb->len - off - 3;
    EXPECT_EQ(csum_fold(skb_checksum(skb.get(), off, len, 0)),
              csum_fold(csum_partial(b.data() + off, len, 0)))
        << off;
  }
}

}  // namespace
}  // namespace sp
