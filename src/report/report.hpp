// The HTML report: one self-contained file (uPlot and the data inline)
// drawing, for each run, tcptrace's time-sequence graph from a capture and,
// with a trace, the sender's state (cwnd, RTT, rates, congestion state,
// what limited it), a summary and one skb's trip down the send chain.
// Several runs share one time axis, one below the other.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report/trace_input.hpp"

namespace sp::report {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct RunInput {
  std::string name;                // shown above the run's charts
  std::string pcap_path;           // "" without a capture
  std::optional<TraceData> trace;  // the sender's side, if traced
  KeyValues params;                // how the run was made (sim's options)
  KeyValues counters;              // what the run counted (sim's result)
  // More summary tables, titled: TCP_INFO at the end, nstat counters.
  std::vector<std::pair<std::string, KeyValues>> tables;
};

// Writes the report to out_path. Returns "" or what went wrong.
std::string write_report(const std::vector<RunInput>& runs, const std::string& out_path);

}  // namespace sp::report
