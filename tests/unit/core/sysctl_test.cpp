// The sysctl table by name, as packetdrill scripts and the CLI set it.
#include "core/sysctl.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <type_traits>

#include "core/mib.hpp"

namespace sp {
namespace {

TEST(Sysctl, defaults_read_as_proc_sys_prints_them) {
  Sysctl s;
  EXPECT_EQ(s.get("net.ipv4.tcp_wmem"), "4096\t16384\t4194304");
  EXPECT_EQ(s.get("net.ipv4.tcp_rmem"), "4096\t131072\t6291456");
  EXPECT_EQ(s.get("net.ipv4.tcp_congestion_control"), "cubic");
  EXPECT_EQ(s.get("net.ipv4.tcp_notsent_lowat"), "4294967295");
  EXPECT_EQ(s.get("net.core.wmem_max"), "212992");
}

TEST(Sysctl, dotted_and_slashed_names_are_the_same_entry) {
  Sysctl s;
  EXPECT_EQ(s.set("net/ipv4/tcp_autocorking", "0"), "");
  EXPECT_EQ(s.tcp_autocorking, 0);
  EXPECT_EQ(s.get("net.ipv4.tcp_autocorking"), "0");
}

TEST(Sysctl, vector_takes_space_or_tab_separated_numbers) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_wmem", "4096 65536\t1048576"), "");
  EXPECT_EQ(s.tcp_wmem[0], 4096);
  EXPECT_EQ(s.tcp_wmem[1], 65536);
  EXPECT_EQ(s.tcp_wmem[2], 1048576);
}

TEST(Sysctl, short_vector_updates_only_the_given_values) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_rmem", "8192"), "");
  EXPECT_EQ(s.tcp_rmem[0], 8192);
  EXPECT_EQ(s.tcp_rmem[1], 131072);
  EXPECT_EQ(s.tcp_rmem[2], 6291456);
}

TEST(Sysctl, unknown_name_is_an_error) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.tcp_no_such_thing", "1"), "");
  EXPECT_EQ(s.get("net.ipv4.tcp_no_such_thing"), std::nullopt);
}

TEST(Sysctl, non_number_is_an_error_and_keeps_the_value) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.tcp_sack", "yes"), "");
  EXPECT_NE(s.set("net.ipv4.tcp_sack", "1x"), "");
  EXPECT_NE(s.set("net.ipv4.tcp_sack", ""), "");
  EXPECT_EQ(s.tcp_sack, 1);
}

TEST(Sysctl, out_of_range_is_an_error_and_keeps_the_value) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.ip_default_ttl", "0"), "");
  EXPECT_NE(s.set("net.ipv4.ip_default_ttl", "256"), "");
  EXPECT_NE(s.set("net.ipv4.tcp_min_tso_segs", "0"), "");
  EXPECT_NE(s.set("net.ipv4.tcp_wmem", "0 16384 4194304"), "");
  EXPECT_EQ(s.ip_default_ttl, 64);
  EXPECT_EQ(s.tcp_min_tso_segs, 2);
  EXPECT_EQ(s.tcp_wmem[0], 4096);
}

TEST(Sysctl, too_many_vector_values_is_an_error) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.tcp_wmem", "1 2 3 4"), "");
  EXPECT_EQ(s.tcp_wmem[0], 4096);
}

TEST(Sysctl, negative_values_where_linux_allows_them) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_adv_win_scale", "-2"), "");
  EXPECT_EQ(s.tcp_adv_win_scale, -2);
}

TEST(Sysctl, string_value_is_set_by_name) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_congestion_control", "reno"), "");
  EXPECT_EQ(s.tcp_congestion_control, "reno");
  EXPECT_NE(s.set("net.ipv4.tcp_congestion_control", "two words"), "");
}

TEST(Sysctl, unsigned_value_accepts_the_full_range) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_notsent_lowat", "131072"), "");
  EXPECT_EQ(s.tcp_notsent_lowat, 131072u);
  EXPECT_NE(s.set("net.ipv4.tcp_notsent_lowat", "-1"), "");
}

