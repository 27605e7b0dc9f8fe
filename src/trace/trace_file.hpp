// A JSON-lines trace written to a file for the length of a run: what
// `sendpath sim|send|serve --trace FILE [--trace-events LIST]` opens.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "trace/sinks.hpp"

namespace sp::trace {

// The events --trace writes unless --trace-events says otherwise: Linux's
// systems (tcp, sock, skb, net) and the two send-path events a long run can
// afford; the per-skb steps of the send chain need `--trace-events all`.
inline constexpr const char* kDefaultTraceEvents =
    "tcp,sock,skb,net,sendpath:tcp_write_xmit,sendpath:tcp_recovery_event";

class TraceFile {
 public:
  TraceFile() = default;
  ~TraceFile() { close(); }
  TraceFile(const TraceFile&) = delete;
  TraceFile& operator=(const TraceFile&) = delete;

  // Opens path ("-" is stdout) and attaches a sink for `events` (a list as
  // parse_event_list takes it; empty: kDefaultTraceEvents): JSON lines for
  // format "json" (or empty), ftrace-like text lines for "text". Returns an
  // error message, or "" once the sink listens.
  std::string open(const std::string& path, const std::string& events,
                   const std::string& format = "json");
  // Detaches the sink and closes the file.
  void close();
  std::uint64_t lines() const { return sink_ ? sink_->lines() : text_ ? text_->lines() : lines_; }

 private:
  std::FILE* f_ = nullptr;
  bool own_ = false;
  std::unique_ptr<JsonlSink> sink_;
  std::unique_ptr<TextSink> text_;
  std::uint64_t lines_ = 0;
};

}  // namespace sp::trace
