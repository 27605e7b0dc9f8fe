// The linear sk_buff: allocation, the four pointers, room queries, trims,
// header offsets, truesize, and the panics that guard put/push.
#include "skb/skbuff.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "skb_test_util.hpp"

namespace sp {
namespace {

using skbtest::expect_invariants;

TEST(SkbAlloc, alloc_skb_gives_empty_buffer_of_at_least_size_with_shinfo_at_end) {
  SkbPtr skb = alloc_skb(1500);
  ASSERT_TRUE(skb);
  expect_invariants(skb.get());
  EXPECT_EQ(skb->head, skb->data);
  EXPECT_EQ(skb->data, skb->tail);
  EXPECT_GE(skb_end_offset(skb.get()), 1500u);
  EXPECT_EQ(skb->len, 0u);
  EXPECT_EQ(skb->data_len, 0u);
  EXPECT_EQ(skb_headroom(skb.get()), 0u);
  EXPECT_EQ(skb_tailroom(skb.get()), skb_end_offset(skb.get()));
  EXPECT_EQ(reinterpret_cast<std::uint8_t*>(skb_shinfo(skb.get())), skb->end);
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 0);
  EXPECT_EQ(skb_shinfo(skb.get())->dataref, 1u);
  EXPECT_FALSE(skb->cloned);
}

TEST(SkbAlloc, head_and_shared_info_are_cache_line_aligned) {
  SkbPtr skb = alloc_skb(100);
  ASSERT_TRUE(skb);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(skb->head) % SMP_CACHE_BYTES, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(skb->end) % SMP_CACHE_BYTES, 0u);
}

TEST(SkbAlloc, capacity_rounds_up_to_a_size_class_and_the_whole_class_is_usable) {
  SkbPtr a = alloc_skb(1000);
  SkbPtr b = alloc_skb(1024);
  ASSERT_TRUE(a && b);
  // Both fall in the same class: the rounding up is real, usable room.
  EXPECT_EQ(skb_end_offset(a.get()), skb_end_offset(b.get()));
  EXPECT_EQ(skb_tailroom(a.get()), skb_end_offset(a.get()));
  skb_put(a.get(), skb_end_offset(a.get()));
  EXPECT_EQ(skb_tailroom(a.get()), 0u);
}

TEST(SkbAlloc, alloc_skb_with_headroom_reserves_headroom) {
  SkbPtr skb = alloc_skb_with_headroom(320, 1000);
  ASSERT_TRUE(skb);
  expect_invariants(skb.get());
  EXPECT_EQ(skb_headroom(skb.get()), 320u);
  EXPECT_GE(skb_tailroom(skb.get()), 1000u);
  EXPECT_EQ(skb->len, 0u);
}

TEST(SkbAlloc, a_64k_gso_skb_with_tcp_headroom_fits_one_head) {
  SkbPtr skb = alloc_skb_with_headroom(320, GSO_MAX_SIZE);
  ASSERT_TRUE(skb);
  EXPECT_GE(skb_tailroom(skb.get()), GSO_MAX_SIZE);
  skb_put(skb.get(), GSO_MAX_SIZE);
  expect_invariants(skb.get());
}

TEST(SkbAlloc, truesize_is_skb_truesize_of_the_head_capacity) {
  SkbPtr skb = alloc_skb(1500);
  ASSERT_TRUE(skb);
  EXPECT_EQ(skb->truesize, SKB_TRUESIZE(skb_end_offset(skb.get())));
  EXPECT_GT(skb->truesize, skb_end_offset(skb.get()) + sizeof(SkbSharedInfo));
}

TEST(SkbPointers, reserve_moves_data_and_tail_together) {
  SkbPtr skb = alloc_skb(512);
  const std::uint32_t end = skb_end_offset(skb.get());
  skb_reserve(skb.get(), 64);
  expect_invariants(skb.get());
  EXPECT_EQ(skb_headroom(skb.get()), 64u);
  EXPECT_EQ(skb->data, skb->tail);
  EXPECT_EQ(skb_tailroom(skb.get()), end - 64);
  EXPECT_EQ(skb->len, 0u);
}

TEST(SkbPointers, put_returns_old_tail_and_grows_len) {
  SkbPtr skb = alloc_skb_with_headroom(64, 512);
  std::uint8_t* old_tail = skb->tail;
  const std::uint32_t room = skb_tailroom(skb.get());
  std::uint8_t* p = skb_put(skb.get(), 100);
  expect_invariants(skb.get());
  EXPECT_EQ(p, old_tail);
  EXPECT_EQ(skb->tail, old_tail + 100);
  EXPECT_EQ(skb->len, 100u);
  EXPECT_EQ(skb_headlen(skb.get()), 100u);
  EXPECT_EQ(skb_tailroom(skb.get()), room - 100);
  EXPECT_EQ(skb_headroom(skb.get()), 64u);
}

