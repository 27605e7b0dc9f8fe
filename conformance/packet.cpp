// Script packets on the wire: build, parse, map and verify (see packet.hpp).
#include "packet.hpp"

#include <cstdio>
#include <cstring>

namespace sp::drill {

namespace {

std::uint16_t rd16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t rd32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
void wr16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void wr32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// RFC 1071 one's-complement sum.
std::uint32_t csum_add(std::uint32_t sum, const std::uint8_t* p, std::size_t len) {
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += rd16(p + i);
  if (len & 1) sum += static_cast<std::uint32_t>(p[len - 1]) << 8;
  return sum;
}
std::uint16_t csum_fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::string field_error(const char* name, std::uint32_t expected, std::uint32_t actual) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "live packet field %s: expected: %u (0x%x) vs actual: %u (0x%x)",
                name, expected, expected, actual, actual);
  return buf;
}

std::string options_to_script(const std::vector<std::uint8_t>& o, std::uint32_t sack_offset,
                              bool map_sack) {
  std::string out;
  std::size_t i = 0;
  auto sep = [&] {
    if (!out.empty()) out += ',';
  };
  while (i < o.size()) {
    std::uint8_t kind = o[i];
    if (kind == 0) {
      sep();
      out += "eol";
      ++i;
      continue;
    }
    if (kind == 1) {
      sep();
      out += "nop";
      ++i;
      continue;
    }
    if (i + 1 >= o.size() || o[i + 1] < 2 || i + o[i + 1] > o.size()) {
      sep();
      out += "<malformed>";
      break;
    }
    std::uint8_t len = o[i + 1];
    const std::uint8_t* d = &o[i + 2];
    sep();
    if (kind == 2 && len == 4) {
      out += "mss " + std::to_string(rd16(d));
    } else if (kind == 3 && len == 3) {
      out += "wscale " + std::to_string(d[0]);
    } else if (kind == 4 && len == 2) {
      out += "sackOK";
    } else if (kind == 5 && (len - 2) % 8 == 0) {
      out += "sack";
      for (int b = 0; b < (len - 2) / 8; ++b) {
        std::uint32_t l = rd32(d + 8 * b), r = rd32(d + 8 * b + 4);
        if (map_sack) {
          l -= sack_offset;
          r -= sack_offset;
        }
        out += " " + std::to_string(l) + ":" + std::to_string(r);
      }
    } else if (kind == 8 && len == 10) {
      out += "TS val " + std::to_string(rd32(d)) + " ecr " + std::to_string(rd32(d + 4));
    } else {
      out += "opt" + std::to_string(kind) + "(" + std::to_string(len) + ")";
    }
    i += len;
  }
  return out;
}

}  // namespace

std::uint8_t tcp_flags_from_script(const std::string& flags) {
  std::uint8_t f = 0;
  for (char c : flags) {
    switch (c) {
      case 'F':
        f |= TH_FIN;
        break;
      case 'S':
        f |= TH_SYN;
        break;
      case 'R':
        f |= TH_RST;
        break;
      case 'P':
        f |= TH_PSH;
        break;
      case '.':
        f |= TH_ACK;
        break;
      case 'U':
        f |= TH_URG;
        break;
      case 'E':
        f |= TH_ECE;
        break;
      case 'W':
        f |= TH_CWR;
        break;
      default:
        break;
    }
  }
  return f;
}

std::string tcp_flags_to_script(std::uint8_t f) {
  std::string s;
  if (f & TH_FIN) s += 'F';
  if (f & TH_SYN) s += 'S';
  if (f & TH_RST) s += 'R';
  if (f & TH_PSH) s += 'P';
  if (f & TH_URG) s += 'U';
  if (f & TH_ECE) s += 'E';
  if (f & TH_CWR) s += 'W';
  if (f & TH_ACK) s += '.';
  return s.empty() ? "-" : s;
}

