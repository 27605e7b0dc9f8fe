// Backtick commands: packetdrill runs them with /bin/sh; the runner never
// runs a shell. It understands the commands that configure TCP, the
// sysctls set by defaults.sh, `sysctl -q name=value`, and set_sysctls.py
// /proc/sys/... paths, and turns them into assignments to the stack's
// sysctl table; `tc qdisc` on the test device between a FIFO and a FIFO of
// length 0 changes how the script device treats transmits. Any other command makes the script
// unsupported, named exactly.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sp::drill {

struct SysctlAssignment {
  std::string name;            // "net.ipv4.tcp_wmem"
  std::string value;           // "4096 262144 4194304"
  bool from_defaults = false;  // set by defaults.sh: an unknown name is not fatal there
};

// What a command does to the script device (its root qdisc).
enum class DeviceAction {
  kQdiscFifo,     // unlimited FIFO: every packet leaves
  kQdiscDropAll,  // "pfifo limit 0": every packet is refused (local congestion)
  kQdiscFq,       // "fq": packets leave at their earliest departure time (pacing)
};

// `ip route change DST via GW dev tun0 [advmss N] [mtu [lock] N] [initcwnd N]`:
// the route to DST (host order; /32 unless DST has a /prefix) gets these
// metrics, every one not named reset to unset (Linux replaces the entry).
struct RouteChange {
  std::uint32_t dst = 0;
  int prefix_len = 32;
  std::uint32_t gateway = 0;
  std::uint32_t advmss = 0;
  std::uint32_t mtu = 0;
  bool mtu_lock = false;
  std::uint32_t initcwnd = 0;
};

struct CommandPlan {
  std::vector<SysctlAssignment> sysctls;
  std::vector<RouteChange> routes;         // in order
  bool offloads_off = false;               // `ethtool -K tun0 gso off tso off`
  std::vector<DeviceAction> device;        // in order
  std::vector<std::string> ignored;        // no-ops on a fresh stack, for --verbose
  std::optional<std::string> unsupported;  // the first command the runner cannot do
};

// `script_dir` resolves relative paths such as ../common/defaults.sh.
CommandPlan plan_command(std::string_view command, const std::string& script_dir);

}  // namespace sp::drill
