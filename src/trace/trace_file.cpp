#include "trace/trace_file.hpp"

#include <cerrno>
#include <cstring>

namespace sp::trace {

std::string TraceFile::open(const std::string& path, const std::string& events,
                            const std::string& format) {
  close();
  const bool text = format == "text";
  if (!text && !format.empty() && format != "json")
    return "unknown trace format '" + format + "' (json or text)";
  std::uint64_t mask = 0;
  std::string bad;
  if (!parse_event_list(events.empty() ? kDefaultTraceEvents : events, &mask, &bad))
    return "unknown trace event: " + bad;
  if (!mask) return "no trace events selected";
  if (path == "-") {
    f_ = stdout;
    own_ = false;
  } else {
    f_ = std::fopen(path.c_str(), "w");
    if (!f_) return path + ": " + std::strerror(errno);
    own_ = true;
  }
  if (text)
    text_ = std::make_unique<TextSink>(f_, mask);
  else
    sink_ = std::make_unique<JsonlSink>(f_, mask);
  return "";
}

void TraceFile::close() {
  if (sink_) {
    lines_ = sink_->lines();
    sink_.reset();  // detaches
  }
  if (text_) {
    lines_ = text_->lines();
    text_.reset();
  }
  if (f_) {
    if (own_)
      std::fclose(f_);
    else
      std::fflush(f_);
  }
  f_ = nullptr;
}

}  // namespace sp::trace
