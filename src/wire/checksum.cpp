// RFC 1071 sums. The fast paths add the buffer as little-endian machine
// words and byte-swap the folded result at the end: the ones'-complement sum
// is independent of byte order up to that swap (RFC 1071 section 2(B)), so
// no per-word byte swapping is needed.
#include "wire/checksum.hpp"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sp {
namespace {

inline std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Fold a 64-bit little-endian accumulation to 16 bits, swap it to the
// big-endian word grid and add it to the caller's running sum.
inline Wsum finish_le(std::uint64_t acc, Wsum sum) {
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  std::uint16_t folded = csum_fold16(static_cast<Wsum>(acc));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
#endif
  return csum_add(sum, folded);
}

// The last 0..7 bytes as one zero-padded machine word: the byte at an even
// offset lands in the low byte of a little-endian word, the high byte of the
// corresponding big-endian one, which is RFC 1071's padding.
inline std::uint64_t tail64(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

// Sum 64-bit words with the carry kept in a second counter: two independent
// add chains per iteration so the adds overlap.
inline std::uint64_t sum_words(const std::uint8_t* p, std::size_t n, std::uint64_t* carries) {
  std::uint64_t a0 = 0, a1 = 0, c0 = 0, c1 = 0;
  while (n >= 32) {
    std::uint64_t v0 = load64(p), v1 = load64(p + 8), v2 = load64(p + 16), v3 = load64(p + 24);
    a0 += v0;
    c0 += a0 < v0;
    a1 += v1;
    c1 += a1 < v1;
    a0 += v2;
    c0 += a0 < v2;
    a1 += v3;
    c1 += a1 < v3;
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    std::uint64_t v = load64(p);
    a0 += v;
    c0 += a0 < v;
    p += 8;
    n -= 8;
  }
  if (n) {
    std::uint64_t v = tail64(p, n);
    a1 += v;
    c1 += a1 < v;
  }
  std::uint64_t s = a0 + a1;
  *carries += c0 + c1 + (s < a1);
  return s;
}

inline std::uint64_t add_carries(std::uint64_t s, std::uint64_t carries) {
  // Each carry out of bit 63 is worth 2^64 == 1 (mod 2^16 - 1).
  std::uint64_t r = s + carries;
  return r + (r < carries);
}

}  // namespace

Wsum csum_partial_ref(const void* buf, std::size_t len, Wsum sum) {
  const auto* p = static_cast<const std::uint8_t*>(buf);
  std::uint64_t s = sum;
  std::size_t i = 0;
  for (; i + 1 < len; i += 2) s += load_be16(p + i);
  if (i < len) s += std::uint32_t{p[i]} << 8;
  while (s >> 32) s = (s & 0xffffffff) + (s >> 32);
  return static_cast<Wsum>(s);
}

Wsum csum_partial_scalar(const void* buf, std::size_t len, Wsum sum) {
  std::uint64_t carries = 0;
  std::uint64_t s = sum_words(static_cast<const std::uint8_t*>(buf), len, &carries);
  return finish_le(add_carries(s, carries), sum);
}

#if defined(__x86_64__)
namespace {
// 64 bytes per iteration. Each 32-bit lane holds two 16-bit words; masking
// and shifting split them (no shuffles, which share one port on many CPUs)
// into four independent accumulators, so the adds do not wait on each
// other. A lane gains at most 0xffff per iteration, so flushing the 32-bit
// lanes into 64-bit ones every 4096 iterations cannot overflow them.
// With kCopy, each 32-byte load is also stored to dst: the fused
// copy-and-checksum touches each byte once.
template <bool kCopy>
__attribute__((target("avx2"))) std::uint64_t sum_avx2(const std::uint8_t* p, std::uint8_t* dst,
                                                       std::size_t n, std::size_t* done) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i low16 = _mm256_set1_epi32(0xffff);
  const __m256i low32 = _mm256_set1_epi64x(0xffffffff);
  __m256i acc64 = zero;
  std::size_t off = 0;
  while (n - off >= 64) {
    __m256i s0 = zero, s1 = zero, s2 = zero, s3 = zero;
    std::size_t block_end = off + std::min<std::size_t>((n - off) & ~std::size_t{63}, 64 * 4096);
    for (; off < block_end; off += 64) {
      __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + off));
      __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + off + 32));
      if constexpr (kCopy) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + off), a);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + off + 32), b);
      }
      s0 = _mm256_add_epi32(s0, _mm256_and_si256(a, low16));
      s1 = _mm256_add_epi32(s1, _mm256_srli_epi32(a, 16));
      s2 = _mm256_add_epi32(s2, _mm256_and_si256(b, low16));
      s3 = _mm256_add_epi32(s3, _mm256_srli_epi32(b, 16));
    }
    // Each lane is below 2^28, so their sum fits 32 bits.
    __m256i sum32 = _mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3));
    acc64 = _mm256_add_epi64(acc64, _mm256_and_si256(sum32, low32));
    acc64 = _mm256_add_epi64(acc64, _mm256_srli_epi64(sum32, 32));
  }
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc64);
  *done = off;
  // Four lanes each far below 2^62: no overflow in the sum.
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
}  // namespace

