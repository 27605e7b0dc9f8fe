// SipHash-2-4 (J.-P. Aumasson and D. J. Bernstein, "SipHash: a fast
// short-input PRF", INDOCRYPT 2012): a keyed 64-bit function for short
// inputs, the one Linux keys its SYN cookies and ISNs with. Written from the
// paper's description; its appendix test vector checks it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sp {

// The 128-bit key as the paper's two little-endian 64-bit halves.
struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

std::uint64_t siphash24(const SipKey& key, const void* data, std::size_t len);

}  // namespace sp
