// Parsing of the values the sendpath subcommands take on their command
// lines (sizes, link rates, durations), shared so every tool reads "64M" or
// "20ms" the same way. Each returns nullopt for a malformed or negative
// value.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace sp::tools {

// "256M", "1G", "64k", "1.5KiB", "1000": bytes, binary K/M/G suffixes
// (KiB/MiB/GiB and a trailing B also accepted).
std::optional<std::uint64_t> parse_size(const std::string& s);
// "1g", "100m", "10kb", "2mbps", "5000000": bits per second, decimal
// suffixes as link rates are quoted ("b" or "bps" may follow).
std::optional<std::uint64_t> parse_rate(const std::string& s);
// "20ms", "1.5s", "300us", "100ns"; a bare number is milliseconds.
std::optional<Nanos> parse_duration(const std::string& s);

}  // namespace sp::tools
