// TCP headers (RFC 9293 section 3.1) and options: MSS (RFC 9293 3.2),
// window scale and timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018),
// Fast Open (RFC 7413), MD5 (RFC 2385) recognised by length.
#pragma once
#include <cstdint>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace sp {

constexpr std::size_t kTcpMinHeaderLen = 20;
constexpr std::size_t kTcpMaxHeaderLen = 60;
constexpr std::size_t MAX_TCP_OPTION_SPACE = 40;

// tcp_flags bits, TCPHDR_* as in include/net/tcp.h.
constexpr std::uint8_t TCPHDR_FIN = 0x01;
constexpr std::uint8_t TCPHDR_SYN = 0x02;
constexpr std::uint8_t TCPHDR_RST = 0x04;
constexpr std::uint8_t TCPHDR_PSH = 0x08;
constexpr std::uint8_t TCPHDR_ACK = 0x10;
constexpr std::uint8_t TCPHDR_URG = 0x20;
constexpr std::uint8_t TCPHDR_ECE = 0x40;
constexpr std::uint8_t TCPHDR_CWR = 0x80;

// Option kinds and lengths (include/net/tcp.h).
constexpr std::uint8_t TCPOPT_EOL = 0;
constexpr std::uint8_t TCPOPT_NOP = 1;
constexpr std::uint8_t TCPOPT_MSS = 2;
constexpr std::uint8_t TCPOPT_WINDOW = 3;
constexpr std::uint8_t TCPOPT_SACK_PERM = 4;
constexpr std::uint8_t TCPOPT_SACK = 5;
constexpr std::uint8_t TCPOPT_TIMESTAMP = 8;
constexpr std::uint8_t TCPOPT_MD5SIG = 19;
constexpr std::uint8_t TCPOPT_FASTOPEN = 34;
constexpr std::uint8_t TCPOPT_EXP = 254;
constexpr std::uint16_t TCPOPT_FASTOPEN_MAGIC = 0xF989;

constexpr std::uint8_t TCPOLEN_MSS = 4;
constexpr std::uint8_t TCPOLEN_WINDOW = 3;
constexpr std::uint8_t TCPOLEN_SACK_PERM = 2;
constexpr std::uint8_t TCPOLEN_TIMESTAMP = 10;
constexpr std::uint8_t TCPOLEN_MD5SIG = 18;
constexpr std::uint8_t TCPOLEN_FASTOPEN_BASE = 2;
constexpr std::uint8_t TCPOLEN_EXP_FASTOPEN_BASE = 4;
constexpr std::uint8_t TCPOLEN_SACK_BASE = 2;
constexpr std::uint8_t TCPOLEN_SACK_PERBLOCK = 8;
constexpr std::uint8_t TCPOLEN_MSS_ALIGNED = 4;
constexpr std::uint8_t TCPOLEN_WSCALE_ALIGNED = 4;
constexpr std::uint8_t TCPOLEN_SACKPERM_ALIGNED = 4;
constexpr std::uint8_t TCPOLEN_TSTAMP_ALIGNED = 12;
constexpr std::uint8_t TCPOLEN_SACK_BASE_ALIGNED = 4;
constexpr std::uint8_t TCP_MAX_WSCALE = 14;
constexpr int TCP_NUM_SACKS = 4;
constexpr std::uint8_t TCP_FASTOPEN_COOKIE_MIN = 4;
constexpr std::uint8_t TCP_FASTOPEN_COOKIE_MAX = 16;

// Byte offsets in the header, for in-place updates and csum_offset.
constexpr std::size_t kTcpSeqOffset = 4;
constexpr std::size_t kTcpAckOffset = 8;
constexpr std::size_t kTcpFlagsOffset = 13;
constexpr std::size_t kTcpWindowOffset = 14;
constexpr std::size_t kTcpCheckOffset = 16;  // offsetof(struct tcphdr, check)

struct TcpSackBlock {
  std::uint32_t start_seq = 0;
  std::uint32_t end_seq = 0;
  bool operator==(const TcpSackBlock&) const = default;
};

// The options of one segment, parsed (tcp_options_received) or to send
// (tcp_out_options): one struct for both so that what is parsed can be
// emitted again. A field is meaningful only when its flag says so.
struct TcpOptions {
  std::uint16_t mss = 0;  // 0: no MSS option
  bool wscale_ok = false;
  std::uint8_t wscale = 0;  // as on the wire (the receiver clamps to 14)
  bool sack_ok = false;     // SACK-permitted
  bool saw_tstamp = false;
  std::uint32_t ts_val = 0;
  std::uint32_t ts_ecr = 0;
  std::uint8_t num_sacks = 0;  // 0..4
  TcpSackBlock sacks[TCP_NUM_SACKS];
  // Fast Open (kind 34, or 254 with the experimental magic): a cookie of 0 or
  // an even 4..16 bytes; a zero-length option is a cookie request.
  bool fastopen = false;
  bool fastopen_exp = false;
  std::uint8_t fastopen_len = 0;
  std::uint8_t fastopen_cookie[TCP_FASTOPEN_COOKIE_MAX] = {};
  // Parse only: recognised by length, never emitted by tcp_options_write.
  bool saw_md5 = false;
  bool saw_unknown = false;

  bool operator==(const TcpOptions&) const = default;
};

