// libsendpath-preload.so: runs an unmodified program with its TCP/IPv4
// sockets on a sendpath stack (LD_PRELOAD). Everything else (UDP, AF_UNIX,
// files, pipes, IPv6) stays on the kernel.
//
//   LD_PRELOAD=libsendpath-preload.so SENDPATH_DEV=sptap0 SENDPATH_NETNS=splab
//     SENDPATH_ADDR=10.77.0.2/24 iperf3 -c 10.77.0.1
//
// Environment (read at the first TCP socket):
//   SENDPATH_DEV     tap (or tun) interface, created when missing (required)
//   SENDPATH_ADDR    the stack's address and prefix, e.g. 10.77.0.2/24 (required)
//   SENDPATH_NETNS   open the device inside this network namespace
//   SENDPATH_GW      default route through this gateway
//   SENDPATH_TUN=1   a tun device (raw IPv4) instead of a tap
//   SENDPATH_MAC, SENDPATH_MTU, SENDPATH_PCAP=<file>, SENDPATH_UP=1
//   SENDPATH_TSO=0, SENDPATH_CSUM=0   no segmentation / checksum offload
//   SENDPATH_SYSCTL  "net.ipv4.tcp_congestion_control=reno;net.ipv4.tcp_wmem=..."
//   SENDPATH_HZ      the kernel HZ the stack models: 100, 250, 300, 1000 (default)
//   SENDPATH_TIMER_WHEEL=1  timers fire on the tick Linux's timer wheel runs them
//   SENDPATH_LINGER  seconds exit may wait for sockets to deliver (default 60)
//   SENDPATH_TRACE=<file>  trace events as JSON lines (SENDPATH_TRACE_EVENTS: which)
//   SENDPATH_NSTAT   at exit, write the stack's counters to this file as
//                    `nstat -a` prints them (`nstat -j` when it ends in .json)
//
// Design.
// - Descriptors. A sendpath socket is a kernel eventfd as far as the program
//   can see: the descriptor number is the eventfd's, so it is unique in the
//   process, dup(2) and close(2) work on it, and it fits in select/poll/epoll
//   sets next to kernel descriptors. FdMap says which descriptors are
//   sendpath's; every intercepted call on one goes to the stack.
// - Readiness. The eventfd is readable exactly when the socket has an event
//   someone waits for: the union of the events of its epoll registrations
//   and of the calls blocked on it, plus errors and hang-up. The socket's
//   wait queue (the one epoll hooks inside sendpath) runs the shim's entry on
//   every wake-up, which sets or clears the eventfd as the socket's poll mask
//   changes (a write(2) or read(2) on the eventfd only on a change, and on
//   every wake-up while an edge-triggered registration watches it). So a
//   kernel poll, select or epoll over a mix of descriptors sleeps until
//   either kind is ready; the shim then reports the socket's own mask.
// - epoll. The program's epoll instances are the kernel's. A sendpath socket
//   is registered in them through its eventfd with the program's flags
//   (EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE, EPOLLWAKEUP: the kernel applies
//   them) and a tagged data word naming the registration; epoll_wait turns
//   each tagged event back into the socket's mask and the program's data.
// - Blocking. The stack runs on its own thread (all signals blocked there).
//   A blocking call is the non-blocking call plus a kernel ppoll(2) on the
//   eventfd, so a signal interrupts it with EINTR as Linux does, and
//   SO_RCVTIMEO / SO_SNDTIMEO bound it (EAGAIN).
// - fork. The stack stays with the parent. In the child, sendpath sockets
//   inherited fail every call with EBADF (close(2) closes the descriptor
//   only), and a new TCP socket fails with EAFNOSUPPORT. Descriptors of
//   sendpath sockets are close-on-exec in the kernel, whatever the program
//   asked (F_GETFD reports what it asked): an exec'd image cannot use them.
// - exit. As the kernel does after a process exits, the shim closes the
//   sockets left open and waits (up to SENDPATH_LINGER seconds) until what
//   they were given is delivered and their FINs acknowledged.
// - SIGPIPE. A send on a broken connection raises SIGPIPE in the calling
//   thread unless MSG_NOSIGNAL, as Linux.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/call_guard.hpp"
#include "api/sock_calls.hpp"
#include "core/stack.hpp"
#include "fs/file.hpp"
#include "preload/fd_map.hpp"
#include "preload/real.hpp"
#include "sendpath/stack.hpp"
#include "sock/sock.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/nstat.hpp"
#include "trace/trace_file.hpp"

