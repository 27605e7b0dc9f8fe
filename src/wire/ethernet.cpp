#include "wire/ethernet.hpp"

#include <cstring>

namespace sp {

WireResult<EthernetView> EthernetView::parse(std::span<const std::uint8_t> frame) {
  if (frame.size() < ETH_HLEN) return WireError::kTruncated;
  return EthernetView(frame.data(), frame.size());
}

MacAddr EthernetView::dst() const {
  MacAddr m;
  std::memcpy(m.data(), p_, ETH_ALEN);
  return m;
}

MacAddr EthernetView::src() const {
  MacAddr m;
  std::memcpy(m.data(), p_ + ETH_ALEN, ETH_ALEN);
  return m;
}

WireResult<EthernetRepr> EthernetRepr::parse(std::span<const std::uint8_t> frame) {
  auto v = EthernetView::parse(frame);
  if (!v) return v.error();
  return EthernetRepr{v->dst(), v->src(), v->ethertype()};
}

void EthernetRepr::emit(std::uint8_t* p) const {
  std::memcpy(p, dst.data(), ETH_ALEN);
  std::memcpy(p + ETH_ALEN, src.data(), ETH_ALEN);
  store_be16(p + 12, ethertype);
}

}  // namespace sp
