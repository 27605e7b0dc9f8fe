#include "report/capture.hpp"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace sp::report {

namespace {

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

constexpr std::uint16_t kEthIpv4 = 0x0800;

// The offset of the IPv4 header in a frame of link type dlt, or -1 when the
// frame carries something else.
long ipv4_offset(int dlt, const std::uint8_t* p, std::size_t caplen) {
  std::size_t off = 0;
  std::uint16_t proto = 0;
  switch (dlt) {
    case DLT_EN10MB:
      if (caplen < 14) return -1;
      off = 12;
      proto = be16(p + off);
      off += 2;
      while ((proto == 0x8100 || proto == 0x88a8) && caplen >= off + 4) {  // VLAN tags
        proto = be16(p + off + 2);
        off += 4;
      }
      return proto == kEthIpv4 ? static_cast<long>(off) : -1;
    case DLT_RAW:
    case DLT_IPV4:
      return caplen >= 1 && (p[0] >> 4) == 4 ? 0 : -1;
    case DLT_LINUX_SLL:
      return caplen >= 16 && be16(p + 14) == kEthIpv4 ? 16 : -1;
    case DLT_LINUX_SLL2:
      return caplen >= 20 && be16(p) == kEthIpv4 ? 20 : -1;
    case DLT_NULL:
    case DLT_LOOP: {
      if (caplen < 4) return -1;
      // The family is in host order (DLT_NULL) or network order (DLT_LOOP);
      // AF_INET is 2 everywhere.
      const std::uint32_t fam = static_cast<std::uint32_t>(p[0]) | p[3];
      return fam == 2 ? 4 : -1;
    }
    default:
      return -1;
  }
}

bool parse_tcp(const std::uint8_t* p, std::size_t caplen, std::size_t wirelen, long l3,
               TcpRecord& r) {
  if (l3 < 0) return false;
  const std::size_t ip = static_cast<std::size_t>(l3);
  if (caplen < ip + 20) return false;
  const std::uint8_t* h = p + ip;
  const std::size_t ihl = (h[0] & 15u) * 4u;
  if ((h[0] >> 4) != 4 || ihl < 20 || h[9] != 6) return false;
  if ((be16(h + 6) & 0x1fff) != 0) return false;  // a later fragment
  const std::size_t tot = be16(h + 2);
  if (caplen < ip + ihl + 20) return false;
  const std::uint8_t* t = h + ihl;
  const std::size_t doff = (t[12] >> 4) * 4u;
  if (doff < 20) return false;
  r.saddr = be32(h + 12);
  r.daddr = be32(h + 16);
  r.sport = be16(t);
  r.dport = be16(t + 2);
  r.seq = be32(t + 4);
  r.ack = be32(t + 8);
  r.flags = t[13];
  r.win = be16(t + 14);
  // A TSO super-packet captured by Linux has total length 0: take the
  // frame's length instead.
  const std::size_t ip_len = tot ? tot : wirelen - ip;
  r.payload = ip_len > ihl + doff ? static_cast<std::uint32_t>(ip_len - ihl - doff) : 0;
  // Options, as far as they were captured.
  const std::size_t opt_end = std::min(caplen, ip + ihl + doff);
  std::size_t o = ip + ihl + 20;
  while (o < opt_end) {
    const std::uint8_t kind = p[o];
    if (kind == 0) break;
    if (kind == 1) {
      ++o;
      continue;
    }
    if (o + 1 >= opt_end) break;
    const std::uint8_t len = p[o + 1];
    if (len < 2 || o + len > opt_end) break;
    if (kind == 2 && len == 4) r.mss = be16(p + o + 2);
    if (kind == 3 && len == 3) r.wscale = std::min<int>(p[o + 2], 14);
    if (kind == 5 && len >= 10) {
      for (std::size_t b = o + 2; b + 8 <= o + len && r.nsack < 4; b += 8, ++r.nsack) {
        r.sack[r.nsack][0] = be32(p + b);
        r.sack[r.nsack][1] = be32(p + b + 4);
      }
    }
    o += len;
  }
  return true;
}

// 32-bit sequence numbers made 64-bit by following their movement.
struct Unwrap {
  std::int64_t base = 0;
  std::uint32_t last = 0;
  void start(std::uint32_t isn) {
    last = isn;
    base = 0;
  }
  std::int64_t operator()(std::uint32_t x) {
    base += static_cast<std::int32_t>(x - last);
    last = x;
    return base;
  }
};

std::string dotted(std::uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

using Endpoint = std::pair<std::uint32_t, std::uint16_t>;

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", b, units[u]);
}

}  // namespace

std::string read_pcap(const std::string& path, std::vector<TcpRecord>& out) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pc =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (!pc) return err;
  const int dlt = pcap_datalink(pc);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
    TcpRecord r;
    if (!parse_tcp(data, h->caplen, h->len, ipv4_offset(dlt, data, h->caplen), r)) continue;
    r.t_ns = static_cast<double>(h->ts.tv_sec) * 1e9 + static_cast<double>(h->ts.tv_usec);
    out.push_back(r);
  }
  std::string result = rc == -1 ? std::string(pcap_geterr(pc)) : "";
  pcap_close(pc);
  return result;
}

