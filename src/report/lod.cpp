#include "report/lod.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sp::report {

namespace {

constexpr std::size_t kCoarsestBuckets = 256;
constexpr std::size_t kLevelFactor = 4;
constexpr double kNsPerS = 1e9;  // times are packed as nanoseconds

void base64(std::string& out, const std::uint8_t* p, std::size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.reserve(out.size() + (n + 2) / 3 * 4 + 2);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16 | std::uint32_t{p[i + 1]} << 8 | p[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < n) {
    std::uint32_t v = std::uint32_t{p[i]} << 16;
    if (i + 1 < n) v |= std::uint32_t{p[i + 1]} << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
}

// The bucket widths (seconds) of the levels worth having for n raw points.
std::vector<double> level_widths(std::size_t n, const TimeBase& tb) {
  std::vector<double> w;
  // A level pays while it is much smaller than the raw data: once the
  // finest level is too coarse for the view, at most ~8 points per pixel
  // column are in view, which the page draws raw.
  for (std::size_t buckets = kCoarsestBuckets; buckets * 8 < n; buckets *= kLevelFactor)
    w.push_back(tb.span_s / static_cast<double>(buckets));
  return w;
}

double secs(double t_ns, const TimeBase& tb) {
  return (t_ns - tb.origin_ns) / 1e9;
}

std::size_t bucket_of(double t_s, double w) {
  return t_s <= 0 ? 0 : static_cast<std::size_t>(t_s / w);
}

}  // namespace

void JsonOut::string(std::string_view v) {
  s_ += '"';
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      s_ += '\\';
      s_ += ch;
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      s_ += fmt::format("\\u{:04x}", c);
    } else {
      s_ += ch;
    }
  }
  s_ += '"';
}

void JsonOut::number(double v) {
  if (!std::isfinite(v)) {
    s_ += "null";
    return;
  }
  s_ += fmt::format("{}", v);
}

void JsonOut::packed(const std::vector<double>& v, double scale) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(v.size() * 3);
  std::int64_t prev = 0;
  for (double x : v) {
    std::uint64_t code = 0;  // a gap
    if (std::isfinite(x)) {
      const auto q = static_cast<std::int64_t>(std::llround(x * scale));
      const std::int64_t d = q - prev;
      prev = q;
      code = ((static_cast<std::uint64_t>(d) << 1) ^ static_cast<std::uint64_t>(d >> 63)) + 1;
    }
    while (code >= 0x80) {
      bytes.push_back(static_cast<std::uint8_t>(code | 0x80));
      code >>= 7;
    }
    bytes.push_back(static_cast<std::uint8_t>(code));
  }
  s_ += fmt::format("{{\"s\":{},\"n\":{},\"d\":\"", scale, v.size());
  base64(s_, bytes.data(), bytes.size());
  s_ += "\"}";
}

void JsonOut::u8(const std::vector<std::uint8_t>& v) {
  s_ += '"';
  base64(s_, v.data(), v.size());
  s_ += '"';
}

void JsonOut::pairs(const std::vector<std::pair<std::string, std::string>>& kv) {
  s_ += '[';
  for (std::size_t i = 0; i < kv.size(); ++i) {
    if (i) s_ += ',';
    s_ += '[';
    string(kv[i].first);
    s_ += ',';
    string(kv[i].second);
    s_ += ']';
  }
  s_ += ']';
}

void write_items(JsonOut& j, const std::vector<SeqItem>& items, const TimeBase& tb) {
  std::vector<double> t, lo, hi;
  std::vector<std::uint8_t> k;
  // Points (ACKs) have hi == lo and no flags: only lo is written.
  auto emit = [&](const char* tkey) {
    j.raw(fmt::format("{{\"{}\":", tkey));
    j.packed(t, kNsPerS);
    j.raw(",\"lo\":");
    j.packed(lo, 1);
    j.raw(",\"hi\":");
    if (hi == lo)
      j.raw("null");
    else
      j.packed(hi, 1);
    j.raw(",\"k\":");
    if (std::all_of(k.begin(), k.end(), [](std::uint8_t x) { return x == 0; }))
      j.raw("null");
    else
      j.u8(k);
  };
  t.reserve(items.size());
  for (const auto& it : items) {
    t.push_back(secs(it.t_ns, tb));
    lo.push_back(it.lo);
    hi.push_back(it.hi);
    k.push_back(it.k);
  }
  j.raw(fmt::format("{{\"n\":{},\"raw\":", items.size()));
  emit("t");
  j.raw("},\"levels\":[");
  bool first = true;
  for (double w : level_widths(items.size(), tb)) {
    t.clear(), lo.clear(), hi.clear(), k.clear();
    std::size_t cur = ~std::size_t{0};
    for (const auto& it : items) {
      const std::size_t b = bucket_of(secs(it.t_ns, tb), w);
      if (b != cur) {
        cur = b;
        t.push_back(static_cast<double>(b) * w);
        lo.push_back(it.lo);
        hi.push_back(it.hi);
        k.push_back(it.k);
      } else {
        lo.back() = std::min(lo.back(), it.lo);
        hi.back() = std::max(hi.back(), it.hi);
        k.back() |= it.k;
      }
    }
    if (!first) j.raw(",");
    first = false;
    emit("t");
    j.raw(fmt::format(",\"w\":{}}}", w));
  }
  j.raw("]}");
}