bool csum_have_avx2() {
  // cpu_init first: this may run from another file's static initialiser,
  // before the compiler runtime has filled in the CPU model.
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return have;
}

Wsum csum_partial_avx2(const void* buf, std::size_t len, Wsum sum) {
  if (!csum_have_avx2() || len < 128) return csum_partial_scalar(buf, len, sum);
  const auto* p = static_cast<const std::uint8_t*>(buf);
  std::size_t done = 0;
  std::uint64_t s = sum_avx2<false>(p, nullptr, len, &done);
  // The rest starts at an offset that is a multiple of 64, so it stays on the
  // same word grid as the vector part.
  std::uint64_t carries = 0;
  std::uint64_t rest = sum_words(p + done, len - done, &carries);
  rest = add_carries(rest, carries);
  rest = (rest & 0xffffffff) + (rest >> 32);
  return finish_le(s + rest, sum);
}
#else
bool csum_have_avx2() {
  return false;
}
Wsum csum_partial_avx2(const void* buf, std::size_t len, Wsum sum) {
  return csum_partial_scalar(buf, len, sum);
}
#endif

Wsum csum_partial(const void* buf, std::size_t len, Wsum sum) {
  return csum_partial_avx2(buf, len, sum);
}

Wsum csum_partial_copy_scalar(void* dst, const void* src, std::size_t len, Wsum sum) {
  auto* d = static_cast<std::uint8_t*>(dst);
  const auto* s = static_cast<const std::uint8_t*>(src);
  std::uint64_t a0 = 0, a1 = 0, c0 = 0, c1 = 0;
  while (len >= 16) {
    std::uint64_t v0 = load64(s), v1 = load64(s + 8);
    std::memcpy(d, &v0, 8);
    std::memcpy(d + 8, &v1, 8);
    a0 += v0;
    c0 += a0 < v0;
    a1 += v1;
    c1 += a1 < v1;
    s += 16;
    d += 16;
    len -= 16;
  }
  if (len >= 8) {
    std::uint64_t v = load64(s);
    std::memcpy(d, &v, 8);
    a0 += v;
    c0 += a0 < v;
    s += 8;
    d += 8;
    len -= 8;
  }
  if (len) {
    std::memcpy(d, s, len);
    std::uint64_t v = tail64(s, len);
    a1 += v;
    c1 += a1 < v;
  }
  std::uint64_t total = a0 + a1;
  std::uint64_t carries = c0 + c1 + (total < a1);
  return finish_le(add_carries(total, carries), sum);
}

Wsum csum_partial_copy(void* dst, const void* src, std::size_t len, Wsum sum) {
#if defined(__x86_64__)
  if (csum_have_avx2() && len >= 128) {
    const auto* s = static_cast<const std::uint8_t*>(src);
    auto* d = static_cast<std::uint8_t*>(dst);
    std::size_t done = 0;
    std::uint64_t vec = sum_avx2<true>(s, d, len, &done);
    // The rest starts on a multiple of 64: same word grid, no rotation.
    Wsum rest = csum_partial_copy_scalar(d + done, s + done, len - done, 0);
    return finish_le(vec, csum_add(sum, rest));
  }
#endif
  return csum_partial_copy_scalar(dst, src, len, sum);
}

void inet_proto_csum_replace4(std::uint16_t* check, bool partial, Wsum* skb_csum,
                              std::uint32_t from, std::uint32_t to, bool pseudohdr) {
  const Wsum diff = csum_add(~from, to);
  if (!partial) {
    *check = csum_fold(csum_add(diff, ~csum_unfold(*check)));
    if (skb_csum && pseudohdr) *skb_csum = ~csum_add(diff, ~*skb_csum);
  } else if (pseudohdr) {
    *check =
        static_cast<std::uint16_t>(~csum_fold(csum_add(csum_sub(csum_unfold(*check), from), to)));
  }
}

}  // namespace sp
