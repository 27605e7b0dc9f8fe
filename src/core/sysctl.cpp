// Sysctl by name: the table below maps each /proc/sys name to its field and
// the range Linux's handler accepts (proc_dointvec_minmax / proc_dou8vec_minmax
// bounds from net/ipv4/sysctl_net_ipv4.c and net/core/sysctl_net_core.c).
#include "core/sysctl.hpp"

#include <charconv>
#include <climits>
#include <variant>

namespace sp {

namespace {

using IntField = int Sysctl::*;
using VecField = int (Sysctl::*)[3];
using UintField = unsigned Sysctl::*;
using StrField = std::string Sysctl::*;

struct Entry {
  const char* name;  // "net.ipv4.tcp_wmem"
  std::variant<IntField, VecField, UintField, StrField> field;
  long long min = INT_MIN;
  long long max = INT_MAX;
};

constexpr long long kU8 = 255;  // proc_dou8vec_minmax without explicit bounds

const Entry kTable[] = {
    {"net.ipv4.tcp_wmem", &Sysctl::tcp_wmem, 1, INT_MAX},
    {"net.ipv4.tcp_rmem", &Sysctl::tcp_rmem, 1, INT_MAX},
    {"net.ipv4.tcp_timestamps", &Sysctl::tcp_timestamps, 0, kU8},
    {"net.ipv4.tcp_sack", &Sysctl::tcp_sack, 0, kU8},
    {"net.ipv4.tcp_dsack", &Sysctl::tcp_dsack, 0, kU8},
    {"net.ipv4.tcp_window_scaling", &Sysctl::tcp_window_scaling, 0, kU8},
    {"net.ipv4.tcp_ecn", &Sysctl::tcp_ecn, 0, 2},
    {"net.ipv4.tcp_autocorking", &Sysctl::tcp_autocorking, 0, 1},
    {"net.ipv4.tcp_tso_win_divisor", &Sysctl::tcp_tso_win_divisor, 0, kU8},
    {"net.ipv4.tcp_min_tso_segs", &Sysctl::tcp_min_tso_segs, 1, kU8},
    {"net.ipv4.tcp_tso_rtt_log", &Sysctl::tcp_tso_rtt_log, 0, kU8},
    {"net.ipv4.tcp_limit_output_bytes", &Sysctl::tcp_limit_output_bytes},
    {"net.ipv4.tcp_notsent_lowat", &Sysctl::tcp_notsent_lowat, 0, UINT_MAX},
    {"net.ipv4.tcp_slow_start_after_idle", &Sysctl::tcp_slow_start_after_idle, 0, kU8},
    {"net.ipv4.tcp_congestion_control", &Sysctl::tcp_congestion_control},
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
    {"net.ipv4.tcp_adv_win_scale", &Sysctl::tcp_adv_win_scale, -31, 31},
    {"net.ipv4.tcp_app_win", &Sysctl::tcp_app_win, 0, 31},
    {"net.ipv4.tcp_moderate_rcvbuf", &Sysctl::tcp_moderate_rcvbuf, 0, kU8},
    {"net.ipv4.tcp_base_mss", &Sysctl::tcp_base_mss},
    {"net.ipv4.tcp_mtu_probing", &Sysctl::tcp_mtu_probing, 0, kU8},
    {"net.ipv4.tcp_probe_threshold", &Sysctl::tcp_probe_threshold},
    {"net.ipv4.tcp_probe_interval", &Sysctl::tcp_probe_interval, 0, UINT_MAX},
    {"net.ipv4.tcp_min_snd_mss", &Sysctl::tcp_min_snd_mss, 48, 65535 - 40},
    {"net.ipv4.tcp_mtu_probe_floor", &Sysctl::tcp_mtu_probe_floor, 48, 65535 - 40},
    {"net.ipv4.tcp_rfc1337", &Sysctl::tcp_rfc1337, 0, kU8},
    {"net.ipv4.tcp_abort_on_overflow", &Sysctl::tcp_abort_on_overflow, 0, kU8},
    {"net.ipv4.tcp_max_syn_backlog", &Sysctl::tcp_max_syn_backlog},
    {"net.ipv4.tcp_tw_reuse", &Sysctl::tcp_tw_reuse, 0, 2},
    {"net.ipv4.tcp_max_tw_buckets", &Sysctl::tcp_max_tw_buckets},
    {"net.ipv4.tcp_no_metrics_save", &Sysctl::tcp_no_metrics_save, 0, kU8},
    {"net.ipv4.tcp_comp_sack_nr", &Sysctl::tcp_comp_sack_nr, 0, kU8},
    {"net.ipv4.tcp_comp_sack_delay_ns", &Sysctl::tcp_comp_sack_delay_ns},
    {"net.ipv4.tcp_comp_sack_slack_ns", &Sysctl::tcp_comp_sack_slack_ns},
    {"net.ipv4.tcp_thin_linear_timeouts", &Sysctl::tcp_thin_linear_timeouts, 0, kU8},
    {"net.ipv4.tcp_workaround_signed_windows", &Sysctl::tcp_workaround_signed_windows, 0, kU8},
    {"net.ipv4.tcp_invalid_ratelimit", &Sysctl::tcp_invalid_ratelimit},
    {"net.ipv4.tcp_rto_min_us", &Sysctl::tcp_rto_min_us, 1, INT_MAX},
    {"net.ipv4.tcp_fastopen", &Sysctl::tcp_fastopen},
    {"net.ipv4.tcp_shrink_window", &Sysctl::tcp_shrink_window, 0, 1},
    {"net.ipv4.tcp_backlog_ack_defer", &Sysctl::tcp_backlog_ack_defer, 0, 1},
    {"net.ipv4.tcp_delack_seg", &Sysctl::tcp_delack_seg},
    {"sendpath.tcp_lone_fin_ignores_cwnd", &Sysctl::sendpath_tcp_lone_fin_ignores_cwnd, 0, 1},
    {"net.ipv4.ip_default_ttl", &Sysctl::ip_default_ttl, 1, 255},
    {"net.ipv4.ip_no_pmtu_disc", &Sysctl::ip_no_pmtu_disc},
    {"net.core.wmem_default", &Sysctl::wmem_default},
    {"net.core.rmem_default", &Sysctl::rmem_default},
    {"net.core.wmem_max", &Sysctl::wmem_max},
    {"net.core.rmem_max", &Sysctl::rmem_max},
    {"net.core.somaxconn", &Sysctl::somaxconn, 0, INT_MAX},
    {"net.core.optmem_max", &Sysctl::optmem_max},
    {"net.core.default_qdisc", &Sysctl::default_qdisc},
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

// One integer token in [min, max]; error message or empty.
std::string parse_int(std::string_view tok, long long min, long long max, long long* out) {
  long long v = 0;
  auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc() || p != tok.data() + tok.size())
    return "invalid number '" + std::string(tok) + "'";
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

std::vector<std::string> Sysctl::names() {
  std::vector<std::string> out;
  for (const Entry& e : kTable) out.emplace_back(e.name);
  return out;
}

}  // namespace sp
