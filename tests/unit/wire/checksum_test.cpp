#include "wire/checksum.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "trace.hpp"

namespace sp {
namespace {

using test::Bytes;
using test::bytes;

constexpr std::size_t kMaxLen = 4096;

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& x : v) x = static_cast<std::uint8_t>(rng());
  return v;
}

// Fold to 16 bits: sums that differ only in how many carries were already
// folded in are the same checksum.
std::uint16_t folded(Wsum s) {
  return csum_fold16(s);
}

TEST(Checksum, rfc1071_section3_example_sums_to_ddf2) {
  Bytes b = bytes({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
  EXPECT_EQ(folded(csum_partial_ref(b.data(), b.size(), 0)), 0xddf2);
  EXPECT_EQ(folded(csum_partial(b.data(), b.size(), 0)), 0xddf2);
  EXPECT_EQ(csum_fold(csum_partial(b.data(), b.size(), 0)), 0x220d);
}

TEST(Checksum, odd_trailing_byte_is_padded_as_high_byte) {
  Bytes b = bytes({0x12, 0x34, 0x56});
  EXPECT_EQ(folded(csum_partial_ref(b.data(), b.size(), 0)), 0x1234 + 0x5600);
  EXPECT_EQ(folded(csum_partial(b.data(), b.size(), 0)), 0x1234 + 0x5600);
}

TEST(Checksum, all_zero_data_gives_checksum_ffff) {
  Bytes b(64, 0);
  EXPECT_EQ(csum_fold(csum_partial(b.data(), b.size(), 0)), 0xffff);
}

TEST(Checksum, fast_sum_matches_reference_at_every_length_and_alignment) {
  auto data = random_bytes(kMaxLen + 8, 20261125);
  int mismatches = 0;
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t len = 0; len <= kMaxLen; ++len) {
      const std::uint8_t* p = data.data() + align;
      Wsum seed = static_cast<Wsum>(len * 2654435761u);
      std::uint16_t want = folded(csum_partial_ref(p, len, seed));
      if (folded(csum_partial(p, len, seed)) != want) ++mismatches;
      if (folded(csum_partial_scalar(p, len, seed)) != want) ++mismatches;
      if (folded(csum_partial_avx2(p, len, seed)) != want) ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Checksum, fast_sum_handles_all_ones_without_losing_carries) {
  // 0xff.. words make every 64-bit add carry: the worst case for the
  // carry counters and for the AVX2 32-bit lanes.
  std::vector<std::uint8_t> ones(1 << 20, 0xff);
  for (std::size_t len : {std::size_t{127}, std::size_t{4096}, ones.size() - 3, ones.size()}) {
    EXPECT_EQ(folded(csum_partial(ones.data(), len, 0xffffffff)),
              folded(csum_partial_ref(ones.data(), len, 0xffffffff)))
        << "len " << len;
  }
}

TEST(Checksum, fast_sum_matches_reference_on_a_large_buffer) {
  // Longer than one AVX2 flush block (256 KiB).
  auto data = random_bytes((1 << 20) + 77, 7);
  EXPECT_EQ(folded(csum_partial(data.data(), data.size(), 0)),
            folded(csum_partial_ref(data.data(), data.size(), 0)));
}

TEST(Checksum, fused_copy_equals_copy_then_sum_at_every_length_and_alignment) {
  auto src = random_bytes(kMaxLen + 8, 99);
  std::vector<std::uint8_t> dst(kMaxLen + 16);
  int mismatches = 0;
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t len = 0; len <= kMaxLen; ++len) {
      const std::uint8_t* s = src.data() + align;
      std::uint8_t* d = dst.data() + (7 - align);
      for (auto copy : {&csum_partial_copy, &csum_partial_copy_scalar}) {
        std::memset(dst.data(), 0xa5, dst.size());
        Wsum got = copy(d, s, len, 0x10001);
        if (folded(got) != folded(csum_partial_ref(s, len, 0x10001))) ++mismatches;
        if (std::memcmp(d, s, len) != 0) ++mismatches;
        // Not a byte more than asked for is written.
        if (d[len] != 0xa5 || (d > dst.data() && d[-1] != 0xa5)) ++mismatches;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Checksum, fused_copy_matches_reference_on_a_large_buffer) {
  auto src = random_bytes((1 << 20) + 33, 8);
  std::vector<std::uint8_t> dst(src.size());
  EXPECT_EQ(folded(csum_partial_copy(dst.data(), src.data(), src.size(), 0)),
            folded(csum_partial_ref(src.data(), src.size(), 0)));
  EXPECT_EQ(dst, src);
}

TEST(Checksum, block_add_at_odd_offset_equals_sum_of_whole_buffer) {
  auto data = random_bytes(1001, 3);
  for (std::size_t split :
       {std::size_t{0}, std::size_t{1}, std::size_t{500}, std::size_t{777}, std::size_t{1001}}) {
    Wsum first = csum_partial(data.data(), split, 0);
    Wsum second = csum_partial(data.data() + split, data.size() - split, 0);
    EXPECT_EQ(folded(csum_block_add(first, second, split)),
              folded(csum_partial_ref(data.data(), data.size(), 0)))
        << "split at " << split;
  }
}

TEST(Checksum, block_sub_removes_a_block_at_odd_offset) {
  auto data = random_bytes(301, 4);
  Wsum whole = csum_partial(data.data(), data.size(), 0);
  Wsum tail = csum_partial(data.data() + 101, 200, 0);
  EXPECT_EQ(folded(csum_block_sub(whole, tail, 101)),
            folded(csum_partial_ref(data.data(), 101, 0)));
}

TEST(Checksum, ip_fast_csum_of_textbook_header_is_b861) {
  // 192.168.0.1 -> 192.168.0.199, UDP, tot_len 0x73: the usual worked example.
  Bytes h = bytes({0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7});
  EXPECT_EQ(ip_fast_csum(h.data(), 5), 0xb861);
  store_be16(h.data() + 10, 0xb861);
  EXPECT_EQ(ip_fast_csum(h.data(), 5), 0);
}

TEST(Checksum, ip_fast_csum_matches_reference_on_random_headers_of_every_ihl) {
  std::mt19937 rng(17);
  for (unsigned ihl = 5; ihl <= 15; ++ihl) {
    for (int i = 0; i < 2000; ++i) {
      // Odd buffer offsets too: a header need not be 4-byte aligned.
      const std::size_t at = rng() % 4;
      auto buf = random_bytes(at + ihl * 4, static_cast<std::uint32_t>(rng()));
      std::uint8_t* h = buf.data() + at;
      h[0] = static_cast<std::uint8_t>(0x40 | ihl);
      if (i % 4 == 0) std::memset(h + 2, 0xff, ihl * 4 - 2);  // carries in every word
      store_be16(h + 10, 0);
      const std::uint16_t want = csum_fold(csum_partial_ref(h, ihl * 4, 0));
      ASSERT_EQ(ip_fast_csum(h, ihl), want) << "ihl " << ihl << " header " << i;
      store_be16(h + 10, want);
      ASSERT_EQ(ip_fast_csum(h, ihl), 0) << "ihl " << ihl << " header " << i;
    }
  }
}

TEST(Checksum, csum_replace2_equals_full_recompute) {
  auto data = random_bytes(40, 5);
  store_be16(data.data() + 10, 0);
  std::uint16_t check = csum_fold(csum_partial(data.data(), data.size(), 0));
  std::mt19937 rng(11);
  for (int i = 0; i < 1000; ++i) {
    std::size_t at = (rng() % 19) * 2;
    if (at == 10) continue;
    std::uint16_t from = load_be16(data.data() + at);
    std::uint16_t to = static_cast<std::uint16_t>(rng());
    store_be16(data.data() + at, to);
    check = csum_replace2(check, from, to);
    ASSERT_EQ(folded(check), folded(csum_fold(csum_partial(data.data(), data.size(), 0))))
        << "step " << i;
  }
}

TEST(Checksum, csum_replace4_keeps_the_packet_verifying) {
  auto data = random_bytes(40, 6);
  store_be16(data.data() + 16, 0);
  store_be16(data.data() + 16, csum_fold(csum_partial(data.data(), data.size(), 0)));
  std::mt19937 rng(12);
  for (int i = 0; i < 1000; ++i) {
    std::uint32_t from = load_be32(data.data() + 4);
    std::uint32_t to = static_cast<std::uint32_t>(rng());
    store_be32(data.data() + 4, to);
    store_be16(data.data() + 16, csum_replace4(load_be16(data.data() + 16), from, to));
    ASSERT_EQ(folded(csum_partial(data.data(), data.size(), 0)), 0xffff) << "step " << i;
  }
}

TEST(Checksum, tcp_v4_check_makes_segment_verify_with_pseudo_header) {
  Bytes seg = test::tcp("S", 1, 0, 65535, test::opts().mss(1460), 5);
  TcpView v = *TcpView::parse(seg);
  EXPECT_TRUE(v.verify_checksum(test::kClient, test::kServer));
  // The pseudo header is part of the sum: another address fails.
  EXPECT_FALSE(v.verify_checksum(test::kClient, test::kServer + 1));
}

TEST(Checksum, pseudo_check_completed_over_segment_gives_final_checksum) {
  // CHECKSUM_PARTIAL: the check field holds the pseudo sum; summing from
  // csum_start over the segment and folding yields the final checksum.
  Bytes seg = test::tcp(".", 1, 2, 100, {}, 33);
  std::uint16_t final_check = load_be16(seg.data() + kTcpCheckOffset);
  auto len = static_cast<std::uint32_t>(seg.size());
  store_be16(seg.data() + kTcpCheckOffset, tcp_v4_pseudo_check(len, test::kClient, test::kServer));
  EXPECT_EQ(csum_fold(csum_partial(seg.data(), seg.size(), 0)), final_check);
}

TEST(Checksum, inet_proto_csum_replace4_rewrites_address_in_full_checksum) {
  Bytes seg = test::tcp(".", 1, 2, 100, {}, 10);
  std::uint16_t check = load_be16(seg.data() + kTcpCheckOffset);
  Ipv4Addr new_src = ipv4_addr(10, 1, 2, 3);
  inet_proto_csum_replace4(&check, false, nullptr, test::kClient, new_src, true);
  store_be16(seg.data() + kTcpCheckOffset, check);
  EXPECT_TRUE(TcpView::parse(seg)->verify_checksum(new_src, test::kServer));
}

TEST(Checksum, inet_proto_csum_replace4_rewrites_address_in_partial_pseudo_sum) {
  auto len = static_cast<std::uint32_t>(40);
  std::uint16_t check = tcp_v4_pseudo_check(len, test::kClient, test::kServer);
  Ipv4Addr new_dst = ipv4_addr(10, 9, 8, 7);
  inet_proto_csum_replace4(&check, true, nullptr, test::kServer, new_dst, true);
  EXPECT_EQ(folded(check), folded(tcp_v4_pseudo_check(len, test::kClient, new_dst)));
}

}  // namespace
}  // namespace sp