namespace sp::preload {

// --- state ---------------------------------------------------------------------

struct EpReg;

// One sendpath socket, shared by the descriptors that name it (dup).
struct SpFile {
  std::unique_ptr<Socket> sock;  // O_NONBLOCK inside sendpath, always
  Stack* st = nullptr;
  int wfd = -1;                       // the shim's own descriptor of the eventfd
  std::atomic<bool> nonblock{false};  // the program's O_NONBLOCK (open file description)
  // Under the stack's lock:
  WaitQueueEntry wait;
  bool level = false;  // the eventfd's counter is nonzero
  int in_waiters = 0, out_waiters = 0;
  std::vector<EpReg*> regs;  // epoll registrations (owned by the registry)
};

// A registration of a sendpath socket in one of the program's epoll instances.
struct EpReg {
  std::uint64_t id = 0;
  int epfd = -1, fd = -1;
  std::uint32_t events = 0;  // as the program gave them
  epoll_data_t data{};
  std::weak_ptr<SpFile> file;
};

namespace {

// Tags the data word of a sendpath registration in a kernel epoll: user
// space pointers and descriptor numbers never have these top bits.
constexpr std::uint64_t kTagMask = 0xffff'0000'0000'0000ull;
constexpr std::uint64_t kTag = 0xa5f0'0000'0000'0000ull;

FdMap g_fds;

std::mutex g_ep_mu;  // the registry; taken before a stack's lock
std::unordered_map<std::uint64_t, std::unique_ptr<EpReg>> g_regs;
std::map<std::pair<int, int>, std::uint64_t> g_reg_by_key;  // (epfd, fd) -> id
std::uint64_t g_next_reg = 1;

std::once_flag g_init_once;
Host* g_host = nullptr;  // never destroyed: the stack outlives static destructors
Stack* g_stack = nullptr;
int g_init_errno = 0;
std::atomic<bool> g_forked{false};
std::atomic<bool> g_exiting{false};

void say(const std::string& msg) {
  std::fprintf(stderr, "sendpath-preload: %s\n", msg.c_str());
}

template <typename T>
T sys(long r) {
  if (r < 0) {
    errno = static_cast<int>(-r);
    return static_cast<T>(-1);
  }
  return static_cast<T>(r);
}

// --- readiness -----------------------------------------------------------------

constexpr unsigned kAlways = EPOLLERR | EPOLLHUP;

unsigned interest(const SpFile& f) {
  unsigned m = kAlways;
  if (f.in_waiters) m |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLPRI;
  if (f.out_waiters) m |= EPOLLOUT | EPOLLWRNORM;
  for (const EpReg* r : f.regs) m |= r->events;
  return m;
}

bool has_edge_reg(const SpFile& f) {
  for (const EpReg* r : f.regs)
    if (r->events & EPOLLET) return true;
  return false;
}

// Sets or clears the eventfd after the socket's mask; under the stack's lock.
// `wake`: a wake-up of the socket, which an edge-triggered registration must
// see even when the eventfd is already set.
void sync(SpFile& f, bool wake) {
  if (!f.sock) return;
  const unsigned mask = vfs_poll(f.sock.get());
  const bool want = (mask & interest(f)) != 0;
  if (want && (!f.level || (wake && has_edge_reg(f)))) {
    const std::uint64_t one = 1;
    (void)!REAL(write)(f.wfd, &one, sizeof one);
    f.level = true;
  } else if (!want && f.level) {
    std::uint64_t v;
    (void)!REAL(read)(f.wfd, &v, sizeof v);
    f.level = false;
  }
}

int on_wake(WaitQueueEntry* wait, unsigned /*key*/) {
  sync(*static_cast<SpFile*>(wait->priv), true);
  return 0;  // never counts as the exclusive waiter that took the wake-up
}

// Runs fn (a sockcall on f) under the stack's lock and brings the eventfd up
// to date after it.
template <typename Fn>
auto locked(SpFile& f, Fn&& fn) {
  CallGuard guard(f.st);
  auto r = fn();
  sync(f, false);
  return r;
}

void add_waiters(SpFile& f, unsigned events, int delta) {
  CallGuard guard(f.st);
  if (events & (EPOLLIN | EPOLLRDNORM | EPOLLPRI | EPOLLRDHUP)) f.in_waiters += delta;
  if (events & (EPOLLOUT | EPOLLWRNORM)) f.out_waiters += delta;
  sync(f, false);
}

unsigned mask_of(SpFile& f) {
  CallGuard guard(f.st);
  return vfs_poll(f.sock.get());
}

// Nanoseconds left until deadline (steady clock), 0 when passed; -1 = forever.
using Clock = std::chrono::steady_clock;
struct Deadline {
  bool forever = true;
  Clock::time_point at{};
  static Deadline after_ms(long long ms) {
    Deadline d;
    if (ms >= 0) {
      d.forever = false;
      d.at = Clock::now() + std::chrono::milliseconds(ms);
    }
    return d;
  }
  static Deadline after_ts(const timespec* ts) {
    Deadline d;
    if (ts) {
      d.forever = false;
      d.at =
          Clock::now() + std::chrono::seconds(ts->tv_sec) + std::chrono::nanoseconds(ts->tv_nsec);
    }
    return d;
  }
  // The timespec for ppoll (nullptr: forever).
  const timespec* left(timespec* buf) const {
    if (forever) return nullptr;
    const auto ns = std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(at - Clock::now()).count());
    buf->tv_sec = ns / 1'000'000'000;
    buf->tv_nsec = ns % 1'000'000'000;
    return buf;
  }
  bool passed() const { return !forever && Clock::now() >= at; }
};

// A socket timeout (jiffies; MAX_SCHEDULE_TIMEOUT forever) as a deadline.
Deadline deadline_of(std::int64_t timeo) {
  return timeo == Sock::MAX_SCHEDULE_TIMEOUT
             ? Deadline{}
             : Deadline::after_ms(
                   static_cast<std::int64_t>(jiffies_to_msecs(static_cast<std::uint64_t>(timeo))));
}

// After a signal interrupted a blocking socket call: whether Linux would
// restart it. Linux returns -ERESTARTSYS from a wait without a timeout
// (sock_intr_errno), which restarts the call when the handler that ran has
// SA_RESTART, and -EINTR from one with SO_RCVTIMEO/SO_SNDTIMEO. The shim
// cannot see which signal ran, so it restarts only when every signal with a
// handler has SA_RESTART (a program that installs one without it gets EINTR).
bool restart_after_signal(const Deadline& dl) {
  if (!dl.forever) return false;
  for (int sig = 1; sig < SIGRTMAX; ++sig) {
    struct sigaction sa {};
    if (::sigaction(sig, nullptr, &sa) != 0) continue;
    const bool handled =
        (sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
    if (handled && !(sa.sa_flags & SA_RESTART)) return false;
  }
  return true;
}

// Waits until the socket shows one of `events` (or an error or hang-up):
// 0, -EAGAIN when the deadline passes, -EINTR on a signal (unless Linux
// would restart the call, see restart_after_signal).
int wait_for(SpFile& f, unsigned events, const Deadline& dl) {
  add_waiters(f, events, +1);
  int r = 0;
  for (int spurious = 0;;) {
    if (mask_of(f) & (events | kAlways)) break;
    if (dl.passed()) {
      r = -EAGAIN;
      break;
    }
    timespec buf;
    pollfd p{f.wfd, POLLIN, 0};
    const int n = REAL(ppoll)(&p, 1, dl.left(&buf), nullptr);
    if (n < 0 && errno == EINTR) {
      if (restart_after_signal(dl)) continue;
      r = -EINTR;
      break;
    }
    if (n > 0 && !(mask_of(f) & (events | kAlways)) && ++spurious > 2) {
      // The eventfd is set for another waiter's events: do not spin on it.
      timespec nap{0, 200'000};
      if (::nanosleep(&nap, nullptr) < 0 && errno == EINTR) {
        r = -EINTR;
        break;
      }
    }
  }
  add_waiters(f, events, -1);
  return r;
}

// --- the stack ------------------------------------------------------------------

std::string env(const char* name, const char* def = "") {
  const char* v = std::getenv(name);
  return v ? v : def;
}

bool env_flag(const char* name, bool def) {
  const std::string v = env(name);
  if (v.empty()) return def;
  return !(v == "0" || v == "no" || v == "off" || v == "false");
}

void exit_linger();
// SENDPATH_TRACE's file, closed once the stack has stopped.
trace::TraceFile* g_trace = nullptr;

void init_stack() {
  const std::string dev = env("SENDPATH_DEV");
  const std::string addr = env("SENDPATH_ADDR");
  if (dev.empty() || addr.empty()) {
    say("SENDPATH_DEV and SENDPATH_ADDR must be set (e.g. SENDPATH_DEV=sptap0 "
        "SENDPATH_ADDR=10.77.0.2/24); TCP sockets fail with EAFNOSUPPORT");
    g_init_errno = EAFNOSUPPORT;
    return;
  }
  DeviceOptions o;
  o.kind = env_flag("SENDPATH_TUN", false) ? DeviceKind::kTun : DeviceKind::kTap;
  o.name = dev;
  o.netns = env("SENDPATH_NETNS");
  o.mac = env("SENDPATH_MAC");
  o.pcap = env("SENDPATH_PCAP");
  o.tso = env_flag("SENDPATH_TSO", true);
  o.csum = env_flag("SENDPATH_CSUM", true);
  o.bring_up = env_flag("SENDPATH_UP", false);
  if (const std::string mtu = env("SENDPATH_MTU"); !mtu.empty())
    o.mtu = static_cast<std::uint32_t>(std::strtoul(mtu.c_str(), nullptr, 10));

  // HZ is fixed before the stack exists (core/jiffies.hpp).
  const std::string hz = env("SENDPATH_HZ");
  const bool wheel = env_flag("SENDPATH_TIMER_WHEEL", false);
  if (!hz.empty() || wheel) {
    std::string hz_err;
    const auto v =
        hz.empty() ? HZ : static_cast<std::uint32_t>(std::strtoul(hz.c_str(), nullptr, 10));
    if (!set_hz(v, wheel, &hz_err)) {
      say("SENDPATH_HZ " + hz + ": " + hz_err + "; TCP sockets fail with EAFNOSUPPORT");
      g_init_errno = EAFNOSUPPORT;
      return;
    }
  }
  if (const std::string path = env("SENDPATH_TRACE"); !path.empty()) {
    g_trace = new trace::TraceFile;
    if (const std::string e = g_trace->open(path, env("SENDPATH_TRACE_EVENTS")); !e.empty())
      say("SENDPATH_TRACE " + path + ": " + e);
  }
  auto* host = new Host("preload");
  std::string err;
  errno = 0;
  const int ifindex = host->open_device(o, &err);
  const int open_errno = errno;
  auto fail = [&](const std::string& what, int e) {
    say(what + ": " + err + "; TCP sockets fail with " + (e == EACCES ? "EACCES" : "EAFNOSUPPORT"));
    g_init_errno = e;
    delete host;
  };
  if (ifindex < 0) {
    fail("cannot open " + std::string(o.kind == DeviceKind::kTun ? "tun " : "tap ") + dev +
             (o.netns.empty() ? "" : " in network namespace " + o.netns),
         open_errno == EPERM || open_errno == EACCES ? EACCES : EAFNOSUPPORT);
    return;
  }
  if (host->add_address(ifindex, addr, &err) < 0)
    return fail("SENDPATH_ADDR " + addr, EAFNOSUPPORT);
  if (const std::string gw = env("SENDPATH_GW"); !gw.empty()) {
    if (host->add_route("0.0.0.0/0", gw, ifindex, &err) < 0)
      return fail("SENDPATH_GW " + gw, EAFNOSUPPORT);
  }
  const std::string sysctls = env("SENDPATH_SYSCTL");
  for (std::size_t pos = 0; pos < sysctls.size();) {
    std::size_t end = sysctls.find(';', pos);
    if (end == std::string::npos) end = sysctls.size();
    const std::string item = sysctls.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) {
      err = "expected name=value";
      return fail("SENDPATH_SYSCTL item '" + item + "'", EAFNOSUPPORT);
    }
    if (host->set_sysctl(item.substr(0, eq), item.substr(eq + 1), &err) < 0)
      return fail("SENDPATH_SYSCTL " + item, EAFNOSUPPORT);
  }
  // The stack thread takes no signals: they are the program's threads' to
  // receive (and to interrupt their blocking calls with).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  const int rc = host->run_in_thread(&err);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc < 0) return fail("cannot start the stack thread", EAFNOSUPPORT);
  g_host = host;
  g_stack = &host->stack();
  std::atexit(exit_linger);
}

// The stack, started on first use; nullptr and *err set when it cannot be.
Stack* stack(int* err) {
  if (g_forked.load(std::memory_order_relaxed)) {
    *err = EAFNOSUPPORT;
    return nullptr;
  }
  std::call_once(g_init_once, init_stack);
  *err = g_init_errno;
  return g_stack;
}

// --- sockets and descriptors ------------------------------------------------------

void destroy(SpFile* f) {
  if (!g_forked.load(std::memory_order_relaxed) && f->sock) {
    {
      CallGuard guard(f->st);
      remove_wait_queue(&f->sock->wq, &f->wait);
    }
    sockcall::release(std::move(f->sock));
  }
  REAL(close)(f->wfd);
  delete f;
}

// The shim's own descriptors go high, out of the program's way.
int high_fd_floor() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 128)
    return static_cast<int>(rl.rlim_cur / 2);
  return 64;
}

