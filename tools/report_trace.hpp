// The trace a report needs, recorded in the same process: `sim --report`
// and `send --report` attach this sink for the run, and it hands every
// event it listens to, as the JSON line the trace file would hold, to the
// report's TraceCollector (one reader for files and runs alike). The
// per-skb send-chain events are only read until one segment's trip down the
// chain has been seen.
#pragma once
#include <memory>
#include <string>

#include "report/trace_input.hpp"
#include "trace/sinks.hpp"

namespace sp::tools {

class ReportTrace {
 public:
  // stack: only that stack's events ("client": the sender in sim and send).
  explicit ReportTrace(std::string stack);
  ~ReportTrace();
  ReportTrace(const ReportTrace&) = delete;
  ReportTrace& operator=(const ReportTrace&) = delete;

  // Detaches and returns what the report draws.
  report::TraceData finish();

 private:
  void event(const trace::AnyEvent& e);

  std::string stack_;
  report::TraceCollector collector_;
  report::TraceEvent ev_;
  std::string line_, scratch_;
  std::unique_ptr<trace::CallbackSink> sink_;
};

}  // namespace sp::tools
