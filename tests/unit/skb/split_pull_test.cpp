// skb_split (tcp_fragment's cut), __pskb_pull_tail / pskb_may_pull (a
// receive path making a header linear), skb_header_pointer, skb_unclone and
// the small header-offset and put helpers.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "skb/skbuff.hpp"
#include "skb_test_util.hpp"

namespace sp {
namespace {

using skbtest::expect_invariants;
using skbtest::pattern;
using skbtest::skb_bytes;

// linear bytes, then frags of the given sizes, all from one pattern.
SkbPtr make_skb(std::uint32_t linear, std::vector<std::uint32_t> frags,
                std::vector<std::uint8_t>* all) {
  std::uint32_t total = linear;
  for (auto f : frags) total += f;
  *all = pattern(total, 5);
  SkbPtr skb = alloc_skb_with_headroom(64, linear);
  skb_put_data(skb.get(), all->data(), linear);
  std::uint32_t at = linear;
  for (std::size_t i = 0; i < frags.size(); ++i) {
    Page* p = alloc_pages(0);
    std::memcpy(p->addr + 100, all->data() + at, frags[i]);
    skb_fill_page_desc(skb.get(), static_cast<int>(i), p, 100, frags[i]);
    skb->len += frags[i];
    skb->data_len += frags[i];
    skb->truesize += frags[i];
    at += frags[i];
  }
  return skb;
}

std::vector<std::uint8_t> slice(const std::vector<std::uint8_t>& v, std::size_t from,
                                std::size_t to) {
  return {v.begin() + static_cast<std::ptrdiff_t>(from),
          v.begin() + static_cast<std::ptrdiff_t>(to)};
}

TEST(SkbSplit, a_cut_in_the_linear_part_copies_its_tail_and_moves_all_frags) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(300, {500, 500}, &all);
  Page* p0 = skb_shinfo(skb.get())->frags[0].page;
  SkbPtr skb1 = alloc_skb_with_headroom(64, 300);
  skb_split(skb.get(), skb1.get(), 120);
  expect_invariants(skb.get());
  expect_invariants(skb1.get());
  EXPECT_EQ(skb->len, 120u);
  EXPECT_EQ(skb->data_len, 0u);
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 0);
  EXPECT_EQ(skb1->len, 1180u);
  EXPECT_EQ(skb_headlen(skb1.get()), 180u);
  EXPECT_EQ(skb_shinfo(skb1.get())->nr_frags, 2);
  EXPECT_EQ(p0->refcount, 1u);  // moved, not shared
  EXPECT_EQ(skb_bytes(skb.get()), slice(all, 0, 120));
  EXPECT_EQ(skb_bytes(skb1.get()), slice(all, 120, 1300));
}

TEST(SkbSplit, a_cut_inside_a_frag_shares_that_page_between_both_sides) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(100, {400, 400, 400}, &all);
  Page* mid = skb_shinfo(skb.get())->frags[1].page;
  SkbPtr skb1 = alloc_skb(64);
  skb_split(skb.get(), skb1.get(), 700);  // 100 linear + 400 + 200 of the middle frag
  expect_invariants(skb.get());
  expect_invariants(skb1.get());
  EXPECT_EQ(skb->len, 700u);
  EXPECT_EQ(skb->data_len, 600u);
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 2);
  EXPECT_EQ(skb1->len, 600u);
  EXPECT_EQ(skb1->data_len, 600u);
  EXPECT_EQ(skb_shinfo(skb1.get())->nr_frags, 2);
  EXPECT_EQ(skb_shinfo(skb1.get())->frags[0].page, mid);
  EXPECT_EQ(skb_shinfo(skb1.get())->frags[0].offset, 300u);
  EXPECT_EQ(mid->refcount, 2u);
  EXPECT_EQ(skb_bytes(skb.get()), slice(all, 0, 700));
  EXPECT_EQ(skb_bytes(skb1.get()), slice(all, 700, 1300));
  skb.reset();
  EXPECT_EQ(mid->refcount, 1u);
}

TEST(SkbSplit, a_cut_on_a_frag_boundary_moves_whole_frags) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(100, {400, 400}, &all);
  Page* second = skb_shinfo(skb.get())->frags[1].page;
  SkbPtr skb1 = alloc_skb(64);
  skb_split(skb.get(), skb1.get(), 500);
  expect_invariants(skb.get());
  expect_invariants(skb1.get());
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 1);
  EXPECT_EQ(skb_shinfo(skb1.get())->nr_frags, 1);
  EXPECT_EQ(second->refcount, 1u);
  EXPECT_EQ(skb_bytes(skb1.get()), slice(all, 500, 900));
}

