// Byte-order helpers and address types shared by every wire format.
//
// Convention for the whole of src/wire: multi-byte fields are returned and
// accepted as host-order integers (an IPv4 address 10.0.0.1 is 0x0a000001);
// the views and emitters do the conversion at the byte boundary, so no
// caller ever handles a __be32.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace sp {

inline std::uint16_t load_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// An IPv4 address in host order: 10.0.0.1 == 0x0a000001.
using Ipv4Addr = std::uint32_t;
constexpr Ipv4Addr ipv4_addr(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return (Ipv4Addr{a} << 24) | (Ipv4Addr{b} << 16) | (Ipv4Addr{c} << 8) | Ipv4Addr{d};
}
std::string ipv4_to_string(Ipv4Addr a);  // dotted quad

using MacAddr = std::array<std::uint8_t, 6>;
constexpr MacAddr kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr MacAddr kZeroMac = {0, 0, 0, 0, 0, 0};
std::string mac_to_string(const MacAddr& m);  // aa:bb:cc:dd:ee:ff

}  // namespace sp
