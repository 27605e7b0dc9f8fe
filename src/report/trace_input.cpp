#include "report/trace_input.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

namespace sp::report {

const std::vector<std::string> kCongStateNames = {"Open", "Disorder", "CWR", "Recovery", "Loss"};
const std::vector<std::string> kLimitNames = {"none", "busy", "rwnd_limited", "sndbuf_limited"};
const std::vector<std::string> kStopNames = {"cwnd",   "rwnd",  "nagle",    "tso_defer", "tsq",
                                             "pacing", "empty", "push_one", "mtu_probe", "error"};

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Linux's TCP_INFINITE_SSTHRESH: "no threshold yet", drawn as a gap.
constexpr double kInfiniteSsthresh = 0x7fffffff;

// The calls above the skbs: they head the skb picture.
bool is_send_call(std::string_view ev) {
  return ev == "sendpath:sock_sendmsg" || ev == "sendpath:inet_sendmsg" ||
         ev == "sendpath:tcp_sendmsg";
}

// The steps below TCP, on the clone tcp_transmit_skb sent.
bool is_below_tcp(std::string_view ev) {
  return ev == "sendpath:ip_queue_xmit" || ev == "sendpath:skb_gso_segment" ||
         ev == "sendpath:neigh_output" || ev == "sendpath:dev_queue_xmit";
}

int index_of(const std::vector<std::string>& names, std::string_view s) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return static_cast<int>(i);
  return -1;
}

std::string format_value(const TraceValue& v) {
  if (v.is_string) return std::string(v.str);
  if (v.num == std::floor(v.num) && std::fabs(v.num) < 1e18)
    return fmt::format("{}", static_cast<long long>(v.num));
  return fmt::format("{}", v.num);
}

SkbStep make_step(const TraceEvent& ev) {
  SkbStep s;
  s.event = std::string(ev.event.substr(ev.event.find(':') + 1));
  s.t_ns = static_cast<double>(ev.t_ns);
  for (const auto& [k, v] : ev.fields) {
    if (v.is_string)
      s.str[std::string(k)] = std::string(v.str);
    else
      s.num[std::string(k)] = v.num;
  }
  return s;
}

}  // namespace

const TraceValue* TraceEvent::find(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return &v;
  return nullptr;
}

std::optional<double> TraceEvent::num(std::string_view name) const {
  const TraceValue* v = find(name);
  if (!v || v->is_string) return std::nullopt;
  return v->num;
}

std::string_view TraceEvent::str(std::string_view name) const {
  const TraceValue* v = find(name);
  return v && v->is_string ? v->str : std::string_view{};
}

