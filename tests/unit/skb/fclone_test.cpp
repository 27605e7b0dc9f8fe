// Fast clones: alloc_skb_fclone reserves the struct for the first clone
// (tcp_transmit_skb's), and skb_fclone_busy says whether it is in flight.
#include <gtest/gtest.h>

#include "skb/skbuff.hpp"
#include "skb_test_util.hpp"

namespace sp {
namespace {

using skbtest::expect_invariants;
using skbtest::ScopedPoolLimits;

TEST(SkbFclone, an_fclone_skb_behaves_like_alloc_skb) {
  SkbPtr f = alloc_skb_fclone(1500);
  SkbPtr a = alloc_skb(1500);
  ASSERT_TRUE(f && a);
  expect_invariants(f.get());
  EXPECT_EQ(skb_end_offset(f.get()), skb_end_offset(a.get()));
  EXPECT_EQ(f->truesize, a->truesize);
  skb_reserve(f.get(), 320);
  skb_put(f.get(), 1000);
  skb_push(f.get(), 66);
  expect_invariants(f.get());
}

TEST(SkbFclone, the_first_clone_needs_no_new_struct) {
  SkbPtr f = alloc_skb_fclone(1500);
  SkbPoolLimits l = skb_pool_limits();
  l.max_skbs = skb_pool_process_usage().skbs;  // no struct can be allocated now
  ScopedPoolLimits guard(l);
  ASSERT_EQ(alloc_skb(100), nullptr);
  SkbPtr c = skb_clone(f.get());
  ASSERT_TRUE(c);  // the companion
  EXPECT_EQ(c->head, f->head);
  EXPECT_EQ(skb_shinfo(f.get())->dataref, 2u);
  EXPECT_EQ(skb_clone(f.get()), nullptr);  // a second clone needs a struct
}

TEST(SkbFclone, an_fclone_pair_needs_two_structs_of_the_limit) {
  SkbPoolLimits l = skb_pool_limits();
  l.max_skbs = skb_pool_process_usage().skbs + 1;
  ScopedPoolLimits guard(l);
  EXPECT_EQ(alloc_skb_fclone(100), nullptr);
  EXPECT_NE(alloc_skb(100), nullptr);
}

TEST(SkbFclone, busy_while_the_companion_clone_is_owned_by_the_socket) {
  int sock = 0, other = 0;
  SkbPtr f = alloc_skb_fclone(1500);
  f->sk = &sock;
  EXPECT_FALSE(skb_fclone_busy(&sock, f.get()));
  SkbPtr c = skb_clone(f.get());
  c->sk = &sock;  // skb_set_owner_w in tcp_transmit_skb
  EXPECT_TRUE(skb_fclone_busy(&sock, f.get()));
  EXPECT_FALSE(skb_fclone_busy(&other, f.get()));
  c.reset();  // the device freed it after xmit
  EXPECT_FALSE(skb_fclone_busy(&sock, f.get()));
}

TEST(SkbFclone, a_plain_skb_and_an_ordinary_clone_are_never_fclone_busy) {
  int sock = 0;
  SkbPtr a = alloc_skb(100);
  SkbPtr c = skb_clone(a.get());
  c->sk = &sock;
  EXPECT_FALSE(skb_fclone_busy(&sock, a.get()));
  SkbPtr f = alloc_skb_fclone(100);
  SkbPtr c1 = skb_clone(f.get());
  SkbPtr c2 = skb_clone(f.get());  // not the companion
  c2->sk = &sock;
  EXPECT_FALSE(skb_fclone_busy(&sock, f.get()));
}

TEST(SkbFclone, the_companion_is_reused_after_it_is_freed) {
  SkbPtr f = alloc_skb_fclone(1500);
  SkbPtr c = skb_clone(f.get());
  SkBuff* first = c.get();
  c.reset();
  SkbPtr again = skb_clone(f.get());
  EXPECT_EQ(again.get(), first);
}

TEST(SkbFclone, the_pair_is_freed_whichever_side_goes_last) {
  const std::uint64_t in_use = skb_pool_process_usage().skbs;
  const std::uint64_t heads = skb_pool_stats().head_in_use;
  {
    SkbPtr f = alloc_skb_fclone(1500);
    SkbPtr c = skb_clone(f.get());
    f.reset();  // the original goes first (acked while the clone is queued)
    EXPECT_EQ(skb_pool_stats().skb_in_use, in_use + 2);
    EXPECT_EQ(skb_shinfo(c.get())->dataref, 1u);
  }
  EXPECT_EQ(skb_pool_stats().skb_in_use, in_use);
  EXPECT_EQ(skb_pool_stats().head_in_use, heads);
  {
    SkbPtr f = alloc_skb_fclone(1500);
    SkbPtr c = skb_clone(f.get());
    c.reset();
  }
  EXPECT_EQ(skb_pool_stats().skb_in_use, in_use);
}

TEST(SkbFclone, alloc_and_free_counts_balance_for_pairs) {
  const SkbPoolStats before = skb_pool_stats();
  for (int i = 0; i < 100; ++i) {
    SkbPtr f = alloc_skb_fclone(1500);
    SkbPtr c = skb_clone(f.get());
  }
  const SkbPoolStats& after = skb_pool_stats();
  EXPECT_EQ(after.skb_allocs - before.skb_allocs, 200u);
  EXPECT_EQ(after.skb_frees - before.skb_frees, 200u);
  EXPECT_EQ(after.skb_in_use, before.skb_in_use);
}

TEST(SkbAllocLimits, absurd_sizes_fail_instead_of_wrapping) {
  const std::uint64_t failures = skb_pool_stats().alloc_failures;
  EXPECT_EQ(alloc_skb(0x80000000u), nullptr);
  EXPECT_EQ(alloc_skb_with_headroom(0xffffffffu, 10), nullptr);
  EXPECT_EQ(alloc_skb_fclone(0xfffffff0u), nullptr);
  EXPECT_EQ(skb_pool_stats().alloc_failures - failures, 3u);
}

}  // namespace
}  // namespace sp