// A descriptor for a new socket: its eventfd, installed in the map.
// Returns the descriptor or -errno.
int install(std::unique_ptr<Socket> sock, Stack* st, bool nonblock, bool cloexec) {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return -errno;
  int wfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, high_fd_floor());
  if (wfd < 0) wfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 0);
  if (wfd < 0) {
    const int e = errno;
    REAL(close)(fd);
    sockcall::release(std::move(sock));
    return -e;
  }
  sock->file_flags |= O_NONBLOCK;
  std::shared_ptr<SpFile> f(new SpFile, destroy);
  f->sock = std::move(sock);
  f->st = st;
  f->wfd = wfd;
  f->nonblock = nonblock;
  f->wait.func = on_wake;
  f->wait.priv = f.get();
  {
    CallGuard guard(st);
    add_wait_queue(&f->sock->wq, &f->wait);
    sync(*f, false);
  }
  g_fds.set(fd, std::move(f), cloexec);
  return fd;
}

// The socket behind fd; null (errno EBADF) in a forked child.
std::shared_ptr<SpFile> lookup(int fd) {
  std::shared_ptr<SpFile> f = g_fds.get(fd);
  if (f && g_forked.load(std::memory_order_relaxed)) {
    errno = EBADF;
    return nullptr;
  }
  return f;
}

// Removes fd's registrations from every epoll instance (before fd closes).
void forget_registrations_of_fd(int fd, SpFile* f) {
  std::lock_guard<std::mutex> g(g_ep_mu);
  for (auto it = g_reg_by_key.begin(); it != g_reg_by_key.end();) {
    if (it->first.second != fd) {
      ++it;
      continue;
    }
    auto reg = g_regs.find(it->second);
    if (reg != g_regs.end()) {
      REAL(epoll_ctl)(it->first.first, EPOLL_CTL_DEL, fd, nullptr);
      if (f && f->sock) {
        CallGuard guard(f->st);
        std::erase(f->regs, reg->second.get());
        sync(*f, false);
      }
      g_regs.erase(reg);
    }
    it = g_reg_by_key.erase(it);
  }
}

// An epoll instance of the program goes: its registrations with it.
void forget_epoll(int epfd) {
  std::lock_guard<std::mutex> g(g_ep_mu);
  auto it = g_reg_by_key.lower_bound({epfd, INT_MIN});
  while (it != g_reg_by_key.end() && it->first.first == epfd) {
    auto reg = g_regs.find(it->second);
    if (reg != g_regs.end()) {
      if (auto f = reg->second->file.lock(); f && f->sock) {
        CallGuard guard(f->st);
        std::erase(f->regs, reg->second.get());
        sync(*f, false);
      }
      g_regs.erase(reg);
    }
    it = g_reg_by_key.erase(it);
  }
}

// close(2) of a descriptor the shim knows.
int close_known(int fd, std::uint8_t kind) {
  if (kind & FdMap::kSocket) {
    std::shared_ptr<SpFile> f = g_fds.get(fd);
    if (!g_forked.load(std::memory_order_relaxed)) forget_registrations_of_fd(fd, f.get());
    f.reset();
    std::shared_ptr<SpFile> last = g_fds.take(fd);
    const int r = REAL(close)(fd);
    last.reset();  // the last descriptor of the socket: the socket closes
    return r;
  }
  if (kind & FdMap::kEpoll) {
    forget_epoll(fd);
    g_fds.set_kind_bits(fd, FdMap::kEpoll, false);
  }
  return REAL(close)(fd);
}

// The program closes fd by dup2/dup3 onto it: what it named goes first.
void before_reuse(int fd) {
  if (const std::uint8_t k = g_fds.kind(fd)) {
    if (k & FdMap::kSocket) {
      std::shared_ptr<SpFile> f = g_fds.get(fd);
      if (!g_forked.load(std::memory_order_relaxed)) forget_registrations_of_fd(fd, f.get());
      f.reset();
      g_fds.take(fd).reset();
    } else if (k & FdMap::kEpoll) {
      forget_epoll(fd);
      g_fds.set_kind_bits(fd, FdMap::kEpoll, false);
    }
  }
}

// A send that broke the connection raises SIGPIPE unless MSG_NOSIGNAL.
long sigpipe(long r, int flags) {
  if (r == -EPIPE && !(flags & MSG_NOSIGNAL)) ::raise(SIGPIPE);
  return r;
}

std::int64_t sndtimeo(SpFile& f) {
  CallGuard guard(f.st);
  return f.sock->sk ? f.sock->sk->sk_sndtimeo : 0;
}
std::int64_t rcvtimeo(SpFile& f) {
  CallGuard guard(f.st);
  return f.sock->sk ? f.sock->sk->sk_rcvtimeo : 0;
}

// Drops the first n bytes of iov[*idx..].
void advance(std::vector<iovec>& iov, std::size_t* idx, std::size_t n) {
  while (n && *idx < iov.size()) {
    const std::size_t take = std::min(n, iov[*idx].iov_len);
    iov[*idx].iov_base = static_cast<char*>(iov[*idx].iov_base) + take;
    iov[*idx].iov_len -= take;
    n -= take;
    if (iov[*idx].iov_len == 0) ++*idx;
  }
  while (*idx < iov.size() && iov[*idx].iov_len == 0) ++*idx;
}