TEST(SkbSplit, a_cut_at_the_end_of_the_linear_part_moves_every_frag) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(100, {400}, &all);
  SkbPtr skb1 = alloc_skb(64);
  skb_split(skb.get(), skb1.get(), 100);
  expect_invariants(skb.get());
  expect_invariants(skb1.get());
  EXPECT_EQ(skb->len, 100u);
  EXPECT_EQ(skb_bytes(skb1.get()), slice(all, 100, 500));
}

using SkbSplitDeathTest = ::testing::Test;

TEST_F(SkbSplitDeathTest, splitting_a_cloned_skb_aborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        std::vector<std::uint8_t> all;
        SkbPtr skb = make_skb(100, {400}, &all);
        SkbPtr c = skb_clone(skb.get());
        SkbPtr skb1 = alloc_skb(64);
        skb_split(skb.get(), skb1.get(), 300);
      },
      "skb_split: .* cannot be split");
}

TEST(PskbPullTail, pulls_frag_bytes_into_the_linear_part) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(20, {30, 400}, &all);
  Page* first = skb_shinfo(skb.get())->frags[0].page;
  get_page(first);
  ASSERT_NE(__pskb_pull_tail(skb.get(), 40), nullptr);
  expect_invariants(skb.get());
  EXPECT_EQ(skb_headlen(skb.get()), 60u);
  EXPECT_EQ(skb->len, 450u);
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 1);  // the 30-byte frag was eaten
  EXPECT_EQ(skb_shinfo(skb.get())->frags[0].size, 390u);
  EXPECT_EQ(first->refcount, 1u);
  EXPECT_EQ(0, std::memcmp(skb->data, all.data(), 60));
  EXPECT_EQ(skb_bytes(skb.get()), all);
  put_page(first);
}

TEST(PskbPullTail, grows_the_head_when_the_linear_part_has_no_room) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(0, {3000}, &all);
  const std::uint32_t room = static_cast<std::uint32_t>(skb->end - skb->tail);
  ASSERT_LT(room, 2000u);
  ASSERT_NE(__pskb_pull_tail(skb.get(), 2000), nullptr);
  expect_invariants(skb.get());
  EXPECT_EQ(skb_headlen(skb.get()), 2000u);
  EXPECT_EQ(skb_headroom(skb.get()), 64u);
  EXPECT_EQ(skb_bytes(skb.get()), all);
}

TEST(PskbPullTail, on_a_clone_leaves_the_other_clone_as_it_was) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(20, {400}, &all);
  SkbPtr c = skb_clone(skb.get());
  ASSERT_NE(__pskb_pull_tail(c.get(), 100), nullptr);
  expect_invariants(c.get());
  expect_invariants(skb.get());
  EXPECT_EQ(skb_headlen(skb.get()), 20u);
  EXPECT_EQ(skb_shinfo(skb.get())->frags[0].size, 400u);
  EXPECT_EQ(skb_bytes(skb.get()), all);
  EXPECT_EQ(skb_bytes(c.get()), all);
}

TEST(PskbPullTail, more_than_the_paged_bytes_fails) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(20, {100}, &all);
  EXPECT_EQ(__pskb_pull_tail(skb.get(), 101), nullptr);
  EXPECT_EQ(skb_headlen(skb.get()), 20u);
}

TEST(PskbMayPull, true_without_work_when_the_bytes_are_linear) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(60, {100}, &all);
  std::uint8_t* head = skb->head;
  EXPECT_TRUE(pskb_may_pull(skb.get(), 60));
  EXPECT_EQ(skb->head, head);
  EXPECT_EQ(skb_headlen(skb.get()), 60u);
}

TEST(PskbMayPull, makes_a_header_in_the_frags_linear) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(0, {1500}, &all);  // a GSO read: everything paged
  ASSERT_TRUE(pskb_may_pull(skb.get(), 40));
  EXPECT_GE(skb_headlen(skb.get()), 40u);
  EXPECT_EQ(0, std::memcmp(skb->data, all.data(), 40));
  EXPECT_EQ(skb_bytes(skb.get()), all);
}

TEST(PskbMayPull, false_when_the_skb_is_shorter) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(10, {10}, &all);
  EXPECT_FALSE(pskb_may_pull(skb.get(), 21));
  EXPECT_EQ(skb_headlen(skb.get()), 10u);
}

