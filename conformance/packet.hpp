// Packets on the script's wire: building the IPv4/TCP bytes of an inbound
// script packet, parsing what the stack sends, and checking an outbound
// packet against the script in packetdrill's own words (run_packet.c:
// "live packet field tcp_seq: expected: 1 (0x1) vs actual: 2 (0x2)").
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "script.hpp"

namespace sp::drill {

// TCP flag bits in header order.
enum : std::uint8_t {
  TH_FIN = 0x01,
  TH_SYN = 0x02,
  TH_RST = 0x04,
  TH_PSH = 0x08,
  TH_ACK = 0x10,
  TH_URG = 0x20,
  TH_ECE = 0x40,
  TH_CWR = 0x80,
};

// Script flags ("S.", "FP.") to header bits; '.' is ACK.
std::uint8_t tcp_flags_from_script(const std::string& flags);
// Header bits back to script form, for messages ("P.").
std::string tcp_flags_to_script(std::uint8_t flags);

// One IPv4/TCP packet, decoded. Addresses in host order.
struct WirePacket {
  std::uint32_t saddr = 0, daddr = 0;
  std::uint8_t tos = 0, ttl = 0;
  std::uint16_t ip_id = 0;
  bool df = false;
  bool ip_csum_ok = true;
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack_seq = 0;
  std::uint8_t flags = 0;
  std::uint8_t doff = 5;  // 32-bit words
  std::uint8_t res1 = 0;
  std::uint16_t window = 0;
  std::uint16_t urg_ptr = 0;
  std::vector<std::uint8_t> options;  // raw option bytes
  std::uint32_t payload_len = 0;
  std::uint16_t gso_size = 0;  // MSS of a TSO skb, 0 for a plain packet
  std::uint64_t time_ns = 0;   // when the device saw it (outbound)
};

// Parses raw IPv4 bytes (total length of the buffer is the packet length,
// so a TSO skb larger than 64 KiB or with tot_len 0 is still understood).
std::optional<WirePacket> parse_ipv4_tcp(const std::uint8_t* data, std::size_t len,
                                         std::string* error);

// Raw option bytes of a script option list, in order (no padding added:
// packetdrill sends exactly what the script lists).
std::vector<std::uint8_t> encode_tcp_options(const std::vector<TcpOption>& opts);

// Finds the timestamp option in raw option bytes: offset of TS val, or -1.
int find_ts_option(const std::vector<std::uint8_t>& options);

// Serialises an IPv4/TCP packet with valid checksums; payload is zeros.
std::vector<std::uint8_t> build_ipv4_tcp(const WirePacket& p);

// The runner's mapping between script space and live space for one
// connection (packetdrill's struct socket: script and live ISNs, ports, the
// timestamp bases).
struct SeqMap {
  std::uint32_t local_isn = 0;  // the stack's ISN (learned from its SYN/SYN-ACK)
  bool local_isn_known = false;
  std::uint32_t remote_isn = 0;  // the script's side: script seq + remote_isn = live seq
  // TS val of outbound packets: script value -> the live value seen with it.
  std::map<std::uint32_t, std::uint32_t> ts_script_to_live;
  bool ts_base_known = false;
  std::uint32_t ts_live_base = 0, ts_script_base = 0;
};

struct Tolerances {
  std::int64_t tolerance_usecs = 4000;
  double tolerance_percent = 0;  // 0: not set
  int tcp_ts_tick_usecs = 0;     // 0: outbound TS val is not checked
};

// Checks the outbound packet `live` against the script packet, with the
// live values mapped into script space. Returns an error in packetdrill's
// words, or nullopt when the headers, options and payload length match.
// Updates `map` (TS val mapping, first TS base) as packetdrill does.
std::optional<std::string> verify_outbound(const PacketSpec& script, const WirePacket& live,
                                           SeqMap& map, const Tolerances& tol);

// Describes a packet in script syntax ("P. 1:1001(1000) ack 1 win 257 <...>"),
// with sequence numbers mapped into script space when `map` is given.
std::string describe_packet(const WirePacket& p, const SeqMap* map, bool outbound);

}  // namespace sp::drill