// sendmsg(2) with Linux's blocking semantics: a blocking socket takes every
// byte unless a signal, SO_SNDTIMEO or an error stops it (then the count so
// far, or the error when nothing went).
long do_sendmsg(SpFile& f, const msghdr* msg, int flags) {
  if (!msg) return -EFAULT;
  const bool nonblock = f.nonblock || (flags & MSG_DONTWAIT);
  if (nonblock)
    return sigpipe(locked(f, [&] { return sockcall::sendmsg(f.sock.get(), msg, flags); }), flags);
  if (msg->msg_iovlen > IOV_MAX) return -EMSGSIZE;
  if (msg->msg_iovlen && !msg->msg_iov) return -EFAULT;
  std::vector<iovec> iov(msg->msg_iov, msg->msg_iov + msg->msg_iovlen);
  std::size_t idx = 0;
  advance(iov, &idx, 0);
  msghdr m = *msg;
  long sent = 0;
  Deadline dl;
  bool have_dl = false;
  for (;;) {
    m.msg_iov = iov.data() + idx;
    m.msg_iovlen = iov.size() - idx;
    const long r = locked(f, [&] { return sockcall::sendmsg(f.sock.get(), &m, flags); });
    if (r > 0) {
      sent += r;
      advance(iov, &idx, static_cast<std::size_t>(r));
      m.msg_control = nullptr;  // control messages go with the first bytes only
      m.msg_controllen = 0;
      if (idx == iov.size()) return sent;
      continue;
    }
    if (r == 0 && idx == iov.size()) return sent;
    if (r != -EAGAIN && r != 0) return sent ? sent : sigpipe(r, flags);
    if (!have_dl) {
      dl = deadline_of(sndtimeo(f));
      have_dl = true;
    }
    const int w = wait_for(f, EPOLLOUT, dl);
    if (w < 0) return sent ? sent : w;
  }
}

long do_recvmsg(SpFile& f, msghdr* msg, int flags) {
  if (!msg) return -EFAULT;
  const bool nonblock = f.nonblock || (flags & (MSG_DONTWAIT | MSG_ERRQUEUE));
  auto once = [&](msghdr* m, int fl) {
    return locked(f, [&] { return sockcall::recvmsg(f.sock.get(), m, fl); });
  };
  if (nonblock) return once(msg, flags);
  Deadline dl;
  bool have_dl = false;
  auto wait = [&]() {
    if (!have_dl) {
      dl = deadline_of(rcvtimeo(f));
      have_dl = true;
    }
    return wait_for(f, EPOLLIN, dl);
  };
  if (!(flags & MSG_WAITALL) || (flags & MSG_PEEK)) {
    for (;;) {
      const long r = once(msg, flags);
      if (r != -EAGAIN) return r;
      if (const int w = wait(); w < 0) return w;
    }
  }
  // MSG_WAITALL: the whole buffer, unless end of stream, an error, a signal
  // or the timeout ends it early (then what came).
  if (msg->msg_iovlen > IOV_MAX) return -EMSGSIZE;
  if (msg->msg_iovlen && !msg->msg_iov) return -EFAULT;
  std::vector<iovec> iov(msg->msg_iov, msg->msg_iov + msg->msg_iovlen);
  std::size_t idx = 0;
  advance(iov, &idx, 0);
  if (idx == iov.size()) return once(msg, flags);
  msghdr m = *msg;
  long got = 0;
  for (;;) {
    m.msg_iov = iov.data() + idx;
    m.msg_iovlen = iov.size() - idx;
    const long r = once(&m, flags);
    if (r > 0) {
      got += r;
      advance(iov, &idx, static_cast<std::size_t>(r));
      if (idx == iov.size()) break;
      continue;
    }
    if (r == 0) break;
    if (r != -EAGAIN) return got ? got : r;
    if (const int w = wait(); w < 0) return got ? got : w;
  }
  msg->msg_flags = m.msg_flags;
  msg->msg_controllen = m.msg_controllen;
  return got;
}

