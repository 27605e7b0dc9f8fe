#include "wire/ipv4.hpp"

#include <gtest/gtest.h>

#include <random>

#include "trace.hpp"
#include "wire/checksum.hpp"

namespace sp {
namespace {

using test::Bytes;
using test::bytes;
using test::cat;

// A header of ihl words (options as given, padded with zeros) and tot_len
// covering header + payload_len, with a correct checksum.
Bytes header(const Bytes& options, std::size_t payload_len = 0) {
  Bytes h = test::ipv4(IPPROTO_TCP_, Bytes(payload_len, 0xee));
  Bytes payload(h.begin() + 20, h.end());
  h.resize(20);
  Bytes o = options;
  o.resize((o.size() + 3) & ~std::size_t{3}, 0);
  h = cat(h, o);
  h[0] = static_cast<std::uint8_t>(0x40 | (h.size() / 4));
  store_be16(h.data() + 2, static_cast<std::uint16_t>(h.size() + payload_len));
  ip_send_check(h.data());
  return cat(h, payload);
}

TEST(Ipv4, send_check_over_a_stale_check_field_equals_a_fresh_sum) {
  std::mt19937 rng(23);
  for (unsigned ihl = 5; ihl <= 15; ++ihl) {
    for (int i = 0; i < 500; ++i) {
      Bytes h(ihl * 4);
      for (auto& b : h) b = static_cast<std::uint8_t>(rng());
      h[0] = static_cast<std::uint8_t>(0x40 | ihl);
      Bytes zeroed = h;
      store_be16(zeroed.data() + 10, 0);
      const std::uint16_t want = csum_fold(csum_partial_ref(zeroed.data(), zeroed.size(), 0));
      ip_send_check(h.data());
      ASSERT_EQ(load_be16(h.data() + 10), want) << "ihl " << ihl << " header " << i;
    }
  }
}

TEST(Ipv4, emitted_checksum_equals_the_sum_of_the_emitted_bytes) {
  std::mt19937 rng(29);
  for (int i = 0; i < 5000; ++i) {
    Ipv4Repr r;
    r.tos = static_cast<std::uint8_t>(rng());
    r.id = static_cast<std::uint16_t>(rng());
    r.frag_off = static_cast<std::uint16_t>(rng());
    r.ttl = static_cast<std::uint8_t>(rng());
    r.protocol = static_cast<std::uint8_t>(rng());
    r.saddr = rng();
    r.daddr = i % 7 == 0 ? 0xffffffff : rng();
    r.payload_len = static_cast<std::uint16_t>(rng() % (0xffff - 20));
    Bytes h(20);
    r.emit(h.data());
    Bytes zeroed = h;
    store_be16(zeroed.data() + 10, 0);
    ASSERT_EQ(load_be16(h.data() + 10), csum_fold(csum_partial_ref(zeroed.data(), 20, 0)))
        << "header " << i;
  }
}

TEST(Ipv4, fields_read_back_as_emitted) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, Bytes(30, 1));
  auto v = Ipv4View::parse(pkt);
  ASSERT_TRUE(v) << to_string(v.error());
  EXPECT_EQ(v->version(), 4);
  EXPECT_EQ(v->ihl(), 5);
  EXPECT_EQ(v->tot_len(), 50);
  EXPECT_EQ(v->id(), 0x1234);
  EXPECT_TRUE(v->df());
  EXPECT_FALSE(v->mf());
  EXPECT_FALSE(v->is_fragment());
  EXPECT_EQ(v->ttl(), 64);
  EXPECT_EQ(v->protocol(), IPPROTO_TCP_);
  EXPECT_EQ(v->saddr(), test::kClient);
  EXPECT_EQ(v->daddr(), test::kServer);
  EXPECT_EQ(v->payload().size(), 30u);
  EXPECT_TRUE(v->verify_checksum());
}

TEST(Ipv4, addresses_are_in_network_order_on_the_wire) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, {});
  EXPECT_EQ(Bytes(pkt.begin() + 12, pkt.begin() + 16), bytes({192, 168, 0, 1}));
  EXPECT_EQ(ipv4_to_string(test::kServer), "192.0.2.1");
}

TEST(Ipv4, repr_round_trips_through_emit_and_parse) {
  Ipv4Repr r;
  r.tos = 0x10;
  r.id = 7;
  r.frag_off = IP_MF | 3;
  r.ttl = 1;
  r.protocol = IPPROTO_ICMP_;
  r.saddr = ipv4_addr(10, 0, 0, 1);
  r.daddr = ipv4_addr(10, 0, 0, 2);
  r.payload_len = 8;
  Bytes b(28);
  r.emit(b.data());
  auto back = Ipv4Repr::parse(b);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(*back, r);
  EXPECT_EQ(Ipv4View::parse(b)->frag_offset_bytes(), 24u);
}

