// The skb side of MSG_ZEROCOPY: a ubuf_info completes only once no skb and
// no frag refers to the user's memory any more, whichever way the frags were
// shared (clone, split, copy of the header), and a device that copies the
// bytes marks the send as copied.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "skb/skbuff.hpp"

namespace sp {
namespace {

struct Completion {
  int calls = 0;
  bool done = false;
  bool zerocopy = true;
};

Completion* g_completion = nullptr;

void record_complete(SkBuff*, UbufInfo* uarg, bool success) {
  g_completion->calls++;
  g_completion->zerocopy = g_completion->zerocopy && success;
  if (--uarg->refcnt == 0) g_completion->done = true;
}
const UbufOps kOps = {.complete = record_complete};

class ZerocopySkbTest : public ::testing::Test {
 protected:
  ZerocopySkbTest() {
    g_completion = &c_;
    uarg_.ops = &kOps;
    uarg_.refcnt = 1;  // the sender's
    uarg_.flags = SKBFL_ZEROCOPY_FRAG | SKBFL_DONT_ORPHAN;
  }
  ~ZerocopySkbTest() override { g_completion = nullptr; }

  // An skb whose n frags of `each` bytes point into user_, as a zerocopy
  // send builds it.
  SkbPtr user_skb(int n, std::uint32_t each) {
    SkbPtr skb = alloc_skb(128);
    for (int i = 0; i < n; ++i) {
      std::uint8_t* p = user_.data() + i * PAGE_SIZE;
      Page* pg = user_page_get(p, PAGE_SIZE, &uarg_);
      skb_fill_page_desc(skb.get(), i, pg, 0, each);
      skb->len += each;
      skb->data_len += each;
    }
    skb_zcopy_set(skb.get(), &uarg_);
    return skb;
  }
  void sender_done() { net_zcopy_put(&uarg_); }

  std::vector<std::uint8_t> user_ = std::vector<std::uint8_t>(4 * PAGE_SIZE, 'u');
  UbufInfo uarg_;
  Completion c_;
};

TEST_F(ZerocopySkbTest, frags_read_the_user_memory_in_place) {
  SkbPtr skb = user_skb(2, 100);
  user_[5] = 'X';
  std::uint8_t out[200];
  ASSERT_EQ(skb_copy_bits(skb.get(), 0, out, 200), 0);
  EXPECT_EQ(out[5], 'X') << "the skb sees a later write: it holds no copy";
  EXPECT_EQ(out[100], 'u');
  sender_done();
}

TEST_F(ZerocopySkbTest, completes_when_the_last_clone_is_freed) {
  SkbPtr skb = user_skb(2, 100);
  sender_done();
  SkbPtr clone = skb_clone(skb.get());
  consume_skb(std::move(skb));
  EXPECT_FALSE(c_.done) << "the clone still reads the pages";
  consume_skb(std::move(clone));
  EXPECT_TRUE(c_.done);
  EXPECT_TRUE(c_.zerocopy);
}

TEST_F(ZerocopySkbTest, split_and_header_copy_keep_the_send_pinned) {
  SkbPtr skb = user_skb(3, 100);
  sender_done();
  SkbPtr tail = alloc_skb(0);
  skb_split(skb.get(), tail.get(), 150);
  EXPECT_EQ(skb_zcopy(tail.get()), &uarg_);
  SkbPtr copy = pskb_copy(skb.get());
  EXPECT_EQ(skb_zcopy(copy.get()), &uarg_);
  consume_skb(std::move(skb));
  consume_skb(std::move(tail));
  EXPECT_FALSE(c_.done);
  consume_skb(std::move(copy));
  EXPECT_TRUE(c_.done);
}

TEST_F(ZerocopySkbTest, unsharing_the_head_keeps_the_uarg_on_both_copies) {
  SkbPtr skb = user_skb(1, 100);
  sender_done();
  SkbPtr clone = skb_clone(skb.get());
  ASSERT_EQ(pskb_expand_head(clone.get(), 0, 0), 0);
  EXPECT_EQ(skb_zcopy(clone.get()), &uarg_);
  consume_skb(std::move(skb));
  EXPECT_FALSE(c_.done);
  consume_skb(std::move(clone));
  EXPECT_TRUE(c_.done);
}

TEST_F(ZerocopySkbTest, a_frag_moved_elsewhere_still_pins_the_send) {
  SkbPtr skb = user_skb(1, 100);
  sender_done();
  // Someone (software GSO) takes its own reference to the page only.
  Page* pg = skb_shinfo(skb.get())->frags[0].page;
  get_page(pg);
  consume_skb(std::move(skb));
  EXPECT_FALSE(c_.done) << "a frag still points at the user's memory";
  put_page(pg);
  EXPECT_TRUE(c_.done);
}

TEST_F(ZerocopySkbTest, orphan_frags_rx_marks_the_send_copied) {
  SkbPtr skb = user_skb(1, 100);
  sender_done();
  skb_orphan_frags_rx(skb.get());
  EXPECT_FALSE(c_.done);
  consume_skb(std::move(skb));
  EXPECT_TRUE(c_.done);
  EXPECT_FALSE(c_.zerocopy);
}

}  // namespace
}  // namespace sp