std::optional<WirePacket> parse_ipv4_tcp(const std::uint8_t* d, std::size_t len,
                                         std::string* error) {
  auto fail = [&](const char* m) -> std::optional<WirePacket> {
    if (error) *error = m;
    return std::nullopt;
  };
  if (len < 20) return fail("packet too short for an IPv4 header");
  if ((d[0] >> 4) != 4) return fail("not an IPv4 packet");
  std::size_t ihl = static_cast<std::size_t>(d[0] & 0xf) * 4;
  if (ihl < 20 || len < ihl) return fail("bad IPv4 header length");
  if (d[9] != 6) return fail("not a TCP packet");
  WirePacket p;
  p.tos = d[1];
  p.ip_id = rd16(d + 4);
  p.df = (d[6] & 0x40) != 0;
  p.ttl = d[8];
  p.saddr = rd32(d + 12);
  p.daddr = rd32(d + 16);
  p.ip_csum_ok = csum_fold(csum_add(0, d, ihl)) == 0;
  const std::uint8_t* t = d + ihl;
  std::size_t tlen = len - ihl;
  if (tlen < 20) return fail("packet too short for a TCP header");
  p.sport = rd16(t);
  p.dport = rd16(t + 2);
  p.seq = rd32(t + 4);
  p.ack_seq = rd32(t + 8);
  p.doff = t[12] >> 4;
  p.res1 = t[12] & 0xf;
  p.flags = t[13];
  p.window = rd16(t + 14);
  p.urg_ptr = rd16(t + 18);
  std::size_t thl = static_cast<std::size_t>(p.doff) * 4;
  if (thl < 20 || thl > tlen) return fail("bad TCP data offset");
  p.options.assign(t + 20, t + thl);
  p.payload_len = static_cast<std::uint32_t>(tlen - thl);
  return p;
}

std::vector<std::uint8_t> encode_tcp_options(const std::vector<TcpOption>& opts) {
  std::vector<std::uint8_t> o;
  for (const TcpOption& op : opts) {
    switch (op.kind) {
      case TcpOption::Kind::kNop:
        o.push_back(1);
        break;
      case TcpOption::Kind::kEol:
        o.push_back(0);
        break;
      case TcpOption::Kind::kMss:
        o.insert(o.end(), {2, 4, static_cast<std::uint8_t>(op.value >> 8),
                           static_cast<std::uint8_t>(op.value)});
        break;
      case TcpOption::Kind::kWscale:
        o.insert(o.end(), {3, 3, static_cast<std::uint8_t>(op.value)});
        break;
      case TcpOption::Kind::kSackOk:
        o.insert(o.end(), {4, 2});
        break;
      case TcpOption::Kind::kSack: {
        o.push_back(5);
        o.push_back(static_cast<std::uint8_t>(2 + 8 * op.sack.size()));
        for (auto& [l, r] : op.sack) {
          std::uint8_t b[8];
          wr32(b, l);
          wr32(b + 4, r);
          o.insert(o.end(), b, b + 8);
        }
        break;
      }
      case TcpOption::Kind::kTimestamp: {
        std::uint8_t b[10] = {8, 10};
        wr32(b + 2, op.value);
        wr32(b + 6, op.ecr);
        o.insert(o.end(), b, b + 10);
        break;
      }
    }
  }
  return o;
}

int find_ts_option(const std::vector<std::uint8_t>& o) {
  std::size_t i = 0;
  while (i < o.size()) {
    if (o[i] == 0) return -1;
    if (o[i] == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= o.size() || o[i + 1] < 2) return -1;
    if (o[i] == 8 && o[i + 1] == 10 && i + 10 <= o.size()) return static_cast<int>(i + 2);
    i += o[i + 1];
  }
  return -1;
}

namespace {
// Applies fn(left, right) to every SACK block in raw options, in place.
template <typename Fn>
void for_each_sack_block(std::vector<std::uint8_t>& o, Fn fn) {
  std::size_t i = 0;
  while (i < o.size()) {
    if (o[i] == 0) return;
    if (o[i] == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= o.size() || o[i + 1] < 2 || i + o[i + 1] > o.size()) return;
    if (o[i] == 5) {
      for (std::size_t b = i + 2; b + 8 <= i + o[i + 1]; b += 8) {
        std::uint32_t l = rd32(&o[b]), r = rd32(&o[b + 4]);
        fn(l, r);
        wr32(&o[b], l);
        wr32(&o[b + 4], r);
      }
    }
    i += o[i + 1];
  }
}
}  // namespace

