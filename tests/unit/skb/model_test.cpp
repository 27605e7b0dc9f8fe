// Seeded random sequences of skb operations checked against a plain byte
// vector per skb: whatever mix of puts, pushes, pulls, trims, frags, clones,
// copies, splits and head reallocations happens, every skb reads back exactly
// the bytes its model says, its invariants hold, no clone sees another's
// writes, and every struct, head and page goes back to the pools at the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "skb/skbuff.hpp"
#include "skb_test_util.hpp"

namespace sp {
namespace {

using skbtest::expect_invariants;
using skbtest::skb_bytes;

struct Entry {
  SkbPtr skb;
  std::vector<std::uint8_t> model;  // the bytes data .. end of the last frag
};

class SkbModel {
 public:
  explicit SkbModel(std::uint32_t seed) : rng_(seed) {}

  std::uint32_t pick(std::uint32_t n) {  // 0 .. n-1
    return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(rng_);
  }
  std::uint8_t byte() { return static_cast<std::uint8_t>(pick(256)); }

  void step() {
    if (skbs_.empty() || (skbs_.size() < 8 && pick(8) == 0)) {
      add_new();
      return;
    }
    Entry& e = skbs_[pick(static_cast<std::uint32_t>(skbs_.size()))];
    SkBuff* s = e.skb.get();
    switch (pick(13)) {
      case 0:
        put(e);
        break;
      case 1:
        push(e);
        break;
      case 2: {  // skb_pull within the linear part
        const std::uint32_t n = pick(skb_headlen(s) + 1);
        ASSERT_NE(skb_pull(s, n), nullptr);
        e.model.erase(e.model.begin(), e.model.begin() + n);
        break;
      }
      case 3: {  // pskb_trim anywhere
        const std::uint32_t n = pick(s->len + 1);
        ASSERT_EQ(pskb_trim(s, n), 0);
        e.model.resize(n);
        break;
      }
      case 4:
        append_frag(e);
        break;
      case 5: {  // skb_clone: same bytes, shared buffer
        SkbPtr c = skb_clone(s);
        ASSERT_TRUE(c);
        skbs_.push_back({std::move(c), e.model});
        break;
      }
      case 6: {  // pskb_copy / skb_copy
        SkbPtr c = pick(2) ? pskb_copy(s) : skb_copy(s);
        ASSERT_TRUE(c);
        skbs_.push_back({std::move(c), e.model});
        break;
      }
      case 7:
        ASSERT_EQ(pskb_expand_head(s, pick(3) * 64, pick(3) * 64), 0);
        break;
      case 8: {  // pskb_may_pull some of the paged bytes
        const std::uint32_t n = pick(s->len + 1);
        ASSERT_TRUE(pskb_may_pull(s, n));
        EXPECT_GE(skb_headlen(s), n);
        break;
      }
      case 9:
        split(e);
        break;
      case 10:  // free it
        if (pick(2)) {
          kfree_skb(std::move(e.skb));
        } else {
          consume_skb(std::move(e.skb));
        }
        std::swap(e, skbs_.back());
        skbs_.pop_back();
        return;
      case 11: {  // skb_copy_bits of a random window
        const std::uint32_t off = pick(s->len + 1);
        const std::uint32_t len = pick(s->len - off + 1);
        std::vector<std::uint8_t> out(len);
        ASSERT_EQ(skb_copy_bits(s, off, out.data(), len), 0);
        EXPECT_TRUE(std::equal(out.begin(), out.end(), e.model.begin() + off));
        break;
      }
      case 12: {  // skb_header_pointer of a random window
        const std::uint32_t off = pick(s->len + 1);
        const std::uint32_t len = std::min<std::uint32_t>(pick(64), s->len - off);
        std::uint8_t buf[64];
        const std::uint8_t* p = skb_header_pointer(s, off, len, buf);
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(std::equal(p, p + len, e.model.begin() + off));
        break;
      }
    }
    check_all();
  }

  void check_all() {
    for (const Entry& e : skbs_) {
      expect_invariants(e.skb.get());
      ASSERT_EQ(skb_bytes(e.skb.get()), e.model);
    }
  }

  void clear() { skbs_.clear(); }

