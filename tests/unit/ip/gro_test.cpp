// GroList: which TCP/IPv4 frames coalesce and when held packets go up
// (tcp_gro_receive / inet_gro_receive / the flush at the end of a poll).
#include "ip/gro.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "common/tcp_packets.hpp"
#include "wire/checksum.hpp"

namespace sp {
namespace {

using test::Flow;
using test::TcpOpts;

constexpr std::uint32_t kMss = 1000;

struct Out {
  std::uint32_t seq;
  std::uint32_t payload;
  std::uint16_t gso_size;
  std::uint16_t gso_segs;
  std::uint8_t flags;
  bool ip_csum_ok;
};

struct GroTest : ::testing::Test {
  std::vector<Out> out;
  std::vector<std::vector<std::uint8_t>> bytes;
  GroList gro{[this](SkbPtr skb) {
    const std::uint8_t* ip = skb->data + 14;
    const std::uint32_t tot = load_be16(ip + 2);
    const std::uint8_t* th = ip + 20;
    const std::uint32_t thl = (th[12] >> 4) * 4u;
    out.push_back({load_be32(th + 4), tot - 20 - thl, skb_shinfo(skb.get())->gso_size,
                   skb_shinfo(skb.get())->gso_segs, th[13], ip_fast_csum(ip, 5) == 0});
    bytes.emplace_back(th + thl, ip + tot);
    EXPECT_GE(skb->len, 14 + tot) << "a short frame keeps its Ethernet padding";
  }};
  Flow flow;
  std::uint16_t ip_id = 100;
  std::uint16_t other_ip_id = 7000;  // the other flow's

  // An Ethernet frame of one segment, as the link delivers it.
  SkbPtr frame(std::uint32_t seq, std::uint32_t len, std::string_view flags = ".",
               const TcpOpts& opts = {}, std::uint16_t win = 1000, std::uint32_t ack = 5000,
               const Flow* f = nullptr) {
    std::vector<std::uint8_t> data(len);
    for (std::uint32_t i = 0; i < len; i++) data[i] = static_cast<std::uint8_t>(seq + i);
    const Flow& fl = f ? *f : flow;
    std::vector<std::uint8_t> p = test::tcp_pkt(fl, flags, seq, ack, win, opts, data);
    // Each sender numbers its own datagrams (Linux: per socket).
    std::uint16_t& id = fl.sport == flow.sport ? ip_id : other_ip_id;
    store_be16(p.data() + 4, id++);
    store_be16(p.data() + 10, 0);
    store_be16(p.data() + 10, ip_fast_csum(p.data(), 5));
    const std::uint32_t flen = std::max<std::uint32_t>(14 + p.size(), 60);
    SkbPtr skb = alloc_skb_with_headroom(64, flen);
    std::uint8_t* d = skb_put(skb.get(), flen);
    std::memset(d, 0, flen);
    const std::uint8_t hdr[14] = {2, 0, 0, 0, 1, 0xb, 2, 0, 0, 0, 1, 0xa, 0x08, 0x00};
    std::memcpy(d, hdr, 14);
    std::memcpy(d + 14, p.data(), p.size());
    skb->ip_summed = IpSummed::CHECKSUM_UNNECESSARY;
    return skb;
  }
  void rx(SkbPtr skb) { gro.receive(std::move(skb)); }
};

TEST_F(GroTest, consecutive_full_segments_of_a_flow_become_one_packet_at_the_flush) {
  for (std::uint32_t i = 0; i < 5; i++) rx(frame(1 + i * kMss, kMss));
  EXPECT_TRUE(out.empty()) << "held until the poll ends";
  gro.flush();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, 1u);
  EXPECT_EQ(out[0].payload, 5 * kMss);
  EXPECT_EQ(out[0].gso_size, kMss);
  EXPECT_EQ(out[0].gso_segs, 5);
  EXPECT_TRUE(out[0].ip_csum_ok) << "inet_gro_complete rewrites tot_len and the checksum";
  for (std::uint32_t i = 0; i < 5 * kMss; i++)
    ASSERT_EQ(bytes[0][i], static_cast<std::uint8_t>(1 + i)) << "payload in sequence order";
  EXPECT_EQ(gro.stats().merged, 4u);
  EXPECT_EQ(gro.stats().coalesced, 1u);
}

TEST_F(GroTest, psh_ends_the_packet_at_once_and_is_kept) {
  rx(frame(1, kMss));
  rx(frame(1 + kMss, kMss, "P."));
  ASSERT_EQ(out.size(), 1u) << "PSH flushes without waiting for the poll's end";
  EXPECT_EQ(out[0].gso_segs, 2);
  EXPECT_TRUE(out[0].flags & 0x08);
}

TEST_F(GroTest, a_short_segment_is_merged_and_ends_the_packet) {
  rx(frame(1, kMss));
  rx(frame(1 + kMss, 300));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, kMss + 300);
  rx(frame(1 + kMss + 300, kMss));
  gro.flush();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].seq, 1 + kMss + 300);
}

