#include "wire/ipv4.hpp"

#include "wire/checksum.hpp"

namespace sp {
namespace {

// Walk the options for their lengths (ip_options_compile's framing checks,
// without interpreting any option).
WireError check_ipv4_options(std::span<const std::uint8_t> opts) {
  std::size_t i = 0;
  while (i < opts.size()) {
    std::uint8_t kind = opts[i];
    if (kind == IPOPT_END) break;
    if (kind == IPOPT_NOOP) {
      ++i;
      continue;
    }
    if (i + 1 >= opts.size()) return WireError::kIpOptionPastHeader;
    std::uint8_t optlen = opts[i + 1];
    if (optlen < 2) return WireError::kIpOptionBadLength;
    if (optlen > opts.size() - i) return WireError::kIpOptionPastHeader;
    i += optlen;
  }
  return WireError::kOk;
}

}  // namespace

WireResult<Ipv4View> Ipv4View::parse(std::span<const std::uint8_t> b) {
  if (b.size() < kIpv4MinHeaderLen) return WireError::kTruncated;
  Ipv4View v(b.data());
  if (v.version() != 4) return WireError::kIpBadVersion;
  if (v.ihl() < 5) return WireError::kIpBadIhl;
  if (v.header_len() > b.size()) return WireError::kIpHeaderPastBuffer;
  if (v.tot_len() > b.size()) return WireError::kIpTotLenPastBuffer;
  if (v.tot_len() < v.header_len()) return WireError::kIpTotLenBelowHeader;
  if (WireError e = check_ipv4_options(v.options()); e != WireError::kOk) return e;
  return v;
}

bool Ipv4View::verify_checksum() const {
  return ip_fast_csum(p_, ihl()) == 0;
}

WireResult<Ipv4Repr> Ipv4Repr::parse(std::span<const std::uint8_t> b) {
  auto v = Ipv4View::parse(b);
  if (!v) return v.error();
  if (!v->verify_checksum()) return WireError::kIpBadChecksum;
  Ipv4Repr r;
  r.tos = v->tos();
  r.id = v->id();
  r.frag_off = v->frag_off();
  r.ttl = v->ttl();
  r.protocol = v->protocol();
  r.saddr = v->saddr();
  r.daddr = v->daddr();
  r.payload_len = static_cast<std::uint16_t>(v->payload().size());
  return r;
}

void Ipv4Repr::emit(std::uint8_t* p) const {
  const auto tot_len = static_cast<std::uint16_t>(kIpv4MinHeaderLen + payload_len);
  // The checksum from the field values rather than by reading back the
  // bytes just stored: the read of a word written by narrower stores a few
  // instructions earlier cannot be forwarded from the store buffer and
  // stalls, once per frame.
  const Wsum sum = (0x4500u | tos) + tot_len + id + frag_off + ((Wsum{ttl} << 8) | protocol) +
                   (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff);
  p[0] = 0x45;
  p[1] = tos;
  store_be16(p + 2, tot_len);
  store_be16(p + 4, id);
  store_be16(p + 6, frag_off);
  p[8] = ttl;
  p[9] = protocol;
  store_be16(p + 10, csum_fold(sum));
  store_be32(p + 12, saddr);
  store_be32(p + 16, daddr);
}

void ip_send_check(std::uint8_t* iph) {
  // Sum the header as it stands and take the old check field out again
  // (RFC 1624's subtraction), instead of zeroing the field and reading it
  // straight back, which would stall on store forwarding.
  const unsigned ihl = iph[0] & 0x0f;
  if (ihl < 5) [[unlikely]] {  // no header of ours; the check field may lie outside
    store_be16(iph + kIpv4CheckOffset, 0);
    store_be16(iph + kIpv4CheckOffset, ip_fast_csum(iph, ihl));
    return;
  }
  const std::uint16_t old = load_be16(iph + kIpv4CheckOffset);
  const std::uint16_t with_old = ip_fast_csum(iph, ihl);
  store_be16(iph + kIpv4CheckOffset, csum_fold(csum_sub(csum_unfold(with_old) ^ 0xffff, old)));
}

void ip_decrease_ttl(std::uint8_t* iph) {
  // TTL shares its 16-bit word with the protocol byte.
  std::uint16_t old_word = load_be16(iph + kIpv4TtlOffset);
  iph[kIpv4TtlOffset]--;
  std::uint16_t new_word = load_be16(iph + kIpv4TtlOffset);
  std::uint16_t check = load_be16(iph + kIpv4CheckOffset);
  store_be16(iph + kIpv4CheckOffset, csum_replace2(check, old_word, new_word));
}

}  // namespace sp
