// Sysctl by name: the table below maps each /proc/sys name to its field and
// the range Linux's handler accepts (proc_dointvec_minmax / proc_dou8vec_minmax
// bounds from net/ipv4/sysctl_net_ipv4.c and net/core/sysctl_net_core.c).
#include "core/sysctl.hpp"

#include <charconv>
#include <climits>
#include <variant>

#include "tcp/cong/tcp_cong.hpp"

namespace sp {

namespace {

using IntField = int Sysctl::*;
using VecField = int (Sysctl::*)[3];
using UintField = unsigned Sysctl::*;
using StrField = std::string Sysctl::*;

// "Never silently ignore" (issue 19): a value whose behaviour sendpath does
// not have is refused with the feature it lacks, so a script or a user asking
// for it learns so instead of running with something else.
struct Entry {
  const char* name;  // "net.ipv4.tcp_wmem"
  std::variant<IntField, VecField, UintField, StrField> field;
  long long min = INT_MIN;
  long long max = INT_MAX;
  bool (*honours)(long long) = nullptr;             // nullptr: all of [min, max]
  bool (*honours_str)(std::string_view) = nullptr;  // string fields
  const char* accepts = nullptr;                    // the honoured values, as text
  const char* refused = nullptr;                    // what sendpath lacks for the others
  const char* inert = nullptr;                      // why no value has an effect
};

// Only the values sendpath has the behaviour of.
Entry restricted(const char* name, IntField f, long long min, long long max,
                 bool (*honours)(long long), const char* accepts, const char* refused) {
  Entry e{name, f, min, max};
  e.honours = honours;
  e.accepts = accepts;
  e.refused = refused;
  return e;
}

// Every value Linux accepts, none with an effect (said why).
Entry inert(const char* name, IntField f, long long min, long long max, const char* why) {
  Entry e{name, f, min, max};
  e.inert = why;
  return e;
}

bool only_zero(long long v) {
  return v == 0;
}
bool only_one(long long v) {
  return v == 1;
}
bool zero_or_two(long long v) {
  return v == 0 || v == 2;
}

Entry string_entry(const char* name, StrField f, bool (*honours)(std::string_view),
                   const char* accepts, const char* refused) {
  Entry e{name, f};
  e.honours_str = honours;
  e.accepts = accepts;
  e.refused = refused;
  return e;
}

// Linux's handler loads the module or fails with ENOENT: never a name the
// sockets would then not find.
bool registered_ca(std::string_view v) {
  return tcp_ca_find(v) != nullptr;
}
bool only_pfifo_fast(std::string_view v) {
  return v == "pfifo_fast";
}

std::string refusal(const Entry& e, std::string_view value) {
  std::string m = std::string(e.name) + "=" + std::string(value) +
                  ": not implemented in sendpath: " + e.refused;
  if (e.accepts) m += std::string("; it accepts ") + e.accepts;
  return m;
}

constexpr long long kU8 = 255;  // proc_dou8vec_minmax without explicit bounds

const Entry kTable[] = {
    {"net.ipv4.tcp_wmem", &Sysctl::tcp_wmem, 1, INT_MAX},
    {"net.ipv4.tcp_rmem", &Sysctl::tcp_rmem, 1, INT_MAX},
    // proc_doulongvec_minmax: any non-negative count of pages (sendpath
    // keeps them in an int: up to 8 TiB).
    {"net.ipv4.tcp_mem", &Sysctl::tcp_mem, 0, INT_MAX},
    {"net.ipv4.tcp_timestamps", &Sysctl::tcp_timestamps, 0, kU8},
    {"net.ipv4.tcp_sack", &Sysctl::tcp_sack, 0, kU8},
    {"net.ipv4.tcp_dsack", &Sysctl::tcp_dsack, 0, kU8},
    {"net.ipv4.tcp_window_scaling", &Sysctl::tcp_window_scaling, 0, kU8},
    restricted("net.ipv4.tcp_ecn", &Sysctl::tcp_ecn, 0, 2, only_zero, "0",
               "ECN (RFC 3168): sendpath neither asks for it (1) nor accepts a peer's (2)"),
    {"net.ipv4.tcp_autocorking", &Sysctl::tcp_autocorking, 0, 1},
    {"net.ipv4.tcp_tso_win_divisor", &Sysctl::tcp_tso_win_divisor, 0, kU8},
    {"net.ipv4.tcp_min_tso_segs", &Sysctl::tcp_min_tso_segs, 1, kU8},
    {"net.ipv4.tcp_tso_rtt_log", &Sysctl::tcp_tso_rtt_log, 0, kU8},
    {"net.ipv4.tcp_limit_output_bytes", &Sysctl::tcp_limit_output_bytes},
    {"net.ipv4.tcp_notsent_lowat", &Sysctl::tcp_notsent_lowat, 0, UINT_MAX},
    {"net.ipv4.tcp_slow_start_after_idle", &Sysctl::tcp_slow_start_after_idle, 0, kU8},
    string_entry("net.ipv4.tcp_congestion_control", &Sysctl::tcp_congestion_control, registered_ca,
                 nullptr, "a congestion control sendpath does not have (Linux: ENOENT)"),
    {"net.ipv4.tcp_early_retrans", &Sysctl::tcp_early_retrans, 0, 4},
    {"net.ipv4.tcp_recovery", &Sysctl::tcp_recovery},
    {"net.ipv4.tcp_frto", &Sysctl::tcp_frto, 0, kU8},
    {"net.ipv4.tcp_reordering", &Sysctl::tcp_reordering},
    {"net.ipv4.tcp_max_reordering", &Sysctl::tcp_max_reordering},
    {"net.ipv4.tcp_pacing_ss_ratio", &Sysctl::tcp_pacing_ss_ratio, 0, 1000},
    {"net.ipv4.tcp_pacing_ca_ratio", &Sysctl::tcp_pacing_ca_ratio, 0, 1000},
    {"net.ipv4.tcp_syncookies", &Sysctl::tcp_syncookies, 0, kU8},
    {"net.ipv4.tcp_syn_retries", &Sysctl::tcp_syn_retries, 1, 127},
    {"net.ipv4.tcp_synack_retries", &Sysctl::tcp_synack_retries, 0, kU8},
    {"net.ipv4.tcp_syn_linear_timeouts", &Sysctl::tcp_syn_linear_timeouts, 0, kU8},
    {"net.ipv4.tcp_retries1", &Sysctl::tcp_retries1, 0, 255},
    {"net.ipv4.tcp_retries2", &Sysctl::tcp_retries2, 0, kU8},
    {"net.ipv4.tcp_orphan_retries", &Sysctl::tcp_orphan_retries, 0, kU8},
    {"net.ipv4.tcp_fin_timeout", &Sysctl::tcp_fin_timeout},
    {"net.ipv4.tcp_keepalive_time", &Sysctl::tcp_keepalive_time},
    {"net.ipv4.tcp_keepalive_intvl", &Sysctl::tcp_keepalive_intvl},
    {"net.ipv4.tcp_keepalive_probes", &Sysctl::tcp_keepalive_probes, 0, kU8},
    {"net.ipv4.tcp_challenge_ack_limit", &Sysctl::tcp_challenge_ack_limit},
    inert(
        "net.ipv4.tcp_adv_win_scale", &Sysctl::tcp_adv_win_scale, -31, 31,
        "obsolete since Linux 6.6: the window follows scaling_ratio, Linux 6.12 reads it nowhere"),
    {"net.ipv4.tcp_app_win", &Sysctl::tcp_app_win, 0, 31},
    {"net.ipv4.tcp_moderate_rcvbuf", &Sysctl::tcp_moderate_rcvbuf, 0, kU8},
    {"net.ipv4.tcp_base_mss", &Sysctl::tcp_base_mss},
    {"net.ipv4.tcp_mtu_probing", &Sysctl::tcp_mtu_probing, 0, kU8},
    {"net.ipv4.tcp_probe_threshold", &Sysctl::tcp_probe_threshold},
    {"net.ipv4.tcp_probe_interval", &Sysctl::tcp_probe_interval, 0, UINT_MAX},
    {"net.ipv4.tcp_min_snd_mss", &Sysctl::tcp_min_snd_mss, 48, 65535 - 40},
    {"net.ipv4.tcp_mtu_probe_floor", &Sysctl::tcp_mtu_probe_floor, 48, 65535 - 40},
    {"net.ipv4.tcp_rfc1337", &Sysctl::tcp_rfc1337, 0, kU8},
    restricted("net.ipv4.tcp_abort_on_overflow", &Sysctl::tcp_abort_on_overflow, 0, kU8, only_zero,
               "0", "resetting a handshake the full accept queue cannot take (it is ignored)"),
    {"net.ipv4.tcp_max_syn_backlog", &Sysctl::tcp_max_syn_backlog},
    restricted("net.ipv4.tcp_tw_reuse", &Sysctl::tcp_tw_reuse, 0, 2, zero_or_two, "0 or 2",
               "reusing a TIME_WAIT port for connect (2 does so only for loopback, "
               "which sendpath has none of, so it behaves as 0)"),
    {"net.ipv4.tcp_max_tw_buckets", &Sysctl::tcp_max_tw_buckets},
    restricted("net.ipv4.tcp_no_metrics_save", &Sysctl::tcp_no_metrics_save, 0, kU8, only_one, "1",
               "the tcp_metrics cache: nothing is saved at close or read at connect"),
    // SACK compression: being implemented in the receiver on another branch;
    // left accepted here (tests/unit/core/sysctl_test.cpp lists them).
    {"net.ipv4.tcp_comp_sack_nr", &Sysctl::tcp_comp_sack_nr, 0, kU8},
    {"net.ipv4.tcp_comp_sack_delay_ns", &Sysctl::tcp_comp_sack_delay_ns},
    {"net.ipv4.tcp_comp_sack_slack_ns", &Sysctl::tcp_comp_sack_slack_ns},
    restricted("net.ipv4.tcp_thin_linear_timeouts", &Sysctl::tcp_thin_linear_timeouts, 0, kU8,
               only_zero, "0", "linear RTOs for thin streams"),
    {"net.ipv4.tcp_workaround_signed_windows", &Sysctl::tcp_workaround_signed_windows, 0, kU8},
    {"net.ipv4.tcp_invalid_ratelimit", &Sysctl::tcp_invalid_ratelimit},
    {"net.ipv4.tcp_rto_min_us", &Sysctl::tcp_rto_min_us, 1, INT_MAX},
    restricted("net.ipv4.tcp_fastopen", &Sysctl::tcp_fastopen, INT_MIN, INT_MAX, only_zero, "0",
               "TCP Fast Open (RFC 7413): MSG_FASTOPEN and the TCP_FASTOPEN options are refused"),
    restricted("net.ipv4.tcp_shrink_window", &Sysctl::tcp_shrink_window, 0, 1, only_zero, "0",
               "shrinking the advertised window (RFC 7323 2.4)"),
    inert("net.ipv4.tcp_backlog_ack_defer", &Sysctl::tcp_backlog_ack_defer, 0, 1,
          "it applies to segments queued while a call owns the socket; sendpath has no "
          "socket backlog (input never runs inside a call), so Linux too would send at once"),
    {"sendpath.tcp_lone_fin_ignores_cwnd", &Sysctl::sendpath_tcp_lone_fin_ignores_cwnd, 0, 1},
    {"net.ipv4.ip_default_ttl", &Sysctl::ip_default_ttl, 1, 255},
    restricted("net.ipv4.ip_no_pmtu_disc", &Sysctl::ip_no_pmtu_disc, INT_MIN, INT_MAX, zero_or_two,
               "0 or 2",
               "1 (believe no Fragmentation Needed but log it) and 3 (believe those that "
               "quote a known socket's packet)"),
    {"net.core.wmem_default", &Sysctl::wmem_default},
    {"net.core.rmem_default", &Sysctl::rmem_default},
    {"net.core.wmem_max", &Sysctl::wmem_max},
    {"net.core.rmem_max", &Sysctl::rmem_max},
    {"net.core.somaxconn", &Sysctl::somaxconn, 0, INT_MAX},
    {"net.core.optmem_max", &Sysctl::optmem_max},
    {"net.core.mem_pcpu_rsv", &Sysctl::mem_pcpu_rsv, 256, INT_MAX},
    string_entry("net.core.default_qdisc", &Sysctl::default_qdisc, only_pfifo_fast, "pfifo_fast",
                 "other root qdiscs: sendpath's devices queue in one FIFO (the drill runner "
                 "models `tc qdisc ... fq` on its own device)"),
};

// "net/ipv4/tcp_wmem" and "net.ipv4.tcp_wmem" name the same entry.
const Entry* find(std::string_view name) {
  std::string norm(name);
  for (char& c : norm)
    if (c == '/') c = '.';
  for (const Entry& e : kTable)
    if (norm == e.name) return &e;
  return nullptr;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// One integer token in [min, max]; error message or empty. The base is
// read from the prefix as proc_get_long does (0x hex, 0 octal), so
// defaults.sh's tcp_fastopen=0x70403 reads as Linux reads it.
std::string parse_int(std::string_view tok, long long min, long long max, long long* out) {
  std::string_view digits = tok;
  const bool neg = !digits.empty() && digits.front() == '-';
  if (neg) digits.remove_prefix(1);
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  } else if (digits.size() > 1 && digits[0] == '0') {
    base = 8;
    digits.remove_prefix(1);
  }
  unsigned long long mag = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mag, base);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() ||
      mag > static_cast<unsigned long long>(LLONG_MAX))
    return "invalid number '" + std::string(tok) + "'";
  const long long v = neg ? -static_cast<long long>(mag) : static_cast<long long>(mag);
  if (v < min || v > max)
    return "value " + std::to_string(v) + " out of range [" + std::to_string(min) + ", " +
           std::to_string(max) + "]";
  *out = v;
  return {};
}

}  // namespace

