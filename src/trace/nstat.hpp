// A Stack's MIB counters as iproute2's nstat prints them (misc/nstat.c):
// "#kernel", then one "Name value rate" row per counter, with nstat's
// column layout. Absolute values are `nstat -a`; values since an earlier
// snapshot are what plain `nstat` shows from its history file.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/mib.hpp"

namespace sp {

struct NstatRow {
  std::string_view name;  // Linux's name, e.g. TcpExtTCPSackRecovery
  std::uint64_t value = 0;
  double rate = 0;  // per second
};

struct NstatOptions {
  bool zeros = false;     // -z: also the counters that are zero
  double interval_s = 0;  // > 0: rate = delta / interval (else 0.0, as nstat without its daemon)
};

// The rows nstat would print, in the order of Mib's list. `prev` null:
// absolute values (nstat -a); otherwise the increase since prev. Like nstat,
// skips the gauge TcpCurrEstab (its "useless_numbers") and, unless zeros,
// every row whose value and rate are zero.
std::vector<NstatRow> nstat_rows(const Mib& now, const Mib* prev, const NstatOptions& opt = {});

// "#kernel\n" then "%-32s%-16llu%6.1f\n" per row, as nstat.
std::string nstat_text(const std::vector<NstatRow>& rows);

// nstat -j: {"kernel":{"IpInReceives":123,...}} (no rates, as nstat).
std::string nstat_json(const std::vector<NstatRow>& rows);

}  // namespace sp
