#include "report/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "report/capture.hpp"
#include "report/lod.hpp"

namespace sp::report {

// cmake/embed_assets.cmake compiles these in (empty when scripts/setup has
// not fetched uPlot).
extern const char kUplotJs[];
extern const char kUplotCss[];
extern const char kReportJs[];
extern const char kReportCss[];

namespace {

const std::vector<std::string> kProbeNames = {
    "cwnd",   "ssthresh",   "in_flight", "sacked_out",  "lost_out", "retrans_out", "srtt_ms",
    "rtt_ms", "min_rtt_ms", "rto_ms",    "pacing_mbps", "snd_una",  "snd_nxt",     "snd_wnd"};

// The columns the page draws (snd_una/snd_nxt stay in C++: raw sequence
// numbers mean nothing on a chart).
constexpr ProbeCol kDrawn[] = {kCwnd,   kSsthresh, kInFlight, kSackedOut, kLostOut,   kRetransOut,
                               kSrttMs, kRttMs,    kMinRttMs, kRtoMs,     kPacingMbps};

void write_markers(JsonOut& j, const std::vector<Marker>& m, const TimeBase& tb, double seq_base) {
  j.raw("[");
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (i) j.raw(",");
    j.raw("[");
    j.number((m[i].t_ns - tb.origin_ns) / 1e9);
    j.raw(",");
    j.string(m[i].kind);
    j.raw(",");
    // Relative to the first snd_una seen, as the time-sequence graph.
    j.number(std::isnan(seq_base) ? m[i].seq
                                  : static_cast<double>(static_cast<std::uint32_t>(
                                        static_cast<std::uint32_t>(m[i].seq) -
                                        static_cast<std::uint32_t>(seq_base))));
    j.raw("]");
  }
  j.raw("]");
}

void write_skb_steps(JsonOut& j, const std::vector<SkbStep>& steps, const TimeBase& tb) {
  j.raw("[");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& s = steps[i];
    if (i) j.raw(",");
    j.raw("{\"event\":");
    j.string(s.event);
    j.raw(",\"t\":");
    j.number((s.t_ns - tb.origin_ns) / 1e9);
    for (const auto& [k, v] : s.num) {
      j.raw(",");
      j.string(k);
      j.raw(":");
      j.number(v);
    }
    for (const auto& [k, v] : s.str) {
      j.raw(",");
      j.string(k);
      j.raw(":");
      j.string(v);
    }
    j.raw("}");
  }
  j.raw("]");
}

// Goodput from the trace when there is no capture: snd_una's advance over
// a sliding window, as the capture's ACK stream gives it.
std::vector<std::pair<double, double>> goodput_from_probe(const TraceData& tr) {
  std::vector<std::pair<double, double>> out;
  const auto& t = tr.probe_t;
  const auto& una = tr.probe[kSndUna];
  if (t.size() < 2) return out;
  std::vector<double> acked(t.size());
  double base = una[0], total = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!std::isnan(una[i])) {
      total += static_cast<std::int32_t>(static_cast<std::uint32_t>(una[i]) -
                                         static_cast<std::uint32_t>(base));
      base = una[i];
    }
    acked[i] = total;
  }
  const double span = t.back() - t.front();
  double srtt = 0;
  for (double s : tr.probe[kSrttMs])
    if (!std::isnan(s) && s > 0) {
      srtt = s * 1e6;
      break;
    }
  const double window = std::max({srtt > 0 ? srtt : span / 100, span / 400, 1e3});
  std::size_t tail = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    while (t[tail] < t[i] - window) ++tail;
    const double b = tail > 0 ? acked[tail - 1] : 0;
    out.emplace_back(t[i], std::max(0.0, (acked[i] - b) * 8 / (window / 1e9) / 1e6));
  }
  return out;
}

void write_goodput(JsonOut& j, const std::vector<std::pair<double, double>>& g,
                   const TimeBase& tb) {
  std::vector<double> t, v;
  for (const auto& [a, b] : g) {
    t.push_back(a);
    v.push_back(b);
  }
  write_table(j, t, {v}, {"goodput_mbps"}, {1e3}, tb);
}

KeyValues trace_counts(const TraceData& tr) {
  KeyValues kv;
  for (const auto& [k, v] : tr.event_counts) kv.emplace_back(k, fmt::format("{}", v));
  return kv;
}

