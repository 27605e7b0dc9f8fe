// Helpers shared by the sk_buff unit tests.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "skb/skbuff.hpp"

namespace sp::skbtest {

// The invariants every skb keeps between calls (include/linux/skbuff.h):
// head <= data <= tail <= end, the linear part is tail - data, and len is
// the linear part plus the sizes of the frags.
inline void expect_invariants(const SkBuff* skb) {
  ASSERT_NE(skb, nullptr);
  EXPECT_LE(skb->head, skb->data);
  EXPECT_LE(skb->data, skb->tail);
  EXPECT_LE(skb->tail, skb->end);
  EXPECT_GE(skb->len, skb->data_len);
  EXPECT_EQ(skb_headlen(skb), static_cast<std::uint32_t>(skb->tail - skb->data));
  const SkbSharedInfo* sh = skb_shinfo(skb);
  ASSERT_LE(sh->nr_frags, MAX_SKB_FRAGS);
  std::uint32_t paged = 0;
  for (int i = 0; i < sh->nr_frags; ++i) paged += sh->frags[i].size;
  EXPECT_EQ(paged, skb->data_len);
}

// The bytes of the whole skb (linear then frags), via skb_copy_bits.
inline std::vector<std::uint8_t> skb_bytes(const SkBuff* skb) {
  std::vector<std::uint8_t> out(skb->len);
  EXPECT_EQ(skb_copy_bits(skb, 0, out.data(), skb->len), 0);
  return out;
}

inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed = 1) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
  return v;
}

// Sets pool limits for one test and restores the previous ones after it.
class ScopedPoolLimits {
 public:
  explicit ScopedPoolLimits(const SkbPoolLimits& l) : saved_(skb_pool_limits()) {
    skb_pool_set_limits(l);
  }
  ~ScopedPoolLimits() { skb_pool_set_limits(saved_); }

 private:
  SkbPoolLimits saved_;
};

// Bytes a head of the given capacity takes from max_head_bytes.
inline std::uint64_t head_block_bytes(std::uint32_t capacity) {
  return std::uint64_t{capacity} + SKB_DATA_ALIGN(sizeof(SkbSharedInfo));
}

}  // namespace sp::skbtest