// A flat-object reader, enough for the trace's schema: no nesting, so a
// value is a number, a string, true, false or null.
std::string parse_trace_line(std::string_view line, TraceEvent& ev, std::string& scratch) {
  ev.fields.clear();
  ev.t_ns = 0;
  ev.stack = {};
  ev.event = {};
  scratch.clear();
  // Decoded strings go to scratch; reserve so that views into it stay valid.
  scratch.reserve(line.size());
  std::size_t i = 0;
  auto ws = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
  };
  auto read_string = [&](std::string_view& out) -> bool {
    if (i >= line.size() || line[i] != '"') return false;
    const std::size_t start = ++i;
    bool escaped = false;
    while (i < line.size() && line[i] != '"') {
      if (line[i] == '\\') {
        escaped = true;
        ++i;
      }
      ++i;
    }
    if (i >= line.size()) return false;
    std::string_view raw = line.substr(start, i - start);
    ++i;
    if (!escaped) {
      out = raw;
      return true;
    }
    const std::size_t at = scratch.size();
    for (std::size_t j = 0; j < raw.size(); ++j) {
      char c = raw[j];
      if (c != '\\' || j + 1 >= raw.size()) {
        scratch += c;
        continue;
      }
      c = raw[++j];
      switch (c) {
        case 'n':
          scratch += '\n';
          break;
        case 't':
          scratch += '\t';
          break;
        case 'r':
          scratch += '\r';
          break;
        case 'b':
          scratch += '\b';
          break;
        case 'f':
          scratch += '\f';
          break;
        case 'u':
          if (j + 4 < raw.size()) {
            const unsigned long cp =
                std::strtoul(std::string(raw.substr(j + 1, 4)).c_str(), nullptr, 16);
            scratch += cp < 0x80 ? static_cast<char>(cp) : '?';
            j += 4;
          }
          break;
        default:
          scratch += c;
      }
    }
    out = std::string_view(scratch).substr(at);
    return true;
  };
  ws();
  if (i >= line.size() || line[i] != '{') return "not a JSON object";
  ++i;
  ws();
  if (i < line.size() && line[i] == '}') return "";
  while (i < line.size()) {
    ws();
    std::string_view key;
    if (!read_string(key)) return "expected a quoted key";
    ws();
    if (i >= line.size() || line[i] != ':') return "expected ':'";
    ++i;
    ws();
    if (i >= line.size()) return "missing value";
    TraceValue v;
    if (line[i] == '"') {
      v.is_string = true;
      if (!read_string(v.str)) return "unterminated string";
    } else if (line.compare(i, 4, "true") == 0) {
      v.num = 1;
      i += 4;
    } else if (line.compare(i, 5, "false") == 0) {
      v.num = 0;
      i += 5;
    } else if (line.compare(i, 4, "null") == 0) {
      v.num = kNaN;
      i += 4;
    } else if (line[i] == '{' || line[i] == '[') {
      return "nested value (the trace is flat)";
    } else {
      const std::string num(line.substr(i, std::min<std::size_t>(40, line.size() - i)));
      char* end = nullptr;
      v.num = std::strtod(num.c_str(), &end);
      if (end == num.c_str()) return "bad number";
      i += static_cast<std::size_t>(end - num.c_str());
    }
    if (key == "t_ns" && !v.is_string)
      ev.t_ns = static_cast<std::int64_t>(v.num);
    else if (key == "stack" && v.is_string)
      ev.stack = v.str;
    else if (key == "event" && v.is_string)
      ev.event = v.str;
    else
      ev.fields.emplace_back(key, v);
    ws();
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] == '}') return "";
    return "expected ',' or '}'";
  }
  return "unterminated object";
}

// What the report keeps of one socket.
struct TraceCollector::Sock {
  std::string stack;
  std::string cookie;
  double first_una = kNaN, bytes_acked = 0;  // how much it sent, to pick the sender
  std::vector<double> probe_t;
  std::vector<std::vector<double>> probe = std::vector<std::vector<double>>(kProbeCols);
  std::vector<std::pair<std::string, std::string>> final_probe;
  std::vector<Interval> cong_state, limit, stop;
  std::vector<Marker> recovery, retransmits;
  std::vector<std::pair<std::string, std::string>> state_changes;
  // The skb picture: the chain of the first data segment.
  std::vector<SkbStep> pre;  // sock_sendmsg .. tcp_sendmsg of the latest write
  std::vector<SkbStep> chain;
  std::string chain_skb;  // the skb tcp_skb_entail queued
  double chain_seq = kNaN;
  int appends = 0;
  std::string xmit_skb;  // the clone tcp_transmit_skb sent
  bool chain_done = false;
};

TraceCollector::TraceCollector(std::string stack) : want_stack_(std::move(stack)) {}
TraceCollector::~TraceCollector() = default;

TraceCollector::Sock& TraceCollector::sock(std::string_view stack, const std::string& cookie) {
  auto key = std::make_pair(std::string(stack), cookie);
  auto it = socks_.find(key);
  if (it != socks_.end()) return *it->second;
  owned_.push_back(std::make_unique<Sock>());
  Sock* s = owned_.back().get();
  s->stack = key.first;
  s->cookie = cookie;
  socks_.emplace(key, s);
  return *s;
}

// Appends state from t on: closes the open interval if the state changed.
void TraceCollector::extend(std::vector<Interval>& v, double t, int state) {
  if (state < 0) return;
  if (!v.empty()) {
    v.back().t1_ns = t;
    if (v.back().state == state) return;
  }
  v.push_back({t, t, state});
}

