// Paged data: pages and their references, frags, coalescing, the page-frag
// allocator, copy_bits across frags and pskb_trim.
#include <gtest/gtest.h>

#include <algorithm>
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

// Appends n bytes of src to skb the way tcp_sendmsg does: into the socket's
// page frag, coalescing with the last frag when contiguous.
void append_paged(SkBuff* skb, PageFrag* pfrag, const std::uint8_t* src, std::uint32_t n) {
  while (n) {
    ASSERT_TRUE(skb_page_frag_refill(1, pfrag));
    const std::uint32_t copy = std::min(n, pfrag->size - pfrag->offset);
    std::memcpy(pfrag->page->addr + pfrag->offset, src, copy);
    int i = skb_shinfo(skb)->nr_frags;
    if (skb_can_coalesce(skb, i, pfrag->page, pfrag->offset)) {
      skb_shinfo(skb)->frags[i - 1].size += copy;
    } else {
      ASSERT_LT(i, MAX_SKB_FRAGS);
      get_page(pfrag->page);
      skb_fill_page_desc(skb, i, pfrag->page, pfrag->offset, copy);
    }
    skb->len += copy;
    skb->data_len += copy;
    skb->truesize += copy;
    pfrag->offset += copy;
    src += copy;
    n -= copy;
  }
}

TEST(Pages, alloc_pages_gives_a_page_of_the_order_with_one_reference) {
  Page* p0 = alloc_pages(0);
  Page* p3 = alloc_pages(3);
  ASSERT_TRUE(p0 && p3);
  EXPECT_EQ(p0->size, PAGE_SIZE);
  EXPECT_EQ(p3->size, 32768u);
  EXPECT_EQ(p0->refcount, 1u);
  EXPECT_EQ(p3->order, 3u);
  p3->addr[32767] = 1;  // the whole page is writable
  put_page(p0);
  put_page(p3);
}

TEST(Pages, a_page_returns_to_the_pool_only_when_the_last_reference_goes) {
  Page* p = alloc_pages(0);
  const std::uint64_t in_use = skb_pool_stats().page_in_use;
  get_page(p);
  EXPECT_EQ(p->refcount, 2u);
  put_page(p);
  EXPECT_EQ(skb_pool_stats().page_in_use, in_use);
  put_page(p);
  EXPECT_EQ(skb_pool_stats().page_in_use, in_use - 1);
}

TEST(Frags, fill_page_desc_sets_the_frag_and_nr_frags) {
  SkbPtr skb = alloc_skb(256);
  Page* p = alloc_pages(0);
  skb_fill_page_desc(skb.get(), 0, p, 100, 200);
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 1);
  const SkbFrag& f = skb_shinfo(skb.get())->frags[0];
  EXPECT_EQ(f.page, p);
  EXPECT_EQ(f.offset, 100u);
  EXPECT_EQ(f.size, 200u);
  EXPECT_EQ(skb_frag_address(&f), p->addr + 100);
}

TEST(Frags, freeing_the_skb_drops_its_frag_page_references) {
  Page* p = alloc_pages(0);
  get_page(p);  // ours; the skb gets the other
  {
    SkbPtr skb = alloc_skb(256);
    skb_fill_page_desc(skb.get(), 0, p, 0, 10);
    EXPECT_EQ(p->refcount, 2u);
  }
  EXPECT_EQ(p->refcount, 1u);
  put_page(p);
}

TEST(Frags, frag_ref_and_unref_count_on_the_page) {
  SkbPtr skb = alloc_skb(256);
  Page* p = alloc_pages(0);
  skb_fill_page_desc(skb.get(), 0, p, 0, 10);
  skb_frag_ref(skb.get(), 0);
  EXPECT_EQ(p->refcount, 2u);
  skb_frag_unref(skb.get(), 0);
  EXPECT_EQ(p->refcount, 1u);
}

TEST(Frags, can_coalesce_only_contiguous_bytes_of_the_same_page) {
  SkbPtr skb = alloc_skb(256);
  Page* p = alloc_pages(0);
  Page* q = alloc_pages(0);
  EXPECT_FALSE(skb_can_coalesce(skb.get(), 0, p, 0));  // no previous frag
  skb_fill_page_desc(skb.get(), 0, p, 100, 50);
  EXPECT_TRUE(skb_can_coalesce(skb.get(), 1, p, 150));
  EXPECT_FALSE(skb_can_coalesce(skb.get(), 1, p, 151));
  EXPECT_FALSE(skb_can_coalesce(skb.get(), 1, p, 100));
  EXPECT_FALSE(skb_can_coalesce(skb.get(), 1, q, 150));
  put_page(q);
}

