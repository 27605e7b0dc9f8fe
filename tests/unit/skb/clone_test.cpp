// Sharing a buffer: skb_clone, skb_cloned / skb_header_cloned, skb_cow_head,
// pskb_expand_head, pskb_copy and skb_copy.
#include <gtest/gtest.h>

#include <cstring>

#include "skb/skbuff.hpp"
#include "skb_test_util.hpp"

namespace sp {
namespace {

using skbtest::expect_invariants;
using skbtest::pattern;
using skbtest::skb_bytes;

// An skb as tcp_transmit_skb sees one: headroom for headers, payload in
// the linear part, and one frag of paged payload.
SkbPtr make_data_skb(std::uint32_t headroom = 128) {
  SkbPtr skb = alloc_skb_with_headroom(headroom, 200);
  auto lin = pattern(200, 3);
  std::memcpy(skb_put(skb.get(), 200), lin.data(), 200);
  Page* p = alloc_pages(0);
  auto paged = pattern(300, 77);
  std::memcpy(p->addr, paged.data(), 300);
  skb_fill_page_desc(skb.get(), 0, p, 0, 300);
  skb->len += 300;
  skb->data_len += 300;
  skb->truesize += 300;
  return skb;
}

TEST(SkbClone, clone_shares_head_and_frags_and_bumps_dataref) {
  SkbPtr skb = make_data_skb();
  SkbPtr c = skb_clone(skb.get());
  ASSERT_TRUE(c);
  expect_invariants(c.get());
  EXPECT_NE(c.get(), skb.get());
  EXPECT_EQ(c->head, skb->head);
  EXPECT_EQ(c->data, skb->data);
  EXPECT_EQ(c->tail, skb->tail);
  EXPECT_EQ(c->end, skb->end);
  EXPECT_EQ(c->len, skb->len);
  EXPECT_EQ(c->data_len, skb->data_len);
  EXPECT_EQ(skb_shinfo(c.get()), skb_shinfo(skb.get()));
  EXPECT_EQ(skb_shinfo(skb.get())->dataref, 2u);
  EXPECT_EQ(skb_bytes(c.get()), skb_bytes(skb.get()));
}

TEST(SkbClone, both_sides_are_cloned_while_the_buffer_is_shared) {
  SkbPtr skb = make_data_skb();
  EXPECT_FALSE(skb_cloned(skb.get()));
  SkbPtr c = skb_clone(skb.get());
  EXPECT_TRUE(skb_cloned(skb.get()));
  EXPECT_TRUE(skb_cloned(c.get()));
  EXPECT_TRUE(skb_header_cloned(skb.get()));
  EXPECT_TRUE(skb_header_cloned(c.get()));
  c.reset();
  // The flag stays set, but with dataref back to 1 nothing is shared.
  EXPECT_TRUE(skb->cloned);
  EXPECT_FALSE(skb_cloned(skb.get()));
  EXPECT_FALSE(skb_header_cloned(skb.get()));
}

TEST(SkbClone, clone_copies_cb_and_header_offsets_but_not_owner) {
  SkbPtr skb = make_data_skb();
  skb->cb[0] = 0x11;
  skb->cb[47] = 0x22;
  skb_push(skb.get(), 20);
  skb_reset_transport_header(skb.get());
  skb->sk = skb.get();
  skb->destructor = [](SkBuff*) {};
  SkbPtr c = skb_clone(skb.get());
  EXPECT_EQ(c->cb[0], 0x11);
  EXPECT_EQ(c->cb[47], 0x22);
  EXPECT_EQ(c->transport_header, skb->transport_header);
  EXPECT_EQ(c->sk, nullptr);
  EXPECT_EQ(c->destructor, nullptr);
  EXPECT_EQ(c->truesize, skb->truesize);
}

TEST(SkbClone, buffer_survives_until_the_last_clone_is_freed) {
  SkbPtr skb = make_data_skb();
  Page* p = skb_shinfo(skb.get())->frags[0].page;
  get_page(p);
  const auto bytes = skb_bytes(skb.get());
  SkbPtr c1 = skb_clone(skb.get());
  SkbPtr c2 = skb_clone(c1.get());
  EXPECT_EQ(skb_shinfo(skb.get())->dataref, 3u);
  skb.reset();
  c1.reset();
  EXPECT_EQ(skb_shinfo(c2.get())->dataref, 1u);
  EXPECT_EQ(p->refcount, 2u);  // still the frag's, plus ours
  EXPECT_EQ(skb_bytes(c2.get()), bytes);
  c2.reset();
  EXPECT_EQ(p->refcount, 1u);
  put_page(p);
}

TEST(SkbClone, the_clone_has_its_own_pointers) {
  SkbPtr skb = make_data_skb();
  SkbPtr c = skb_clone(skb.get());
  skb_pull(c.get(), 50);
  EXPECT_EQ(skb->len, 500u);
  EXPECT_EQ(c->len, 450u);
  EXPECT_EQ(skb->data + 50, c->data);
}

TEST(SkbCowHead, writing_a_cloned_header_through_cow_head_leaves_the_other_clone_unchanged) {
  SkbPtr skb = make_data_skb();
  // The retransmit queue keeps skb; the clone goes down the stack and gets
  // its TCP header pushed and written.
  SkbPtr c = skb_clone(skb.get());
  const auto orig_bytes = skb_bytes(skb.get());
  std::vector<std::uint8_t> orig_headroom(skb->head, skb->data);
  ASSERT_TRUE(skb_header_cloned(c.get()));
  ASSERT_EQ(skb_cow_head(c.get(), 60), 0);
  EXPECT_FALSE(skb_header_cloned(c.get()));
  EXPECT_NE(c->head, skb->head);
  std::memset(skb_push(c.get(), 60), 0xee, 60);
  c->data[60] = 0x99;  // even the payload's first byte, now private
  expect_invariants(c.get());
  EXPECT_EQ(skb_bytes(skb.get()), orig_bytes);
  EXPECT_EQ(std::vector<std::uint8_t>(skb->head, skb->data), orig_headroom);
  EXPECT_FALSE(skb_cloned(skb.get()));  // the other side is sole owner again
}

TEST(SkbCowHead, a_private_skb_with_enough_headroom_is_not_reallocated) {
  SkbPtr skb = make_data_skb(128);
  std::uint8_t* head = skb->head;
  ASSERT_EQ(skb_cow_head(skb.get(), 100), 0);
  EXPECT_EQ(skb->head, head);
}

TEST(SkbCowHead, too_little_headroom_grows_it_by_a_net_skb_pad_multiple) {
  SkbPtr skb = make_data_skb(16);
  const auto bytes = skb_bytes(skb.get());
  ASSERT_EQ(skb_cow_head(skb.get(), 54), 0);
  expect_invariants(skb.get());
  EXPECT_GE(skb_headroom(skb.get()), 54u);
  EXPECT_EQ(skb_headroom(skb.get()), 16u + NET_SKB_PAD);  // 38 missing -> ALIGN(38, 64)
  EXPECT_EQ(skb_bytes(skb.get()), bytes);
}

TEST(PskbExpandHead, keeps_the_data_and_the_headroom_contents) {
  SkbPtr skb = make_data_skb(64);
  std::memset(skb->head, 0x5a, 64);
  const auto bytes = skb_bytes(skb.get());
  ASSERT_EQ(pskb_expand_head(skb.get(), 100, 50), 0);
  expect_invariants(skb.get());
  EXPECT_EQ(skb_headroom(skb.get()), 164u);
  EXPECT_GE(static_cast<std::uint32_t>(skb->end - skb->tail), 50u);
  EXPECT_EQ(skb_bytes(skb.get()), bytes);
  for (std::uint32_t i = 100; i < 164; ++i) EXPECT_EQ(skb->head[i], 0x5a) << i;
}

TEST(PskbExpandHead, moves_header_offsets_and_csum_start_by_nhead) {
  SkbPtr skb = make_data_skb(64);
  skb_push(skb.get(), 20);
  skb_reset_transport_header(skb.get());
  skb_push(skb.get(), 20);
  skb_reset_network_header(skb.get());
  skb->ip_summed = IpSummed::CHECKSUM_PARTIAL;
  skb->csum_start = skb->transport_header;
  skb->csum_offset = 16;
  std::uint8_t* th_before = skb_transport_header(skb.get());
  std::memset(th_before, 0x42, 20);
  ASSERT_EQ(pskb_expand_head(skb.get(), 64, 0), 0);
  EXPECT_EQ(skb_transport_header(skb.get()), skb->data + 20);
  EXPECT_EQ(skb_network_header(skb.get()), skb->data);
  EXPECT_EQ(skb->csum_start, skb->transport_header);
  EXPECT_EQ(skb_transport_header(skb.get())[0], 0x42);
  EXPECT_EQ(skb->mac_header, 0xffff);  // unset stays unset
}

TEST(PskbExpandHead, moves_the_frags_without_touching_page_references) {
  SkbPtr skb = make_data_skb();
  Page* p = skb_shinfo(skb.get())->frags[0].page;
  ASSERT_EQ(p->refcount, 1u);
  ASSERT_EQ(pskb_expand_head(skb.get(), 64, 0), 0);
  EXPECT_EQ(skb_shinfo(skb.get())->nr_frags, 1);
  EXPECT_EQ(skb_shinfo(skb.get())->frags[0].page, p);
  EXPECT_EQ(p->refcount, 1u);
}

TEST(PskbExpandHead, on_a_clone_takes_its_own_frag_references_and_unshares) {
  SkbPtr skb = make_data_skb();
  Page* p = skb_shinfo(skb.get())->frags[0].page;
  SkbPtr c = skb_clone(skb.get());
  ASSERT_EQ(pskb_expand_head(c.get(), 0, 0), 0);
  EXPECT_EQ(p->refcount, 2u);  // one per shared info now
  EXPECT_EQ(skb_shinfo(c.get())->dataref, 1u);
  EXPECT_EQ(skb_shinfo(skb.get())->dataref, 1u);
  EXPECT_FALSE(c->cloned);
  EXPECT_EQ(skb_bytes(c.get()), skb_bytes(skb.get()));
  skb.reset();
  EXPECT_EQ(p->refcount, 1u);
}

TEST(PskbExpandHead, grows_truesize_of_an_unowned_skb_by_the_added_buffer) {
  SkbPtr skb = alloc_skb(1000);
  const std::uint32_t before = skb->truesize;
  const std::uint32_t cap = skb_end_offset(skb.get());
  ASSERT_EQ(pskb_expand_head(skb.get(), 2000, 0), 0);
  EXPECT_EQ(skb->truesize, before + (skb_end_offset(skb.get()) - cap));
}

TEST(PskbExpandHead, leaves_truesize_of_a_socket_owned_skb_alone) {
  int fake_sock = 0;
  SkbPtr skb = alloc_skb(1000);
  skb->sk = &fake_sock;  // charged to a socket: its truesize is fixed
  const std::uint32_t before = skb->truesize;
  ASSERT_EQ(pskb_expand_head(skb.get(), 2000, 0), 0);
  EXPECT_EQ(skb->truesize, before);
}

TEST(PskbCopy, copies_the_linear_part_and_shares_the_frags) {
  SkbPtr skb = make_data_skb();
  skb->cb[5] = 9;
  Page* p = skb_shinfo(skb.get())->frags[0].page;
  SkbPtr n = pskb_copy(skb.get());
  ASSERT_TRUE(n);
  expect_invariants(n.get());
  EXPECT_NE(n->head, skb->head);
  EXPECT_EQ(skb_headroom(n.get()), skb_headroom(skb.get()));
  EXPECT_EQ(skb_shinfo(n.get())->frags[0].page, p);
  EXPECT_EQ(p->refcount, 2u);
  EXPECT_EQ(skb_bytes(n.get()), skb_bytes(skb.get()));
  EXPECT_FALSE(skb_cloned(n.get()));
  EXPECT_FALSE(skb_cloned(skb.get()));
  EXPECT_EQ(n->cb[5], 9);
  EXPECT_EQ(n->truesize, SKB_TRUESIZE(skb_end_offset(n.get())) + n->data_len);
}

TEST(SkbCopy, makes_a_linear_private_copy_with_headroom_and_headers) {
  SkbPtr skb = make_data_skb(64);
  std::memset(skb->head, 0x31, 64);
  skb_push(skb.get(), 20);
  skb_reset_network_header(skb.get());
  skb_shinfo(skb.get())->gso_size = 1448;
  skb_shinfo(skb.get())->gso_type = SKB_GSO_TCPV4;
  SkbPtr n = skb_copy(skb.get());
  ASSERT_TRUE(n);
  expect_invariants(n.get());
  EXPECT_EQ(n->data_len, 0u);
  EXPECT_EQ(skb_shinfo(n.get())->nr_frags, 0);
  EXPECT_EQ(n->len, skb->len);
  EXPECT_EQ(skb_headroom(n.get()), skb_headroom(skb.get()));
  EXPECT_EQ(skb_bytes(n.get()), skb_bytes(skb.get()));
  EXPECT_EQ(n->head[0], 0x31);
  EXPECT_EQ(skb_network_header(n.get()), n->data);
  EXPECT_EQ(skb_shinfo(n.get())->gso_size, 1448);
  EXPECT_EQ(skb_shinfo(n.get())->gso_type, SKB_GSO_TCPV4);
}

// The write-queue pattern of tcp_transmit_skb: the queued skb gives up its
// header area (__skb_header_release), so the clone sent down may push headers
// into the shared headroom without a copy.
TEST(SkbHeaderRelease, a_released_skb_is_not_cloned_until_it_is) {
  SkbPtr skb = make_data_skb();
  __skb_header_release(skb.get());
  EXPECT_TRUE(skb->nohdr);
  EXPECT_FALSE(skb_cloned(skb.get()));
  EXPECT_FALSE(skb_header_cloned(skb.get()));
}

TEST(SkbHeaderRelease, the_clone_of_a_released_skb_may_write_headers_in_place) {
  SkbPtr skb = make_data_skb();
  __skb_header_release(skb.get());
  SkbPtr c = skb_clone(skb.get());
  EXPECT_TRUE(skb_cloned(c.get()));  // the payload is still shared
  EXPECT_FALSE(skb_header_cloned(c.get()));
  std::uint8_t* head = c->head;
  ASSERT_EQ(skb_cow_head(c.get(), 66), 0);
  EXPECT_EQ(c->head, head);  // no copy
  EXPECT_EQ(c->head, skb->head);
  const auto payload = skb_bytes(skb.get());
  std::memset(skb_push(c.get(), 66), 0xab, 66);
  const auto frame = skb_bytes(c.get());
  ASSERT_EQ(frame.size(), payload.size() + 66);
  EXPECT_EQ(std::vector<std::uint8_t>(frame.begin() + 66, frame.end()), payload);
  EXPECT_EQ(skb_bytes(skb.get()), payload);  // the queued skb's bytes are untouched
}

TEST(SkbHeaderRelease, a_second_live_clone_shares_the_header_again) {
  SkbPtr skb = make_data_skb();
  __skb_header_release(skb.get());
  SkbPtr c1 = skb_clone(skb.get());
  SkbPtr c2 = skb_clone(skb.get());
  EXPECT_TRUE(skb_header_cloned(c1.get()));
  EXPECT_TRUE(skb_header_cloned(c2.get()));
  c1.reset();
  EXPECT_FALSE(skb_header_cloned(c2.get()));
}

TEST(SkbHeaderRelease, the_buffer_is_freed_whichever_reference_goes_last) {
  const SkbPoolStats before = skb_pool_stats();
  {
    SkbPtr skb = make_data_skb();
    __skb_header_release(skb.get());
    SkbPtr c = skb_clone(skb.get());
    skb.reset();  // acked while the clone is still queued
    EXPECT_EQ(skb_pool_stats().head_in_use, before.head_in_use + 1);
  }
  {
    SkbPtr skb = make_data_skb();
    __skb_header_release(skb.get());
    SkbPtr c = skb_clone(skb.get());
    c.reset();  // the device is done
    EXPECT_EQ(skb_shinfo(skb.get())->dataref & SKB_DATAREF_MASK, 1u);
  }
  const SkbPoolStats& after = skb_pool_stats();
  EXPECT_EQ(after.head_in_use, before.head_in_use);
  EXPECT_EQ(after.page_in_use, before.page_in_use);
  EXPECT_EQ(after.skb_in_use, before.skb_in_use);
}

TEST(SkbHeaderRelease, expanding_the_released_original_keeps_the_clone_intact) {
  SkbPtr skb = make_data_skb();
  __skb_header_release(skb.get());
  SkbPtr c = skb_clone(skb.get());
  const auto bytes = skb_bytes(c.get());
  ASSERT_EQ(pskb_expand_head(skb.get(), 0, 0), 0);  // e.g. tcp_fragment's unclone
  EXPECT_FALSE(skb->nohdr);
  EXPECT_EQ(skb_shinfo(skb.get())->dataref, 1u);
  EXPECT_FALSE(skb_cloned(c.get()));  // the clone now owns the old buffer alone
  EXPECT_EQ(skb_bytes(c.get()), bytes);
  EXPECT_EQ(skb_bytes(skb.get()), bytes);
}

}  // namespace
}  // namespace sp