long do_send(SpFile& f, const void* buf, std::size_t len, int flags) {
  if (len && !buf) return -EFAULT;
  iovec iov{const_cast<void*>(buf), len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  return do_sendmsg(f, &m, flags);
}

long do_recv(SpFile& f, void* buf, std::size_t len, int flags) {
  if (len && !buf) return -EFAULT;
  iovec iov{buf, len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  return do_recvmsg(f, &m, flags);
}

long do_connect(SpFile& f, const sockaddr* addr, socklen_t len) {
  const int r = locked(f, [&] { return sockcall::connect(f.sock.get(), addr, len); });
  if (r != -EINPROGRESS || f.nonblock) return r;
  // A blocking connect waits for the handshake's outcome (SO_SNDTIMEO bounds it).
  const int w = wait_for(f, EPOLLOUT, deadline_of(sndtimeo(f)));
  if (w == -EAGAIN) return -EINPROGRESS;  // Linux: the timeout leaves it in progress
  if (w < 0) return w;
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  locked(f, [&] { return sockcall::getsockopt(f.sock.get(), SOL_SOCKET, SO_ERROR, &soerr, &sl); });
  return soerr ? -soerr : 0;
}

int do_accept(int fd, sockaddr* addr, socklen_t* addrlen, int flags) {
  std::shared_ptr<SpFile> f = lookup(fd);
  if (!f) return -1;
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return sys<int>(-EINVAL);
  Deadline dl;
  bool have_dl = false;
  for (;;) {
    int err = 0;
    std::unique_ptr<Socket> s =
        locked(*f, [&] { return sockcall::accept(f->sock.get(), addr, addrlen, flags, &err); });
    if (s)
      return sys<int>(install(std::move(s), f->st, flags & SOCK_NONBLOCK, flags & SOCK_CLOEXEC));
    if (err != -EAGAIN || f->nonblock) return sys<int>(err);
    if (!have_dl) {
      dl = deadline_of(rcvtimeo(*f));
      have_dl = true;
    }
    if (const int w = wait_for(*f, EPOLLIN, dl); w < 0) return sys<int>(w);
  }
}

// poll(2) over any mix of descriptors (the core of poll, ppoll, select).
int do_poll(pollfd* fds, nfds_t nfds, const Deadline& dl, const sigset_t* sigmask) {
  std::vector<std::shared_ptr<SpFile>> sp(nfds);
  bool any = false;
  for (nfds_t i = 0; i < nfds; ++i) {
    if (fds[i].fd >= 0 && g_fds.is_socket(fds[i].fd)) {
      sp[i] = g_fds.get(fds[i].fd);
      any = any || sp[i];
    }
  }
  timespec buf;
  if (!any) return REAL(ppoll)(fds, nfds, dl.left(&buf), sigmask);
  const bool forked = g_forked.load(std::memory_order_relaxed);
  // The sendpath entries' readiness; the kernel ones come from ppoll.
  auto scan_sp = [&]() {
    int ready = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
      if (!sp[i]) continue;
      const unsigned mask = forked ? POLLNVAL : mask_of(*sp[i]);
      fds[i].revents = static_cast<short>(
          mask & (static_cast<unsigned>(fds[i].events) | POLLERR | POLLHUP | POLLNVAL));
      if (fds[i].revents) ++ready;
    }
    return ready;
  };
  // Kernel entries as given; each sendpath entry as its eventfd.
  std::vector<pollfd> kfds(fds, fds + nfds);
  for (nfds_t i = 0; i < nfds; ++i)
    if (sp[i]) kfds[i] = pollfd{sp[i]->wfd, POLLIN, 0};
  for (int round = 0;; ++round) {
    int ready = scan_sp();
    const bool wait = ready == 0 && !dl.passed() && !forked;
    if (wait)
      for (nfds_t i = 0; i < nfds; ++i)
        if (sp[i]) add_waiters(*sp[i], static_cast<unsigned>(fds[i].events), +1);
    timespec zero{0, 0};
    const int n = REAL(ppoll)(kfds.data(), nfds, wait ? dl.left(&buf) : &zero, sigmask);
    const int e = errno;
    if (wait)
      for (nfds_t i = 0; i < nfds; ++i)
        if (sp[i]) add_waiters(*sp[i], static_cast<unsigned>(fds[i].events), -1);
    if (n < 0) {
      errno = e;
      return -1;
    }
    ready = scan_sp();
    for (nfds_t i = 0; i < nfds; ++i) {
      if (sp[i]) continue;
      fds[i].revents = kfds[i].revents;
      if (fds[i].revents) ++ready;
    }
    if (ready || !wait || dl.passed()) return ready;
    if (round > 2) {
      // Woken for another waiter's events on a shared socket: do not spin.
      timespec nap{0, 200'000};
      ::nanosleep(&nap, nullptr);
    }
  }
}

// select(2)/pselect(2) as do_poll.
int do_select(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, const Deadline& dl,
              const sigset_t* sigmask) {
  std::vector<pollfd> p;
  for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd) {
    short ev = 0;
    if (rd && FD_ISSET(fd, rd)) ev |= POLLIN;
    if (wr && FD_ISSET(fd, wr)) ev |= POLLOUT;
    if (ex && FD_ISSET(fd, ex)) ev |= POLLPRI;
    if (ev) p.push_back(pollfd{fd, ev, 0});
  }
  const int n = do_poll(p.data(), p.size(), dl, sigmask);
  if (n < 0) return -1;
  for (const pollfd& q : p)
    if (q.revents & POLLNVAL) {
      errno = EBADF;
      return -1;
    }
  if (rd) FD_ZERO(rd);
  if (wr) FD_ZERO(wr);
  if (ex) FD_ZERO(ex);
  int count = 0;
  for (const pollfd& q : p) {
    if (rd && (q.events & POLLIN) && (q.revents & (POLLIN | POLLHUP | POLLERR))) {
      FD_SET(q.fd, rd);
      ++count;
    }
    if (wr && (q.events & POLLOUT) && (q.revents & (POLLOUT | POLLERR))) {
      FD_SET(q.fd, wr);
      ++count;
    }
    if (ex && (q.events & POLLPRI) && (q.revents & POLLPRI)) {
      FD_SET(q.fd, ex);
      ++count;
    }
  }
  return count;
}

// The kernel registration of a sendpath socket: readability of its eventfd,
// with the program's flags.
epoll_event kernel_event(const EpReg& r) {
  epoll_event ev{};
  ev.events = EPOLLIN | (r.events & (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP));
  ev.data.u64 = kTag | r.id;
  return ev;
}

int do_epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  std::shared_ptr<SpFile> f = lookup(fd);
  if (!f) return -1;
  if (op != EPOLL_CTL_DEL && !event) return sys<int>(-EFAULT);
  std::lock_guard<std::mutex> g(g_ep_mu);
  const auto key = std::make_pair(epfd, fd);
  auto it = g_reg_by_key.find(key);
  switch (op) {
    case EPOLL_CTL_ADD: {
      auto reg = std::make_unique<EpReg>();
      reg->id = g_next_reg++;
      reg->epfd = epfd;
      reg->fd = fd;
      reg->events = event->events;
      reg->data = event->data;
      reg->file = f;
      epoll_event kev = kernel_event(*reg);
      // The kernel checks what it can (EEXIST, EINVAL, ELOOP, flag rules).
      if (REAL(epoll_ctl)(epfd, EPOLL_CTL_ADD, fd, &kev) < 0) return -1;
      if (it != g_reg_by_key.end()) g_regs.erase(it->second);  // a stale one (fd reused)
      g_reg_by_key[key] = reg->id;
      {
        CallGuard guard(f->st);
        f->regs.push_back(reg.get());
        sync(*f, true);
      }
      g_regs[reg->id] = std::move(reg);
      return 0;
    }
    case EPOLL_CTL_MOD: {
      EpReg* reg = it == g_reg_by_key.end() ? nullptr : g_regs[it->second].get();
      epoll_event kev{};
      if (reg) {
        EpReg next = *reg;
        next.events = event->events;
        kev = kernel_event(next);
      } else {
        kev.events = EPOLLIN;
      }
      if (REAL(epoll_ctl)(epfd, EPOLL_CTL_MOD, fd, &kev) < 0) return -1;
      if (!reg) return sys<int>(-ENOENT);
      CallGuard guard(f->st);
      reg->events = event->events;
      reg->data = event->data;
      sync(*f, true);
      return 0;
    }
    case EPOLL_CTL_DEL: {
      if (REAL(epoll_ctl)(epfd, EPOLL_CTL_DEL, fd, event) < 0) return -1;
      if (it == g_reg_by_key.end()) return 0;
      auto reg = g_regs.find(it->second);
      if (reg != g_regs.end()) {
        CallGuard guard(f->st);
        std::erase(f->regs, reg->second.get());
        sync(*f, false);
        g_regs.erase(reg);
      }
      g_reg_by_key.erase(it);
      return 0;
    }
    default:
      return REAL(epoll_ctl)(epfd, op, fd, event);
  }
}