TEST(Frags, small_appends_through_a_page_frag_coalesce_into_one_frag) {
  SkbPtr skb = alloc_skb(256);
  PageFrag pfrag;
  auto data = pattern(3000);
  for (int i = 0; i < 30; ++i) append_paged(skb.get(), &pfrag, data.data() + i * 100, 100);
  expect_invariants(skb.get());
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 1);
  EXPECT_EQ(skb->len, 3000u);
  EXPECT_EQ(skb->data_len, 3000u);
  EXPECT_EQ(skb_bytes(skb.get()), data);
}

TEST(Frags, an_skb_holds_at_most_max_skb_frags_frags) {
  SkbPtr skb = alloc_skb(256);
  for (int i = 0; i < MAX_SKB_FRAGS; ++i) {
    Page* p = alloc_pages(0);
    skb_fill_page_desc(skb.get(), i, p, 0, 10);
    skb->len += 10;
    skb->data_len += 10;
  }
  expect_invariants(skb.get());
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, MAX_SKB_FRAGS);
  EXPECT_EQ(MAX_SKB_FRAGS, 17);
}

TEST(Frags, copy_bits_spans_linear_part_and_several_frags) {
  SkbPtr skb = alloc_skb(256);
  auto data = pattern(700, 9);
  std::memcpy(skb_put(skb.get(), 100), data.data(), 100);
  for (int i = 0; i < 3; ++i) {
    Page* p = alloc_pages(0);
    std::memcpy(p->addr + 17, data.data() + 100 + i * 200, 200);
    skb_fill_page_desc(skb.get(), i, p, 17, 200);
    skb->len += 200;
    skb->data_len += 200;
  }
  expect_invariants(skb.get());
  std::vector<std::uint8_t> out(450);
  ASSERT_EQ(skb_copy_bits(skb.get(), 150, out.data(), 450), 0);
  EXPECT_EQ(0, std::memcmp(out.data(), data.data() + 150, 450));
  EXPECT_EQ(skb_copy_bits(skb.get(), 650, out.data(), 51), -EFAULT);
  EXPECT_EQ(skb_copy_bits(skb.get(), 650, out.data(), 50), 0);
  EXPECT_EQ(0, std::memcmp(out.data(), data.data() + 650, 50));
}

TEST(PageFrag, refill_takes_a_32k_page) {
  PageFrag pfrag;
  ASSERT_TRUE(skb_page_frag_refill(100, &pfrag));
  ASSERT_NE(pfrag.page, nullptr);
  EXPECT_EQ(pfrag.size, 32768u);
  EXPECT_EQ(pfrag.page->order, SKB_FRAG_PAGE_ORDER);
  EXPECT_EQ(pfrag.offset, 0u);
}

TEST(PageFrag, refill_keeps_a_shared_page_while_it_has_room) {
  PageFrag pfrag;
  ASSERT_TRUE(skb_page_frag_refill(100, &pfrag));
  Page* first = pfrag.page;
  get_page(first);  // an skb points into it
  pfrag.offset = 1000;
  ASSERT_TRUE(skb_page_frag_refill(100, &pfrag));
  EXPECT_EQ(pfrag.page, first);
  EXPECT_EQ(pfrag.offset, 1000u);
  put_page(first);
}

TEST(PageFrag, refill_reuses_the_page_in_place_when_nobody_else_holds_it) {
  PageFrag pfrag;
  ASSERT_TRUE(skb_page_frag_refill(100, &pfrag));
  Page* first = pfrag.page;
  pfrag.offset = 32000;
  ASSERT_TRUE(skb_page_frag_refill(1000, &pfrag));
  EXPECT_EQ(pfrag.page, first);
  EXPECT_EQ(pfrag.offset, 0u);
}

TEST(PageFrag, refill_takes_a_new_page_when_the_shared_one_is_full) {
  PageFrag pfrag;
  ASSERT_TRUE(skb_page_frag_refill(100, &pfrag));
  Page* first = pfrag.page;
  get_page(first);
  pfrag.offset = 32000;
  ASSERT_TRUE(skb_page_frag_refill(1000, &pfrag));
  EXPECT_NE(pfrag.page, first);
  EXPECT_EQ(pfrag.offset, 0u);
  EXPECT_EQ(first->refcount, 1u);  // the frag gave its reference back
  put_page(first);
}

