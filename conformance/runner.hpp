// The packetdrill runner: executes one parsed script against one sendpath
// Stack on a VirtualClock, with a ScriptDevice as the wire, and reports
// pass, fail (the script line, what was expected and what the stack did, in
// packetdrill's words) or unsupported (the exact feature the runner or the
// script's environment cannot provide).
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include "script.hpp"
#include "target.hpp"

namespace sp {
class Stack;
}

namespace sp::drill {

struct ScriptResult {
  enum class Kind { kPass, kFail, kUnsupported };
  Kind kind = Kind::kPass;
  int line = 0;                     // the script line of the failure or unsupported feature
  std::string reason;               // one line; empty for a plain pass
  bool failed_as_declared = false;  // a "// Failure:" script that failed as it says
  double virtual_secs = 0;          // script time reached
  static const char* kind_name(Kind k) {
    return k == Kind::kPass ? "pass" : k == Kind::kFail ? "fail" : "unsupported";
  }
};

using TargetFactory = std::function<std::unique_ptr<Target>(Stack&)>;

// The host's event latency, in microseconds (docs/linux-differences.md, "Event
// latency"). packetdrill sleeps until an event's time and only then acts, so
// on a real host the kernel sees every inbound packet and system call a few
// microseconds after its scripted time, and packetdrill's own clock, from
// which the next relative time counts, has moved on by as much after each
// event, outbound packets included. 5 us: on this host a tun write reaches
// the receive path 3-8 us after packetdrill's clock read, a system call
// about 1.5 us, and reading a packet that has left takes 3.5-4 us
// (scripts/measure-event-latency).
constexpr std::int64_t kDefaultEventLatencyUs = 5;

struct RunnerConfig {
  bool verbose = false;
  std::ostream* log = nullptr;  // where --verbose prints events
  TargetFactory make_target;    // the system under test (default: sendpath's API)
  // Progress hooks for the isolated runner: the line of each event as it
  // starts, and the outcome before the stack is torn down.
  std::function<void(int line)> on_event;
  std::function<void(const ScriptResult&)> on_result;
  // Every inbound packet, system call, command and %{ }% block reaches the
  // stack this long after its scripted time (0: exactly at it, the pure
  // virtual clock), and every event, outbound packets included, moves the
  // runner's clock for the next relative time on by as much.
  std::int64_t event_latency_us = kDefaultEventLatencyUs;
};

// The default factory: the sendpath socket API on the given stack.
TargetFactory sendpath_target_factory();

ScriptResult run_script(const Script& script, const RunnerConfig& cfg);
// Parses and runs a file; a parse error is a failure at its line.
ScriptResult run_script_file(const std::string& path, const RunnerConfig& cfg);

}  // namespace sp::drill
