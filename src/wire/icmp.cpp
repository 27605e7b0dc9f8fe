#include "wire/icmp.hpp"

#include <cstring>

#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace sp {

bool icmp_is_error(std::uint8_t type) {
  return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

WireResult<IcmpView> IcmpView::parse(std::span<const std::uint8_t> b) {
  if (b.size() < kIcmpHeaderLen) return WireError::kTruncated;
  return IcmpView(b.data(), b.size());
}

bool IcmpView::verify_checksum() const {
  return csum_fold(csum_partial(p_, len_, 0)) == 0;
}

WireResult<IcmpQuote> icmp_parse_quote(std::span<const std::uint8_t> q) {
  if (q.size() < kIpv4MinHeaderLen + 8) return WireError::kIcmpQuotedTooShort;
  std::uint8_t ver = q[0] >> 4, ihl = q[0] & 0x0f;
  if (ver != 4 || ihl < 5) return WireError::kIcmpQuotedBadHeader;
  std::size_t hl = std::size_t{ihl} * 4;
  if (q.size() < hl + 8) return WireError::kIcmpQuotedTooShort;
  IcmpQuote r;
  r.protocol = q[9];
  r.saddr = load_be32(q.data() + 12);
  r.daddr = load_be32(q.data() + 16);
  r.source_port = load_be16(q.data() + hl);
  r.dest_port = load_be16(q.data() + hl + 2);
  r.seq = load_be32(q.data() + hl + 4);
  return r;
}

WireResult<IcmpRepr> IcmpRepr::parse(std::span<const std::uint8_t> b) {
  auto v = IcmpView::parse(b);
  if (!v) return v.error();
  if (!v->verify_checksum()) return WireError::kIcmpBadChecksum;
  return IcmpRepr{v->type(), v->code(), v->rest(), v->payload()};
}

void IcmpRepr::emit(std::uint8_t* p) const {
  p[0] = type;
  p[1] = code;
  store_be16(p + 2, 0);
  store_be32(p + 4, rest);
  if (!payload.empty()) std::memcpy(p + kIcmpHeaderLen, payload.data(), payload.size());
  store_be16(p + 2, csum_fold(csum_partial(p, len(), 0)));
}

}  // namespace sp