 private:
  void add_new() {
    SkbPtr s = alloc_skb_with_headroom(pick(200), pick(3000));
    ASSERT_TRUE(s);
    skbs_.push_back({std::move(s), {}});
  }

  // skb_put into our own copy of the buffer: unclone first, as any writer of
  // a shared linear area must.
  void put(Entry& e) {
    SkBuff* s = e.skb.get();
    if (skb_is_nonlinear(s)) return;  // appends go to frags then
    ASSERT_EQ(skb_unclone(s), 0);
    const std::uint32_t n = pick(skb_tailroom(s) + 1);
    std::uint8_t* p = skb_put(s, n);
    for (std::uint32_t i = 0; i < n; ++i) e.model.push_back(p[i] = byte());
  }

  // A header push: skb_cow_head makes the headroom ours and big enough.
  void push(Entry& e) {
    SkBuff* s = e.skb.get();
    const std::uint32_t n = pick(120);
    ASSERT_EQ(skb_cow_head(s, n), 0);
    std::uint8_t* p = skb_push(s, n);
    std::vector<std::uint8_t> hdr(n);
    for (std::uint32_t i = 0; i < n; ++i) hdr[i] = p[i] = byte();
    e.model.insert(e.model.begin(), hdr.begin(), hdr.end());
  }

  void append_frag(Entry& e) {
    SkBuff* s = e.skb.get();
    ASSERT_EQ(skb_unclone(s), 0);  // nr_frags lives in the shared info
    const int i = skb_shinfo(s)->nr_frags;
    const std::uint32_t n = 1 + pick(2000);
    ASSERT_TRUE(skb_page_frag_refill(n, &pfrag_));
    const std::uint32_t take = std::min(n, pfrag_.size - pfrag_.offset);
    std::uint8_t* p = pfrag_.page->addr + pfrag_.offset;
    for (std::uint32_t k = 0; k < take; ++k) e.model.push_back(p[k] = byte());
    if (skb_can_coalesce(s, i, pfrag_.page, pfrag_.offset)) {
      skb_shinfo(s)->frags[i - 1].size += take;
    } else if (i < MAX_SKB_FRAGS) {
      get_page(pfrag_.page);
      skb_fill_page_desc(s, i, pfrag_.page, pfrag_.offset, take);
    } else {
      e.model.resize(e.model.size() - take);
      return;
    }
    s->len += take;
    s->data_len += take;
    s->truesize += take;
    pfrag_.offset += take;
  }

  // tcp_fragment: unclone, split at a random point into a fresh skb.
  void split(Entry& e) {
    SkBuff* s = e.skb.get();
    ASSERT_EQ(skb_unclone(s), 0);
    const std::uint32_t at = pick(s->len + 1);
    const std::uint32_t headlen = skb_headlen(s);
    SkbPtr rest = alloc_skb(at < headlen ? headlen - at : 0);
    ASSERT_TRUE(rest);
    skb_split(s, rest.get(), at);
    std::vector<std::uint8_t> tail(e.model.begin() + at, e.model.end());
    e.model.resize(at);
    skbs_.push_back({std::move(rest), std::move(tail)});
  }

  std::mt19937 rng_;
  PageFrag pfrag_;
  std::vector<Entry> skbs_;
};

class SkbModelTest : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(SkbModelTest, random_operation_sequences_keep_every_skb_equal_to_its_model) {
  const SkbPoolStats before = skb_pool_stats();
  {
    SkbModel m(GetParam());
    for (int i = 0; i < 1500 && !HasFatalFailure(); ++i) m.step();
    m.check_all();
  }
  const SkbPoolStats& after = skb_pool_stats();
  EXPECT_EQ(after.skb_in_use, before.skb_in_use);
  EXPECT_EQ(after.head_in_use, before.head_in_use);
  EXPECT_EQ(after.head_bytes_in_use, before.head_bytes_in_use);
  EXPECT_EQ(after.page_in_use, before.page_in_use);
}

INSTANTIATE_TEST_SUITE_P(Seeds, SkbModelTest, ::testing::Values(1u, 2u, 3u, 42u, 2026u));

}  // namespace
}  // namespace sp
