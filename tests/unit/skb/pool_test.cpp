// The pools behind alloc_skb / alloc_pages: reuse, limits, exhaustion as an
// allocation failure, and per-thread independence.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "skb/skbuff.hpp"
#include "skb_test_util.hpp"

namespace sp {
namespace {

using skbtest::head_block_bytes;
using skbtest::ScopedPoolLimits;

TEST(SkbPool, repeated_alloc_free_of_skbs_reuses_heads_and_structs) {
  kfree_skb(alloc_skb(1500));  // warm the 1500 B class
  const SkbPoolStats before = skb_pool_stats();
  for (int i = 0; i < 1000; ++i) consume_skb(alloc_skb(1500));
  const SkbPoolStats& after = skb_pool_stats();
  EXPECT_EQ(after.head_fresh, before.head_fresh);
  EXPECT_EQ(after.skb_allocs - before.skb_allocs, 1000u);
  EXPECT_EQ(after.skb_frees - before.skb_frees, 1000u);
  EXPECT_EQ(after.head_allocs - before.head_allocs, 1000u);
  EXPECT_EQ(after.skb_in_use, before.skb_in_use);
  EXPECT_EQ(after.head_in_use, before.head_in_use);
}

TEST(SkbPool, a_freed_head_is_handed_out_again) {
  SkbPtr a = alloc_skb(4000);
  std::uint8_t* head = a->head;
  a.reset();
  SkbPtr b = alloc_skb(4000);
  EXPECT_EQ(b->head, head);
}

TEST(SkbPool, repeated_page_alloc_free_reuses_pages) {
  put_page(alloc_pages(3));
  put_page(alloc_pages(0));
  const SkbPoolStats before = skb_pool_stats();
  for (int i = 0; i < 500; ++i) {
    put_page(alloc_pages(3));
    put_page(alloc_pages(0));
  }
  const SkbPoolStats& after = skb_pool_stats();
  EXPECT_EQ(after.page_fresh, before.page_fresh);
  EXPECT_EQ(after.page_allocs - before.page_allocs, 1000u);
  EXPECT_EQ(after.page_in_use, before.page_in_use);
}

TEST(SkbPool, skbs_with_paged_data_return_everything) {
  const SkbPoolStats before = skb_pool_stats();
  {
    PageFrag pfrag;
    for (int i = 0; i < 100; ++i) {
      SkbPtr skb = alloc_skb(256);
      ASSERT_TRUE(skb_page_frag_refill(1000, &pfrag));
      get_page(pfrag.page);
      skb_fill_page_desc(skb.get(), 0, pfrag.page, pfrag.offset, 1000);
      pfrag.offset += 1000;
      SkbPtr c = skb_clone(skb.get());
    }
  }
  const SkbPoolStats& after = skb_pool_stats();
  EXPECT_EQ(after.skb_in_use, before.skb_in_use);
  EXPECT_EQ(after.head_in_use, before.head_in_use);
  EXPECT_EQ(after.page_in_use, before.page_in_use);
  EXPECT_EQ(after.head_bytes_in_use, before.head_bytes_in_use);
}

TEST(SkbPool, skb_limit_makes_alloc_skb_return_null) {
  const std::uint64_t in_use = skb_pool_process_usage().skbs;
  SkbPoolLimits l = skb_pool_limits();
  l.max_skbs = in_use + 2;
  ScopedPoolLimits guard(l);
  SkbPtr a = alloc_skb(100);
  SkbPtr b = alloc_skb(100);
  ASSERT_TRUE(a && b);
  const std::uint64_t failures = skb_pool_stats().alloc_failures;
  EXPECT_EQ(alloc_skb(100), nullptr);
  EXPECT_EQ(skb_clone(a.get()), nullptr);
  EXPECT_EQ(skb_pool_stats().alloc_failures - failures, 2u);
  EXPECT_EQ(skb_shinfo(a.get())->dataref, 1u);  // the failed clone left no trace
  b.reset();
  EXPECT_NE(alloc_skb(100), nullptr);  // room again once one is freed
}

TEST(SkbPool, head_byte_limit_makes_alloc_skb_return_null_without_leaking_the_struct) {
  const SkbPoolStats before = skb_pool_stats();
  SkbPoolLimits l = skb_pool_limits();
  l.max_head_bytes = skb_pool_process_usage().head_bytes + head_block_bytes(2048);
  ScopedPoolLimits guard(l);
  SkbPtr a = alloc_skb(2000);
  ASSERT_TRUE(a);
  EXPECT_EQ(alloc_skb(100), nullptr);
  EXPECT_EQ(skb_pool_stats().skb_in_use, before.skb_in_use + 1);
}

TEST(SkbPool, exhausted_pskb_expand_head_fails_with_enomem_and_keeps_the_skb) {
  SkbPtr skb = alloc_skb_with_headroom(32, 100);
  std::memset(skb_put(skb.get(), 100), 0x7e, 100);
  SkbPoolLimits l = skb_pool_limits();
  l.max_head_bytes = skb_pool_process_usage().head_bytes;
  ScopedPoolLimits guard(l);
  std::uint8_t* head = skb->head;
  EXPECT_EQ(pskb_expand_head(skb.get(), 64, 0), -ENOMEM);
  EXPECT_EQ(skb_cow_head(skb.get(), 100), -ENOMEM);
  EXPECT_EQ(skb->head, head);
  EXPECT_EQ(skb->len, 100u);
  EXPECT_EQ(skb->data[99], 0x7e);
  EXPECT_EQ(pskb_copy(skb.get()), nullptr);
  EXPECT_EQ(skb_copy(skb.get()), nullptr);
}

TEST(SkbPool, page_limit_makes_alloc_pages_and_frag_refill_fail) {
  SkbPoolLimits l = skb_pool_limits();
  l.max_pages = skb_pool_process_usage().pages_4k + 1;
  ScopedPoolLimits guard(l);
  Page* p = alloc_pages(0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(alloc_pages(0), nullptr);
  PageFrag pfrag;
  EXPECT_FALSE(skb_page_frag_refill(100, &pfrag));
  EXPECT_EQ(pfrag.page, nullptr);
  put_page(p);
  EXPECT_TRUE(skb_page_frag_refill(100, &pfrag));
}

TEST(SkbPool, page_limit_counts_an_order_3_page_as_eight) {
  SkbPoolLimits l = skb_pool_limits();
  l.max_pages = skb_pool_process_usage().pages_4k + 8;
  ScopedPoolLimits guard(l);
  Page* big = alloc_pages(3);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(alloc_pages(0), nullptr);
  put_page(big);
  Page* small = alloc_pages(0);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(alloc_pages(3), nullptr);
  put_page(small);
}

TEST(SkbPool, frag_refill_falls_back_to_a_single_page_when_no_32k_page_is_left) {
  SkbPoolLimits l = skb_pool_limits();
  l.max_pages = skb_pool_process_usage().pages_4k + 7;
  ScopedPoolLimits guard(l);
  PageFrag pfrag;
  ASSERT_TRUE(skb_page_frag_refill(100, &pfrag));
  ASSERT_NE(pfrag.page, nullptr);
  EXPECT_EQ(pfrag.page->order, 0u);
  EXPECT_EQ(pfrag.size, PAGE_SIZE);
}

TEST(SkbPool, limits_round_trip) {
  SkbPoolLimits l;
  l.max_skbs = 7;
  l.max_head_bytes = 9000;
  l.max_pages = 3;
  ScopedPoolLimits guard(l);
  const SkbPoolLimits got = skb_pool_limits();
  EXPECT_EQ(got.max_skbs, 7u);
  EXPECT_EQ(got.max_head_bytes, 9000u);
  EXPECT_EQ(got.max_pages, 3u);
}

TEST(SkbPool, pools_and_limits_are_per_thread) {
  SkbPoolLimits l = skb_pool_limits();
  l.max_skbs = skb_pool_process_usage().skbs;  // this thread can allocate nothing
  ScopedPoolLimits guard(l);
  ASSERT_EQ(alloc_skb(100), nullptr);
  bool other_ok = false;
  std::uint64_t other_in_use = 1;
  std::thread t([&] {
    SkbPtr s = alloc_skb(100);
    other_ok = s != nullptr;
    s.reset();
    other_in_use = skb_pool_process_usage().skbs;
  });
  t.join();
  EXPECT_TRUE(other_ok);
  EXPECT_EQ(other_in_use, 0u);
}

TEST(SkbPool, an_skb_outliving_its_thread_can_still_be_freed) {
  SkbPtr moved;
  std::thread t([&] {
    moved = alloc_skb(1000);
    skb_put(moved.get(), 10);
  });
  t.join();
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->len, 10u);
  moved.reset();  // goes to this thread's pool (or the heap), not the dead one
}

TEST(SkbPool, a_burst_of_frees_does_not_stay_cached_without_bound) {
  // 400 x 64 KiB heads = 26 MiB in flight; what the pool keeps afterwards is
  // capped (16 MiB per list), the rest goes back to the heap.
  std::vector<SkbPtr> burst;
  for (int i = 0; i < 400; ++i) burst.push_back(alloc_skb(65536));
  const std::uint64_t cached_before = skb_pool_stats().cached_bytes;
  burst.clear();
  const std::uint64_t kept = skb_pool_stats().cached_bytes - cached_before;
  EXPECT_GT(kept, 0u);
  EXPECT_LE(kept, (16ull << 20) + 400 * sizeof(SkBuff));
}

TEST(SkbPool, cached_bytes_follow_the_free_lists) {
  SkbPtr a = alloc_skb(4000);
  const std::uint64_t c0 = skb_pool_stats().cached_bytes;
  a.reset();
  const std::uint64_t c1 = skb_pool_stats().cached_bytes;
  EXPECT_EQ(c1 - c0, head_block_bytes(4096) + sizeof(SkBuff));
  SkbPtr b = alloc_skb(4000);
  EXPECT_EQ(skb_pool_stats().cached_bytes, c0);
}

}  // namespace
}  // namespace sp