void TraceCollector::add(const TraceEvent& ev) {
  if (!want_stack_.empty() && ev.stack != want_stack_) return;
  ++events_;
  const double t = static_cast<double>(ev.t_ns);
  if (first_ns_ < 0) first_ns_ = t;
  last_ns_ = std::max(last_ns_, t);
  ++event_counts_[std::string(ev.event)];

  if (ev.event == "skb:kfree_skb") {
    std::string reason(ev.str("reason"));
    ++drop_reasons_[reason.empty() ? "?" : reason];
    return;
  }
  // Hex strings ("0x2") in the trace; numbers are accepted too.
  const TraceValue* cv = ev.find("sock_cookie");
  if (!cv) return;
  Sock& s = sock(ev.stack, cv->is_string ? std::string(cv->str) : format_value(*cv));

  if (ev.event == "tcp:tcp_probe") {
    auto n = [&](std::string_view k) { return ev.num(k).value_or(kNaN); };
    const double una = n("snd_una");
    if (std::isnan(s.first_una)) s.first_una = una;
    if (!std::isnan(una))
      s.bytes_acked =
          std::max(s.bytes_acked,
                   static_cast<double>(static_cast<std::uint32_t>(
                       static_cast<std::uint32_t>(una) - static_cast<std::uint32_t>(s.first_una))));
    s.probe_t.push_back(t);
    auto put = [&](ProbeCol c, double v) { s.probe[c].push_back(v); };
    // The chart wants the threshold itself: tcp_probe's Linux field is
    // tcp_current_ssthresh() (at least 3/4 of cwnd in Open), sendpath's
    // snd_ssthresh the raw value.
    const double ssth = ev.num("snd_ssthresh") ? n("snd_ssthresh") : n("ssthresh");
    put(kCwnd, n("snd_cwnd"));
    put(kSsthresh, ssth >= kInfiniteSsthresh ? kNaN : ssth);
    put(kInFlight, n("in_flight"));
    put(kSackedOut, n("sacked_out"));
    put(kLostOut, n("lost_out"));
    put(kRetransOut, n("retrans_out"));
    // Before the first RTT sample srtt and rtt are 0, min_rtt is ~0U and
    // the pacing rate is computed from no RTT at all: gaps, not values.
    const double srtt = n("srtt");
    const bool sampled = srtt > 0;
    const double min_rtt = n("min_rtt_us");
    const double rtt = n("rtt_us");
    put(kSrttMs, sampled ? srtt / 1000 : kNaN);
    put(kRttMs, rtt > 0 ? rtt / 1000 : kNaN);
    put(kMinRttMs, min_rtt > 0 && min_rtt < 0xffffffffu ? min_rtt / 1000 : kNaN);
    put(kRtoMs, n("rto_us") / 1000);
    put(kPacingMbps, sampled ? n("pacing_rate") * 8 / 1e6 : kNaN);
    put(kSndUna, una);
    put(kSndNxt, n("snd_nxt"));
    put(kSndWnd, n("snd_wnd"));
    s.final_probe.clear();
    s.final_probe.emplace_back("t_ns", fmt::format("{}", ev.t_ns));
    for (const auto& [k, v] : ev.fields)
      s.final_probe.emplace_back(std::string(k), format_value(v));
    if (auto ca = ev.num("ca_state")) extend(s.cong_state, t, static_cast<int>(*ca));
    if (auto lim = ev.str("limit"); !lim.empty()) extend(s.limit, t, index_of(kLimitNames, lim));
  } else if (ev.event == "tcp:tcp_cong_state_set") {
    if (auto cs = ev.num("cong_state")) extend(s.cong_state, t, static_cast<int>(*cs));
  } else if (ev.event == "sendpath:tcp_recovery_event") {
    s.recovery.push_back({t, std::string(ev.str("kind")), ev.num("seq").value_or(kNaN)});
  } else if (ev.event == "tcp:tcp_retransmit_skb") {
    s.retransmits.push_back({t, "", ev.num("seq").value_or(kNaN)});
  } else if (ev.event == "sendpath:tcp_write_xmit") {
    extend(s.stop, t, index_of(kStopNames, ev.str("stop")));
  } else if (ev.event == "sock:inet_sock_set_state") {
    s.state_changes.emplace_back(fmt::format("{:.3f} ms", t / 1e6),
                                 fmt::format("{} -> {}", ev.str("oldstate"), ev.str("newstate")));
  } else if (!s.chain_done) {
    follow_chain(s, ev);
  }
}

