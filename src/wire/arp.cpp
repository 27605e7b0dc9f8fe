#include "wire/arp.hpp"

#include <cstring>

#include "wire/ethernet.hpp"

namespace sp {

WireResult<ArpRepr> ArpRepr::parse(std::span<const std::uint8_t> b) {
  if (b.size() < 8) return WireError::kTruncated;
  const std::uint8_t* p = b.data();
  if (load_be16(p) != ARPHRD_ETHER || p[4] != ETH_ALEN) return WireError::kArpBadHardware;
  if (load_be16(p + 2) != ETH_P_IP || p[5] != 4) return WireError::kArpBadProtocol;
  if (b.size() < kArpEthIpv4Len) return WireError::kTruncated;
  ArpRepr r;
  r.op = load_be16(p + 6);
  if (r.op != ARPOP_REQUEST && r.op != ARPOP_REPLY) return WireError::kArpBadOperation;
  std::memcpy(r.sha.data(), p + 8, 6);
  r.sip = load_be32(p + 14);
  std::memcpy(r.tha.data(), p + 18, 6);
  r.tip = load_be32(p + 24);
  return r;
}

void ArpRepr::emit(std::uint8_t* p) const {
  store_be16(p, ARPHRD_ETHER);
  store_be16(p + 2, ETH_P_IP);
  p[4] = ETH_ALEN;
  p[5] = 4;
  store_be16(p + 6, op);
  std::memcpy(p + 8, sha.data(), 6);
  store_be32(p + 14, sip);
  std::memcpy(p + 18, tha.data(), 6);
  store_be32(p + 24, tip);
}

}  // namespace sp
