// sendpath drill PATH... : run packetdrill scripts against sendpath, in
// process, on a virtual clock (conformance/). Reports pass / fail (script
// line, expected vs actual) / unsupported (the exact feature) per script.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cli_parse.hpp"
#include "command.hpp"
#include "core/stack.hpp"
#include "core/sysctl.hpp"
#include "report.hpp"
#include "runner.hpp"

namespace {

struct DrillArgs {
  std::vector<std::string> paths;
  bool json = false;
  bool verbose = false;
  std::string expect;
  bool in_process = false;
  std::vector<std::string> sysctls;  // NAME=VALUE, set on each script's stack first
  std::int64_t event_latency_us = sp::drill::kDefaultEventLatencyUs;
  sp::tools::ClockOptions clock;
};

int run_drill(const DrillArgs& a) {
  using namespace sp::drill;
  std::vector<std::string> missing;
  std::vector<ScriptEntry> scripts = collect_scripts(a.paths, &missing);
  for (const std::string& m : missing)
    std::fprintf(stderr, "drill: no such file or directory: %s\n", m.c_str());
  if (!missing.empty()) return 2;
  std::map<std::string, Expectation> exp;
  if (!a.expect.empty()) {
    std::string err;
    if (!load_expectations(a.expect, &exp, &err)) {
      std::fprintf(stderr, "drill: %s\n", err.c_str());
      return 2;
    }
  }
  // --sysctl values are the machine's configuration: set before the script
  // starts, so a script's own sysctl commands still override them. Checked
  // here once, so a misspelt name stops the run instead of every script.
  std::vector<std::pair<std::string, std::string>> sysctls;
  for (const std::string& kv : a.sysctls) {
    const std::size_t eq = kv.find('=');
    std::string err = eq == std::string::npos ? "expected NAME=VALUE" : "";
    if (err.empty()) {
      sp::Sysctl probe;
      err = probe.set(kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (!err.empty()) {
      std::fprintf(stderr, "drill: --sysctl %s: %s\n", kv.c_str(), err.c_str());
      return 2;
    }
    sysctls.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  RunnerConfig cfg;
  cfg.verbose = a.verbose;
  cfg.log = &std::cout;
  cfg.event_latency_us = a.event_latency_us;
  cfg.make_target = [base = sendpath_target_factory(), sysctls](sp::Stack& st) {
    for (const auto& [name, value] : sysctls) st.sysctl().set(name, value);
    return base(st);
  };
  std::vector<RunRecord> runs;
  auto t0 = std::chrono::steady_clock::now();
  for (const ScriptEntry& s : scripts) {
    if (a.verbose) std::cout << "=== " << s.key << "\n";
    RunRecord rec;
    if (a.in_process) {
      auto s0 = std::chrono::steady_clock::now();
      rec = RunRecord{s, run_script_file(s.path, cfg), 0};
      rec.wall_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0).count();
    } else {
      // Each script in its own process: a crash or hang of the stack fails
      // that script at the event it was running, not the whole run.
      rec = run_isolated(s, cfg);
    }
    if (!a.json) {
      const ScriptResult& r = rec.result;
      if (r.kind == ScriptResult::Kind::kPass) {
        std::printf("pass         %s%s%s\n", s.key.c_str(), r.reason.empty() ? "" : "  ",
                    r.reason.c_str());
      } else {
        std::printf("%-12s %s:%d: %s\n", ScriptResult::kind_name(r.kind), s.key.c_str(), r.line,
                    r.reason.c_str());
      }
      std::fflush(stdout);
    }
    runs.push_back(std::move(rec));
  }
  double total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  Summary sum = summarize(runs);
  if (a.json) {
    std::cout << to_json(runs) << "\n";
  } else {
    std::printf("total %d: %d passed, %d failed, %d unsupported (%.0f ms)\n", sum.total, sum.passed,
                sum.failed, sum.unsupported, total_ms);
  }
  if (a.expect.empty()) return sum.failed ? 1 : 0;
  Comparison c = compare(runs, exp);
  for (const std::string& i : c.improvements) std::fprintf(stderr, "improvement: %s\n", i.c_str());
  for (const std::string& s : c.stale) std::fprintf(stderr, "listed but not run: %s\n", s.c_str());
  for (const std::string& r : c.regressions) std::fprintf(stderr, "REGRESSION: %s\n", r.c_str());
  if (!c.regressions.empty()) {
    std::fprintf(stderr, "drill: %zu script(s) do not meet %s\n", c.regressions.size(),
                 a.expect.c_str());
    return 1;
  }
  std::fprintf(stderr, "drill: all %d scripts meet %s\n", sum.total, a.expect.c_str());
  return 0;
}

sp::tools::Command drill_cmd(
    "drill", "run packetdrill scripts against sendpath on a virtual clock",
    [](CLI::App& sub) -> sp::tools::Action {
      auto a = std::make_shared<DrillArgs>();
      sub.add_option("paths", a->paths, "scripts or directories (*.pkt, recursively)")->required();
      sub.add_flag("--json", a->json, "print a JSON summary");
      sub.add_flag("--verbose", a->verbose, "print every event as it runs");
      sub.add_flag("--in-process", a->in_process,
                   "run the scripts in this process (no crash isolation; for a debugger)");
      sub.add_option("--sysctl", a->sysctls,
                     "NAME=VALUE set on each script's stack before it runs (repeatable), "
                     "e.g. net.ipv4.tcp_syn_linear_timeouts=0 for an older kernel's SYN timeouts")
          ->allow_extra_args(false)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
      sub.add_option("--event-latency-us", a->event_latency_us,
                     "how long after its scripted time each inbound packet and system call "
                     "reaches the stack, as packetdrill on a real host (0: exactly at it)")
          ->check(CLI::Range(std::int64_t{0}, std::int64_t{1000000}))
          ->capture_default_str();
      sub.add_option("--expect", a->expect,
                     "expectations file: fail if a script listed as pass does not pass");
      sp::tools::add_clock_options(sub, a->clock);
      return [a] { return sp::tools::apply_clock_options(a->clock) ? run_drill(*a) : 2; };
    });

}  // namespace