// epoll_wait: the kernel's, with each sendpath event turned into the
// socket's mask and the program's data; events that turn out not to be
// ready for that registration are dropped (a one-shot one re-armed).
int do_epoll_wait(int epfd, epoll_event* events, int maxevents, const Deadline& dl,
                  const sigset_t* sigmask) {
  for (int round = 0;; ++round) {
    timespec buf;
    const timespec* left = dl.left(&buf);
    const int timeout_ms =
        left ? static_cast<int>(std::min<long long>(
                   INT_MAX, left->tv_sec * 1000LL + (left->tv_nsec + 999'999) / 1'000'000))
             : -1;
    const int n = sigmask ? REAL(epoll_pwait)(epfd, events, maxevents, timeout_ms, sigmask)
                          : REAL(epoll_wait)(epfd, events, maxevents, timeout_ms);
    if (n <= 0) return n;
    int out = 0;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t u = events[i].data.u64;
      if ((u & kTagMask) != kTag) {
        events[out++] = events[i];
        continue;
      }
      std::uint32_t want = 0;
      epoll_data_t data{};
      std::shared_ptr<SpFile> f;
      EpReg copy;
      {
        std::lock_guard<std::mutex> g(g_ep_mu);
        auto it = g_regs.find(u & ~kTagMask);
        if (it == g_regs.end()) continue;
        want = it->second->events;
        data = it->second->data;
        f = it->second->file.lock();
        copy = *it->second;
      }
      if (!f || !f->sock) continue;
      const unsigned mask = mask_of(*f) & (want | kAlways);
      if (mask) {
        events[out].events = mask;
        events[out].data = data;
        ++out;
      } else if (want & EPOLLONESHOT) {
        epoll_event kev = kernel_event(copy);
        REAL(epoll_ctl)(epfd, EPOLL_CTL_MOD, copy.fd, &kev);
      }
    }
    if (out || dl.passed() || timeout_ms == 0) return out;
    if (round > 2) {
      timespec nap{0, 200'000};
      ::nanosleep(&nap, nullptr);
    }
  }
}

// --- exit ---------------------------------------------------------------------------

bool still_delivering(Stack& st) {
  bool busy = false;
  st.tcp().for_each_sock([&](Sock* sk) {
    switch (sk->sk_state) {
      case TCP_ESTABLISHED:
      case TCP_SYN_SENT:
      case TCP_SYN_RECV:
      case TCP_FIN_WAIT1:
      case TCP_CLOSE_WAIT:
      case TCP_CLOSING:
      case TCP_LAST_ACK:
        busy = true;
        break;
      default:
        break;
    }
  });
  return busy;
}

void exit_linger() {
  if (g_forked.load() || !g_stack || g_exiting.exchange(true)) return;
  // On a thread of its own: the exiting thread's thread-local state (the
  // skb caches) is already gone.
  std::thread t([] {
    // exit(2) closes the descriptors: the sockets left open close as by close(2).
    for (auto& [fd, f] : g_fds.all()) {
      forget_registrations_of_fd(fd, f.get());
      g_fds.take(fd).reset();
    }
    const double secs = std::strtod(env("SENDPATH_LINGER", "60").c_str(), nullptr);
    const auto until =
        Clock::now() + std::chrono::milliseconds(static_cast<long long>(secs * 1000));
    while (Clock::now() < until) {
      bool busy;
      {
        CallGuard guard(g_stack);
        busy = still_delivering(*g_stack);
      }
      if (!busy) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    g_host->stop();
    if (g_trace) g_trace->close();
    // The stack's counters, for whoever compares this run with Linux's.
    if (const std::string path = env("SENDPATH_NSTAT"); !path.empty()) {
      const auto rows = nstat_rows(g_stack->mib(), nullptr);
      const bool json = path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0;
      const std::string text = json ? nstat_json(rows) : nstat_text(rows);
      if (FILE* out = std::fopen(path.c_str(), "w")) {
        std::fputs(text.c_str(), out);
        std::fclose(out);
      } else {
        say("cannot write SENDPATH_NSTAT file " + path);
      }
    }
  });
  t.join();
}

void atfork_prepare() {
  g_ep_mu.lock();
  g_fds.mutex().lock();
}
void atfork_parent() {
  g_fds.mutex().unlock();
  g_ep_mu.unlock();
}
void atfork_child() {
  g_fds.mutex().unlock();
  g_ep_mu.unlock();
  g_forked.store(true);
}

[[gnu::constructor]] void preload_init() {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

}  // namespace
}  // namespace sp::preload

// --- the intercepted calls --------------------------------------------------------

using sp::preload::do_recv;
using sp::preload::do_recvmsg;
using sp::preload::do_send;
using sp::preload::do_sendmsg;
using sp::preload::g_fds;
using sp::preload::lookup;
using sp::preload::sys;
namespace sockcall = sp::sockcall;

#define SP_EXPORT extern "C" __attribute__((visibility("default")))

SP_EXPORT int socket(int domain, int type, int protocol) {
  const int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (domain != AF_INET || base != SOCK_STREAM || (protocol != 0 && protocol != IPPROTO_TCP))
    return REAL(socket)(domain, type, protocol);
  int err = 0;
  sp::Stack* st = sp::preload::stack(&err);
  if (!st) return sys<int>(-err);
  std::unique_ptr<sp::Socket> s = sockcall::create(*st, domain, SOCK_STREAM, protocol, &err);
  if (!s) return sys<int>(err);
  return sys<int>(
      sp::preload::install(std::move(s), st, type & SOCK_NONBLOCK, type & SOCK_CLOEXEC));
}

SP_EXPORT int bind(int fd, const sockaddr* addr, socklen_t len) {
  if (!g_fds.is_socket(fd)) return REAL(bind)(fd, addr, len);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<int>(
      sp::preload::locked(*f, [&] { return sockcall::bind(f->sock.get(), addr, len); }));
}

SP_EXPORT int listen(int fd, int backlog) {
  if (!g_fds.is_socket(fd)) return REAL(listen)(fd, backlog);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<int>(
      sp::preload::locked(*f, [&] { return sockcall::listen(f->sock.get(), backlog); }));
}

SP_EXPORT int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (!g_fds.is_socket(fd)) return REAL(accept4)(fd, addr, len, flags);
  return sp::preload::do_accept(fd, addr, len, flags);
}

SP_EXPORT int accept(int fd, sockaddr* addr, socklen_t* len) {
  if (!g_fds.is_socket(fd)) return REAL(accept)(fd, addr, len);
  return sp::preload::do_accept(fd, addr, len, 0);
}

SP_EXPORT int connect(int fd, const sockaddr* addr, socklen_t len) {
  if (!g_fds.is_socket(fd)) return REAL(connect)(fd, addr, len);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<int>(sp::preload::do_connect(*f, addr, len));
}

SP_EXPORT int shutdown(int fd, int how) {
  if (!g_fds.is_socket(fd)) return REAL(shutdown)(fd, how);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<int>(sp::preload::locked(*f, [&] { return sockcall::shutdown(f->sock.get(), how); }));
}

SP_EXPORT int getsockname(int fd, sockaddr* addr, socklen_t* len) {
  if (!g_fds.is_socket(fd)) return REAL(getsockname)(fd, addr, len);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<int>(
      sp::preload::locked(*f, [&] { return sockcall::getname(f->sock.get(), addr, len, 0); }));
}

SP_EXPORT int getpeername(int fd, sockaddr* addr, socklen_t* len) {
  if (!g_fds.is_socket(fd)) return REAL(getpeername)(fd, addr, len);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<int>(
      sp::preload::locked(*f, [&] { return sockcall::getname(f->sock.get(), addr, len, 1); }));
}

SP_EXPORT int setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  if (!g_fds.is_socket(fd)) return REAL(setsockopt)(fd, level, name, val, len);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<int>(sp::preload::locked(
      *f, [&] { return sockcall::setsockopt(f->sock.get(), level, name, val, len); }));
}

SP_EXPORT int getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
  if (!g_fds.is_socket(fd)) return REAL(getsockopt)(fd, level, name, val, len);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<int>(sp::preload::locked(
      *f, [&] { return sockcall::getsockopt(f->sock.get(), level, name, val, len); }));
}

SP_EXPORT ssize_t send(int fd, const void* buf, size_t len, int flags) {
  if (!g_fds.is_socket(fd)) return REAL(send)(fd, buf, len, flags);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<ssize_t>(do_send(*f, buf, len, flags));
}

SP_EXPORT ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to,
                         socklen_t tolen) {
  if (!g_fds.is_socket(fd)) return REAL(sendto)(fd, buf, len, flags, to, tolen);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<ssize_t>(do_send(*f, buf, len, flags));  // a stream socket ignores `to`
}

SP_EXPORT ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  if (!g_fds.is_socket(fd)) return REAL(sendmsg)(fd, msg, flags);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<ssize_t>(do_sendmsg(*f, msg, flags));
}

SP_EXPORT int sendmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags) {
  if (!g_fds.is_socket(fd)) return REAL(sendmmsg)(fd, vec, vlen, flags);
  auto f = lookup(fd);
  if (!f) return -1;
  if (vlen > UIO_MAXIOV) vlen = UIO_MAXIOV;
  unsigned int done = 0;
  for (; done < vlen; ++done) {
    const long r = do_sendmsg(*f, &vec[done].msg_hdr, flags);
    if (r < 0) {
      if (done) break;
      return sys<int>(r);
    }
    vec[done].msg_len = static_cast<unsigned>(r);
  }
  return static_cast<int>(done);
}

SP_EXPORT ssize_t write(int fd, const void* buf, size_t len) {
  if (!g_fds.is_socket(fd)) return REAL(write)(fd, buf, len);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<ssize_t>(do_send(*f, buf, len, 0));
}

SP_EXPORT ssize_t writev(int fd, const iovec* iov, int iovcnt) {
  if (!g_fds.is_socket(fd)) return REAL(writev)(fd, iov, iovcnt);
  auto f = lookup(fd);
  if (!f) return -1;
  if (iovcnt < 0 || iovcnt > IOV_MAX) return sys<ssize_t>(-EINVAL);
  msghdr m{};
  m.msg_iov = const_cast<iovec*>(iov);
  m.msg_iovlen = static_cast<size_t>(iovcnt);
  return sys<ssize_t>(do_sendmsg(*f, &m, 0));
}

SP_EXPORT ssize_t recv(int fd, void* buf, size_t len, int flags) {
  if (!g_fds.is_socket(fd)) return REAL(recv)(fd, buf, len, flags);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<ssize_t>(do_recv(*f, buf, len, flags));
}

