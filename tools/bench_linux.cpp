// iperf3 over veth between two namespaces (bench_linux.hpp).
#include "bench_linux.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "harness/bench.hpp"
#include "realnet.hpp"
#include "sendpath/api.hpp"

namespace sp::tools {

namespace {

int sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  pclose(f);
  return out;
}

// The number after "key": at or after `from` in iperf3's JSON; -1 if absent.
double json_number(const std::string& js, const std::string& key, std::size_t from = 0) {
  const std::size_t k = js.find("\"" + key + "\"", from);
  if (k == std::string::npos) return -1;
  const std::size_t colon = js.find(':', k);
  if (colon == std::string::npos) return -1;
  return std::strtod(js.c_str() + colon + 1, nullptr);
}

// Busy time of all CPUs from the first line of /proc/stat, in seconds
// (user nice system irq softirq).
double busy_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  f >> cpu;
  std::uint64_t v[10] = {};
  for (auto& x : v) f >> x;
  return static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6]) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU time of the ksoftirqd threads, in seconds. Softirq work -- veth's
// receive side, much of the receiver's TCP -- runs either in the context of
// the process that raised it (and is charged to it: this kernel has tick
// accounting, no IRQ_TIME_ACCOUNTING) or in ksoftirqd, charged to no
// iperf3.
double ksoftirqd_seconds() {
  double total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream st(e.path() / "stat");
    std::string line;
    if (!std::getline(st, line) || line.find("(ksoftirqd/") == std::string::npos) continue;
    // Fields after the ")" : state is field 3; utime and stime are 14 and 15.
    std::istringstream in(line.substr(line.rfind(')') + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) in >> skip;
    std::uint64_t ut = 0, stime = 0;
    in >> ut >> stime;
    total += static_cast<double>(ut + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return total;
}

// The two namespaces and the veth between them; deleted on destruction.
class VethPair {
 public:
  VethPair() {
    const int id = static_cast<int>(getpid()) % 100000;
    a_ = fmt::format("spbench-a{}", id);
    b_ = fmt::format("spbench-b{}", id);
  }
  ~VethPair() {
    // Whatever iperf3 is left in them was started by this bench.
    for (const auto& ns : {a_, b_}) {
      sh(fmt::format("ip netns pids {} | xargs -r kill", ns));
      sh(fmt::format("timeout 10 ip netns del {}", ns));
    }
  }
  bool up(bool offloads) {
    const std::string cmds[] = {
        fmt::format("ip netns add {}", a_),
        fmt::format("ip netns add {}", b_),
        fmt::format("ip -n {} link add veth0 type veth peer name veth1 netns {}", a_, b_),
        fmt::format("ip -n {} addr add 10.251.0.1/24 dev veth0", a_),
        fmt::format("ip -n {} addr add 10.251.0.2/24 dev veth1", b_),
        fmt::format("ip -n {} link set lo up", a_),
        fmt::format("ip -n {} link set lo up", b_),
        fmt::format("ip -n {} link set veth0 up", a_),
        fmt::format("ip -n {} link set veth1 up", b_),
    };
    for (const auto& c : cmds)
      if (sh("timeout 10 " + c) != 0) return false;
    if (!offloads) {
      if (sh(fmt::format("timeout 10 ip netns exec {} ethtool -K veth0 tso off gso off gro off",
                         a_)) != 0 ||
          sh(fmt::format("timeout 10 ip netns exec {} ethtool -K veth1 tso off gso off gro off",
                         b_)) != 0)
        return false;
    }
    return true;
  }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }

 private:
  std::string a_, b_;
};

}  // namespace

LinuxVethRun run_linux_veth(bool offloads, double seconds) {
  LinuxVethRun r;
  if (geteuid() != 0) return r.skipped = "not root: no namespaces for the Linux reference", r;
  if (sh("command -v iperf3") != 0) return r.skipped = "iperf3 is not installed", r;
  VethPair ns;
  if (!ns.up(offloads)) return r.skipped = "could not set up the namespaces and veth pair", r;
  const int t = static_cast<int>(seconds < 1 ? 1 : seconds);
  // The server exits after one test (-1) and within its timeout in any case.
  if (sh(fmt::format(
          "timeout {} ip netns exec {} iperf3 -s -1 -B 10.251.0.2 -p 5201 >/dev/null 2>&1 &",
          t + 30, ns.b())) != 0)
    return r.skipped = "could not start the iperf3 server", r;
  bool listening = false;
  for (int i = 0; i < 50 && !listening; ++i) {
    listening = sh(fmt::format("ip netns exec {} ss -ltn | grep -q 10.251.0.2:5201", ns.b())) == 0;
    if (!listening) usleep(100 * 1000);
  }
  if (!listening) return r.skipped = "the iperf3 server did not listen", r;
  const double busy0 = busy_seconds(), ksoft0 = ksoftirqd_seconds();
  const std::string js = capture(
      fmt::format("timeout {} ip netns exec {} iperf3 -c 10.251.0.2 -p 5201 -t {} -J 2>/dev/null",
                  t + 20, ns.a(), t));
  r.system_cpu_s = busy_seconds() - busy0;
  r.ksoftirqd_cpu_s = ksoftirqd_seconds() - ksoft0;
  const std::size_t rx = js.find("\"sum_received\"");
  const std::size_t cpu = js.find("\"cpu_utilization_percent\"");
  if (rx == std::string::npos || cpu == std::string::npos)
    return r.skipped = "iperf3 gave no result", r;
  r.seconds = json_number(js, "seconds", rx);
  r.bytes = static_cast<std::uint64_t>(json_number(js, "bytes", rx));
  r.host_cpu_pct = json_number(js, "host_total", cpu);
  r.remote_cpu_pct = json_number(js, "remote_total", cpu);
  r.cpu_s = (r.host_cpu_pct + r.remote_cpu_pct) / 100.0 * r.seconds + r.ksoftirqd_cpu_s;
  return r;
}

