#include "cli_parse.hpp"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "core/jiffies.hpp"

namespace sp::tools {

namespace {

// A number followed by a unit suffix: "1.5G" -> {1.5, "G"}. nullopt when
// there is no number or it is negative.
struct Quantity {
  double value;
  std::string suffix;
};

std::optional<Quantity> split_quantity(const std::string& s) {
  if (s.empty()) return std::nullopt;
  std::size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (...) {
    return std::nullopt;
  }
  if (v < 0) return std::nullopt;
  return Quantity{v, s.substr(pos)};
}

}  // namespace

std::optional<std::uint64_t> parse_size(const std::string& s) {
  auto q = split_quantity(s);
  if (!q) return std::nullopt;
  const std::string& suf = q->suffix;
  double mul = 1;
  if (suf == "k" || suf == "K" || suf == "KiB")
    mul = 1024.0;
  else if (suf == "m" || suf == "M" || suf == "MiB")
    mul = 1024.0 * 1024;
  else if (suf == "g" || suf == "G" || suf == "GiB")
    mul = 1024.0 * 1024 * 1024;
  else if (!suf.empty() && suf != "B")
    return std::nullopt;
  return static_cast<std::uint64_t>(q->value * mul);
}

std::optional<std::uint64_t> parse_rate(const std::string& s) {
  auto q = split_quantity(s);
  if (!q) return std::nullopt;
  std::string suf = q->suffix;
  if (suf.size() > 3 && std::string_view(suf).substr(suf.size() - 3) == "bps")
    suf.resize(suf.size() - 3);
  if (!suf.empty() && suf.back() == 'b') suf.pop_back();
  double mul = 1;
  if (suf == "k" || suf == "K")
    mul = 1e3;
  else if (suf == "m" || suf == "M")
    mul = 1e6;
  else if (suf == "g" || suf == "G")
    mul = 1e9;
  else if (!suf.empty())
    return std::nullopt;
  return static_cast<std::uint64_t>(q->value * mul);
}

std::optional<Nanos> parse_duration(const std::string& s) {
  auto q = split_quantity(s);
  if (!q) return std::nullopt;
  const std::string& suf = q->suffix;
  double mul = 1e6;
  if (suf == "s")
    mul = 1e9;
  else if (suf == "ms" || suf.empty())
    mul = 1e6;
  else if (suf == "us")
    mul = 1e3;
  else if (suf == "ns")
    mul = 1;
  else
    return std::nullopt;
  return static_cast<Nanos>(std::llround(q->value * mul));
}

void add_clock_options(CLI::App& app, ClockOptions& o) {
  app.add_option("--hz", o.hz, "the kernel's HZ the stack models: 100, 250, 300 or 1000")
      ->check(CLI::IsMember({100, 250, 300, 1000}))
      ->capture_default_str();
  app.add_flag("--timer-wheel", o.timer_wheel,
               "fire timers on the tick Linux's timer wheel runs them (level granularity)");
}

bool apply_clock_options(const ClockOptions& o) {
  std::string err;
  if (!set_hz(o.hz, o.timer_wheel, &err)) {
    std::fprintf(stderr, "sendpath: --hz %u: %s\n", o.hz, err.c_str());
    return false;
  }
  return true;
}

}  // namespace sp::tools
