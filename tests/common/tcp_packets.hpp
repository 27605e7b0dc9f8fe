// Build inbound TCP/IPv4 packets for tests the way a packet trace reads them:
//
//   auto syn = tcp_pkt(peer, "S", 1000, 0, 65535, TcpOpts{.mss = 1460, .wscale = 7});
//   auto data = tcp_pkt(peer, "P.", 1001, iss + 1, 502, {}, payload("hello"));
//
// Flags are packetdrill's letters: S (SYN), F (FIN), R (RST), P (PSH),
// U (URG), E (ECE), W (CWR), and "." for ACK. The result is the IPv4 packet
// as bytes (so a test can corrupt it), and make_rx_skb() turns bytes into the
// skb tcp_v4_rcv expects: data at the TCP header, network_header at IPv4.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "skb/skbuff.hpp"
#include "wire/bytes.hpp"

namespace sp::test {

// Addresses and ports of one direction of a flow, host order (10.0.0.1 is
// 0x0a000001), as src/wire's convention.
struct Flow {
  std::uint32_t saddr = ipv4_addr(10, 0, 0, 2);
  std::uint32_t daddr = ipv4_addr(10, 0, 0, 1);
  std::uint16_t sport = 40000;
  std::uint16_t dport = 80;
  Flow reversed() const { return Flow{daddr, saddr, dport, sport}; }
};

struct TcpOpts {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;
  bool sack_perm = false;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> ts;  // TSval, TSecr
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack;  // [start, end) blocks