namespace {

// Bytes in the slab caches one socket holds objects of (active objects x
// object size).
double socket_slab_bytes() {
  std::ifstream f("/proc/slabinfo");
  double sum = 0;
  for (std::string line; std::getline(f, line);) {
    std::istringstream in(line);
    std::string name;
    double active = 0, num = 0, objsize = 0;
    in >> name >> active >> num >> objsize;
    if (name == "TCP" || name == "sock_inode_cache" || name == "filp" || name == "dentry")
      sum += active * objsize;
  }
  return sum;
}

double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

LinuxConnRun run_linux_conns(std::uint32_t conns) {
  LinuxConnRun r;
  if (geteuid() != 0) return r.skipped = "not root: no namespace for the Linux reference", r;
  const std::string ns = fmt::format("spbench-c{}", static_cast<int>(getpid()) % 100000);
  struct Cleanup {
    std::string ns;
    ~Cleanup() { sh(fmt::format("timeout 10 ip netns del {}", ns)); }
  } cleanup{ns};
  if (sh(fmt::format("timeout 10 ip netns add {}", ns)) != 0 ||
      sh(fmt::format("timeout 10 ip -n {} link set lo up", ns)) != 0 ||
      sh(fmt::format("timeout 10 ip netns exec {} sysctl -w net.core.somaxconn={} "
                     "net.ipv4.tcp_max_syn_backlog={}",
                     ns, conns, conns)) != 0)
    return r.skipped = "could not set up the namespace", r;
  // Two descriptors per connection: as many as the hard limit allows.
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < 2 * static_cast<rlim_t>(conns) + 64)
    conns = static_cast<std::uint32_t>((nofile.rlim_max - 64) / 2);
  if (conns < 100) return r.skipped = "RLIMIT_NOFILE too low", r;
  rlimit more{std::min<rlim_t>(nofile.rlim_max, 2 * static_cast<rlim_t>(conns) + 64),
              nofile.rlim_max};
  if (nofile.rlim_cur < more.rlim_cur && setrlimit(RLIMIT_NOFILE, &more) != 0)
    return r.skipped = "could not raise RLIMIT_NOFILE", r;
  r.conns = conns;
  std::string err;
  // A net namespace is per thread: only this thread moves.
  std::thread t([&] {
    const int nsfd = open(fmt::format("/var/run/netns/{}", ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
      err = "setns failed";
      if (nsfd >= 0) ::close(nsfd);
      return;
    }
    ::close(nsfd);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(5001);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
        ::listen(lfd, static_cast<int>(conns)) != 0) {
      err = "listen failed";
      return;
    }
    std::vector<int> fds;
    fds.reserve(2 * conns);
    const double slab0 = socket_slab_bytes(), k0 = ksoftirqd_seconds(), c0 = thread_cpu();
    std::uint32_t accepted = 0;
    for (std::uint32_t i = 0; i < conns; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (fd < 0) break;
      ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
      fds.push_back(fd);
      for (int a; (a = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; ++accepted)
        fds.push_back(a);
    }
    for (int spin = 0; spin < 100000 && accepted < conns; ++spin)
      for (int a; (a = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; ++accepted)
        fds.push_back(a);
    const double c1 = thread_cpu(), k1 = ksoftirqd_seconds(), slab1 = socket_slab_bytes();
    for (int fd : fds) ::close(fd);
    const double c2 = thread_cpu(), k2 = ksoftirqd_seconds();
    ::close(lfd);
    if (accepted < conns) {
      err = fmt::format("only {} of {} connections accepted", accepted, conns);
      return;
    }
    r.setup_cpu_s = (c1 - c0) + (k1 - k0);
    r.teardown_cpu_s = (c2 - c1) + (k2 - k1);
    r.bytes_per_socket = (slab1 - slab0) / (2.0 * conns);
  });
  t.join();
  if (!err.empty()) r.skipped = err;
  return r;
}

TapRun run_tap_path(std::uint64_t bytes) {
  TapRun r;
  if (geteuid() != 0) return r.skipped = "not root: no namespace or tap for the tap path", r;
  const std::string ns = fmt::format("spbench-t{}", static_cast<int>(getpid()) % 100000);
  struct Cleanup {
    std::string ns;
    ~Cleanup() { sh(fmt::format("timeout 10 ip netns del {}", ns)); }
  } cleanup{ns};
  const std::string cmds[] = {
      fmt::format("ip netns add {}", ns),
      fmt::format("ip -n {} link set lo up", ns),
      fmt::format("ip netns exec {} ip tuntap add dev sptap0 mode tap vnet_hdr", ns),
      fmt::format("ip -n {} addr add 10.78.0.1/24 dev sptap0", ns),
      fmt::format("ip -n {} link set sptap0 up", ns),
  };
  for (const auto& c : cmds)
    if (sh("timeout 10 " + c) != 0) return r.skipped = "could not set up the namespace and tap", r;

  const bench::Pattern pat;
  std::atomic<int> ready{0};  // 1: listening, -1: failed
  std::string err;
  double reader_cpu = 0, check_cpu = 0, reader_done = 0;
  std::uint64_t got = 0;
  bool ok = false;
  std::thread reader([&] {
    const int nsfd = open(fmt::format("/var/run/netns/{}", ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
      err = "setns failed";
      ready = -1;
      return;
    }
    ::close(nsfd);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(5201);
    sin.sin_addr.s_addr = htonl(0x0a4e0001);  // 10.78.0.1
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
        ::listen(lfd, 1) != 0) {
      err = "listen failed";
      ready = -1;
      return;
    }
    timeval tv{30, 0};
    ::setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ready = 1;
    const int fd = ::accept(lfd, nullptr, nullptr);
    ::close(lfd);
    if (fd < 0) {
      err = "the Linux reader accepted nothing";
      return;
    }
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bench::RxChecker rx(pat);
    const double c0 = thread_cpu();
    for (;;) {
      const ssize_t n = ::recv(fd, rx.space(), std::min<std::size_t>(rx.room(), 256 * 1024), 0);
      if (n <= 0) break;
      rx.received(static_cast<std::size_t>(n));
      got += static_cast<std::uint64_t>(n);
    }
    reader_done = bench::wall_seconds();
    rx.flush();
    reader_cpu = thread_cpu() - c0;
    check_cpu = rx.check_cpu_s();
    ok = rx.ok();
    ::close(fd);
  });
  for (int i = 0; i < 500 && ready == 0; ++i) usleep(10 * 1000);
  if (ready != 1) {
    reader.join();
    return r.skipped = err.empty() ? "the Linux reader did not start" : err, r;
  }

  RealNetOptions o;
  o.dev = "sptap0";
  o.netns = ns;
  o.addr = "10.78.0.2/24";
  std::string send_err;
  double w0 = 0, c0 = 0, k0 = 0, c1 = 0;
  {
    RealNet net(o);
    if (!net.error().empty()) {
      send_err = net.error();
    } else {
      Stack& st = net.stack();
      const int fd = sp::socket(st, AF_INET, SOCK_STREAM, 0);
      timeval tv{30, 0};
      sp::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      sp::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(5201);
      sin.sin_addr.s_addr = htonl(0x0a4e0001);
      if (sp::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
        send_err = std::string("connect: ") + std::strerror(errno);
      } else {
        k0 = ksoftirqd_seconds();
        w0 = bench::wall_seconds();
        c0 = thread_cpu();
        std::uint64_t sent = 0;
        while (sent < bytes) {
          const std::size_t n = std::min<std::uint64_t>(64 * 1024, bytes - sent);
          const ssize_t k = sp::send(fd, pat.at(sent), n, 0);
          if (k <= 0) {
            send_err = std::string("send: ") + std::strerror(errno);
            break;
          }
          sent += static_cast<std::uint64_t>(k);
        }
        // Our FIN; the reader sees the end of the stream and closes.
        sp::shutdown(fd, SHUT_WR);
        char b[256];
        while (sp::recv(fd, b, sizeof b, 0) > 0) {
        }
        c1 = thread_cpu();
      }
      sp::close(fd);
    }
  }
  reader.join();
  if (!send_err.empty()) return r.skipped = "sendpath over the tap: " + send_err, r;
  if (!err.empty()) return r.skipped = err, r;
  r.bytes = got;
  r.wall_s = reader_done - w0;
  r.sender_cpu_s = c1 - c0;
  r.reader_cpu_s = reader_cpu - check_cpu;
  r.ksoftirqd_cpu_s = ksoftirqd_seconds() - k0;
  r.pattern_ok = ok;
  return r;
}

}  // namespace sp::tools