TEST_F(GroTest, a_sequence_gap_flushes_the_held_packet_and_starts_a_new_one) {
  rx(frame(1, kMss));
  rx(frame(1 + kMss, kMss));
  rx(frame(1 + 3 * kMss, kMss));  // 1 + 2*kMss was lost
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, 2 * kMss);
  gro.flush();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].seq, 1 + 3 * kMss);
  EXPECT_EQ(out[1].gso_segs, 0) << "a single segment goes up as it came";
}

TEST_F(GroTest, differing_ack_window_or_timestamps_do_not_merge) {
  rx(frame(1, kMss, ".", {}, 1000, 5000));
  rx(frame(1 + kMss, kMss, ".", {}, 1000, 6000));      // new ACK
  rx(frame(1 + 2 * kMss, kMss, ".", {}, 2000, 6000));  // new window
  rx(frame(1 + 3 * kMss, kMss, ".", TcpOpts().with_ts(7, 1), 2000, 6000));
  rx(frame(1 + 4 * kMss, kMss, ".", TcpOpts().with_ts(8, 1), 2000, 6000));  // new TSval
  rx(frame(1 + 5 * kMss, kMss, ".", TcpOpts().with_ts(8, 1), 2000, 6000));  // same: merges
  gro.flush();
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[4].gso_segs, 2);
}

TEST_F(GroTest, pure_acks_and_other_flows_are_not_held_back) {
  rx(frame(1, kMss));
  rx(frame(1 + kMss, 0));  // a pure ACK of the same flow: the held packet goes, then it
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].payload, kMss);
  EXPECT_EQ(out[1].payload, 0u);
  Flow other = flow;
  other.sport = 40001;
  rx(frame(1 + kMss, kMss));
  rx(frame(77, kMss, ".", {}, 1000, 5000, &other));
  rx(frame(1 + 2 * kMss, kMss));
  rx(frame(77 + kMss, kMss, ".", {}, 1000, 5000, &other));
  gro.flush();
  ASSERT_EQ(out.size(), 4u) << "two flows held side by side";
  EXPECT_EQ(out[2].gso_segs, 2);
  EXPECT_EQ(out[3].gso_segs, 2);
}

TEST_F(GroTest, ip_ids_must_increment_or_stay_fixed) {
  rx(frame(1, kMss));
  ip_id += 5;  // a jump: not the next segment of this sender
  rx(frame(1 + kMss, kMss));
  gro.flush();
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  ip_id = 9;
  rx(frame(1, kMss));
  ip_id = 9;  // DF with a fixed ID
  rx(frame(1 + kMss, kMss));
  ip_id = 9;
  rx(frame(1 + 2 * kMss, kMss));
  gro.flush();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gso_segs, 3);
}

TEST_F(GroTest, a_packet_stops_below_64k) {
  for (std::uint32_t i = 0; i < 70; i++) rx(frame(1 + i * kMss, kMss));
  gro.flush();
  ASSERT_EQ(out.size(), 2u);
  // 20 + 20 + n * 1000 must stay below 65536: 65 segments.
  EXPECT_EQ(out[0].gso_segs, 65);
  EXPECT_EQ(out[1].gso_segs, 5);
}

TEST_F(GroTest, unverified_checksums_pass_through_unmerged) {
  SkbPtr a = frame(1, kMss);
  SkbPtr b = frame(1 + kMss, kMss);
  a->ip_summed = IpSummed::CHECKSUM_NONE;
  b->ip_summed = IpSummed::CHECKSUM_NONE;
  rx(std::move(a));
  rx(std::move(b));
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(gro.stats().merged, 0u);
}

}  // namespace
}  // namespace sp