std::vector<std::uint8_t> build_ipv4_tcp(const WirePacket& p) {
  std::size_t opt_len = (p.options.size() + 3) & ~std::size_t{3};
  std::size_t thl = 20 + opt_len;
  std::size_t total = 20 + thl + p.payload_len;
  std::vector<std::uint8_t> b(total, 0);
  std::uint8_t* ip = b.data();
  ip[0] = 0x45;
  ip[1] = p.tos;
  wr16(ip + 2, static_cast<std::uint16_t>(total > 0xffff ? 0 : total));
  wr16(ip + 4, p.ip_id);
  ip[6] = p.df ? 0x40 : 0;
  ip[8] = p.ttl;
  ip[9] = 6;
  wr32(ip + 12, p.saddr);
  wr32(ip + 16, p.daddr);
  wr16(ip + 10, csum_fold(csum_add(0, ip, 20)));
  std::uint8_t* t = ip + 20;
  wr16(t, p.sport);
  wr16(t + 2, p.dport);
  wr32(t + 4, p.seq);
  wr32(t + 8, p.ack_seq);
  t[12] = static_cast<std::uint8_t>((thl / 4) << 4);
  t[13] = p.flags;
  wr16(t + 14, p.window);
  wr16(t + 18, p.urg_ptr);
  if (!p.options.empty()) std::memcpy(t + 20, p.options.data(), p.options.size());
  // Padding after the listed options is EOL (zero), already in place.
  std::uint32_t sum = 0;
  sum += (p.saddr >> 16) + (p.saddr & 0xffff) + (p.daddr >> 16) + (p.daddr & 0xffff);
  sum += 6;
  sum += static_cast<std::uint32_t>(thl + p.payload_len);
  sum = csum_add(sum, t, thl + p.payload_len);
  wr16(t + 16, csum_fold(sum));
  return b;
}