TEST(SkbPointers, push_prepends_and_returns_new_data) {
  SkbPtr skb = alloc_skb_with_headroom(64, 512);
  std::memset(skb_put(skb.get(), 10), 0xaa, 10);
  std::uint8_t* p = skb_push(skb.get(), 20);
  expect_invariants(skb.get());
  EXPECT_EQ(p, skb->data);
  EXPECT_EQ(skb_headroom(skb.get()), 44u);
  EXPECT_EQ(skb->len, 30u);
  EXPECT_EQ(skb->data[20], 0xaa);
}

TEST(SkbPointers, push_to_exactly_head_is_allowed) {
  SkbPtr skb = alloc_skb_with_headroom(54, 100);
  skb_push(skb.get(), 54);
  expect_invariants(skb.get());
  EXPECT_EQ(skb->data, skb->head);
  EXPECT_EQ(skb_headroom(skb.get()), 0u);
}

TEST(SkbPointers, put_to_exactly_end_is_allowed) {
  SkbPtr skb = alloc_skb(256);
  skb_put(skb.get(), skb_end_offset(skb.get()));
  expect_invariants(skb.get());
  EXPECT_EQ(skb->tail, skb->end);
}

TEST(SkbPointers, pull_strips_a_header_and_returns_new_data) {
  SkbPtr skb = alloc_skb(512);
  std::uint8_t* start = skb_put(skb.get(), 54);
  std::uint8_t* p = skb_pull(skb.get(), 14);
  expect_invariants(skb.get());
  EXPECT_EQ(p, start + 14);
  EXPECT_EQ(skb->data, start + 14);
  EXPECT_EQ(skb->len, 40u);
  EXPECT_EQ(skb_headroom(skb.get()), 14u);
}

TEST(SkbPointers, pull_beyond_the_linear_part_fails_and_changes_nothing) {
  SkbPtr skb = alloc_skb(512);
  skb_put(skb.get(), 20);
  std::uint8_t* data = skb->data;
  EXPECT_EQ(skb_pull(skb.get(), 21), nullptr);
  EXPECT_EQ(skb->data, data);
  EXPECT_EQ(skb->len, 20u);
}

TEST(SkbPointers, trim_shortens_the_linear_part) {
  SkbPtr skb = alloc_skb(512);
  skb_put(skb.get(), 100);
  skb_trim(skb.get(), 40);
  expect_invariants(skb.get());
  EXPECT_EQ(skb->len, 40u);
  EXPECT_EQ(skb->tail, skb->data + 40);
}

TEST(SkbPointers, trim_to_a_longer_length_is_a_no_op) {
  SkbPtr skb = alloc_skb(512);
  skb_put(skb.get(), 100);
  skb_trim(skb.get(), 200);
  EXPECT_EQ(skb->len, 100u);
  EXPECT_EQ(skb->tail, skb->data + 100);
}

TEST(SkbRoom, availroom_subtracts_reserved_tailroom) {
  SkbPtr skb = alloc_skb(1024);
  skb_put(skb.get(), 100);
  const std::uint32_t tailroom = skb_tailroom(skb.get());
  skb->reserved_tailroom = 200;
  EXPECT_EQ(skb_tailroom(skb.get()), tailroom);  // the raw room is unchanged
  EXPECT_EQ(skb_availroom(skb.get()), tailroom - 200);
}

TEST(SkbRoom, availroom_is_zero_when_reserved_tailroom_exceeds_room) {
  SkbPtr skb = alloc_skb(256);
  skb_put(skb.get(), 200);
  skb->reserved_tailroom = 1000;
  EXPECT_EQ(skb_availroom(skb.get()), 0u);
}

TEST(SkbRoom, tailroom_and_availroom_are_zero_once_the_skb_has_frags) {
  SkbPtr skb = alloc_skb(1024);
  skb_put(skb.get(), 10);
  Page* pg = alloc_pages(0);
  ASSERT_TRUE(pg);
  skb_fill_page_desc(skb.get(), 0, pg, 0, 100);
  skb->len += 100;
  skb->data_len += 100;
  EXPECT_GT(skb->end - skb->tail, 0);
  EXPECT_EQ(skb_tailroom(skb.get()), 0u);
  EXPECT_EQ(skb_availroom(skb.get()), 0u);
}

