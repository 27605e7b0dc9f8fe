// SipHash-2-4 against the vectors its authors publish.
#include "core/siphash.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace sp {
namespace {

// Key 00 01 .. 0f, as the paper and its reference vectors use.
SipKey paper_key() {
  return SipKey{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
}

TEST(SipHash, matches_the_papers_appendix_vector) {
  // Appendix A: the 15-byte message 00 01 .. 0e.
  std::array<std::uint8_t, 15> msg{};
  for (std::size_t i = 0; i < msg.size(); i++) msg[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(siphash24(paper_key(), msg.data(), msg.size()), 0xa129ca6149be45e5ull);
}

TEST(SipHash, matches_the_reference_vectors_for_short_messages) {
  // vectors.h of the reference implementation, read as little-endian words:
  // the empty message, then 00, then 00 01 .. 07 (one whole word).
  std::array<std::uint8_t, 8> msg{};
  for (std::size_t i = 0; i < msg.size(); i++) msg[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(siphash24(paper_key(), msg.data(), 0), 0x726fdb47dd0e0e31ull);
  EXPECT_EQ(siphash24(paper_key(), msg.data(), 1), 0x74f839c593dc67fdull);
  EXPECT_EQ(siphash24(paper_key(), msg.data(), 8), 0x93f5f5799a932462ull);
}

TEST(SipHash, the_key_changes_the_output) {
  const std::uint32_t words[4] = {1, 2, 3, 4};
  SipKey other = paper_key();
  other.k1 ^= 1;
  EXPECT_NE(siphash24(paper_key(), words, sizeof words), siphash24(other, words, sizeof words));
}

}  // namespace
}  // namespace sp