SP_EXPORT ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* from,
                           socklen_t* fromlen) {
  if (!g_fds.is_socket(fd)) return REAL(recvfrom)(fd, buf, len, flags, from, fromlen);
  auto f = lookup(fd);
  if (!f) return -1;
  const long r = do_recv(*f, buf, len, flags);
  if (r >= 0 && from && fromlen) *fromlen = 0;  // TCP reports no source per read
  return sys<ssize_t>(r);
}

SP_EXPORT ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  if (!g_fds.is_socket(fd)) return REAL(recvmsg)(fd, msg, flags);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<ssize_t>(do_recvmsg(*f, msg, flags));
}

SP_EXPORT int recvmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags, timespec* timeout) {
  if (!g_fds.is_socket(fd)) return REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
  auto f = lookup(fd);
  if (!f) return -1;
  unsigned int done = 0;
  for (; done < vlen; ++done) {
    // After the first message, take only what is there (MSG_WAITFORONE's rule
    // for a stream: one read can empty the queue).
    const int fl = done ? ((flags & ~MSG_WAITFORONE) | MSG_DONTWAIT) : (flags & ~MSG_WAITFORONE);
    const long r = do_recvmsg(*f, &vec[done].msg_hdr, fl);
    if (r < 0) {
      if (done) break;
      return sys<int>(r);
    }
    vec[done].msg_len = static_cast<unsigned>(r);
    if (r == 0) {
      ++done;
      break;
    }
  }
  return static_cast<int>(done);
}

SP_EXPORT ssize_t read(int fd, void* buf, size_t len) {
  if (!g_fds.is_socket(fd)) return REAL(read)(fd, buf, len);
  auto f = lookup(fd);
  if (!f) return -1;
  return sys<ssize_t>(do_recv(*f, buf, len, 0));
}

SP_EXPORT ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  if (!g_fds.is_socket(fd)) return REAL(readv)(fd, iov, iovcnt);
  auto f = lookup(fd);
  if (!f) return -1;
  if (iovcnt < 0 || iovcnt > IOV_MAX) return sys<ssize_t>(-EINVAL);
  msghdr m{};
  m.msg_iov = const_cast<iovec*>(iov);
  m.msg_iovlen = static_cast<size_t>(iovcnt);
  return sys<ssize_t>(do_recvmsg(*f, &m, 0));
}

// The fortified variants (_FORTIFY_SOURCE) that Debian's programs call.
SP_EXPORT ssize_t __read_chk(int fd, void* buf, size_t len, size_t buflen) {
  if (len > buflen) std::abort();
  return read(fd, buf, len);
}
SP_EXPORT ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buflen, int flags) {
  if (len > buflen) std::abort();
  return recv(fd, buf, len, flags);
}
SP_EXPORT ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buflen, int flags,
                                 sockaddr* from, socklen_t* fromlen) {
  if (len > buflen) std::abort();
  return recvfrom(fd, buf, len, flags, from, fromlen);
}

namespace {
// sendfile(2) onto a sendpath socket: the file's bytes read here and sent
// with the socket's blocking rules. With offset, the file position stays;
// without, it advances by what was sent.
ssize_t sendfile_to_socket(sp::preload::SpFile& f, int in_fd, off_t* offset, size_t count) {
  // rw_verify_area: one call moves at most MAX_RW_COUNT bytes.
  count = std::min<size_t>(count, static_cast<size_t>(sp::MAX_RW_COUNT));
  off_t pos = offset ? *offset : ::lseek(in_fd, 0, SEEK_CUR);
  if (pos < 0) return -1;
  std::vector<char> buf(std::min<size_t>(count, 256 * 1024));
  size_t sent = 0;
  while (sent < count) {
    const size_t want = std::min(buf.size(), count - sent);
    const ssize_t n = ::pread(in_fd, buf.data(), want, pos);
    if (n < 0) {
      if (sent) break;
      return -1;
    }
    if (n == 0) break;
    // After the first chunk, a blocking socket still blocks; a full buffer
    // on a non-blocking one ends the call with what went.
    const long r = do_send(f, buf.data(), static_cast<size_t>(n), sent ? MSG_NOSIGNAL : 0);
    if (r < 0) {
      if (sent) break;
      return sys<ssize_t>(r);
    }
    sent += static_cast<size_t>(r);
    pos += r;
    if (r < n) break;
  }
  if (offset) {
    *offset = pos;
  } else {
    ::lseek(in_fd, pos, SEEK_SET);
  }
  return static_cast<ssize_t>(sent);
}
}  // namespace

SP_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  if (g_fds.is_socket(in_fd) && !g_fds.is_socket(out_fd)) return sys<ssize_t>(-EINVAL);
  if (!g_fds.is_socket(out_fd)) return REAL(sendfile)(out_fd, in_fd, offset, count);
  auto f = lookup(out_fd);
  if (!f) return -1;
  return sendfile_to_socket(*f, in_fd, offset, count);
}

SP_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t* offset, size_t count) {
  if (g_fds.is_socket(in_fd) && !g_fds.is_socket(out_fd)) return sys<ssize_t>(-EINVAL);
  if (!g_fds.is_socket(out_fd)) return REAL(sendfile64)(out_fd, in_fd, offset, count);
  auto f = lookup(out_fd);
  if (!f) return -1;
  off_t off = offset ? static_cast<off_t>(*offset) : 0;
  const ssize_t r = sendfile_to_socket(*f, in_fd, offset ? &off : nullptr, count);
  if (offset && r >= 0) *offset = off;
  return r;
}

SP_EXPORT int close(int fd) {
  const std::uint8_t k = g_fds.kind(fd);
  if (!k) return REAL(close)(fd);
  return sp::preload::close_known(fd, k);
}

namespace {
// The sendpath descriptors in [lo, hi] go as by close(2) before the kernel
// closes the range (otherwise a later descriptor with one of those numbers
// would be taken for the socket).
void close_sockets_in(unsigned lo, unsigned hi) {
  for (auto& [fd, f] : g_fds.all()) {
    if (static_cast<unsigned>(fd) < lo || static_cast<unsigned>(fd) > hi) continue;
    f.reset();
    sp::preload::close_known(fd, g_fds.kind(fd));
  }
}
}  // namespace

SP_EXPORT int close_range(unsigned lo, unsigned hi, int flags) noexcept {
  // CLOSE_RANGE_CLOEXEC marks instead of closing: sendpath descriptors are
  // close-on-exec already.
  if (lo <= hi && !(flags & CLOSE_RANGE_CLOEXEC)) close_sockets_in(lo, hi);
  return REAL(close_range)(lo, hi, flags);
}

SP_EXPORT void closefrom(int lo) noexcept {
  if (lo >= 0) close_sockets_in(static_cast<unsigned>(lo), UINT_MAX);
  REAL(closefrom)(lo);
}

SP_EXPORT int dup(int fd) {
  auto f = g_fds.get(fd);
  if (!f) return REAL(dup)(fd);
  const int nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 0);
  if (nfd >= 0) g_fds.set(nfd, std::move(f), false).reset();
  return nfd;
}

namespace {
int dup_onto(int fd, int nfd, int flags, bool dup2_rules) {
  auto f = g_fds.get(fd);
  if (!f) {
    sp::preload::before_reuse(nfd);
    return dup2_rules ? REAL(dup2)(fd, nfd) : REAL(dup3)(fd, nfd, flags);
  }
  if (fd == nfd) {
    if (!dup2_rules) return sys<int>(-EINVAL);
    return nfd;
  }
  if (flags & ~O_CLOEXEC) return sys<int>(-EINVAL);
  sp::preload::before_reuse(nfd);
  const int r = REAL(dup3)(fd, nfd, O_CLOEXEC);
  if (r >= 0) g_fds.set(r, std::move(f), flags & O_CLOEXEC).reset();
  return r;
}
}  // namespace

