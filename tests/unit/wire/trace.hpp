// Packet builders for the wire tests, so that a test reads like a trace:
//   tcp("S.", 1000, 2001, 65535, opts().mss(1460).sack_ok().ts(7, 0).wscale(7))
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace sp::test {

using Bytes = std::vector<std::uint8_t>;

inline Bytes bytes(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<std::uint8_t>(x));
  return b;
}

inline Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// tcpdump's flag letters: S F R P . (ACK) U E W.
inline std::uint8_t tcp_flags(std::string_view s) {
  std::uint8_t f = 0;
  for (char c : s) {
    switch (c) {
      case 'S':
        f |= TCPHDR_SYN;
        break;
      case 'F':
        f |= TCPHDR_FIN;
        break;
      case 'R':
        f |= TCPHDR_RST;
        break;
      case 'P':
        f |= TCPHDR_PSH;
        break;
      case '.':
        f |= TCPHDR_ACK;
        break;
      case 'U':
        f |= TCPHDR_URG;
        break;
      case 'E':
        f |= TCPHDR_ECE;
        break;
      case 'W':
        f |= TCPHDR_CWR;
        break;
      default:
        break;
    }
  }
  return f;
}

// Fluent TcpOptions.
struct opts {
  TcpOptions o;
  opts& mss(std::uint16_t v) {
    o.mss = v;
    return *this;
  }
  opts& wscale(std::uint8_t v) {
    o.wscale_ok = true;
    o.wscale = v;
    return *this;
  }
  opts& sack_ok() {
    o.sack_ok = true;
    return *this;
  }
  opts& ts(std::uint32_t val, std::uint32_t ecr) {
    o.saw_tstamp = true;
    o.ts_val = val;
    o.ts_ecr = ecr;
    return *this;
  }
  opts& sack(std::uint32_t start, std::uint32_t end) {
    o.sacks[o.num_sacks++] = {start, end};
    return *this;
  }
  operator TcpOptions() const { return o; }  // NOLINT
};

constexpr Ipv4Addr kClient = ipv4_addr(192, 168, 0, 1);
constexpr Ipv4Addr kServer = ipv4_addr(192, 0, 2, 1);
constexpr std::uint16_t kClientPort = 40000;
constexpr std::uint16_t kServerPort = 8080;

// A TCP segment client -> server with a correct checksum and payload_len
// bytes of payload (0, 1, 2, ...).
inline Bytes tcp(std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::uint16_t win,
                 const TcpOptions& o = {}, std::size_t payload_len = 0) {
  TcpRepr r;
  r.hdr = TcpHeader{kClientPort, kServerPort, seq, ack, tcp_flags(flags), win, 0};
  r.opts = o;
  Bytes b(r.header_len() + payload_len);
  for (std::size_t i = 0; i < payload_len; ++i)
    b[r.header_len() + i] = static_cast<std::uint8_t>(i);
  r.emit_with_checksum(b.data(), payload_len, kClient, kServer);
  return b;
}

// An IPv4 datagram client -> server carrying payload, with a correct header checksum.
inline Bytes ipv4(std::uint8_t protocol, const Bytes& payload, Ipv4Addr src = kClient,
                  Ipv4Addr dst = kServer) {
  Ipv4Repr r;
  r.protocol = protocol;
  r.saddr = src;
  r.daddr = dst;
  r.id = 0x1234;
  r.payload_len = static_cast<std::uint16_t>(payload.size());
  Bytes b(Ipv4Repr::header_len());
  r.emit(b.data());
  return cat(b, payload);
}

}  // namespace sp::test
