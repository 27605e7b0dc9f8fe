// The per-stack sysctl table: Linux's names and defaults (v6.x, see the shared
// linux-send-path.md section 7). Hot paths read the typed fields; the
// packetdrill runner and the CLI set them by name ("net.ipv4.tcp_wmem").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

struct Sysctl {
  // net.ipv4.*
  int tcp_wmem[3] = {4096, 16384, 4194304};
  int tcp_rmem[3] = {4096, 131072, 6291456};
  // Pages (low, pressure, high) of memory all TCP sockets together may
  // charge. Linux sizes it at boot from free memory (tcp_init_mem:
  // nr_free_buffer_pages() / 16 as "pressure"); sendpath takes the figure a
  // host with 8 GiB of buffer pages gets.
  int tcp_mem[3] = {98304, 131072, 196608};
  int tcp_timestamps = 1;
  int tcp_sack = 1;
  int tcp_dsack = 1;
  int tcp_window_scaling = 1;
  // Knobs whose feature sendpath lacks default to the value whose behaviour
  // it has, and refuse the others (docs/linux-differences.md, "Refused
  // sysctls"): tcp_ecn, tcp_fastopen and tcp_no_metrics_save differ from
  // Linux's defaults (2, 1 and 0).
  int tcp_ecn = 0;
  int tcp_autocorking = 1;
  int tcp_tso_win_divisor = 3;
  int tcp_min_tso_segs = 2;
  int tcp_tso_rtt_log = 9;
  int tcp_limit_output_bytes = 4 << 20;
  unsigned tcp_notsent_lowat = 0xffffffffu;
  int tcp_slow_start_after_idle = 1;
  std::string tcp_congestion_control = "cubic";
  int tcp_early_retrans = 3;
  int tcp_recovery = 1;  // TCP_RACK_LOSS_DETECTION
  int tcp_frto = 2;
  int tcp_reordering = 3;
  int tcp_max_reordering = 300;
  int tcp_pacing_ss_ratio = 200;
  int tcp_pacing_ca_ratio = 120;
  int tcp_syncookies = 1;  // cookies once the SYN queue is full; 2: always
  int tcp_syn_retries = 6;
  int tcp_synack_retries = 5;
  int tcp_syn_linear_timeouts = 4;
  int tcp_retries1 = 3;
  int tcp_retries2 = 15;
  int tcp_orphan_retries = 0;
  int tcp_fin_timeout = 60;       // seconds
  int tcp_keepalive_time = 7200;  // seconds
  int tcp_keepalive_intvl = 75;   // seconds
  int tcp_keepalive_probes = 9;
  int tcp_challenge_ack_limit = 0x7fffffff;  // per second, stack-wide; INT_MAX: no limit
  int tcp_adv_win_scale = 1;
  int tcp_app_win = 31;
  int tcp_moderate_rcvbuf = 1;
  int tcp_base_mss = 1024;
  int tcp_mtu_probing = 0;
  int tcp_probe_threshold = 8;
  int tcp_probe_interval = 600;
  int tcp_min_snd_mss = 48;
  int tcp_mtu_probe_floor = 48;
  int tcp_rfc1337 = 0;
  int tcp_abort_on_overflow = 0;
  int tcp_max_syn_backlog = 4096;
  int tcp_tw_reuse = 2;
  int tcp_max_tw_buckets = 262144;
  int tcp_no_metrics_save = 1;
  int tcp_comp_sack_nr = 44;
  int tcp_comp_sack_delay_ns = 1000000;
  int tcp_comp_sack_slack_ns = 100000;
  int tcp_thin_linear_timeouts = 0;
  int tcp_workaround_signed_windows = 0;
  int tcp_invalid_ratelimit = 500;  // ms
  int tcp_rto_min_us = 200000;
  int tcp_fastopen = 0;
  int tcp_shrink_window = 0;
  int tcp_backlog_ack_defer = 1;
  // sendpath.* (not Linux): switches back to an older Linux behaviour that a
  // newer kernel removed, so scripts written against either can be run.
  // Linux 6.12's tcp_cwnd_test holds a lone FIN behind a full congestion
  // window (it leaves with the next ACK or the tail loss probe); kernels of
  // the packetdrill corpus's time let it past. 0 = Linux 6.12.
  int sendpath_tcp_lone_fin_ignores_cwnd = 0;
  int ip_default_ttl = 64;
  int ip_no_pmtu_disc = 0;
  // net.core.*
  int wmem_default = 212992;
  int rmem_default = 212992;
  int wmem_max = 212992;
  int rmem_max = 212992;
  int somaxconn = 4096;
  int optmem_max = 131072;
  // Pages a cpu may charge or free before the global TCP memory counter
  // sees them (SK_MEMORY_PCPU_RESERVE, 1 MB; also its minimum).
  int mem_pcpu_rsv = 256;
  std::string default_qdisc = "pfifo_fast";

  // Set a value by its sysctl name ("net.ipv4.tcp_wmem" or "net/ipv4/tcp_wmem");
  // vectors take space-separated numbers. Returns an error message, or empty.
  std::string set(std::string_view name, std::string_view value);
  // Read a value by name, formatted as /proc/sys prints it; nullopt if unknown.
  std::optional<std::string> get(std::string_view name) const;
  // Every known name, for listing and tests.
  static std::vector<std::string> names();

  // What sendpath does with a name beyond Linux's range check: the values it
  // accepts when it refuses others (with the feature it lacks), or why the
  // knob has no effect whatever its value (as in Linux 6.12 itself).
  struct Limits {
    std::string name;
    std::string accepts;  // "0", "0 or 2"; empty: every value Linux accepts
    std::string refused;  // the missing feature, when some values are refused
    std::string inert;    // why no value changes anything, when so
  };
  static std::vector<Limits> limits();
};

}  // namespace sp
