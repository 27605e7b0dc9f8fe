// Trace sinks: where events go once a call site fires.
//   TextSink     ftrace-like lines:  client 0.020123456: tcp:tcp_probe: saddr=10.0.0.1 ...
//   JsonlSink    JSON lines, one flat object per event (schema: trace.hpp, docs/trace.md)
//   Recorder     keeps the typed events in memory (tests, `sendpath trace`, the report)
// Each attaches itself for its mask on construction and detaches when destroyed.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "trace/trace.hpp"

namespace sp::trace {

// Attaches on construction, detaches on destruction.
class ScopedSink : public Sink {
 public:
  explicit ScopedSink(std::uint64_t mask) : mask_(mask) { attach(this, mask); }
  ~ScopedSink() override { detach(this); }
  ScopedSink(const ScopedSink&) = delete;
  ScopedSink& operator=(const ScopedSink&) = delete;
  std::uint64_t mask() const { return mask_; }

 private:
  std::uint64_t mask_;
};

// One event as a text line (no newline): "stack t.sssssssss: sys:name: k=v k=v".
std::string format_text(const AnyEvent& e);
// One event as a JSON object (no newline).
std::string format_json(const AnyEvent& e);

class TextSink final : public ScopedSink {
 public:
  TextSink(std::FILE* out, std::uint64_t mask) : ScopedSink(mask), out_(out) {}
  void event(const AnyEvent& e) override;
  std::uint64_t lines() const { return lines_; }

 private:
  std::FILE* out_;
  std::uint64_t lines_ = 0;
};

class JsonlSink final : public ScopedSink {
 public:
  JsonlSink(std::FILE* out, std::uint64_t mask) : ScopedSink(mask), out_(out) {}
  void event(const AnyEvent& e) override;
  std::uint64_t lines() const { return lines_; }

 private:
  std::FILE* out_;
  std::uint64_t lines_ = 0;
};

class Recorder final : public ScopedSink {
 public:
  explicit Recorder(std::uint64_t mask) : ScopedSink(mask) {}
  void event(const AnyEvent& e) override { events_.push_back(e); }
  const std::vector<AnyEvent>& events() const { return events_; }
  std::vector<AnyEvent>& events() { return events_; }
  void clear() { events_.clear(); }

  // The recorded events of type T (in order), optionally only those with id.
  template <class T>
  std::vector<T> of(Ev id) const {
    std::vector<T> out;
    for (const auto& e : events_) {
      if (const T* t = std::get_if<T>(&e); t && t->id == id) out.push_back(*t);
    }
    return out;
  }
  std::size_t count(Ev id) const;

 private:
  std::vector<AnyEvent> events_;
};

// A sink that calls a function (tests, the report's streaming recorder).
class CallbackSink final : public ScopedSink {
 public:
  CallbackSink(std::uint64_t mask, std::function<void(const AnyEvent&)> fn)
      : ScopedSink(mask), fn_(std::move(fn)) {}
  void event(const AnyEvent& e) override { fn_(e); }

 private:
  std::function<void(const AnyEvent&)> fn_;
};

}  // namespace sp::trace