// Parse the option bytes (between the fixed header and doff * 4) the way
// tcp_parse_options() does, and report the first problem:
// - EOL ends the list; NOP is skipped; unknown kinds are skipped by length.
// - A length byte of 0 or 1 (kTcpOptionBadLength) or an option running past
//   the header (kTcpOptionPastHeader) stops the walk: options before it are
//   kept, as Linux keeps them.
// - A known kind with the wrong length (MSS not 4, SACK not 2 + 8n, ...) is
//   skipped and recorded as the error, and the walk goes on, as Linux does.
// So `out` always holds what Linux would have taken; the error says what was
// wrong. The caller applies the SYN-only rule (MSS, window scale, SACK-
// permitted mean something on a SYN only).
WireError tcp_parse_options(std::span<const std::uint8_t> opts, TcpOptions* out);

// Bytes tcp_options_write() will write for o, padded to 4: MSS 4; TS 12
// (sack_ok rides in its NOP slots); SACK-permitted alone 4; window scale 4;
// SACK 4 + 8n; Fast Open (2 or 4) + cookie, padded. May exceed
// MAX_TCP_OPTION_SPACE: the caller (tcp_syn_options, tcp_established_options)
// decides what fits.
unsigned tcp_options_size(const TcpOptions& o);

// Write the options in tcp_options_write()'s order and byte layout:
//   MSS: 02 04 mm mm
//   TS with SACK-permitted: 04 02 08 0a val ecr; TS alone: 01 01 08 0a val ecr
//   SACK-permitted without TS: 01 01 04 02
//   window scale: 01 03 03 ws
//   SACK: 01 01 05 len blocks...
//   Fast Open: 22 len cookie (or fe len f9 89 cookie), NOP NOP if len % 4 == 2
// Returns the bytes written (== tcp_options_size(o)).
unsigned tcp_options_write(std::uint8_t* p, const TcpOptions& o);

class TcpView {
 public:
  // Checks length >= 20, doff >= 5, doff * 4 within the buffer. Options are
  // parsed separately (tcp_parse_options(view.options(), ...)).
  static WireResult<TcpView> parse(std::span<const std::uint8_t> segment);
  TcpView() = default;

  std::uint16_t source() const { return load_be16(p_); }
  std::uint16_t dest() const { return load_be16(p_ + 2); }
  std::uint32_t seq() const { return load_be32(p_ + 4); }
  std::uint32_t ack_seq() const { return load_be32(p_ + 8); }
  std::uint8_t doff() const { return p_[12] >> 4; }
  std::size_t header_len() const { return std::size_t{doff()} * 4; }
  std::uint8_t flags() const { return p_[13]; }
  bool fin() const { return flags() & TCPHDR_FIN; }
  bool syn() const { return flags() & TCPHDR_SYN; }
  bool rst() const { return flags() & TCPHDR_RST; }
  bool psh() const { return flags() & TCPHDR_PSH; }
  bool ack() const { return flags() & TCPHDR_ACK; }
  bool urg() const { return flags() & TCPHDR_URG; }
  bool ece() const { return flags() & TCPHDR_ECE; }
  bool cwr() const { return flags() & TCPHDR_CWR; }
  std::uint16_t window() const { return load_be16(p_ + 14); }
  std::uint16_t check() const { return load_be16(p_ + 16); }
  std::uint16_t urg_ptr() const { return load_be16(p_ + 18); }
  std::span<const std::uint8_t> header() const { return {p_, header_len()}; }
  std::span<const std::uint8_t> options() const {
    return {p_ + kTcpMinHeaderLen, header_len() - kTcpMinHeaderLen};
  }
  std::span<const std::uint8_t> payload() const { return {p_ + header_len(), len_ - header_len()}; }
  std::span<const std::uint8_t> segment() const { return {p_, len_}; }
  // The checksum over the pseudo header and the whole segment verifies.
  bool verify_checksum(Ipv4Addr saddr, Ipv4Addr daddr) const;

 private:
  TcpView(const std::uint8_t* p, std::size_t len) : p_(p), len_(len) {}
  const std::uint8_t* p_ = nullptr;
  std::size_t len_ = 0;
};

// The fixed header as values (struct tcphdr without doff and check).
struct TcpHeader {
  std::uint16_t source = 0;
  std::uint16_t dest = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack_seq = 0;
  std::uint8_t flags = 0;  // TCPHDR_*
  std::uint16_t window = 0;
  std::uint16_t urg_ptr = 0;
  bool operator==(const TcpHeader&) const = default;
};

// Write the 20-byte fixed header with the given doff (in 32-bit words) and
// check = 0; tcp_transmit_skb writes the options after it and then the
// checksum (or the pseudo sum for CHECKSUM_PARTIAL).
void tcp_header_write(std::uint8_t* th, const TcpHeader& h, std::uint8_t doff);

// A whole segment as values: header, options, payload length.
struct TcpRepr {
  TcpHeader hdr;
  TcpOptions opts;
  // Parses header and options (any option error is returned).
  static WireResult<TcpRepr> parse(std::span<const std::uint8_t> segment);
  unsigned header_len() const { return kTcpMinHeaderLen + tcp_options_size(opts); }
  // Writes header_len() bytes (header + options), check = 0.
  void emit(std::uint8_t* th) const;
  // emit() and then the checksum over the header and the payload_len bytes
  // that follow it at th + header_len().
  void emit_with_checksum(std::uint8_t* th, std::size_t payload_len, Ipv4Addr saddr,
                          Ipv4Addr daddr) const;
};

}  // namespace sp
