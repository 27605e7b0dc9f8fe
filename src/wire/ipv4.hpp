// IPv4 headers (RFC 791): struct iphdr as a checked view and as values.
// Options are walked for their lengths only (the stack sends none).
#pragma once
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace sp {

constexpr std::size_t kIpv4MinHeaderLen = 20;
constexpr std::size_t kIpv4MaxHeaderLen = 60;
constexpr std::uint16_t IP_CE = 0x8000;      // reserved "congestion" bit
constexpr std::uint16_t IP_DF = 0x4000;      // don't fragment
constexpr std::uint16_t IP_MF = 0x2000;      // more fragments
constexpr std::uint16_t IP_OFFSET = 0x1fff;  // fragment offset, 8-byte units
constexpr std::uint8_t IPOPT_END = 0;
constexpr std::uint8_t IPOPT_NOOP = 1;

// Byte offsets inside the header, for in-place updates (ip_send_check,
// ip_decrease_ttl) and for csum_offset.
constexpr std::size_t kIpv4TotLenOffset = 2;
constexpr std::size_t kIpv4IdOffset = 4;
constexpr std::size_t kIpv4TtlOffset = 8;
constexpr std::size_t kIpv4CheckOffset = 10;

class Ipv4View {
 public:
  // Checks, in ip_rcv_core()'s order: length >= 20, version 4, ihl >= 5,
  // ihl * 4 within the buffer, tot_len within the buffer and not below the
  // header, and every option's length. The checksum is checked separately
  // (verify_checksum) so the caller can count it apart (IPSTATS_MIB_CSUMERRORS).
  static WireResult<Ipv4View> parse(std::span<const std::uint8_t> b);
  Ipv4View() = default;

  std::uint8_t version() const { return p_[0] >> 4; }
  std::uint8_t ihl() const { return p_[0] & 0x0f; }
  std::size_t header_len() const { return std::size_t{ihl()} * 4; }
  std::uint8_t tos() const { return p_[1]; }
  std::uint16_t tot_len() const { return load_be16(p_ + 2); }
  std::uint16_t id() const { return load_be16(p_ + 4); }
  std::uint16_t frag_off() const { return load_be16(p_ + 6); }  // flags + offset, raw
  bool df() const { return frag_off() & IP_DF; }
  bool mf() const { return frag_off() & IP_MF; }
  std::uint32_t frag_offset_bytes() const { return std::uint32_t(frag_off() & IP_OFFSET) * 8; }
  bool is_fragment() const { return frag_off() & (IP_MF | IP_OFFSET); }
  std::uint8_t ttl() const { return p_[8]; }
  std::uint8_t protocol() const { return p_[9]; }
  std::uint16_t check() const { return load_be16(p_ + 10); }
  Ipv4Addr saddr() const { return load_be32(p_ + 12); }
  Ipv4Addr daddr() const { return load_be32(p_ + 16); }
  std::span<const std::uint8_t> header() const { return {p_, header_len()}; }
  std::span<const std::uint8_t> options() const {
    return {p_ + kIpv4MinHeaderLen, header_len() - kIpv4MinHeaderLen};
  }
  // tot_len bounds the payload; bytes past it (Ethernet padding) are not in it.
  std::span<const std::uint8_t> payload() const {
    return {p_ + header_len(), std::size_t{tot_len()} - header_len()};
  }
  bool verify_checksum() const;

 private:
  Ipv4View(const std::uint8_t* p) : p_(p) {}
  const std::uint8_t* p_ = nullptr;
};

// The header as values. emit() writes a 20-byte header (no options) with
// tot_len = 20 + payload_len and a correct checksum.
struct Ipv4Repr {
  std::uint8_t tos = 0;
  std::uint16_t id = 0;
  std::uint16_t frag_off = IP_DF;  // flags + offset, raw (Linux sets DF with PMTU discovery)
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;
  Ipv4Addr saddr = 0;
  Ipv4Addr daddr = 0;
  std::uint16_t payload_len = 0;

  // Parses and verifies the header checksum (kIpBadChecksum).
  static WireResult<Ipv4Repr> parse(std::span<const std::uint8_t> b);
  static constexpr std::size_t header_len() { return kIpv4MinHeaderLen; }
  void emit(std::uint8_t* p) const;
  bool operator==(const Ipv4Repr&) const = default;
};

// ip_send_check: recompute the checksum of the header at iph in place.
void ip_send_check(std::uint8_t* iph);
// ip_decrease_ttl: ttl - 1 with the checksum patched incrementally (RFC 1624).
void ip_decrease_ttl(std::uint8_t* iph);

}  // namespace sp