SP_EXPORT int dup2(int fd, int nfd) {
  return dup_onto(fd, nfd, 0, true);
}
SP_EXPORT int dup3(int fd, int nfd, int flags) {
  return dup_onto(fd, nfd, flags, false);
}

namespace {
int fcntl_impl(int fd, int cmd, long arg, bool is64) {
  auto call_real = [&]() { return is64 ? REAL(fcntl64)(fd, cmd, arg) : REAL(fcntl)(fd, cmd, arg); };
  if (!g_fds.is_socket(fd)) return call_real();
  auto f = lookup(fd);
  if (!f) return -1;
  switch (cmd) {
    case F_GETFL:
      return O_RDWR | (f->nonblock ? O_NONBLOCK : 0);
    case F_SETFL:
      f->nonblock = (arg & O_NONBLOCK) != 0;
      return 0;
    case F_GETFD:
      if (REAL(fcntl)(fd, F_GETFD) < 0) return -1;
      return (g_fds.kind(fd) & sp::preload::FdMap::kAppCloexec) ? FD_CLOEXEC : 0;
    case F_SETFD:
      if (REAL(fcntl)(fd, F_GETFD) < 0) return -1;
      g_fds.set_kind_bits(fd, sp::preload::FdMap::kAppCloexec, arg & FD_CLOEXEC);
      return 0;
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const int nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, arg);
      if (nfd >= 0) g_fds.set(nfd, std::move(f), cmd == F_DUPFD_CLOEXEC).reset();
      return nfd;
    }
    default:
      return call_real();
  }
}
}  // namespace

SP_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  return fcntl_impl(fd, cmd, arg, false);
}

SP_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  return fcntl_impl(fd, cmd, arg, true);
}

SP_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (!g_fds.is_socket(fd)) return REAL(ioctl)(fd, request, arg);
  auto f = lookup(fd);
  if (!f) return -1;
  switch (request) {
    case FIONBIO:
      if (!arg) return sys<int>(-EFAULT);
      f->nonblock = *static_cast<int*>(arg) != 0;
      return 0;
    case FIOCLEX:
    case FIONCLEX:
      g_fds.set_kind_bits(fd, sp::preload::FdMap::kAppCloexec, request == FIOCLEX);
      return 0;
    default:
      return sys<int>(sp::preload::locked(
          *f, [&] { return sockcall::ioctl(f->sock.get(), request, static_cast<int*>(arg)); }));
  }
}

SP_EXPORT int poll(pollfd* fds, nfds_t nfds, int timeout) {
  return sp::preload::do_poll(fds, nfds, sp::preload::Deadline::after_ms(timeout), nullptr);
}

SP_EXPORT int ppoll(pollfd* fds, nfds_t nfds, const timespec* timeout, const sigset_t* sigmask) {
  return sp::preload::do_poll(fds, nfds, sp::preload::Deadline::after_ts(timeout), sigmask);
}

SP_EXPORT int __poll_chk(pollfd* fds, nfds_t nfds, int timeout, size_t fdslen) {
  if (fdslen / sizeof(pollfd) < nfds) std::abort();
  return poll(fds, nfds, timeout);
}

SP_EXPORT int __ppoll_chk(pollfd* fds, nfds_t nfds, const timespec* timeout,
                          const sigset_t* sigmask, size_t fdslen) {
  if (fdslen / sizeof(pollfd) < nfds) std::abort();
  return ppoll(fds, nfds, timeout, sigmask);
}

namespace {
bool any_socket_in(int nfds, fd_set* a, fd_set* b, fd_set* c) {
  for (int fd = 0; fd < nfds && fd < FD_SETSIZE; ++fd) {
    if (!g_fds.is_socket(fd)) continue;
    if ((a && FD_ISSET(fd, a)) || (b && FD_ISSET(fd, b)) || (c && FD_ISSET(fd, c))) return true;
  }
  return false;
}
}  // namespace

SP_EXPORT int select(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, timeval* tv) {
  if (!any_socket_in(nfds, rd, wr, ex)) return REAL(select)(nfds, rd, wr, ex, tv);
  if (nfds < 0 || (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))) return sys<int>(-EINVAL);
  const auto start = sp::preload::Clock::now();
  const sp::preload::Deadline dl =
      tv ? sp::preload::Deadline::after_ms(tv->tv_sec * 1000LL + (tv->tv_usec + 999) / 1000)
         : sp::preload::Deadline{};
  const int r = sp::preload::do_select(nfds, rd, wr, ex, dl, nullptr);
  if (tv) {
    // Linux writes back the time not slept.
    const long long total = tv->tv_sec * 1'000'000LL + tv->tv_usec;
    const long long used =
        std::chrono::duration_cast<std::chrono::microseconds>(sp::preload::Clock::now() - start)
            .count();
    const long long left = std::max(0LL, total - used);
    tv->tv_sec = left / 1'000'000;
    tv->tv_usec = left % 1'000'000;
  }
  return r;
}

SP_EXPORT int pselect(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, const timespec* ts,
                      const sigset_t* sigmask) {
  if (!any_socket_in(nfds, rd, wr, ex)) return REAL(pselect)(nfds, rd, wr, ex, ts, sigmask);
  if (nfds < 0 || (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0))) return sys<int>(-EINVAL);
  return sp::preload::do_select(nfds, rd, wr, ex, sp::preload::Deadline::after_ts(ts), sigmask);
}

SP_EXPORT int epoll_create1(int flags) {
  const int fd = REAL(epoll_create1)(flags);
  if (fd >= 0) g_fds.set_kind_bits(fd, sp::preload::FdMap::kEpoll, true);
  return fd;
}

SP_EXPORT int epoll_create(int size) {
  const int fd = REAL(epoll_create)(size);
  if (fd >= 0) g_fds.set_kind_bits(fd, sp::preload::FdMap::kEpoll, true);
  return fd;
}

SP_EXPORT int epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  if (!g_fds.is_socket(fd)) return REAL(epoll_ctl)(epfd, op, fd, event);
  return sp::preload::do_epoll_ctl(epfd, op, fd, event);
}

SP_EXPORT int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout) {
  if (!(g_fds.kind(epfd) & sp::preload::FdMap::kEpoll))
    return REAL(epoll_wait)(epfd, events, maxevents, timeout);
  return sp::preload::do_epoll_wait(epfd, events, maxevents,
                                    sp::preload::Deadline::after_ms(timeout), nullptr);
}

SP_EXPORT int epoll_pwait(int epfd, epoll_event* events, int maxevents, int timeout,
                          const sigset_t* sigmask) {
  if (!(g_fds.kind(epfd) & sp::preload::FdMap::kEpoll))
    return REAL(epoll_pwait)(epfd, events, maxevents, timeout, sigmask);
  return sp::preload::do_epoll_wait(epfd, events, maxevents,
                                    sp::preload::Deadline::after_ms(timeout), sigmask);
}

SP_EXPORT int epoll_pwait2(int epfd, epoll_event* events, int maxevents, const timespec* timeout,
                           const sigset_t* sigmask) {
  if (!(g_fds.kind(epfd) & sp::preload::FdMap::kEpoll))
    return REAL(epoll_pwait2)(epfd, events, maxevents, timeout, sigmask);
  return sp::preload::do_epoll_wait(epfd, events, maxevents,
                                    sp::preload::Deadline::after_ts(timeout), sigmask);
}

// fstat(2): a sendpath socket is a socket (S_IFSOCK), as programs check.
SP_EXPORT int fstat(int fd, struct stat* st) {
  const int r = REAL(fstat)(fd, st);
  if (r == 0 && g_fds.is_socket(fd)) st->st_mode = S_IFSOCK | 0777;
  return r;
}

SP_EXPORT int fstat64(int fd, struct stat64* st) {
  const int r = REAL(fstat64)(fd, st);
  if (r == 0 && g_fds.is_socket(fd)) st->st_mode = S_IFSOCK | 0777;
  return r;
}