TEST(Ipv4, payload_stops_at_tot_len_ignoring_ethernet_padding) {
  Bytes pkt = cat(test::ipv4(IPPROTO_TCP_, Bytes(6, 1)), Bytes(20, 0));
  EXPECT_EQ(Ipv4View::parse(pkt)->payload().size(), 6u);
}

TEST(Ipv4, shorter_than_20_bytes_is_too_short) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, {});
  pkt.resize(19);
  EXPECT_EQ(Ipv4View::parse(pkt).error(), WireError::kTruncated);
}

TEST(Ipv4, version_6_is_bad_version) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, {});
  pkt[0] = 0x65;
  EXPECT_EQ(Ipv4View::parse(pkt).error(), WireError::kIpBadVersion);
}

TEST(Ipv4, ihl_below_5_is_bad_ihl) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, {});
  pkt[0] = 0x44;
  EXPECT_EQ(Ipv4View::parse(pkt).error(), WireError::kIpBadIhl);
}

TEST(Ipv4, ihl_past_buffer_is_rejected) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, {});
  pkt[0] = 0x46;
  EXPECT_EQ(Ipv4View::parse(pkt).error(), WireError::kIpHeaderPastBuffer);
}

TEST(Ipv4, tot_len_past_buffer_is_rejected) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, Bytes(10, 0));
  pkt.pop_back();
  EXPECT_EQ(Ipv4View::parse(pkt).error(), WireError::kIpTotLenPastBuffer);
}

TEST(Ipv4, tot_len_below_header_is_rejected) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, Bytes(10, 0));
  store_be16(pkt.data() + 2, 19);
  EXPECT_EQ(Ipv4View::parse(pkt).error(), WireError::kIpTotLenBelowHeader);
}

TEST(Ipv4, options_are_skipped_and_payload_follows_them) {
  // NOP, then record route (kind 7, len 7, pointer 4, one empty slot), EOL.
  Bytes pkt = header(bytes({1, 7, 7, 4, 0, 0, 0, 0, 0}), 5);
  auto v = Ipv4View::parse(pkt);
  ASSERT_TRUE(v) << to_string(v.error());
  EXPECT_EQ(v->ihl(), 8);
  EXPECT_EQ(v->options().size(), 12u);
  EXPECT_EQ(v->payload().size(), 5u);
  EXPECT_EQ(v->payload()[0], 0xee);
  EXPECT_TRUE(v->verify_checksum());
}

TEST(Ipv4, option_length_zero_is_bad_option_length) {
  EXPECT_EQ(Ipv4View::parse(header(bytes({7, 0, 0, 0}))).error(), WireError::kIpOptionBadLength);
}

TEST(Ipv4, option_length_one_is_bad_option_length) {
  EXPECT_EQ(Ipv4View::parse(header(bytes({7, 1, 0, 0}))).error(), WireError::kIpOptionBadLength);
}

TEST(Ipv4, option_past_header_is_rejected) {
  EXPECT_EQ(Ipv4View::parse(header(bytes({7, 8, 4, 0}))).error(), WireError::kIpOptionPastHeader);
}

TEST(Ipv4, option_kind_in_last_byte_without_length_is_past_header) {
  EXPECT_EQ(Ipv4View::parse(header(bytes({1, 1, 1, 7}))).error(), WireError::kIpOptionPastHeader);
}

TEST(Ipv4, corrupted_header_fails_checksum) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, {});
  pkt[8] ^= 1;
  ASSERT_TRUE(Ipv4View::parse(pkt));
  EXPECT_FALSE(Ipv4View::parse(pkt)->verify_checksum());
  EXPECT_EQ(Ipv4Repr::parse(pkt).error(), WireError::kIpBadChecksum);
}

TEST(Ipv4, decrease_ttl_keeps_the_checksum_valid) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, {});
  for (int i = 0; i < 64; ++i) {
    ip_decrease_ttl(pkt.data());
    ASSERT_TRUE(Ipv4View::parse(pkt)->verify_checksum()) << "after " << i + 1;
  }
  EXPECT_EQ(Ipv4View::parse(pkt)->ttl(), 0);
}

TEST(Ipv4, send_check_repairs_the_checksum_after_an_edit) {
  Bytes pkt = test::ipv4(IPPROTO_TCP_, {});
  store_be16(pkt.data() + kIpv4IdOffset, 999);
  ip_send_check(pkt.data());
  EXPECT_TRUE(Ipv4View::parse(pkt)->verify_checksum());
}

}  // namespace
}  // namespace sp