std::string Sysctl::set(std::string_view name, std::string_view value) {
  const Entry* e = find(name);
  if (!e) return "unknown sysctl '" + std::string(name) + "'";
  value = trim(value);
  if (auto* f = std::get_if<StrField>(&e->field)) {
    if (value.empty() || value.find_first_of(" \t") != std::string_view::npos)
      return "invalid value '" + std::string(value) + "' for " + e->name;
    if (e->honours_str && !e->honours_str(value)) return refusal(*e, value);
    this->*(*f) = std::string(value);
    return {};
  }
  if (auto* f = std::get_if<VecField>(&e->field)) {
    // proc_dointvec: up to three numbers; missing ones keep their value.
    long long vals[3];
    int n = 0;
    while (!value.empty()) {
      if (n == 3) return std::string("too many values for ") + e->name;
      std::size_t sp = value.find_first_of(" \t");
      std::string_view tok = value.substr(0, sp);
      std::string err = parse_int(tok, e->min, e->max, &vals[n]);
      if (!err.empty()) return err + " for " + e->name;
      ++n;
      value = sp == std::string_view::npos ? std::string_view{} : trim(value.substr(sp));
    }
    if (n == 0) return std::string("empty value for ") + e->name;
    for (int i = 0; i < n; ++i) (this->*(*f))[i] = static_cast<int>(vals[i]);
    return {};
  }
  if (value.empty()) return std::string("empty value for ") + e->name;
  long long v = 0;
  std::string err = parse_int(value, e->min, e->max, &v);
  if (!err.empty()) return err + " for " + e->name;
  if (e->honours && !e->honours(v)) return refusal(*e, value);
  if (auto* f = std::get_if<IntField>(&e->field))
    this->*(*f) = static_cast<int>(v);
  else
    this->*std::get<UintField>(e->field) = static_cast<unsigned>(v);
  return {};
}

std::optional<std::string> Sysctl::get(std::string_view name) const {
  const Entry* e = find(name);
  if (!e) return std::nullopt;
  if (auto* f = std::get_if<StrField>(&e->field)) return this->*(*f);
  if (auto* f = std::get_if<VecField>(&e->field)) {
    // /proc/sys prints vectors tab-separated.
    const int* v = this->*(*f);
    return std::to_string(v[0]) + "\t" + std::to_string(v[1]) + "\t" + std::to_string(v[2]);
  }
  if (auto* f = std::get_if<IntField>(&e->field)) return std::to_string(this->*(*f));
  return std::to_string(this->*std::get<UintField>(e->field));
}

std::vector<Sysctl::Limits> Sysctl::limits() {
  std::vector<Limits> out;
  for (const Entry& e : kTable)
    out.push_back(
        {e.name, e.accepts ? e.accepts : "", e.refused ? e.refused : "", e.inert ? e.inert : ""});
  return out;
}

std::vector<std::string> Sysctl::names() {
  std::vector<std::string> out;
  for (const Entry& e : kTable) out.emplace_back(e.name);
  return out;
}

}  // namespace sp
