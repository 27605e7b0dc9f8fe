// The interop lab: a private network namespace holding Linux's stack, joined
// to sendpath by a tap device.
//
// Design: the test process opens the tap in its own namespace (so the fd and
// sendpath's Stack stay here), then moves the tap's kernel end into a fresh
// namespace and addresses it there. Linux's side of every test (ping, a TCP
// server or client on kernel sockets) runs in a forked child that joins that
// namespace with setns(), so all traffic stays on the private link
// 10.77.0.1 (Linux) <-> 10.77.0.2 (sendpath). Every resource is owned by an
// RAII guard: the child is killed and reaped, the namespace deleted (which
// removes the tap's kernel end), even when an assertion fails half-way.
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/stack.hpp"
#include "dev/realtime_loop.hpp"
#include "dev/tap.hpp"
#include "ip/arp.hpp"

namespace sp::interop {

constexpr const char* kLinuxIp = "10.77.0.1";
constexpr const char* kSendpathIp = "10.77.0.2";

// nullptr when the lab can run here, else why not (for GTEST_SKIP).
inline const char* lab_unavailable() {
  if (::geteuid() != 0) return "interop tests need root (network namespaces, /dev/net/tun)";
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) return "/dev/net/tun is not available";
  if (std::system("ip -V >/dev/null 2>&1") != 0) return "iproute2 (`ip`) is not installed";
  return nullptr;
}

inline bool have_tshark() {
  return std::system("tshark -v >/dev/null 2>&1") == 0;
}

// Runs a shell command, bounded in time; true on exit status 0.
inline bool sh(const std::string& cmd, int timeout_s = 20) {
  const std::string full = "timeout " + std::to_string(timeout_s) + " " + cmd + " >/dev/null 2>&1";
  return std::system(full.c_str()) == 0;
}

inline std::string unique_suffix() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid() % 100000) + "x" + std::to_string(n++);
}

// A named network namespace, deleted on destruction.
class Netns {
 public:
  Netns() : name_("spi" + unique_suffix()) { ok_ = sh("ip netns add " + name_); }
  ~Netns() {
    if (ok_) sh("ip netns del " + name_);
  }
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  // Runs cmd inside the namespace.
  bool exec(const std::string& cmd, int timeout_s = 20) const {
    return sh("ip netns exec " + name_ + " " + cmd, timeout_s);
  }

 private:
  std::string name_;
  bool ok_ = false;
};