  // Chainable setters: TcpOpts().with_mss(1460).with_ts(100, 0).
  TcpOpts& with_mss(std::uint16_t v) {
    mss = v;
    return *this;
  }
  TcpOpts& with_wscale(std::uint8_t v) {
    wscale = v;
    return *this;
  }
  TcpOpts& with_sack_perm() {
    sack_perm = true;
    return *this;
  }
  TcpOpts& with_ts(std::uint32_t val, std::uint32_t ecr) {
    ts = std::make_pair(val, ecr);
    return *this;
  }
  TcpOpts& with_sack(std::uint32_t start, std::uint32_t end) {
    sack.emplace_back(start, end);
    return *this;
  }
};

enum : std::uint8_t {
  kTcpFin = 0x01,
  kTcpSyn = 0x02,
  kTcpRst = 0x04,
  kTcpPsh = 0x08,
  kTcpAck = 0x10,
  kTcpUrg = 0x20,
  kTcpEce = 0x40,
  kTcpCwr = 0x80,
};

inline std::uint8_t tcp_flags_from(std::string_view f) {
  std::uint8_t v = 0;
  for (char c : f) {
    switch (c) {
      case 'S':
        v |= kTcpSyn;
        break;
      case 'F':
        v |= kTcpFin;
        break;
      case 'R':
        v |= kTcpRst;
        break;
      case 'P':
        v |= kTcpPsh;
        break;
      case 'U':
        v |= kTcpUrg;
        break;
      case 'E':
        v |= kTcpEce;
        break;
      case 'W':
        v |= kTcpCwr;
        break;
      case '.':
        v |= kTcpAck;
        break;
      default:
        break;
    }
  }
  return v;
}

inline std::vector<std::uint8_t> payload(std::string_view s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}
inline std::vector<std::uint8_t> payload_of(std::size_t n, std::uint8_t fill = 'x') {
  return std::vector<std::uint8_t>(n, fill);
}

// One's-complement sum over bytes (RFC 1071), folded, not inverted.
inline std::uint32_t csum_add_bytes(std::uint32_t sum, const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += static_cast<std::uint32_t>((p[i] << 8) | p[i + 1]);
  if (n & 1) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
  return sum;
}
inline std::uint16_t csum_fold_invert(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

inline std::vector<std::uint8_t> tcp_options_bytes(const TcpOpts& o) {
  std::vector<std::uint8_t> b;
  // Room for the 40 option bytes TCP allows up front: no reallocation, and
  // g++ 12 -O3 no longer sees an insert into a zero-capacity vector (a
  // false -Wstringop-overflow).
  b.reserve(40);
  if (o.mss) {
    b.insert(b.end(),
             {2, 4, static_cast<std::uint8_t>(*o.mss >> 8), static_cast<std::uint8_t>(*o.mss)});
  }
  if (o.sack_perm && o.ts) {
    b.insert(b.end(), {4, 2});
  } else if (o.sack_perm) {
    b.insert(b.end(), {1, 1, 4, 2});
  }
  if (o.ts) {
    if (!o.sack_perm) b.insert(b.end(), {1, 1});
    std::uint8_t t[10] = {8, 10};
    store_be32(t + 2, o.ts->first);
    store_be32(t + 6, o.ts->second);
    b.insert(b.end(), t, t + 10);
  }
  if (o.wscale) b.insert(b.end(), {1, 3, 3, *o.wscale});
  if (!o.sack.empty()) {
    b.insert(b.end(), {1, 1, 5, static_cast<std::uint8_t>(2 + 8 * o.sack.size())});
    for (auto [s, e] : o.sack) {
      std::uint8_t t[8];
      store_be32(t, s);
      store_be32(t + 4, e);
      b.insert(b.end(), t, t + 8);
    }
  }
  while (b.size() % 4) b.push_back(1);  // pad with NOPs to a 32-bit boundary
  return b;
}

// The IPv4 packet (20-byte header, DF, TTL 64) carrying the segment, with
// valid IP and TCP checksums.
inline std::vector<std::uint8_t> tcp_pkt(const Flow& f, std::string_view flags, std::uint32_t seq,
                                         std::uint32_t ack, std::uint16_t win,
                                         const TcpOpts& opts = {},
                                         std::span<const std::uint8_t> data = {}) {
  std::vector<std::uint8_t> opt = tcp_options_bytes(opts);
  const std::size_t thl = 20 + opt.size();
  const std::size_t tot = 20 + thl + data.size();
  std::vector<std::uint8_t> p(tot, 0);
  std::uint8_t* ip = p.data();
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<std::uint16_t>(tot));
  store_be16(ip + 4, 1);
  store_be16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = 6;
  store_be32(ip + 12, f.saddr);
  store_be32(ip + 16, f.daddr);
  store_be16(ip + 10, csum_fold_invert(csum_add_bytes(0, ip, 20)));

  std::uint8_t* th = ip + 20;
  store_be16(th + 0, f.sport);
  store_be16(th + 2, f.dport);
  store_be32(th + 4, seq);
  store_be32(th + 8, ack);
  th[12] = static_cast<std::uint8_t>((thl / 4) << 4);
  th[13] = tcp_flags_from(flags);
  store_be16(th + 14, win);
  std::copy(opt.begin(), opt.end(), th + 20);
  std::copy(data.begin(), data.end(), th + thl);
  // Pseudo-header: saddr, daddr, zero, protocol, TCP length.
  std::uint32_t sum = csum_add_bytes(0, ip + 12, 8);
  sum += 6 + static_cast<std::uint32_t>(thl + data.size());
  sum = csum_add_bytes(sum, th, thl + data.size());
  store_be16(th + 16, csum_fold_invert(sum));
  return p;
}

// Recompute the TCP checksum of a packet a test has edited (IPv4 header of 20).
inline void fix_tcp_csum(std::vector<std::uint8_t>& p) {
  std::uint8_t* ip = p.data();
  std::uint8_t* th = ip + 20;
  std::size_t tlen = p.size() - 20;
  store_be16(th + 16, 0);
  std::uint32_t sum = csum_add_bytes(0, ip + 12, 8);
  sum += 6 + static_cast<std::uint32_t>(tlen);
  sum = csum_add_bytes(sum, th, tlen);
  store_be16(th + 16, csum_fold_invert(sum));
}

// The skb ip_local_deliver hands to tcp_v4_rcv: network_header at the IPv4
// header, data and transport_header at the TCP header, len = TCP length.
inline SkbPtr make_rx_skb(std::span<const std::uint8_t> ip_packet) {
  SkbPtr skb = alloc_skb_with_headroom(64, static_cast<std::uint32_t>(ip_packet.size()));
  if (!skb) return skb;
  std::uint8_t* d = skb_put(skb.get(), static_cast<std::uint32_t>(ip_packet.size()));
  std::copy(ip_packet.begin(), ip_packet.end(), d);
  skb_reset_network_header(skb.get());
  std::uint32_t ihl = ip_packet.empty() ? 0 : (ip_packet[0] & 0x0f) * 4u;
  if (ihl > ip_packet.size()) ihl = static_cast<std::uint32_t>(ip_packet.size());
  skb_pull(skb.get(), ihl);
  skb_reset_transport_header(skb.get());
  skb->protocol = 0x0800;
  return skb;
}

// Read back an outbound segment a fake device captured (skb->data at the
// IPv4 header, or at Ethernet when `l2` bytes precede it), linearised.
struct ParsedSeg {
  std::uint32_t saddr = 0, daddr = 0;
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t win = 0;
  std::uint32_t payload_len = 0;
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;
  bool sack_perm = false;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> ts;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack;
  std::vector<std::uint8_t> data;
  bool has(std::uint8_t f) const { return (flags & f) == f; }
};

inline std::optional<ParsedSeg> parse_ip_tcp(std::span<const std::uint8_t> p) {
  if (p.size() < 20 || (p[0] >> 4) != 4) return std::nullopt;
  std::size_t ihl = (p[0] & 0x0f) * 4u;
  std::size_t tot = load_be16(&p[2]);
  if (ihl < 20 || tot > p.size() || tot < ihl + 20 || p[9] != 6) return std::nullopt;
  ParsedSeg s;
  s.saddr = load_be32(&p[12]);
  s.daddr = load_be32(&p[16]);
  const std::uint8_t* th = &p[ihl];
  std::size_t tlen = tot - ihl;
  std::size_t doff = (th[12] >> 4) * 4u;
  if (doff < 20 || doff > tlen) return std::nullopt;
  s.sport = load_be16(th);
  s.dport = load_be16(th + 2);
  s.seq = load_be32(th + 4);
  s.ack = load_be32(th + 8);
  s.flags = th[13];
  s.win = load_be16(th + 14);
  for (std::size_t i = 20; i < doff;) {
    std::uint8_t kind = th[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= doff) break;
    std::uint8_t len = th[i + 1];
    if (len < 2 || i + len > doff) break;
    if (kind == 2 && len == 4) s.mss = load_be16(th + i + 2);
    if (kind == 3 && len == 3) s.wscale = th[i + 2];
    if (kind == 4 && len == 2) s.sack_perm = true;
    if (kind == 8 && len == 10) s.ts = std::make_pair(load_be32(th + i + 2), load_be32(th + i + 6));
    if (kind == 5 && len >= 10 && (len - 2) % 8 == 0)
      for (std::size_t k = i + 2; k + 8 <= i + len; k += 8)
        s.sack.emplace_back(load_be32(th + k), load_be32(th + k + 4));
    i += len;
  }
  s.payload_len = static_cast<std::uint32_t>(tlen - doff);
  s.data.assign(th + doff, th + tlen);
  return s;
}

// Linearise an skb (head + frags) into bytes starting at skb->data.
inline std::vector<std::uint8_t> skb_bytes(const SkBuff* skb) {
  std::vector<std::uint8_t> out(skb->len);
  if (skb->len) skb_copy_bits(skb, 0, out.data(), skb->len);
  return out;
}

}  // namespace sp::test
