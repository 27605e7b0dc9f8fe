// The Internet checksum (RFC 1071) and the kernel's helpers around it
// (include/net/checksum.h, arch/x86/include/asm/checksum_64.h).
//
// Representation: a Wsum is an unfolded 32-bit ones'-complement sum of the
// data read as big-endian 16-bit words, held as a host-order integer (the
// kernel's __wsum, but in host order, like every value in src/wire). A
// trailing odd byte counts as the high byte of a word padded with zero.
// csum_fold() returns the 16-bit complemented value that goes into a
// checksum field (store it with store_be16). A buffer whose checksum field
// is correct sums to 0xffff, i.e. csum_fold(csum_partial(buf)) == 0.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "wire/bytes.hpp"

namespace sp {

using Wsum = std::uint32_t;

constexpr std::uint8_t IPPROTO_ICMP_ = 1;  // trailing _ avoids <netinet/in.h> macros
constexpr std::uint8_t IPPROTO_TCP_ = 6;
constexpr std::uint8_t IPPROTO_UDP_ = 17;

// a + b with the end-around carry (csum_add).
constexpr Wsum csum_add(Wsum a, Wsum b) {
  Wsum r = a + b;
  return r + (r < b ? 1u : 0u);
}
// a - b: adding the ones' complement of b (csum_sub).
constexpr Wsum csum_sub(Wsum a, Wsum b) {
  return csum_add(a, ~b);
}
// A folded checksum field back to a sum (csum_unfold).
constexpr Wsum csum_unfold(std::uint16_t check) {
  return check;
}
// Fold to 16 bits without complementing.
constexpr std::uint16_t csum_fold16(Wsum s) {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}
// Fold to 16 bits and complement: the value for the checksum field.
constexpr std::uint16_t csum_fold(Wsum s) {
  return static_cast<std::uint16_t>(~csum_fold16(s));
}

// A sum of a block that starts at an odd offset of the packet is byte-swapped
// relative to the packet's word grid; rotating by 8 puts it back (RFC 1071
// section 2(B), byte-order independence).
constexpr Wsum csum_shift(Wsum s, std::size_t offset) {
  return (offset & 1) ? ((s >> 8) | (s << 24)) : s;
}
constexpr Wsum csum_block_add(Wsum csum, Wsum csum2, std::size_t offset) {
  return csum_add(csum, csum_shift(csum2, offset));
}
constexpr Wsum csum_block_sub(Wsum csum, Wsum csum2, std::size_t offset) {
  return csum_sub(csum, csum_shift(csum2, offset));
}

// RFC 1071 reference: one 16-bit word at a time. Slow and obviously right;
// the fast versions are tested against it.
Wsum csum_partial_ref(const void* buf, std::size_t len, Wsum sum);

// csum_partial: the fast sum (64-bit accumulation, or AVX2 when the CPU has
// it), any length, any alignment. Returns sum + the sum of buf.
Wsum csum_partial(const void* buf, std::size_t len, Wsum sum);
// The portable 64-bit path alone (benchmarks compare it with the others).
Wsum csum_partial_scalar(const void* buf, std::size_t len, Wsum sum);
// The AVX2 path alone; falls back to csum_partial_scalar without AVX2.
Wsum csum_partial_avx2(const void* buf, std::size_t len, Wsum sum);
bool csum_have_avx2();

// Copy len bytes src -> dst and return sum + the sum of them, in one pass
// (csum_partial_copy_nocheck): the send path copies user bytes into an skb
// and gets the payload checksum for free while the bytes are in cache.
// Uses AVX2 when the CPU has it; the portable path alone is
// csum_partial_copy_scalar.
Wsum csum_partial_copy(void* dst, const void* src, std::size_t len, Wsum sum);
Wsum csum_partial_copy_scalar(void* dst, const void* src, std::size_t len, Wsum sum);

// ip_fast_csum: the checksum field value of an IPv4 header of ihl words
// (its check field must be zero when computing, or it verifies to 0).
// Inline and unrolled over 32-bit words with a 64-bit accumulator, as
// x86's ip_fast_csum is an unrolled add-with-carry over ihl words: it runs
// once per frame out and once per frame in, on 20 bytes, where a call into
// the general csum_partial costs more than the sum. The sum is taken in the
// machine's byte order and swapped once at the end (RFC 1071 section 2(B)).
inline std::uint16_t ip_fast_csum(const void* iph, unsigned ihl) {
  const auto* p = static_cast<const std::uint8_t*>(iph);
  auto word = [p](unsigned i) {
    std::uint32_t w;
    std::memcpy(&w, p + 4 * i, 4);
    return std::uint64_t{w};
  };
  std::uint64_t s = 0;
  unsigned i = 0;
  // Every header that gets here has ihl >= 5 (ip_rcv and the emitters see
  // to it); the first five words are the unrolled common case.
  if (ihl >= 5) [[likely]] {
    s = word(0) + word(1) + word(2) + word(3) + word(4);
    i = 5;
  }
  for (; i < ihl; ++i) s += word(i);
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  auto folded = static_cast<std::uint16_t>(~csum_fold16(static_cast<Wsum>(s)));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
#endif
  return folded;
}

// The TCP/UDP pseudo header (RFC 9293 section 3.1): saddr, daddr, zero,
// protocol, length, added to sum without folding.
constexpr Wsum csum_tcpudp_nofold(Ipv4Addr saddr, Ipv4Addr daddr, std::uint32_t len,
                                  std::uint8_t proto, Wsum sum) {
  std::uint64_t s = sum;
  s += (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff);
  s += proto;
  s += len;
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  return static_cast<Wsum>(s);
}
constexpr std::uint16_t csum_tcpudp_magic(Ipv4Addr saddr, Ipv4Addr daddr, std::uint32_t len,
                                          std::uint8_t proto, Wsum sum) {
  return csum_fold(csum_tcpudp_nofold(saddr, daddr, len, proto, sum));
}
// tcp_v4_check: the TCP checksum field value for a segment of len bytes
// whose header+payload sum is base (with the check field zero).
constexpr std::uint16_t tcp_v4_check(std::uint32_t len, Ipv4Addr saddr, Ipv4Addr daddr, Wsum base) {
  return csum_tcpudp_magic(saddr, daddr, len, IPPROTO_TCP_, base);
}
// The value CHECKSUM_PARTIAL leaves in the check field (tcp_v4_send_check):
// the uncomplemented pseudo-header sum, which the device (or
// skb_checksum_help) completes by summing from csum_start.
constexpr std::uint16_t tcp_v4_pseudo_check(std::uint32_t len, Ipv4Addr saddr, Ipv4Addr daddr) {
  return static_cast<std::uint16_t>(~tcp_v4_check(len, saddr, daddr, 0));
}

// RFC 1624 incremental update, eqn. 3: HC' = ~(~HC + ~m + m'). `check` is
// the current field value; the new field value is returned. A 32-bit field
// (an address, a sequence number) counts as its two 16-bit words.
constexpr std::uint16_t csum_replace2(std::uint16_t check, std::uint16_t from, std::uint16_t to) {
  return csum_fold(csum_add(csum_sub(~csum_unfold(check), from), to));
}
constexpr std::uint16_t csum_replace4(std::uint16_t check, std::uint32_t from, std::uint32_t to) {
  return csum_fold(csum_add(csum_sub(~csum_unfold(check), from), to));
}
// inet_proto_csum_replace4: a change in a field that is also in the pseudo
// header (an address rewritten by NAT). With CHECKSUM_PARTIAL the field holds
// the uncomplemented pseudo sum, updated only when the field is in it;
// otherwise it holds a final checksum. skb_csum, when given, is the
// CHECKSUM_COMPLETE sum of the packet, which changes only for pseudo fields.
void inet_proto_csum_replace4(std::uint16_t* check, bool partial, Wsum* skb_csum,
                              std::uint32_t from, std::uint32_t to, bool pseudohdr);

}  // namespace sp