TEST(SkbHeaders, reset_header_offsets_point_at_data) {
  SkbPtr skb = alloc_skb_with_headroom(128, 100);
  skb_put(skb.get(), 100);
  skb_push(skb.get(), 20);
  skb_reset_transport_header(skb.get());
  skb_push(skb.get(), 20);
  skb_reset_network_header(skb.get());
  skb_push(skb.get(), 14);
  skb_reset_mac_header(skb.get());
  EXPECT_EQ(skb_mac_header(skb.get()), skb->data);
  EXPECT_EQ(skb_network_header(skb.get()), skb->data + 14);
  EXPECT_EQ(skb_transport_header(skb.get()), skb->data + 34);
}

TEST(SkbFree, destructor_runs_once_before_the_buffer_is_released) {
  static int calls;
  static std::uint32_t seen_len;
  calls = 0;
  seen_len = 0;
  SkbPtr skb = alloc_skb(256);
  skb_put(skb.get(), 42);
  skb->destructor = [](SkBuff* s) {
    ++calls;
    seen_len = s->len;  // the skb is still intact when its owner is told
  };
  kfree_skb(std::move(skb));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen_len, 42u);
}

TEST(SkbFree, kfree_skb_counts_a_drop_and_consume_skb_does_not) {
  const SkbPoolStats before = skb_pool_stats();
  kfree_skb(alloc_skb(100));
  consume_skb(alloc_skb(100));
  const SkbPoolStats& after = skb_pool_stats();
  EXPECT_EQ(after.skb_dropped - before.skb_dropped, 1u);
  EXPECT_EQ(after.skb_consumed - before.skb_consumed, 1u);
}

TEST(SkbFree, freeing_a_null_skb_is_harmless) {
  kfree_skb(nullptr);
  consume_skb(nullptr);
  SkbPtr none;
  none.reset();
}

TEST(SkbCopyBits, copies_from_an_offset_in_the_linear_part) {
  SkbPtr skb = alloc_skb(256);
  auto src = skbtest::pattern(100);
  std::memcpy(skb_put(skb.get(), 100), src.data(), 100);
  std::uint8_t out[30];
  ASSERT_EQ(skb_copy_bits(skb.get(), 50, out, 30), 0);
  EXPECT_EQ(0, std::memcmp(out, src.data() + 50, 30));
}

TEST(SkbCopyBits, reading_past_len_is_efault) {
  SkbPtr skb = alloc_skb(256);
  skb_put(skb.get(), 100);
  std::uint8_t out[200];
  EXPECT_EQ(skb_copy_bits(skb.get(), 90, out, 11), -EFAULT);
  EXPECT_EQ(skb_copy_bits(skb.get(), 101, out, 0), -EFAULT);
  EXPECT_EQ(skb_copy_bits(skb.get(), 0xffffffffu, out, 2), -EFAULT);
  EXPECT_EQ(skb_copy_bits(skb.get(), 100, out, 0), 0);
}

using SkbPanicDeathTest = ::testing::Test;

TEST_F(SkbPanicDeathTest, put_past_end_is_skb_over_panic_naming_the_skb) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        SkbPtr skb = alloc_skb(256);
        skb_put(skb.get(), 200);
        skb_put(skb.get(), skb_tailroom(skb.get()) + 1);
      },
      "skb_over_panic: text:skb_put len:200 put:57 head:0x[0-9a-f]+ data:0 tail:200 end:256");
}

TEST_F(SkbPanicDeathTest, push_below_head_is_skb_under_panic_naming_the_skb) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        SkbPtr skb = alloc_skb_with_headroom(40, 100);
        skb_put(skb.get(), 10);
        skb_push(skb.get(), 41);
      },
      "skb_under_panic: text:skb_push len:10 put:41 head:0x[0-9a-f]+ data:40 tail:50 end:256");
}

TEST_F(SkbPanicDeathTest, reserve_past_end_is_skb_over_panic) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        SkbPtr skb = alloc_skb(256);
        skb_reserve(skb.get(), 257);
      },
      "skb_over_panic: text:skb_reserve");
}

TEST_F(SkbPanicDeathTest, fill_page_desc_beyond_max_skb_frags_aborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        SkbPtr skb = alloc_skb(256);
        skb_fill_page_desc(skb.get(), MAX_SKB_FRAGS, alloc_pages(0), 0, 1);
      },
      "skb_fill_page_desc: frag 17 out of range");
}

}  // namespace
}  // namespace sp
