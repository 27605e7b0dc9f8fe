// ICMP for IPv4 (RFC 792): echo, and the errors TCP listens to (destination
// unreachable with fragmentation-needed's next-hop MTU, RFC 1191; time
// exceeded), which quote the offending IPv4 header and 8 bytes after it.
#pragma once
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace sp {

constexpr std::size_t kIcmpHeaderLen = 8;
constexpr std::uint8_t ICMP_ECHOREPLY = 0;
constexpr std::uint8_t ICMP_DEST_UNREACH = 3;
constexpr std::uint8_t ICMP_ECHO = 8;
constexpr std::uint8_t ICMP_TIME_EXCEEDED = 11;
constexpr std::uint8_t ICMP_PARAMETERPROB = 12;
constexpr std::uint8_t ICMP_PORT_UNREACH = 3;  // code of ICMP_DEST_UNREACH
constexpr std::uint8_t ICMP_FRAG_NEEDED = 4;   // code of ICMP_DEST_UNREACH

bool icmp_is_error(std::uint8_t type);

class IcmpView {
 public:
  // Checks length >= 8 only; verify_checksum() is separate.
  static WireResult<IcmpView> parse(std::span<const std::uint8_t> b);
  IcmpView() = default;

  std::uint8_t type() const { return p_[0]; }
  std::uint8_t code() const { return p_[1]; }
  std::uint16_t checksum() const { return load_be16(p_ + 2); }
  std::uint32_t rest() const { return load_be32(p_ + 4); }  // the second word, raw
  std::uint16_t echo_id() const { return load_be16(p_ + 4); }
  std::uint16_t echo_seq() const { return load_be16(p_ + 6); }
  std::uint16_t next_hop_mtu() const { return load_be16(p_ + 6); }  // frag needed
  std::span<const std::uint8_t> payload() const {
    return {p_ + kIcmpHeaderLen, len_ - kIcmpHeaderLen};
  }
  bool verify_checksum() const;

 private:
  IcmpView(const std::uint8_t* p, std::size_t len) : p_(p), len_(len) {}
  const std::uint8_t* p_ = nullptr;
  std::size_t len_ = 0;
};

// What an ICMP error quotes (the start of the datagram that caused it): the
// IPv4 header's addresses and protocol, and the first 8 bytes of the
// transport header (for TCP: ports and sequence number). Its tot_len refers
// to the original datagram, so it is not checked against the quote.
struct IcmpQuote {
  std::uint8_t protocol = 0;
  Ipv4Addr saddr = 0;
  Ipv4Addr daddr = 0;
  std::uint16_t source_port = 0;
  std::uint16_t dest_port = 0;
  std::uint32_t seq = 0;  // TCP: the quoted sequence number
  bool operator==(const IcmpQuote&) const = default;
};
WireResult<IcmpQuote> icmp_parse_quote(std::span<const std::uint8_t> quoted);

struct IcmpRepr {
  std::uint8_t type = ICMP_ECHO;
  std::uint8_t code = 0;
  std::uint32_t rest = 0;  // id << 16 | seq for echo; mtu for frag needed
  std::span<const std::uint8_t> payload;

  static WireResult<IcmpRepr> parse(std::span<const std::uint8_t> b);  // verifies the checksum
  std::size_t len() const { return kIcmpHeaderLen + payload.size(); }
  void emit(std::uint8_t* p) const;  // writes len() bytes with the checksum
};

}  // namespace sp