TEST(PageFrag, destructor_drops_the_page_reference) {
  Page* held = nullptr;
  {
    PageFrag pfrag;
    ASSERT_TRUE(skb_page_frag_refill(1, &pfrag));
    held = pfrag.page;
    get_page(held);
  }
  EXPECT_EQ(held->refcount, 1u);
  put_page(held);
}

TEST(PskbTrim, trimming_inside_a_frag_shrinks_it_and_drops_later_frags) {
  SkbPtr skb = alloc_skb(256);
  skb_put(skb.get(), 100);
  Page* pages[3];
  for (int i = 0; i < 3; ++i) {
    pages[i] = alloc_pages(0);
    get_page(pages[i]);  // watch the references
    skb_fill_page_desc(skb.get(), i, pages[i], 0, 1000);
    skb->len += 1000;
    skb->data_len += 1000;
  }
  ASSERT_EQ(pskb_trim(skb.get(), 1600), 0);
  expect_invariants(skb.get());
  EXPECT_EQ(skb->len, 1600u);
  EXPECT_EQ(skb->data_len, 1500u);
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 2);
  EXPECT_EQ(skb_shinfo(skb.get())->frags[1].size, 500u);
  EXPECT_EQ(pages[0]->refcount, 2u);
  EXPECT_EQ(pages[1]->refcount, 2u);
  EXPECT_EQ(pages[2]->refcount, 1u);  // dropped by the trim
  skb.reset();
  for (Page* p : pages) put_page(p);
}

TEST(PskbTrim, trimming_at_a_frag_boundary_keeps_whole_frags) {
  SkbPtr skb = alloc_skb(256);
  skb_put(skb.get(), 100);
  for (int i = 0; i < 3; ++i) {
    skb_fill_page_desc(skb.get(), i, alloc_pages(0), 0, 1000);
    skb->len += 1000;
    skb->data_len += 1000;
  }
  ASSERT_EQ(pskb_trim(skb.get(), 2100), 0);
  expect_invariants(skb.get());
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 2);
  EXPECT_EQ(skb_shinfo(skb.get())->frags[1].size, 1000u);
}

TEST(PskbTrim, trimming_into_the_linear_part_drops_every_frag) {
  SkbPtr skb = alloc_skb(256);
  auto data = pattern(100);
  std::memcpy(skb_put(skb.get(), 100), data.data(), 100);
  skb_fill_page_desc(skb.get(), 0, alloc_pages(0), 0, 1000);
  skb->len += 1000;
  skb->data_len += 1000;
  ASSERT_EQ(pskb_trim(skb.get(), 60), 0);
  expect_invariants(skb.get());
  EXPECT_EQ(skb->len, 60u);
  EXPECT_EQ(skb->data_len, 0u);
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 0);
  EXPECT_EQ(skb_bytes(skb.get()), std::vector<std::uint8_t>(data.begin(), data.begin() + 60));
}

TEST(PskbTrim, trimming_a_clone_leaves_the_other_clone_whole) {
  SkbPtr skb = alloc_skb(256);
  skb_put(skb.get(), 10);
  skb_fill_page_desc(skb.get(), 0, alloc_pages(0), 0, 1000);
  skb->len += 1000;
  skb->data_len += 1000;
  SkbPtr clone = skb_clone(skb.get());
  ASSERT_TRUE(clone);
  ASSERT_EQ(pskb_trim(clone.get(), 500), 0);
  expect_invariants(clone.get());
  expect_invariants(skb.get());
  EXPECT_EQ(clone->len, 500u);
  EXPECT_EQ(skb->len, 1010u);
  EXPECT_EQ(skb_shinfo(skb.get())->frags[0].size, 1000u);
  EXPECT_EQ(skb_shinfo(clone.get())->frags[0].size, 490u);
}

TEST(PskbTrim, linear_trim_of_a_linear_skb_is_skb_trim) {
  SkbPtr skb = alloc_skb(256);
  skb_put(skb.get(), 100);
  ASSERT_EQ(pskb_trim(skb.get(), 30), 0);
  EXPECT_EQ(skb->len, 30u);
  EXPECT_EQ(skb->tail, skb->data + 30);
}

}  // namespace
}  // namespace sp
