// ARP for IPv4 over Ethernet (RFC 826): the only kind the stack speaks.
#pragma once
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace sp {

constexpr std::uint16_t ARPHRD_ETHER = 1;
constexpr std::uint16_t ARPOP_REQUEST = 1;
constexpr std::uint16_t ARPOP_REPLY = 2;
constexpr std::size_t kArpEthIpv4Len = 28;  // arphdr (8) + 2 * (6 + 4)

struct ArpRepr {
  std::uint16_t op = ARPOP_REQUEST;
  MacAddr sha{};     // sender hardware address
  Ipv4Addr sip = 0;  // sender protocol address
  MacAddr tha{};     // target hardware address (zero in a request)
  Ipv4Addr tip = 0;  // target protocol address

  // Checks hardware type/length (Ethernet), protocol type/length (IPv4) and
  // the operation; trailing bytes (Ethernet padding) are ignored.
  static WireResult<ArpRepr> parse(std::span<const std::uint8_t> b);
  static constexpr std::size_t packet_len() { return kArpEthIpv4Len; }
  void emit(std::uint8_t* p) const;  // writes kArpEthIpv4Len bytes
  bool operator==(const ArpRepr&) const = default;
};

}  // namespace sp