std::string write_run(JsonOut& j, const RunInput& run) {
  std::optional<CaptureView> cap;
  if (!run.pcap_path.empty()) {
    std::vector<TcpRecord> recs;
    if (auto err = read_pcap(run.pcap_path, recs); !err.empty()) return run.pcap_path + ": " + err;
    cap = analyze_capture(recs);
    if (!cap->found) cap.reset();
  }
  const TraceData* tr = run.trace ? &*run.trace : nullptr;
  if (tr && tr->events == 0) tr = nullptr;

  // One clock for the capture and the trace when they overlap (ours always
  // do: both read the stack's clock); otherwise each starts at 0.
  TimeBase tb, tbt;
  double end_ns = 0;
  if (cap) {
    tb.origin_ns = cap->first_ns;
    end_ns = cap->last_ns;
  }
  if (tr) {
    const bool same_clock =
        cap && tr->first_ns < cap->last_ns + 60e9 && tr->last_ns > cap->first_ns - 60e9;
    tbt.origin_ns = same_clock ? std::min(cap->first_ns, tr->first_ns) : tr->first_ns;
    if (!cap || same_clock) tb.origin_ns = tbt.origin_ns;
    end_ns = std::max(end_ns, tr->last_ns);
    if (cap && !same_clock)
      end_ns = std::max(cap->last_ns - cap->first_ns, tr->last_ns - tr->first_ns);
  }
  const double span_s =
      std::max(1e-6, (cap && tr && tb.origin_ns != tbt.origin_ns) ? end_ns / 1e9
                                                                  : (end_ns - tb.origin_ns) / 1e9);
  tb.span_s = tbt.span_s = span_s;

  j.raw("{\"name\":");
  j.string(run.name);
  j.raw(",\"span\":");
  j.number(span_s);
  j.raw(",\"params\":");
  j.pairs(run.params);
  j.raw(",\"counters\":");
  j.pairs(run.counters);
  j.raw(",\"tables\":[");
  for (std::size_t i = 0; i < run.tables.size(); ++i) {
    if (i) j.raw(",");
    j.raw("[");
    j.string(run.tables[i].first);
    j.raw(",");
    j.pairs(run.tables[i].second);
    j.raw("]");
  }
  j.raw("]");
  if (cap) {
    j.raw(",\"capture\":");
    j.pairs(cap->summary);
    j.raw(",\"tsg\":{\"flow\":");
    j.string(cap->flow);
    const std::pair<const char*, const std::vector<SeqItem>*> series[] = {
        {"seg", &cap->segments}, {"rtx", &cap->retransmits}, {"ack", &cap->acks},
        {"rwnd", &cap->rwnd},    {"sack", &cap->sacks},      {"dup", &cap->dupacks},
        {"mark", &cap->marks}};
    for (const auto& [name, items] : series) {
      j.raw(fmt::format(",\"{}\":", name));
      write_items(j, *items, tb);
    }
    j.raw("}");
  }
  if (cap || tr) {
    j.raw(",\"goodput\":");
    write_goodput(j, cap ? cap->goodput : goodput_from_probe(*tr), cap ? tb : tbt);
  }
  if (tr) {
    j.raw(",\"trace\":{\"stack\":");
    j.string(tr->stack);
    j.raw(",\"sock_cookie\":");
    j.string(tr->sock_cookie);
    if (!tr->probe_t.empty()) {
      std::vector<std::vector<double>> cols;
      std::vector<std::string> names;
      std::vector<double> scales;
      for (ProbeCol c : kDrawn) {
        cols.push_back(tr->probe[c]);
        names.push_back(kProbeNames[c]);
        // Packets are whole; ms to the microsecond; Mbit/s to the bit/s.
        scales.push_back(c == kPacingMbps ? 1e6 : (c >= kSrttMs && c <= kRtoMs) ? 1e3 : 1);
      }
      j.raw(",\"probe\":");
      write_table(j, tr->probe_t, cols, names, scales, tbt);
    }
    j.raw(",\"cong\":");
    write_band(j, tr->cong_state, kCongStateNames, tbt);
    j.raw(",\"limit\":");
    write_band(j, tr->limit, kLimitNames, tbt);
    j.raw(",\"stop\":");
    write_band(j, tr->stop, kStopNames, tbt);
    const double seq_base = tr->probe_t.empty() ? NAN : tr->probe[kSndUna].front();
    j.raw(",\"recovery\":");
    write_markers(j, tr->recovery, tbt, seq_base);
    j.raw(",\"retransmits\":");
    write_markers(j, tr->retransmits, tbt, seq_base);
    j.raw(",\"tcp_info\":");
    j.pairs(tr->final_probe);
    j.raw(",\"events\":");
    j.pairs(trace_counts(*tr));
    KeyValues drops;
    for (const auto& [k, v] : tr->drop_reasons) drops.emplace_back(k, fmt::format("{}", v));
    j.raw(",\"drops\":");
    j.pairs(drops);
    j.raw(",\"states\":");
    j.pairs(tr->state_changes);
    j.raw(",\"skb\":");
    write_skb_steps(j, tr->skb_steps, tbt);
    j.raw("}");
  }
  j.raw("}");
  return "";
}

}  // namespace

std::string write_report(const std::vector<RunInput>& runs, const std::string& out_path) {
  JsonOut j;
  j.raw("{\"generator\":\"sendpath report\",\"uplot\":");
  j.raw(kUplotJs[0] ? "true" : "false");
  j.raw(",\"runs\":[");
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i) j.raw(",");
    if (auto err = write_run(j, runs[i]); !err.empty()) return err;
  }
  j.raw("]}");

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(out_path.c_str(), "wb"),
                                                    &std::fclose);
  if (!f) return "cannot write " + out_path;
  auto put = [&](std::string_view s) { std::fwrite(s.data(), 1, s.size(), f.get()); };
  put("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>sendpath report</title>\n<style>");
  put(kUplotCss);
  put("</style>\n<style>");
  put(kReportCss);
  put("</style>\n</head><body>\n<div id=\"app\"></div>\n"
      "<pre id=\"sp-status\" data-ready=\"0\"></pre>\n"
      "<script id=\"sp-data\" type=\"application/json\">");
  put(j.str());
  put("</script>\n<script>");
  put(kUplotJs);
  put("</script>\n<script>");
  put(kReportJs);
  put("</script>\n</body></html>\n");
  if (std::ferror(f.get())) return "write error on " + out_path;
  return "";
}

}  // namespace sp::report
