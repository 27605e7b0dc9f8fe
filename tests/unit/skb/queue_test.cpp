// SkbQueue (sk_buff_head) and SkbRbTree (the seq-ordered rtx / ofo tree).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "skb/skb_queue.hpp"
#include "skb/skbuff.hpp"

namespace sp {
namespace {

// An skb tagged with `id` in its mark, so a test can tell them apart.
SkbPtr tagged(std::uint32_t id) {
  SkbPtr skb = alloc_skb(64);
  skb->mark = id;
  return skb;
}

// An skb carrying [seq, end_seq) in cb the way TCP_SKB_CB lays them out.
SkbPtr seg(std::uint32_t seq, std::uint32_t end_seq) {
  SkbPtr skb = alloc_skb(64);
  std::memcpy(skb->cb + kSkbCbSeqOffset, &seq, 4);
  std::memcpy(skb->cb + kSkbCbEndSeqOffset, &end_seq, 4);
  return skb;
}

std::vector<std::uint32_t> marks(const SkbQueue& q) {
  std::vector<std::uint32_t> v;
  for (const SkBuff& s : q) v.push_back(s.mark);
  return v;
}

std::vector<std::uint32_t> seqs(const SkbRbTree& t) {
  std::vector<std::uint32_t> v;
  for (const SkBuff& s : t) v.push_back(skb_cb_seq(&s));
  return v;
}

using V = std::vector<std::uint32_t>;

TEST(SkbQueue, a_new_queue_is_empty) {
  SkbQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qlen(), 0u);
  EXPECT_EQ(q.peek(), nullptr);
  EXPECT_EQ(q.peek_tail(), nullptr);
  EXPECT_EQ(q.dequeue(), nullptr);
  EXPECT_EQ(q.dequeue_tail(), nullptr);
}

TEST(SkbQueue, queue_tail_and_dequeue_are_fifo) {
  SkbQueue q;
  for (std::uint32_t i = 1; i <= 3; ++i) q.queue_tail(tagged(i));
  EXPECT_EQ(q.qlen(), 3u);
  EXPECT_EQ(q.peek()->mark, 1u);
  EXPECT_EQ(q.peek_tail()->mark, 3u);
  EXPECT_EQ(q.dequeue()->mark, 1u);
  EXPECT_EQ(q.dequeue()->mark, 2u);
  EXPECT_EQ(q.dequeue()->mark, 3u);
  EXPECT_TRUE(q.empty());
}

TEST(SkbQueue, queue_head_and_dequeue_tail_work_from_the_other_ends) {
  SkbQueue q;
  q.queue_tail(tagged(2));
  q.queue_head(tagged(1));
  q.queue_tail(tagged(3));
  EXPECT_EQ(marks(q), (V{1, 2, 3}));
  EXPECT_EQ(q.dequeue_tail()->mark, 3u);
  EXPECT_EQ(q.qlen(), 2u);
}

TEST(SkbQueue, next_and_prev_walk_and_return_null_at_the_ends) {
  SkbQueue q;
  for (std::uint32_t i = 1; i <= 3; ++i) q.queue_tail(tagged(i));
  SkBuff* first = q.peek();
  SkBuff* mid = q.next(first);
  EXPECT_EQ(mid->mark, 2u);
  EXPECT_EQ(q.next(mid)->mark, 3u);
  EXPECT_EQ(q.next(q.peek_tail()), nullptr);
  EXPECT_EQ(q.prev(mid), first);
  EXPECT_EQ(q.prev(first), nullptr);
}

TEST(SkbQueue, insert_after_and_before_place_relative_to_pos) {
  SkbQueue q;
  q.queue_tail(tagged(1));
  q.queue_tail(tagged(4));
  q.insert_after(q.peek(), tagged(2));
  q.insert_before(q.peek_tail(), tagged(3));
  q.insert_after(q.peek_tail(), tagged(5));
  q.insert_before(q.peek(), tagged(0));
  EXPECT_EQ(marks(q), (V{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(q.qlen(), 6u);
}

TEST(SkbQueue, unlink_removes_from_the_middle_and_hands_over_ownership) {
  SkbQueue q;
  for (std::uint32_t i = 1; i <= 3; ++i) q.queue_tail(tagged(i));
  SkBuff* mid = q.next(q.peek());
  SkbPtr got = q.unlink(mid);
  EXPECT_EQ(got.get(), mid);
  EXPECT_EQ(marks(q), (V{1, 3}));
  // Now free to go on another queue.
  SkbQueue other;
  other.queue_tail(std::move(got));
  EXPECT_EQ(other.qlen(), 1u);
}

TEST(SkbQueue, purge_frees_every_skb) {
  const std::uint64_t in_use = skb_pool_stats().skb_in_use;
  SkbQueue q;
  for (std::uint32_t i = 0; i < 10; ++i) q.queue_tail(tagged(i));
  EXPECT_EQ(skb_pool_stats().skb_in_use, in_use + 10);
  q.purge();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(skb_pool_stats().skb_in_use, in_use);
}

TEST(SkbQueue, destroying_the_queue_frees_its_skbs) {
  const std::uint64_t in_use = skb_pool_stats().skb_in_use;
  {
    SkbQueue q;
    for (std::uint32_t i = 0; i < 5; ++i) q.queue_tail(tagged(i));
  }
  EXPECT_EQ(skb_pool_stats().skb_in_use, in_use);
}

TEST(SkbQueue, moving_a_queue_moves_its_skbs) {
  SkbQueue a;
  a.queue_tail(tagged(1));
  a.queue_tail(tagged(2));
  SkbQueue b(std::move(a));
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(marks(b), (V{1, 2}));
}

TEST(SeqBefore, compares_in_sequence_space_across_the_wrap) {
  EXPECT_TRUE(seq_before(1, 2));
  EXPECT_FALSE(seq_before(2, 1));
  EXPECT_FALSE(seq_before(5, 5));
  EXPECT_TRUE(seq_before(0xfffffff0u, 0x10u));
  EXPECT_FALSE(seq_before(0x10u, 0xfffffff0u));
}

TEST(SkbRbTree, keeps_skbs_ordered_by_seq_whatever_the_insert_order) {
  SkbRbTree t;
  for (std::uint32_t s : {3000u, 1000u, 4000u, 2000u}) t.insert(seg(s, s + 1000));
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(seqs(t), (V{1000, 2000, 3000, 4000}));
  EXPECT_EQ(skb_cb_seq(t.first()), 1000u);
  EXPECT_EQ(skb_cb_seq(t.last()), 4000u);
}

TEST(SkbRbTree, orders_across_the_sequence_wrap_at_2_to_the_32) {
  SkbRbTree t;
  // A window straddling 2^32: 0xffff_f000 comes before 0x0000_0400.
  for (std::uint32_t s : {0x400u, 0xfffff000u, 0xfffffc00u, 0x0u, 0xfffff800u}) {
    t.insert(seg(s, s + 0x400));
  }
  EXPECT_EQ(seqs(t), (V{0xfffff000u, 0xfffff800u, 0xfffffc00u, 0x0u, 0x400u}));
  EXPECT_NE(t.find(0x0u), nullptr);
  ASSERT_NE(t.find_containing(0xfffffe00u), nullptr);
  EXPECT_EQ(skb_cb_seq(t.find_containing(0xfffffe00u)), 0xfffffc00u);
  ASSERT_NE(t.find_containing(0x10u), nullptr);
  EXPECT_EQ(skb_cb_seq(t.find_containing(0x10u)), 0x0u);
}

TEST(SkbRbTree, next_and_prev_walk_and_return_null_at_the_ends) {
  SkbRbTree t;
  for (std::uint32_t s : {10u, 20u, 30u}) t.insert(seg(s, s + 10));
  SkBuff* a = t.first();
  SkBuff* b = t.next(a);
  EXPECT_EQ(skb_cb_seq(b), 20u);
  EXPECT_EQ(t.prev(b), a);
  EXPECT_EQ(t.prev(a), nullptr);
  EXPECT_EQ(t.next(t.last()), nullptr);
}

TEST(SkbRbTree, find_matches_only_an_exact_seq) {
  SkbRbTree t;
  for (std::uint32_t s : {100u, 200u, 300u}) t.insert(seg(s, s + 100));
  ASSERT_NE(t.find(200), nullptr);
  EXPECT_EQ(skb_cb_seq(t.find(200)), 200u);
  EXPECT_EQ(t.find(250), nullptr);
  EXPECT_EQ(t.find(50), nullptr);
}

TEST(SkbRbTree, find_containing_returns_the_skb_covering_the_seq) {
  SkbRbTree t;
  t.insert(seg(100, 200));
  t.insert(seg(200, 300));
  t.insert(seg(400, 500));  // a hole at [300, 400)
  EXPECT_EQ(skb_cb_seq(t.find_containing(100)), 100u);
  EXPECT_EQ(skb_cb_seq(t.find_containing(199)), 100u);
  EXPECT_EQ(skb_cb_seq(t.find_containing(200)), 200u);
  EXPECT_EQ(skb_cb_seq(t.find_containing(499)), 400u);
  EXPECT_EQ(t.find_containing(99), nullptr);
  EXPECT_EQ(t.find_containing(300), nullptr);
  EXPECT_EQ(t.find_containing(350), nullptr);
  EXPECT_EQ(t.find_containing(500), nullptr);
}

TEST(SkbRbTree, find_containing_on_an_empty_tree_is_null) {
  SkbRbTree t;
  EXPECT_EQ(t.find_containing(0), nullptr);
  EXPECT_EQ(t.first(), nullptr);
  EXPECT_EQ(t.last(), nullptr);
}

TEST(SkbRbTree, erase_hands_over_ownership_and_keeps_the_order) {
  SkbRbTree t;
  for (std::uint32_t s : {10u, 20u, 30u}) t.insert(seg(s, s + 10));
  SkbPtr got = t.erase(t.find(20));
  ASSERT_TRUE(got);
  EXPECT_EQ(skb_cb_seq(got.get()), 20u);
  EXPECT_EQ(seqs(t), (V{10, 30}));
  EXPECT_EQ(t.size(), 2u);
}

TEST(SkbRbTree, an_skb_can_sit_on_a_queue_after_leaving_the_tree) {
  SkbRbTree t;
  t.insert(seg(10, 20));
  SkbQueue q;
  q.queue_tail(t.erase(t.first()));
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(q.qlen(), 1u);
}

TEST(SkbRbTree, purge_and_destruction_free_every_skb) {
  const std::uint64_t in_use = skb_pool_stats().skb_in_use;
  {
    SkbRbTree t;
    for (std::uint32_t s = 0; s < 50; ++s) t.insert(seg(s * 100, s * 100 + 100));
    EXPECT_EQ(skb_pool_stats().skb_in_use, in_use + 50);
    SkbRbTree u;
    u.insert(seg(1, 2));
    u.purge();
    EXPECT_TRUE(u.empty());
  }
  EXPECT_EQ(skb_pool_stats().skb_in_use, in_use);
}

TEST(SkbRbTree, a_retransmit_queue_walk_frees_acked_skbs_in_order) {
  // tcp_clean_rtx_queue: free from the front while end_seq <= snd_una.
  SkbRbTree t;
  const std::uint32_t base = 0xffffff00u;
  for (std::uint32_t i = 0; i < 4; ++i) t.insert(seg(base + i * 0x100, base + (i + 1) * 0x100));
  const std::uint32_t snd_una = base + 0x280;  // acks two and a half skbs
  while (SkBuff* s = t.first()) {
    if (seq_before(snd_una, skb_cb_end_seq(s))) break;
    t.erase(s);
  }
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(skb_cb_seq(t.first()), base + 0x200);
}

using SkbQueueDeathTest = ::testing::Test;

TEST_F(SkbQueueDeathTest, freeing_an_skb_still_on_a_queue_aborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        SkbQueue q;
        q.queue_tail(tagged(1));
        SkbPtr owner(q.peek());  // a second owner: a bug
        owner.reset();
      },
      "kfree_skb: skb 0x[0-9a-f]+ is still on a queue");
}

}  // namespace
}  // namespace sp
