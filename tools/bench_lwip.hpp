// lwIP 2.1.3 (Debian's liblwip) in the bench's in-memory two-stack harness:
// the reference of figure e2e_vs_lwip. Built when pkg-config finds lwip.
#pragma once
#include <cstdint>
#include <string>

namespace sp::tools {

struct LwipRun {
  std::string skipped;  // why there is no figure
  std::string note;     // the configuration measured
  std::uint64_t bytes = 0;
  double cpu_s = 0;
  double verify_s = 0;  // the pattern check, not in cpu_s
  bool pattern_ok = false;
  std::uint64_t idle_waits = 0;  // sleeps until a timer (nothing to send or deliver)
  double wall_s = 0;
  std::string error;  // always empty: a failed lwIP run is `skipped`
  std::string skipped_reason() const { return skipped; }
  double bytes_per_cpu_s() const { return cpu_s > 0 ? static_cast<double>(bytes) / cpu_s : 0; }
};

LwipRun run_lwip(std::uint64_t bytes);

}  // namespace sp::tools
