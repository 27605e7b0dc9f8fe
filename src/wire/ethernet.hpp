// Ethernet II frames (IEEE 802.3 with an EtherType): dst, src, ethertype.
#pragma once
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace sp {

constexpr std::uint16_t ETH_ALEN = 6;
constexpr std::uint16_t ETH_HLEN = 14;
constexpr std::uint16_t ETH_P_IP = 0x0800;
constexpr std::uint16_t ETH_P_ARP = 0x0806;

// A checked view over a received frame.
class EthernetView {
 public:
  static WireResult<EthernetView> parse(std::span<const std::uint8_t> frame);
  EthernetView() = default;

  MacAddr dst() const;
  MacAddr src() const;
  std::uint16_t ethertype() const { return load_be16(p_ + 12); }
  std::span<const std::uint8_t> payload() const { return {p_ + ETH_HLEN, len_ - ETH_HLEN}; }

 private:
  EthernetView(const std::uint8_t* p, std::size_t len) : p_(p), len_(len) {}
  const std::uint8_t* p_ = nullptr;
  std::size_t len_ = 0;
};

// struct ethhdr as values.
struct EthernetRepr {
  MacAddr dst{};
  MacAddr src{};
  std::uint16_t ethertype = 0;

  static WireResult<EthernetRepr> parse(std::span<const std::uint8_t> frame);
  static constexpr std::size_t header_len() { return ETH_HLEN; }
  // Writes ETH_HLEN bytes at p (eth_header() after skb_push).
  void emit(std::uint8_t* p) const;
  bool operator==(const EthernetRepr&) const = default;
};

}  // namespace sp