TEST(Sysctl, every_listed_name_can_be_read_and_written_back) {
  Sysctl s;
  const auto names = Sysctl::names();
  EXPECT_GT(names.size(), 60u);
  for (const auto& n : names) {
    auto v = s.get(n);
    ASSERT_TRUE(v.has_value()) << n;
    EXPECT_EQ(s.set(n, *v), "") << n;
    EXPECT_EQ(s.get(n), v) << n;
  }
}

TEST(Sysctl, tcp_fastopen_reads_hex_as_proc_dointvec_does_and_is_refused) {
  Sysctl s;
  const std::string err = s.set("net.ipv4.tcp_fastopen", "0x70403");
  EXPECT_NE(err.find("net.ipv4.tcp_fastopen=0x70403"), std::string::npos) << err;
  EXPECT_NE(err.find("not implemented in sendpath"), std::string::npos) << err;
  EXPECT_EQ(s.set("net.ipv4.tcp_fastopen", "0x0"), "");
  EXPECT_EQ(s.set("net.ipv4.tcp_max_syn_backlog", "010"), "");  // octal, as Linux
  EXPECT_EQ(s.tcp_max_syn_backlog, 8);
}

TEST(Sysctl, tcp_mem_is_pages_and_mem_pcpu_rsv_has_linuxs_floor) {
  Sysctl s;
  EXPECT_EQ(s.get("net.ipv4.tcp_mem"), "98304\t131072\t196608");
  EXPECT_EQ(s.set("net.ipv4.tcp_mem", "10 20 30"), "");
  EXPECT_EQ(s.tcp_mem[2], 30);
  EXPECT_NE(s.set("net.ipv4.tcp_mem", "-1 20 30"), "") << "proc_doulongvec_minmax: no negatives";
  EXPECT_EQ(s.tcp_mem[0], 10);
  EXPECT_EQ(s.get("net.core.mem_pcpu_rsv"), "256");
  EXPECT_NE(s.set("net.core.mem_pcpu_rsv", "255"), "") << "SK_MEMORY_PCPU_RESERVE is the minimum";
  EXPECT_EQ(s.set("net.core.mem_pcpu_rsv", "1024"), "");
}

TEST(Sysctl, unknown_congestion_control_is_refused_as_linux_does) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.tcp_congestion_control", "no_such_cc"), "");
  EXPECT_EQ(s.tcp_congestion_control, "cubic");
  EXPECT_EQ(s.set("net.ipv4.tcp_congestion_control", "reno"), "");
}

// --- every knob is honoured, inert, or refused ("never silently ignore") --------------

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The field a name sets: its last component ("sendpath." knobs keep the prefix).
std::string field_of(const std::string& name) {
  const std::string leaf = name.substr(name.rfind('.') + 1);
  return name.rfind("sendpath.", 0) == 0 ? "sendpath_" + leaf : leaf;
}

// Knobs whose behaviour a test checks, and the test. A file under tests/ or
// a corpus script that conformance/expectations.txt lists as pass. The walk
// below checks the test exists and mentions the knob.
struct Exercised {
  const char* name;
  const char* file;  // relative to the source tree, or "corpus:<script>"
  const char* test;  // the test's name (for corpus scripts, the script)
};