void write_table(JsonOut& j, const std::vector<double>& t_ns,
                 const std::vector<std::vector<double>>& cols,
                 const std::vector<std::string>& names, const std::vector<double>& scales,
                 const TimeBase& tb) {
  j.raw("{\"cols\":[");
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (c) j.raw(",");
    j.string(names[c]);
  }
  std::vector<double> t;
  t.reserve(t_ns.size());
  for (double x : t_ns) t.push_back(secs(x, tb));
  j.raw(fmt::format("],\"n\":{},\"raw\":{{\"t\":", t.size()));
  j.packed(t, kNsPerS);
  j.raw(",\"v\":[");
  for (std::size_t c = 0; c < cols.size(); ++c) {
    if (c) j.raw(",");
    j.packed(cols[c], scales[c]);
  }
  j.raw("]},\"levels\":[");
  bool first = true;
  for (double w : level_widths(t_ns.size(), tb)) {
    std::vector<double> bt;
    std::vector<std::vector<double>> lo(cols.size()), hi(cols.size());
    std::size_t cur = ~std::size_t{0};
    for (std::size_t i = 0; i < t.size(); ++i) {
      const std::size_t b = bucket_of(t[i], w);
      if (b != cur) {
        cur = b;
        bt.push_back(static_cast<double>(b) * w);
        for (std::size_t c = 0; c < cols.size(); ++c) {
          lo[c].push_back(cols[c][i]);
          hi[c].push_back(cols[c][i]);
        }
        continue;
      }
      for (std::size_t c = 0; c < cols.size(); ++c) {
        const double v = cols[c][i];
        if (std::isnan(v)) continue;
        // NaN compares false: a bucket that began with a gap takes the value.
        if (!(lo[c].back() <= v)) lo[c].back() = v;
        if (!(hi[c].back() >= v)) hi[c].back() = v;
      }
    }
    if (!first) j.raw(",");
    first = false;
    j.raw(fmt::format("{{\"w\":{},\"t\":", w));
    j.packed(bt, kNsPerS);
    for (const char* side : {"lo", "hi"}) {
      j.raw(fmt::format(",\"{}\":[", side));
      auto& v = side[0] == 'l' ? lo : hi;
      for (std::size_t c = 0; c < cols.size(); ++c) {
        if (c) j.raw(",");
        j.packed(v[c], scales[c]);
      }
      j.raw("]");
    }
    j.raw("}");
  }
  j.raw("]}");
}

void write_band(JsonOut& j, const std::vector<Interval>& runs,
                const std::vector<std::string>& names, const TimeBase& tb) {
  auto emit = [&](const std::vector<double>& t0, const std::vector<double>& t1,
                  const std::vector<std::uint8_t>& k) {
    j.raw("{\"t0\":");
    j.packed(t0, kNsPerS);
    j.raw(",\"t1\":");
    j.packed(t1, kNsPerS);
    j.raw(",\"k\":");
    j.u8(k);
  };
  j.raw("{\"names\":[");
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (c) j.raw(",");
    j.string(names[c]);
  }
  std::vector<double> t0, t1;
  std::vector<std::uint8_t> k;
  for (const auto& r : runs) {
    t0.push_back(secs(r.t0_ns, tb));
    t1.push_back(secs(r.t1_ns, tb));
    k.push_back(static_cast<std::uint8_t>(r.state));
  }
  j.raw(fmt::format("],\"n\":{},\"raw\":", runs.size()));
  emit(t0, t1, k);
  j.raw("},\"levels\":[");
  bool first = true;
  const std::size_t nstates = names.size();
  for (double w : level_widths(runs.size(), tb)) {
    // Time per state in the current bucket; the longest wins the bucket.
    std::vector<double> in_bucket(nstates, 0);
    std::size_t cur = 0;
    t0.clear(), t1.clear(), k.clear();
    auto close_bucket = [&] {
      const auto best = std::max_element(in_bucket.begin(), in_bucket.end());
      if (*best <= 0) return;
      const auto state = static_cast<std::uint8_t>(best - in_bucket.begin());
      const double b0 = static_cast<double>(cur) * w;
      if (!k.empty() && k.back() == state && t1.back() >= b0 - w * 1e-9) {
        t1.back() = b0 + w;
      } else {
        t0.push_back(b0);
        t1.push_back(b0 + w);
        k.push_back(state);
      }
      std::fill(in_bucket.begin(), in_bucket.end(), 0);
    };
    for (const auto& r : runs) {
      if (r.state < 0 || static_cast<std::size_t>(r.state) >= nstates) continue;
      const double a = secs(r.t0_ns, tb);
      const double e = std::max(a, secs(r.t1_ns, tb));
      // Bucket by bucket (integers: a bucket's end divided by w may round
      // back into the bucket).
      const std::size_t last = bucket_of(e, w);
      for (std::size_t b = bucket_of(a, w); b <= last; ++b) {
        if (b != cur) {
          close_bucket();
          cur = b;
        }
        const double from = std::max(a, static_cast<double>(b) * w);
        const double upto = std::min(e, static_cast<double>(b + 1) * w);
        // An instant still counts, so a short state is not lost.
        in_bucket[static_cast<std::size_t>(r.state)] += std::max(upto - from, 1e-12);
      }
    }
    close_bucket();
    if (!first) j.raw(",");
    first = false;
    emit(t0, t1, k);
    j.raw(fmt::format(",\"w\":{}}}", w));
  }
  j.raw("]}");
}

}  // namespace sp::report