// A forked child running fn inside a namespace; its exit status is fn's
// return value. Killed and reaped on destruction if still running.
class NetnsChild {
 public:
  NetnsChild(const std::string& netns, std::function<int()> fn) {
    // Flush before forking: a stdio buffer copied into the child (the pcap
    // writer's, gtest's) must not be written twice.
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string path = "/var/run/netns/" + netns;
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(120);
      ::close(fd);
      const int rc = fn();
      std::fflush(stdout);
      std::fflush(stderr);
      ::_exit(rc);
    }
    if (pid_ > 0) pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  }
  // Readable when the child exits: lets an event loop wake on it.
  int pidfd() const { return pidfd_; }
  ~NetnsChild() {
    if (pidfd_ >= 0) ::close(pidfd_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  NetnsChild(const NetnsChild&) = delete;
  NetnsChild& operator=(const NetnsChild&) = delete;
  bool started() const { return pid_ > 0; }
  // SIGKILL now and reap: the child's sockets close with it.
  void kill() {
    if (pid_ <= 0 || reaped_) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::wait4(pid_, &st, 0, &ru_);
    reaped_ = true;
    status_ = 128 + SIGKILL;
  }
  // Has it exited? (non-blocking)
  bool done() {
    if (reaped_) return true;
    int st = 0;
    if (::wait4(pid_, &st, WNOHANG, &ru_) == pid_) {
      reaped_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    return reaped_;
  }
  int status() const { return status_; }
  // CPU time (user + system) of the exited child.
  double cpu_seconds() const {
    return static_cast<double>(ru_.ru_utime.tv_sec + ru_.ru_stime.tv_sec) +
           static_cast<double>(ru_.ru_utime.tv_usec + ru_.ru_stime.tv_usec) / 1e6;
  }

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  int status_ = -1;
  rusage ru_{};
};

inline be32 inet(const char* s) {
  in_addr a{};
  ::inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

struct LabOptions {
  bool tso = true;
  bool csum = true;
  std::string pcap;  // "" = no capture
  bool tun = false;  // an L3 tun device (raw IPv4, no ARP) instead of a tap
  // Wraps the device before the stack gets it (a FaultDevice, say).
  std::function<std::unique_ptr<NetDevice>(std::unique_ptr<NetDevice>)> wrap;
};

// A sendpath Stack on a tap whose kernel end lives in `ns`, addressed
// 10.77.0.1/24 there and 10.77.0.2/24 here, ARP announced.
class TapLab {
 public:
  explicit TapLab(const LabOptions& o = {}) : stack_(clock_), loop_(stack_) {
    if (!ns_.ok()) {
      error_ = "ip netns add failed";
      return;
    }
    TunConfig cfg;
    cfg.name = "spt" + unique_suffix();
    cfg.tso = o.tso;
    cfg.csum = o.csum;
    std::string err;
    std::unique_ptr<TunFdDevice> dev;
    if (o.tun) {
      dev = TunDevice::open(cfg, &err);
    } else {
      dev = TapDevice::open(cfg, &err);
    }
    if (!dev) {
      error_ = err;
      return;
    }
    tap_ = dev.get();
    tapname_ = dev->name;
    if (!o.pcap.empty()) {
      error_ = dev->open_pcap(o.pcap);
      if (!error_.empty()) return;
    }
    std::unique_ptr<NetDevice> top = std::move(dev);
    if (o.wrap) top = o.wrap(std::move(top));
    ifindex_ = stack_.register_netdev(std::move(top));
    // The kernel end moves into the lab; our fd stays with us.
    if (!sh("ip link set dev " + tapname_ + " netns " + ns_.name()) ||
        !ns_.exec("ip addr add " + std::string(kLinuxIp) + "/24 dev " + tapname_) ||
        // No IPv6 chatter (router solicitations, MLD) on the lab link.
        !ns_.exec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                  "net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf." +
                  tapname_ + ".disable_ipv6=1") ||
        !ns_.exec("ip link set dev " + tapname_ + " up") || !ns_.exec("ip link set dev lo up")) {
      error_ = "configuring the namespace failed";
      return;
    }
    stack_.add_address(ifindex_, inet(kSendpathIp), 24);
    loop_.install_wait_driver();
    if (!o.tun) arp_announce(stack_, ifindex_);
  }
  ~TapLab() {
    if (tap_) tap_->close_pcap();
  }
  TapLab(const TapLab&) = delete;
  TapLab& operator=(const TapLab&) = delete;

  const std::string& error() const { return error_; }
  Stack& stack() { return stack_; }
  RealtimeLoop& loop() { return loop_; }
  TunFdDevice& tap() { return *tap_; }
  Netns& ns() { return ns_; }
  const std::string& tapname() const { return tapname_; }
  // Flush the capture so a reader sees every frame.
  void close_pcap() { tap_->close_pcap(); }

  // Runs the stack until the child exits or the deadline (seconds) passes.
  bool run_until_child_exits(NetnsChild& c, double seconds) {
    const Nanos deadline = clock_.now_ns() + static_cast<Nanos>(seconds * 1e9);
    if (c.pidfd() >= 0) loop_.watch_fd(c.pidfd(), [] {});
    const bool ok = loop_.run_until([&] { return c.done(); }, deadline);
    if (c.pidfd() >= 0) loop_.unwatch_fd(c.pidfd());
    return ok;
  }

 private:
  MonotonicClock clock_;
  Netns ns_;
  Stack stack_;
  RealtimeLoop loop_;
  TunFdDevice* tap_ = nullptr;
  int ifindex_ = 0;
  std::string tapname_;
  std::string error_;
};

// What tshark says about a capture.
struct TsharkReport {
  bool ran = false;
  long frames = 0, malformed = 0, bad_ip_csum = 0, bad_tcp_csum = 0, bad_icmp_csum = 0;
  long retrans = 0, out_of_order = 0, zero_window = 0, fin = 0, rst = 0;
  // The first malformed frames: number, length and tshark's expert message,
  // so a failure says what was wrong without rerunning.
  std::vector<std::string> malformed_frames;
  std::string summary() const {
    return "frames=" + std::to_string(frames) + " malformed=" + std::to_string(malformed) +
           " bad_ip_csum=" + std::to_string(bad_ip_csum) +
           " bad_tcp_csum=" + std::to_string(bad_tcp_csum) +
           " bad_icmp_csum=" + std::to_string(bad_icmp_csum) +
           " retransmission=" + std::to_string(retrans) +
           " out_of_order=" + std::to_string(out_of_order) +
           " zero_window=" + std::to_string(zero_window);
  }
};

// One pass of tshark with checksum validation on, counting per-frame flags.
inline TsharkReport tshark_check(const std::string& pcap) {
  TsharkReport r;
  const std::string cmd =
      "timeout 300 tshark -n -r " + pcap +
      " -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE"
      // Sequence analysis stays on; reassembling 256 MiB streams would only
      // cost minutes and memory.
      " -o tcp.desegment_tcp_streams:FALSE"
      // The payload is opaque bytes: decode every port's as data. Otherwise
      // tshark's heuristic dissectors (TLS, Thrift, TDS...) take a random
      // segment for their protocol and report it malformed ("Session ID
      // length (36401) must be less than 16"), a flake that says nothing
      // about the IP or TCP headers this check is for.
      " -d tcp.port==1-65535,data"
      " -T fields -E separator=/t -E occurrence=a"
      " -e frame.number -e _ws.malformed -e ip.checksum.status -e tcp.checksum.status"
      " -e icmp.checksum.status -e tcp.analysis.retransmission -e tcp.analysis.out_of_order"
      " -e tcp.analysis.zero_window -e tcp.flags.fin -e tcp.flags.reset"
      " -e frame.len -e _ws.expert.message 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char line[4096];
  while (std::fgets(line, sizeof(line), p)) {
    std::array<std::string, 12> f;
    std::size_t i = 0;
    for (char* c = line; *c && *c != '\n'; ++c) {
      if (*c == '\t') {
        if (++i >= f.size()) break;
      } else {
        f[i] += *c;
      }
    }
    r.frames++;
    // Status fields: 0 bad, 1 good, 2 unverified; several values when a
    // frame holds an ICMP error quoting another header.
    auto bad = [](const std::string& s) { return s.rfind("0", 0) == 0; };
    if (!f[1].empty()) {
      r.malformed++;
      if (r.malformed_frames.size() < 8)
        r.malformed_frames.push_back("frame " + f[0] + " (" + f[10] + " bytes): " + f[11]);
    }
    if (bad(f[2])) r.bad_ip_csum++;
    if (bad(f[3])) r.bad_tcp_csum++;
    if (bad(f[4])) r.bad_icmp_csum++;
    if (!f[5].empty()) r.retrans++;
    if (!f[6].empty()) r.out_of_order++;
    if (!f[7].empty()) r.zero_window++;
    if (f[8] == "1" || f[8] == "True") r.fin++;
    if (f[9] == "1" || f[9] == "True") r.rst++;
  }
  r.ran = ::pclose(p) == 0;
  return r;
}

}  // namespace sp::interop