const Exercised kExercised[] = {
    {"net.ipv4.tcp_wmem", "tests/unit/tcp_send/xmit_test.cpp",
     "send_buffer_grows_with_the_congestion_window"},
    {"net.ipv4.tcp_rmem", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.ipv4.tcp_mem", "tests/unit/tcp_recv/tcp_mem_test.cpp",
     "pressure_starts_past_pressure_is_refused_past_high_and_ends_under_low"},
    {"net.core.mem_pcpu_rsv", "tests/unit/tcp_recv/tcp_mem_test.cpp",
     "pages_reach_the_stack_counter_in_mem_pcpu_rsv_steps"},
    {"net.ipv4.tcp_timestamps", "tests/unit/tcp_recv/drop_reason_test.cpp",
     "old_timestamp_is_rejected_by_paws"},
    {"net.ipv4.tcp_notsent_lowat", "corpus:gtests/net/tcp/notsent_lowat/notsent-lowat-sysctl.pkt",
     ""},
    {"net.ipv4.tcp_limit_output_bytes", "tests/unit/tcp_send/xmit_test.cpp",
     "small_queues_stop_at_the_output_limit_and_resume_when_the_device_frees"},
    {"net.ipv4.tcp_tso_win_divisor", "corpus:gtests/net/tcp/slow_start/slow-start-ack-per-4pkt.pkt",
     ""},
    {"net.ipv4.tcp_min_tso_segs", "corpus:gtests/net/tcp/slow_start/slow-start-fq-ack-per-2pkt.pkt",
     ""},
    {"net.ipv4.tcp_pacing_ss_ratio",
     "corpus:gtests/net/tcp/slow_start/slow-start-fq-ack-per-2pkt.pkt", ""},
    {"net.ipv4.tcp_slow_start_after_idle",
     "corpus:gtests/net/tcp/slow_start/slow-start-after-win-update.pkt", ""},
    {"net.ipv4.tcp_congestion_control", "tests/unit/tcp_recv/sim_transfer_test.cpp",
     "tcp_congestion_control"},
    {"net.ipv4.tcp_early_retrans", "tests/unit/tcp_timers/frto_test.cpp",
     "timestamp_older_than_the_retransmission_undoes_the_rto"},
    {"net.ipv4.tcp_recovery", "tests/unit/trace/tracepoints_test.cpp",
     "lossy_transfer_events_agree_with_the_mib_counters"},
    {"net.ipv4.tcp_frto", "tests/unit/tcp_timers/frto_test.cpp",
     "without_frto_the_first_ack_retransmits_the_next_hole"},
    {"net.ipv4.tcp_syn_retries", "tests/unit/tcp_recv/handshake_test.cpp",
     "unanswered_syn_is_retried_then_connect_fails_with_etimedout"},
    {"net.ipv4.tcp_synack_retries", "tests/unit/tcp_recv/handshake_test.cpp",
     "synack_is_retransmitted_with_backoff_then_the_request_expires"},
    {"net.ipv4.tcp_syn_linear_timeouts", "tests/unit/tcp_timers/timers_test.cpp",
     "syn_retries_give_up_after_the_modelled_time_not_the_count"},
    {"net.ipv4.tcp_orphan_retries", "tests/unit/tcp_timers/timers_test.cpp",
     "an_orphan_gives_up_after_tcp_orphan_retries_backoffs"},
    {"net.ipv4.tcp_fin_timeout", "tests/unit/tcp_recv/lifecycle_test.cpp",
     "orphan_in_fin_wait2_is_closed_after_tcp_fin_timeout"},
    {"net.ipv4.tcp_keepalive_time", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.ipv4.tcp_keepalive_intvl", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.ipv4.tcp_keepalive_probes", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.ipv4.tcp_base_mss", "tests/unit/tcp_send/mtu_probe_test.cpp",
     "probing_starts_at_the_base_mss"},
    {"net.ipv4.tcp_mtu_probing", "tests/unit/tcp_send/mtu_probe_test.cpp",
     "timeouts_past_tcp_retries1_turn_probing_on_then_lower_the_search_floor"},
    {"net.ipv4.tcp_retries1", "tests/unit/tcp_send/mtu_probe_test.cpp",
     "timeouts_past_tcp_retries1_turn_probing_on_then_lower_the_search_floor"},
    {"net.ipv4.tcp_mtu_probe_floor", "tests/unit/tcp_send/mtu_probe_test.cpp",
     "timeouts_past_tcp_retries1_turn_probing_on_then_lower_the_search_floor"},
    {"net.ipv4.tcp_rfc1337", "tests/unit/tcp_recv/timer_test.cpp",
     "rst_in_time_wait_ends_it_early"},
    {"net.ipv4.tcp_invalid_ratelimit", "tests/unit/tcp_recv/drop_reason_test.cpp",
     "challenge_acks_are_rate_limited"},
    {"net.ipv4.tcp_challenge_ack_limit", "tests/e2e/rfc5961_test.cpp",
     "tcp_challenge_ack_limit_caps_challenge_acks_per_second_and_refills"},
    {"sendpath.tcp_lone_fin_ignores_cwnd", "tests/extra/conformance.cmake", "conformance"},
    {"net.ipv4.ip_default_ttl", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.core.wmem_default", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.core.rmem_default", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.core.wmem_max", "tests/unit/tcp_send/sendmsg_test.cpp",
     "so_sndbuf_is_clamped_by_wmem_max"},
    {"net.core.rmem_max", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.core.somaxconn", "tests/e2e/sockdiff_test.cpp", "sysctl"},
    {"net.core.optmem_max", "tests/unit/tcp_send/errqueue_test.cpp",
     "zerocopy_beyond_optmem_max_fails_with_enobufs"},
    {"net.ipv4.tcp_sack", "tests/unit/tcp_send/syn_options_test.cpp",
     "tcp_sack_zero_leaves_sack_out_of_the_syn_and_the_connection"},
    {"net.ipv4.tcp_window_scaling", "tests/unit/tcp_send/syn_options_test.cpp",
     "tcp_window_scaling_zero_leaves_the_scale_out_of_the_syn_and_the_connection"},
    {"net.ipv4.tcp_dsack", "tests/unit/tcp_send/syn_options_test.cpp",
     "tcp_dsack_zero_sends_the_duplicate_ack_without_it"},
    {"net.ipv4.tcp_retries2", "tests/unit/tcp_timers/timers_test.cpp",
     "tcp_retries2_gives_up_after_its_backoffs_with_etimedout"},
    {"net.ipv4.tcp_max_tw_buckets", "tests/unit/tcp_recv/timer_test.cpp",
     "tcp_max_tw_buckets_full_closes_without_time_wait"},
    {"net.ipv4.tcp_comp_sack_nr", "tests/unit/tcp_recv/ack_compress_test.cpp",
     "tcp_comp_sack_nr_zero_sends_every_out_of_order_ack"},
    {"net.ipv4.tcp_comp_sack_delay_ns", "tests/unit/tcp_recv/ack_compress_test.cpp",
     "timer_is_five_percent_of_the_rtt_when_that_is_shorter"},
    {"net.ipv4.tcp_syncookies", "tests/unit/tcp_recv/syncookie_test.cpp",
     "tcp_syncookies_one_sends_cookies_only_once_the_syn_queue_is_full"},
    {"net.ipv4.tcp_max_syn_backlog", "tests/unit/tcp_recv/syncookie_test.cpp",
     "tcp_max_syn_backlog_keeps_its_last_quarter_free_without_cookies"},
    {"net.ipv4.tcp_reordering", "tests/unit/tcp_send/sysctl_knobs_test.cpp",
     "tcp_reordering_is_the_new_sockets_reordering"},
    {"net.ipv4.tcp_rto_min_us", "tests/unit/tcp_send/sysctl_knobs_test.cpp",
     "tcp_rto_min_us_is_the_floor_of_the_rto"},
    {"net.ipv4.tcp_workaround_signed_windows", "tests/unit/tcp_send/sysctl_knobs_test.cpp",
     "tcp_workaround_signed_windows_caps_the_syn_window_at_32767"},
    {"net.ipv4.tcp_min_snd_mss", "tests/unit/tcp_send/sysctl_knobs_test.cpp",
     "tcp_min_snd_mss_is_the_smallest_segment_sent"},
    {"net.ipv4.tcp_app_win", "tests/unit/tcp_send/sysctl_knobs_test.cpp",
     "tcp_app_win_reserves_part_of_the_buffer_from_the_window"},
    {"net.ipv4.tcp_pacing_ca_ratio", "tests/unit/tcp_send/sysctl_knobs_test.cpp",
     "tcp_pacing_ca_ratio_scales_the_pacing_rate_in_congestion_avoidance"},
    {"net.ipv4.tcp_moderate_rcvbuf", "tests/e2e/sysctl_knobs_e2e_test.cpp",
     "tcp_moderate_rcvbuf_grows_the_receive_window_and_off_keeps_it"},
    {"net.ipv4.tcp_comp_sack_slack_ns", "tests/unit/tcp_recv/ack_compress_test.cpp",
     "tcp_comp_sack_slack_ns_is_added_to_the_timer"},
    {"net.ipv4.tcp_autocorking", "tests/unit/tcp_send/sysctl_knobs_test.cpp",
     "tcp_autocorking_holds_a_small_write_while_the_device_has_ours"},
    {"net.ipv4.tcp_max_reordering", "tests/e2e/sysctl_knobs_e2e_test.cpp",
     "tcp_max_reordering_caps_the_reordering_estimate"},
    {"net.ipv4.tcp_probe_threshold", "tests/unit/tcp_send/mtu_probe_test.cpp",
     "tcp_probe_threshold_wider_than_the_range_sends_no_probe"},
    {"net.ipv4.tcp_probe_interval", "tests/unit/tcp_send/mtu_probe_test.cpp",
     "tcp_probe_interval_restarts_a_converged_search_after_its_seconds"},
    {"net.ipv4.tcp_tso_rtt_log", "tests/unit/tcp_send/sysctl_knobs_test.cpp",
     "tcp_tso_rtt_log_sizes_tso_skbs_on_short_paths"},
};

template <typename T>
bool listed(const T& table, const std::string& name) {
  for (const auto& e : table) {
    if constexpr (std::is_same_v<std::decay_t<decltype(e)>, Exercised>) {
      if (name == e.name) return true;
    } else if (name == e) {
      return true;
    }
  }
  return false;
}

// Every source file of the stack except the table itself.
std::string stack_sources() {
  std::string all;
  const std::filesystem::path src = std::filesystem::path(SP_SOURCE_DIR) / "src";
  for (const auto& f : std::filesystem::recursive_directory_iterator(src)) {
    const auto ext = f.path().extension();
    const bool table = f.path().parent_path().filename() == "core" && f.path().stem() == "sysctl";
    if ((ext != ".cpp" && ext != ".hpp") || table) continue;
    all += slurp(f.path());
  }
  return all;
}

bool reads_field(const std::string& sources, const std::string& field) {
  const std::string needle = "." + field;
  for (std::size_t at = sources.find(needle); at != std::string::npos;
       at = sources.find(needle, at + 1)) {
    const std::size_t end = at + needle.size();
    if (end >= sources.size() ||
        !(std::isalnum(static_cast<unsigned char>(sources[end])) || sources[end] == '_'))
      return true;
  }
  return false;
}

// A value Linux accepts for this knob that sendpath refuses, if any.
std::optional<std::string> a_refused_value(const std::string& name) {
  for (const char* v : {"0", "1", "2", "3", "-1", "2147483647", "fq", "bbr"}) {
    Sysctl s;
    const std::string err = s.set(name, v);
    if (err.find("not implemented in sendpath") != std::string::npos) {
      EXPECT_EQ(err.rfind(name + "=", 0), 0u) << "the refusal names the knob: " << err;
      EXPECT_EQ(s.get(name), Sysctl().get(name)) << name << " changed by a refused value";
      return v;
    }
  }
  return std::nullopt;
}

TEST(Sysctl, every_knob_is_exercised_by_a_named_test_inert_or_refused) {
  const std::string sources = stack_sources();
  const std::string expectations =
      slurp(std::filesystem::path(SP_SOURCE_DIR) / "conformance/expectations.txt");
  std::set<std::string> names;
  for (const Sysctl::Limits& l : Sysctl::limits()) {
    names.insert(l.name);
    // A knob refusing some values (an unknown congestion control) may have
    // its accepted ones exercised by a test.
    const bool exercised = listed(kExercised, l.name);
    const int kinds = (!l.refused.empty() && !exercised) + !l.inert.empty() + exercised;
    EXPECT_EQ(kinds, 1) << l.name << " must be in exactly one category";
    if (!l.inert.empty()) continue;
    if (!l.refused.empty()) {
      // Its default is accepted, some value Linux takes is refused by name.
      Sysctl s;
      EXPECT_EQ(s.set(l.name, *s.get(l.name)), "") << l.name;
      EXPECT_TRUE(a_refused_value(l.name).has_value()) << l.name << " refuses nothing";
      continue;
    }
    // Honoured: the stack must read it somewhere.
    EXPECT_TRUE(reads_field(sources, field_of(l.name)))
        << l.name << " is accepted but nothing in src/ reads it: refuse it or implement it";
  }
  for (const Exercised& e : kExercised) {
    EXPECT_TRUE(names.count(e.name)) << e.name << " is not in the table";
    const std::string file = e.file;
    const std::string leaf =
        field_of(e.name).substr(field_of(e.name).rfind("sendpath_", 0) == 0 ? 9 : 0);
    if (file.rfind("corpus:", 0) == 0) {
      const std::string script = file.substr(7);
      EXPECT_NE(expectations.find(script + " pass"), std::string::npos)
          << e.name << ": " << script << " is not listed as pass";
      const std::filesystem::path p = std::filesystem::path(SP_CORPUS_DIR) / script;
      if (std::filesystem::exists(p)) {
        EXPECT_NE(slurp(p).find(leaf), std::string::npos) << script << " does not set " << e.name;
      }
      continue;
    }
    const std::string text = slurp(std::filesystem::path(SP_SOURCE_DIR) / file);
    EXPECT_FALSE(text.empty()) << file << " (for " << e.name << ") is missing";
    EXPECT_NE(text.find(e.test), std::string::npos) << file << " has no test " << e.test;
    EXPECT_NE(text.find(leaf), std::string::npos) << file << " never mentions " << e.name;
  }
}

TEST(Sysctl, refused_values_name_the_knob_and_keep_the_value) {
  Sysctl s;
  for (const char* name :
       {"net.ipv4.tcp_ecn", "net.ipv4.tcp_abort_on_overflow", "net.ipv4.tcp_shrink_window"}) {
    const std::string err = s.set(name, "1");
    EXPECT_EQ(err.rfind(std::string(name) + "=1: not implemented in sendpath", 0), 0u) << err;
    EXPECT_EQ(s.get(name), "0");
  }
  EXPECT_NE(s.set("net.ipv4.tcp_tw_reuse", "1"), "");
  EXPECT_EQ(s.set("net.ipv4.tcp_tw_reuse", "0"), "");
  EXPECT_NE(s.set("net.core.default_qdisc", "fq"), "");
  EXPECT_NE(s.set("net.ipv4.ip_no_pmtu_disc", "1"), "");
  EXPECT_EQ(s.set("net.ipv4.ip_no_pmtu_disc", "2"), "");
}

TEST(Sysctl, tcp_challenge_ack_limit_takes_any_int_as_proc_dointvec) {
  Sysctl s;
  EXPECT_EQ(s.get("net.ipv4.tcp_challenge_ack_limit"), "2147483647");
  EXPECT_EQ(s.set("net.ipv4.tcp_challenge_ack_limit", "1000"), "");
  EXPECT_EQ(s.tcp_challenge_ack_limit, 1000);
  EXPECT_EQ(s.set("net.ipv4.tcp_challenge_ack_limit", "-1"), "");
  EXPECT_EQ(s.tcp_challenge_ack_limit, -1);
}

TEST(Mib, names_match_linux_counter_names) {
  EXPECT_EQ(Mib::name(MibId::TcpExtTCPACKSkippedChallenge), "TcpExtTCPACKSkippedChallenge");
  EXPECT_EQ(Mib::name(MibId::TcpExtTCPACKSkippedTimeWait), "TcpExtTCPACKSkippedTimeWait");
  EXPECT_EQ(Mib::name(MibId::IpInReceives), "IpInReceives");
  EXPECT_EQ(Mib::name(MibId::TcpRetransSegs), "TcpRetransSegs");
  EXPECT_EQ(Mib::name(MibId::TcpExtTCPSackShiftFallback), "TcpExtTCPSackShiftFallback");
}

TEST(Mib, counters_start_at_zero_and_count) {
  Mib m;
  EXPECT_EQ(m.get(MibId::TcpOutSegs), 0u);
  m.inc(MibId::TcpOutSegs);
  m.inc(MibId::TcpOutSegs, 4);
  EXPECT_EQ(m.get(MibId::TcpOutSegs), 5u);
}

}  // namespace
}  // namespace sp