TEST(SkbHeaderPointer, points_into_the_linear_part_when_it_can) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(60, {100}, &all);
  std::uint8_t buf[20];
  EXPECT_EQ(skb_header_pointer(skb.get(), 10, 20, buf), skb->data + 10);
}

TEST(SkbHeaderPointer, copies_when_the_bytes_cross_into_frags) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(60, {100}, &all);
  std::uint8_t buf[20];
  const std::uint8_t* p = skb_header_pointer(skb.get(), 50, 20, buf);
  EXPECT_EQ(p, buf);
  EXPECT_EQ(0, std::memcmp(buf, all.data() + 50, 20));
  EXPECT_EQ(skb_header_pointer(skb.get(), 150, 20, buf), nullptr);
}

TEST(SkbUnclone, gives_a_clone_a_private_head_and_leaves_a_private_skb_alone) {
  SkbPtr skb = alloc_skb(256);
  std::uint8_t* head = skb->head;
  ASSERT_EQ(skb_unclone(skb.get()), 0);
  EXPECT_EQ(skb->head, head);
  SkbPtr c = skb_clone(skb.get());
  ASSERT_EQ(skb_unclone(c.get()), 0);
  EXPECT_NE(c->head, skb->head);
  EXPECT_FALSE(skb_cloned(c.get()));
  EXPECT_FALSE(skb_cloned(skb.get()));
}

TEST(SkbHelpers, put_data_and_put_zero_fill_what_they_add) {
  SkbPtr skb = alloc_skb(256);
  std::memset(skb->head, 0xff, 64);
  const std::uint8_t d[3] = {1, 2, 3};
  skb_put_data(skb.get(), d, 3);
  skb_put_zero(skb.get(), 4);
  EXPECT_EQ(skb->len, 7u);
  EXPECT_EQ(skb_bytes(skb.get()), (std::vector<std::uint8_t>{1, 2, 3, 0, 0, 0, 0}));
}

TEST(SkbHelpers, set_header_offsets_are_relative_to_data) {
  SkbPtr skb = alloc_skb_with_headroom(64, 100);
  skb_put(skb.get(), 66);
  EXPECT_FALSE(skb_mac_header_was_set(skb.get()));
  EXPECT_FALSE(skb_transport_header_was_set(skb.get()));
  skb_set_mac_header(skb.get(), 0);
  skb_set_network_header(skb.get(), 14);
  skb_set_transport_header(skb.get(), 34);
  EXPECT_TRUE(skb_mac_header_was_set(skb.get()));
  EXPECT_TRUE(skb_transport_header_was_set(skb.get()));
  EXPECT_EQ(skb_network_header(skb.get()), skb->data + 14);
  EXPECT_EQ(skb_network_offset(skb.get()), 14);
  EXPECT_EQ(skb_transport_offset(skb.get()), 34);
  skb_pull(skb.get(), 34);
  EXPECT_EQ(skb_network_offset(skb.get()), -20);
  EXPECT_EQ(skb_transport_offset(skb.get()), 0);
}

TEST(SkbLinearize, pulls_every_paged_byte_into_the_head) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(40, {1000, 2000, 500}, &all);
  ASSERT_EQ(skb_linearize(skb.get()), 0);
  expect_invariants(skb.get());
  EXPECT_FALSE(skb_is_nonlinear(skb.get()));
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 0);
  EXPECT_EQ(skb_headlen(skb.get()), 3540u);
  EXPECT_EQ(0, std::memcmp(skb->data, all.data(), all.size()));
}

TEST(SkbLinearize, fails_with_enomem_when_no_bigger_head_can_be_had) {
  std::vector<std::uint8_t> all;
  SkbPtr skb = make_skb(40, {3000}, &all);
  SkbPoolLimits l = skb_pool_limits();
  l.max_head_bytes = skb_pool_process_usage().head_bytes;
  skbtest::ScopedPoolLimits guard(l);
  EXPECT_EQ(skb_linearize(skb.get()), -ENOMEM);
  EXPECT_EQ(skb_bytes(skb.get()), all);  // unchanged
}

TEST(SkbOrphan, runs_the_destructor_once_and_detaches_the_socket) {
  static int calls;
  calls = 0;
  int sock = 0;
  SkbPtr skb = alloc_skb(100);
  skb->sk = &sock;
  skb->destructor = [](SkBuff*) { ++calls; };
  skb_orphan(skb.get());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(skb->sk, nullptr);
  skb.reset();
  EXPECT_EQ(calls, 1);  // not again at free
}

}  // namespace
}  // namespace sp