CaptureView analyze_capture(const std::vector<TcpRecord>& recs) {
  CaptureView v;
  // Payload per direction of each connection.
  std::map<std::pair<Endpoint, Endpoint>, double> payload;
  for (const auto& r : recs) payload[{{r.saddr, r.sport}, {r.daddr, r.dport}}] += r.payload;
  if (payload.empty()) return v;
  std::pair<Endpoint, Endpoint> best{};
  double best_conn = -1;
  for (const auto& [dir, bytes] : payload) {
    auto rev = payload.find({dir.second, dir.first});
    const double conn = bytes + (rev == payload.end() ? 0 : rev->second);
    // The busiest connection, and in it the direction with more payload
    // (ties: the lower endpoint sends).
    if (conn > best_conn || (conn == best_conn && bytes > payload[best])) {
      best_conn = conn;
      best = dir;
      if (rev != payload.end() && rev->second > bytes) best = rev->first;
    }
  }
  v.found = true;
  const Endpoint src = best.first, dst = best.second;
  auto is_data = [&](const TcpRecord& r) {
    return r.saddr == src.first && r.sport == src.second && r.daddr == dst.first &&
           r.dport == dst.second;
  };
  auto is_rev = [&](const TcpRecord& r) {
    return r.saddr == dst.first && r.sport == dst.second && r.daddr == src.first &&
           r.dport == src.second;
  };
  v.flow =
      fmt::format("{}:{} -> {}:{}", dotted(src.first), src.second, dotted(dst.first), dst.second);

  // Handshake: ISN, window scaling (RFC 7323 2.2: only if both SYNs carry
  // it), MSS, and an RTT estimate.
  const TcpRecord *syn_d = nullptr, *syn_r = nullptr;
  const TcpRecord* first_d = nullptr;
  double first = -1, last = 0;
  double handshake_ack_ns = -1;
  std::uint64_t n_data = 0, n_rev = 0;
  for (const auto& r : recs) {
    const bool d = is_data(r), rv = is_rev(r);
    if (!d && !rv) continue;
    if (first < 0) first = r.t_ns;
    last = std::max(last, r.t_ns);
    if (d) {
      ++n_data;
      if (!first_d) first_d = &r;
      if ((r.flags & 0x02) && !syn_d) syn_d = &r;
    } else {
      ++n_rev;
      if ((r.flags & 0x02) && !syn_r) syn_r = &r;
      if (syn_d && syn_r && syn_r->t_ns < syn_d->t_ns && handshake_ack_ns < 0 &&
          !(r.flags & 0x02) && (r.flags & 0x10))
        handshake_ack_ns = r.t_ns;  // the passive side's view: SYN-ACK -> ACK
    }
  }
  v.first_ns = first;
  v.last_ns = last;
  const std::uint32_t isn = syn_d ? syn_d->seq : first_d ? first_d->seq : 0;
  const bool scaling = syn_d && syn_r && syn_d->wscale >= 0 && syn_r->wscale >= 0;
  const int rcv_wscale = scaling ? syn_r->wscale : 0;
  double rtt_ns = -1;
  if (syn_d && syn_r) {
    if (syn_r->t_ns >= syn_d->t_ns)
      rtt_ns = syn_r->t_ns - syn_d->t_ns;  // we connected: SYN -> SYN-ACK
    else if (handshake_ack_ns >= 0)
      rtt_ns = handshake_ack_ns - syn_d->t_ns;  // we accepted: SYN-ACK -> ACK
  }
  const double span = std::max(1.0, last - first);

  Unwrap useq, uack;
  useq.start(isn);
  uack.start(isn);
  std::int64_t high = 0;  // highest end_seq sent, relative
  std::int64_t last_ack = -1;
  std::uint16_t last_win = 0;
  std::uint64_t rtx_bytes = 0, new_bytes = 0, n_sack_blocks = 0;
  double max_rwnd = 0;
  bool ack_seen = false;
  for (const auto& r : recs) {
    if (is_data(r)) {
      const std::int64_t lo = useq(r.seq);
      const auto flo = static_cast<double>(lo);
      if (r.flags & 0x02) v.marks.push_back({r.t_ns, flo, flo, kMarkSyn});
      if (r.flags & 0x04) v.marks.push_back({r.t_ns, flo, flo, kMarkRst});
      std::int64_t end = lo + r.payload + ((r.flags & 0x02) ? 1 : 0);
      if (r.payload > 0) {
        const std::int64_t hi = lo + r.payload;
        SeqItem it{r.t_ns, flo, static_cast<double>(hi),
                   static_cast<std::uint8_t>((r.flags & 0x08) ? kMarkPsh : 0)};
        if (lo < high) {
          v.retransmits.push_back(it);
          rtx_bytes += r.payload;
        } else {
          v.segments.push_back(it);
        }
        if (r.flags & 0x08) v.marks.push_back({r.t_ns, it.hi, it.hi, kMarkPsh});
      }
      if (r.flags & 0x01) {
        const auto fin = static_cast<double>(lo + r.payload);
        v.marks.push_back({r.t_ns, fin, fin, kMarkFin});
        ++end;
      }
      if (end > high) {
        new_bytes += static_cast<std::uint64_t>(end - std::max(high, lo));
        high = end;
      }
    } else if (is_rev(r)) {
      if (!(r.flags & 0x10)) {
        if (r.flags & 0x04) {
          const auto at = static_cast<double>(high);
          v.marks.push_back({r.t_ns, at, at, kMarkRst});
        }
        continue;
      }
      const std::int64_t a = uack(r.ack);
      const auto fa = static_cast<double>(a);
      // A SYN's window is never scaled (RFC 7323 2.2).
      const double wnd = static_cast<double>(r.win) *
                         static_cast<double>((r.flags & 0x02) ? 1 : (1u << rcv_wscale));
      max_rwnd = std::max(max_rwnd, wnd);
      v.acks.push_back({r.t_ns, fa, fa, 0});
      v.rwnd.push_back({r.t_ns, fa + wnd, fa + wnd, 0});
      for (int b = 0; b < r.nsack; ++b) {
        const double l = fa + static_cast<std::int32_t>(r.sack[b][0] - r.ack);
        const double h = fa + static_cast<std::int32_t>(r.sack[b][1] - r.ack);
        v.sacks.push_back({r.t_ns, l, h, 0});
        ++n_sack_blocks;
      }
      if (r.flags & (0x01 | 0x02 | 0x04)) {
        const std::uint8_t k = static_cast<std::uint8_t>(((r.flags & 0x01) ? kMarkFin : 0) |
                                                         ((r.flags & 0x02) ? kMarkSyn : 0) |
                                                         ((r.flags & 0x04) ? kMarkRst : 0));
        v.marks.push_back({r.t_ns, fa, fa, k});
      }
      // A duplicate ACK as RFC 5681 section 2 counts it: no data, no
      // SYN/FIN, same ACK and window, data outstanding.
      if (ack_seen && r.payload == 0 && !(r.flags & 0x07) && a == last_ack && r.win == last_win &&
          a < high)
        v.dupacks.push_back({r.t_ns, fa, fa, 0});
      ack_seen = true;
      last_ack = a;
      last_win = r.win;
    }
  }

  // Goodput: bytes newly acknowledged over a sliding window of about an
  // RTT (at least 1/400 of the run, so a long run's curve stays readable).
  const double window = std::max({rtt_ns > 0 ? rtt_ns : span / 100, span / 400, 1e3});
  std::size_t tail = 0;
  double prev_ack = -1;
  for (std::size_t i = 0; i < v.acks.size(); ++i) {
    const auto& a = v.acks[i];
    if (a.lo <= prev_ack) continue;
    prev_ack = a.lo;
    while (v.acks[tail].t_ns < a.t_ns - window) ++tail;
    const double since = a.t_ns - window;
    // The ACK level at (t - window): the last ACK before it.
    const double base = tail > 0 ? v.acks[tail - 1].lo : 0;
    const double dt = a.t_ns - std::max(since, v.acks.front().t_ns);
    const double mbps = dt > 0 ? (a.lo - base) * 8 / (window / 1e9) / 1e6 : 0;
    v.goodput.emplace_back(a.t_ns, std::max(0.0, mbps));
  }

  auto add = [&](std::string k, std::string val) { v.summary.emplace_back(std::move(k), val); };
  add("connection", v.flow);
  add("duration", fmt::format("{:.6f} s", span / 1e9));
  add("packets", fmt::format("{} data direction, {} reverse", n_data, n_rev));
  add("data sent", fmt::format("{} ({} bytes, sequence space)",
                               human_bytes(static_cast<double>(new_bytes)), new_bytes));
  add("retransmitted", fmt::format("{} segments, {} bytes", v.retransmits.size(), rtx_bytes));
  add("duplicate ACKs", fmt::format("{}", v.dupacks.size()));
  add("SACK blocks", fmt::format("{}", n_sack_blocks));
  add("MSS (SYN)", syn_d && syn_d->mss
                       ? fmt::format("{} sent, {} received", syn_d->mss, syn_r ? syn_r->mss : 0)
                       : "not in capture");
  add("window scale", scaling ? fmt::format("sender {}, receiver {}", syn_d->wscale, rcv_wscale)
                      : (syn_d && syn_r) ? "off"
                                         : "unknown (no handshake in the capture): 0 assumed");
  add("handshake RTT", rtt_ns > 0 ? fmt::format("{:.3f} ms", rtt_ns / 1e6) : "not in capture");
  add("largest receive window", fmt::format("{} bytes", static_cast<std::uint64_t>(max_rwnd)));
  add("average goodput",
      fmt::format("{:.2f} Mbit/s", static_cast<double>(new_bytes) * 8 / (span / 1e9) / 1e6));
  return v;
}

}  // namespace sp::report
