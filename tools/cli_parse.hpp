// Parsing of the values the sendpath subcommands take on their command
// lines (sizes, link rates, durations), shared so every tool reads "64M" or
// "20ms" the same way. Each returns nullopt for a malformed or negative
// value.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace CLI {
class App;
}

namespace sp::tools {

// "256M", "1G", "64k", "1.5KiB", "1000": bytes, binary K/M/G suffixes
// (KiB/MiB/GiB and a trailing B also accepted).
std::optional<std::uint64_t> parse_size(const std::string& s);
// "1g", "100m", "10kb", "2mbps", "5000000": bits per second, decimal
// suffixes as link rates are quoted ("b" or "bps" may follow).
std::optional<std::uint64_t> parse_rate(const std::string& s);
// "20ms", "1.5s", "300us", "100ns"; a bare number is milliseconds.
std::optional<Nanos> parse_duration(const std::string& s);

// The kernel's clock every stack of the command runs with (core/jiffies.hpp):
// --hz (100, 250, 300, 1000; default 1000 as the packetdrill scripts
// expect) and --timer-wheel (timers fire on the tick Linux's timer wheel
// would run them on, instead of exactly `when` jiffies after arming).
struct ClockOptions {
  std::uint32_t hz = 1000;
  bool timer_wheel = false;
};
void add_clock_options(CLI::App& app, ClockOptions& o);
// Sets HZ before any stack exists; false (after a message) when refused.
bool apply_clock_options(const ClockOptions& o);

}  // namespace sp::tools
