// The Linux reference of `sendpath bench`: iperf3 between two network
// namespaces over a veth pair, both made by the bench and deleted after it
// (also when the run fails). Root only.
#pragma once
#include <cstdint>
#include <string>

namespace sp::tools {

struct LinuxVethRun {
  std::string skipped;  // why it did not run (not root, iperf3 missing, ...)
  std::uint64_t bytes = 0;
  double seconds = 0;
  double host_cpu_pct = 0;     // iperf3 cpu_utilization_percent.host_total (sender)
  double remote_cpu_pct = 0;   // .remote_total (receiver)
  double ksoftirqd_cpu_s = 0;  // the ksoftirqd threads' CPU time over the run
  double cpu_s = 0;            // (host + remote) / 100 * seconds + ksoftirqd_cpu_s
  double system_cpu_s = 0;     // busy time of every CPU over the run (/proc/stat), all processes
  double bytes_per_cpu_s() const { return cpu_s > 0 ? static_cast<double>(bytes) / cpu_s : 0; }
};

// offloads: TSO, GSO and GRO as veth has them; false turns them off on both
// ends (ethtool -K). seconds: the iperf3 -t.
LinuxVethRun run_linux_veth(bool offloads, double seconds);

// Linux's connection set-up and tear-down and memory per socket: one
// thread moved into a namespace of its own (setns) connects `conns` sockets
// to a listener on that namespace's loopback, accepts them, then closes
// them all. Root only.
struct LinuxConnRun {
  std::string skipped;
  std::uint32_t conns = 0;  // fewer than asked when RLIMIT_NOFILE's hard limit says so
  double setup_cpu_s = 0;   // the thread's CPU (softirq work included) + ksoftirqd
  double teardown_cpu_s = 0;
  double bytes_per_socket = 0;  // growth of the TCP, sock_inode_cache, filp and dentry slabs
};
LinuxConnRun run_linux_conns(std::uint32_t conns);

// Figure 4, the tap path: sendpath (a stack on a tap with TSO and checksum
// offload, the vnet header) sends `bytes` to a Linux reader in a namespace
// the bench makes; the reader is a thread of this process moved there with
// setns. Much of Linux's receive work runs in the context of the thread
// that writes the tap (sendpath's), so the CPU compared is everything:
// sendpath's thread, the reader's thread and ksoftirqd.
struct TapRun {
  std::string skipped;
  std::uint64_t bytes = 0;  // read by the Linux side
  double wall_s = 0;        // first send() to the reader's end of stream
  double sender_cpu_s = 0;
  double reader_cpu_s = 0;  // less its pattern check
  double ksoftirqd_cpu_s = 0;
  bool pattern_ok = false;
  double cpu_s() const { return sender_cpu_s + reader_cpu_s + ksoftirqd_cpu_s; }
};
TapRun run_tap_path(std::uint64_t bytes);

}  // namespace sp::tools