std::optional<std::string> verify_outbound(const PacketSpec& script, const WirePacket& live,
                                           SeqMap& map, const Tolerances& tol) {
  if (!live.ip_csum_ok) return std::string("bad outbound IP checksum");

  // Map live values into script space (run_packet.c map_outbound_live_packet).
  WirePacket actual = live;
  actual.seq = live.seq - map.local_isn;
  if (live.flags & TH_ACK) actual.ack_seq = live.ack_seq - map.remote_isn;
  for_each_sack_block(actual.options, [&](std::uint32_t& l, std::uint32_t& r) {
    l -= map.remote_isn;
    r -= map.remote_isn;
  });

  std::vector<std::uint8_t> script_opts = encode_tcp_options(script.options);
  int script_ts = find_ts_option(script_opts);
  int actual_ts = find_ts_option(actual.options);
  if (script_ts >= 0 && actual_ts >= 0) {
    std::uint32_t sv = rd32(&script_opts[script_ts]);
    std::uint32_t lv = rd32(&actual.options[actual_ts]);
    if (!map.ts_base_known) {
      map.ts_base_known = true;
      map.ts_live_base = lv;
      map.ts_script_base = sv;
    }
    map.ts_script_to_live[sv] = lv;
    wr32(&actual.options[actual_ts], lv - map.ts_live_base + map.ts_script_base);
  }

  // Header fields, in verify_ipv4/verify_tcp order.
  std::size_t script_opt_bytes =
      script.options_any ? actual.options.size() : ((script_opts.size() + 3) & ~std::size_t{3});
  std::uint32_t script_doff = static_cast<std::uint32_t>(5 + script_opt_bytes / 4);
  std::uint32_t script_total = 20 + script_doff * 4 + script.payload_len;
  std::uint32_t actual_total = 20 + actual.doff * 4u + actual.payload_len;
  if (script_total != actual_total)
    return field_error("ipv4_total_length", script_total, actual_total);
  if (script.ip_ecn) {
    std::uint32_t want = *script.ip_ecn == "ect0"   ? 2
                         : *script.ip_ecn == "ect1" ? 1
                         : *script.ip_ecn == "ce"   ? 3
                                                    : 0;
    std::uint32_t got = live.tos & 3;
    if (*script.ip_ecn == "ect01") {
      if (got != 1 && got != 2) {
        char buf[100];
        std::snprintf(buf, sizeof buf,
                      "live packet field ip_ecn: expected: 0x1 or 0x2 vs actual: 0x%x", got);
        return std::string(buf);
      }
    } else if (want != got) {
      return field_error("ip_ecn", want, got);
    }
  }
  if (script.tos && static_cast<std::uint32_t>(*script.tos) != live.tos)
    return field_error("tos", static_cast<std::uint32_t>(*script.tos), live.tos);

  std::uint8_t sf = tcp_flags_from_script(script.flags);
  if (script_doff != actual.doff) return field_error("tcp_data_offset", script_doff, actual.doff);
  static const struct {
    const char* name;
    std::uint8_t bit;
  } bits[] = {{"tcp_fin", TH_FIN}, {"tcp_syn", TH_SYN}, {"tcp_rst", TH_RST}, {"tcp_psh", TH_PSH},
              {"tcp_ack", TH_ACK}, {"tcp_urg", TH_URG}, {"tcp_ece", TH_ECE}, {"tcp_cwr", TH_CWR}};
  for (const auto& b : bits) {
    std::uint32_t want = (sf & b.bit) ? 1 : 0, got = (actual.flags & b.bit) ? 1 : 0;
    if (want != got) return field_error(b.name, want, got);
  }
  if (actual.res1 != 0) return field_error("tcp_reserved_bits", 0, actual.res1);
  if (script.start_seq != actual.seq) return field_error("tcp_seq", script.start_seq, actual.seq);
  std::uint32_t want_ack = script.has_ack_field ? script.ack : 0;
  if (want_ack != actual.ack_seq) return field_error("tcp_ack_seq", want_ack, actual.ack_seq);
  if (script.window >= 0 && static_cast<std::uint32_t>(script.window) != actual.window)
    return field_error("tcp_window", static_cast<std::uint32_t>(script.window), actual.window);
  if (script.urg_ptr != actual.urg_ptr)
    return field_error("tcp_urg_ptr", script.urg_ptr, actual.urg_ptr);

  // Options (verify_outbound_live_tcp_options): bytewise, except that TS val
  // may differ within the tolerance when --tcp_ts_tick_usecs is given, and
  // is not checked at all without it.
  if (!script.options_any) {
    std::vector<std::uint8_t> padded = script_opts;
    padded.resize((padded.size() + 3) & ~std::size_t{3}, 0);
    if (padded != actual.options) {
      bool same = false;
      if (script_ts >= 0 && actual_ts >= 0) {
        std::uint32_t sv = rd32(&script_opts[script_ts]);
        std::uint32_t av = rd32(&actual.options[actual_ts]);
        std::int64_t diff = static_cast<std::int32_t>(av - sv);
        if (diff < 0) diff = -diff;
        if (tol.tcp_ts_tick_usecs && diff * tol.tcp_ts_tick_usecs > tol.tolerance_usecs)
          return std::string("bad outbound TCP timestamp value");
        std::vector<std::uint8_t> a = actual.options;
        wr32(&a[actual_ts], sv);
        same = a == padded;
      }
      if (!same) return std::string("bad outbound TCP options");
    }
  }
  return std::nullopt;
}

std::string describe_packet(const WirePacket& p, const SeqMap* map, bool outbound) {
  std::uint32_t seq = p.seq, ack = p.ack_seq;
  std::uint32_t sack_off = 0;
  if (map) {
    if (outbound) {
      seq -= map->local_isn;
      if (p.flags & TH_ACK) ack -= map->remote_isn;
      sack_off = map->remote_isn;
    } else {
      seq -= map->remote_isn;
      if (p.flags & TH_ACK) ack -= map->local_isn;
      sack_off = map->local_isn;
    }
  }
  std::string s = tcp_flags_to_script(p.flags) + " " + std::to_string(seq) + ":" +
                  std::to_string(seq + p.payload_len) + "(" + std::to_string(p.payload_len) + ")";
  if (p.flags & TH_ACK) s += " ack " + std::to_string(ack);
  s += " win " + std::to_string(p.window);
  if (!p.options.empty()) s += " <" + options_to_script(p.options, sack_off, map != nullptr) + ">";
  return s;
}

}  // namespace sp::drill