// The skb picture: the first data skb from tcp_skb_entail (after the calls
// of the write that made it), its appends and push, the clone
// tcp_transmit_skb sends of its first segment, and that clone's steps
// below TCP down to dev_queue_xmit.
void TraceCollector::follow_chain(Sock& s, const TraceEvent& ev) {
  const std::string_view name = ev.event;
  const std::string_view skb = ev.str("skbaddr");
  const bool started = !s.chain_skb.empty();
  if (!started) {
    if (is_send_call(name)) {
      if (name == "sendpath:sock_sendmsg") s.pre.clear();
      s.pre.push_back(make_step(ev));
    } else if (name == "sendpath:tcp_skb_entail" && !skb.empty()) {
      s.chain = std::move(s.pre);
      s.chain.push_back(make_step(ev));
      s.chain_skb = std::string(skb);
      s.chain_seq = ev.num("seq").value_or(kNaN);
    }
    return;
  }
  if (s.xmit_skb.empty()) {
    if (name == "sendpath:tcp_skb_append" && skb == s.chain_skb && s.appends < 3) {
      ++s.appends;
      s.chain.push_back(make_step(ev));
    } else if (name == "sendpath:tcp_push") {
      s.chain.push_back(make_step(ev));
    } else if (name == "sendpath:tcp_transmit_skb" && ev.num("seq") == s.chain_seq &&
               ev.num("end_seq").value_or(0) > s.chain_seq) {
      s.xmit_skb = std::string(skb);
      s.chain.push_back(make_step(ev));
    }
    return;
  }
  if (is_below_tcp(name) && skb == s.xmit_skb) {
    s.chain.push_back(make_step(ev));
    if (name == "sendpath:dev_queue_xmit") s.chain_done = chain_seen_ = true;
  }
}

std::string TraceCollector::add_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot open " + path;
  std::string line, scratch;
  TraceEvent ev;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (auto err = parse_trace_line(line, ev, scratch); !err.empty())
      return fmt::format("{}:{}: {}", path, lineno, err);
    add(ev);
  }
  return "";
}

TraceData TraceCollector::finish() {
  TraceData d;
  d.events = events_;
  d.first_ns = first_ns_ < 0 ? 0 : first_ns_;
  d.last_ns = last_ns_;
  d.event_counts = event_counts_;
  d.drop_reasons = drop_reasons_;
  d.probe.assign(kProbeCols, {});
  // The sender is the socket whose snd_una moved furthest; a receiver's
  // tcp_probe fires as often but its snd_una stays put.
  Sock* best = nullptr;
  for (auto& s : owned_) {
    if (!best || s->bytes_acked > best->bytes_acked ||
        (s->bytes_acked == best->bytes_acked && s->probe_t.size() > best->probe_t.size()))
      best = s.get();
  }
  if (!best) return d;
  Sock& s = *best;
  d.stack = s.stack;
  d.sock_cookie = s.cookie;
  const double end = last_ns_;
  for (auto* v : {&s.cong_state, &s.limit, &s.stop})
    if (!v->empty()) v->back().t1_ns = std::max(v->back().t1_ns, end);
  d.probe_t = std::move(s.probe_t);
  d.probe = std::move(s.probe);
  d.final_probe = std::move(s.final_probe);
  d.cong_state = std::move(s.cong_state);
  d.limit = std::move(s.limit);
  d.stop = std::move(s.stop);
  d.recovery = std::move(s.recovery);
  d.retransmits = std::move(s.retransmits);
  d.state_changes = std::move(s.state_changes);
  d.skb_steps = std::move(s.chain);
  return d;
}

}  // namespace sp::report
