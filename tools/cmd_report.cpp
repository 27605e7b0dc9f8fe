// `sendpath report`: the HTML report of a capture (and the trace of its
// sender), or of several side by side on one time axis.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "report/report.hpp"

namespace {

using namespace sp::report;

struct Options {
  std::vector<std::string> pcaps;
  std::vector<std::string> traces;
  std::string out = "report.html";
  std::string stack;
};

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

int run(const Options& o) {
  const std::size_t n = std::max(o.pcaps.size(), o.traces.size());
  if (n == 0) {
    std::fprintf(stderr, "sendpath report: give a capture (pcap) or --trace FILE\n");
    return 2;
  }
  if (!o.pcaps.empty() && !o.traces.empty() && o.pcaps.size() != o.traces.size()) {
    std::fprintf(stderr, "sendpath report: give one --trace per capture (or none)\n");
    return 2;
  }
  std::vector<RunInput> runs;
  for (std::size_t i = 0; i < n; ++i) {
    RunInput r;
    if (i < o.pcaps.size()) r.pcap_path = o.pcaps[i];
    if (i < o.traces.size()) {
      TraceCollector tc(o.stack);
      if (auto err = tc.add_file(o.traces[i]); !err.empty()) {
        std::fprintf(stderr, "sendpath report: %s\n", err.c_str());
        return 1;
      }
      r.trace = tc.finish();
      r.params.emplace_back("trace", o.traces[i]);
    }
    r.name = !r.pcap_path.empty() ? base_name(r.pcap_path) : base_name(o.traces[i]);
    if (!r.pcap_path.empty()) r.params.insert(r.params.begin(), {"capture", r.pcap_path});
    runs.push_back(std::move(r));
  }
  if (auto err = write_report(runs, o.out); !err.empty()) {
    std::fprintf(stderr, "sendpath report: %s\n", err.c_str());
    return 1;
  }
  std::printf("sendpath report: wrote %s\n", o.out.c_str());
  return 0;
}

sp::tools::Command cmd(
    "report", "write a self-contained HTML report of captures and traces", [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_option("pcaps", o->pcaps, "captures (one run each, side by side)");
      sub.add_option("--trace", o->traces, "JSON-lines trace of the sender, one per capture");
      sub.add_option("-o,--output", o->out, "the HTML file to write")->capture_default_str();
      sub.add_option("--stack", o->stack, "only this stack's trace events (default: the sender's)");
      return [o] { return run(*o); };
    });

}  // namespace
