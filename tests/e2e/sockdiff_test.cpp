// The socket surface, checked against the running kernel: each test is a
// script of calls made once on kernel sockets (127.0.0.1) and once on
// sendpath sockets (two stacks on a SimWorld), and every call's return
// value, errno and out-values must agree. A mismatch prints one line:
// the call, the kernel's result, sendpath's result.
//
// sendpath follows Linux 6.12; the host may run a newer kernel. What cannot
// be compared is listed in kExceptions below, each with its reason.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"

namespace sp {
namespace {

// --- the two backends ---------------------------------------------------------------

// The calls a script makes. "Near" sockets live on the client side, "far"
// ones on the server side; on the kernel both are on 127.0.0.1.
class Sys {
 public:
  virtual ~Sys() = default;
  virtual int socket(bool far, int type) = 0;
  virtual sockaddr_in addr(bool far) = 0;
  virtual int setsockopt(int fd, int level, int name, const void* val, socklen_t len) = 0;
  virtual int getsockopt(int fd, int level, int name, void* val, socklen_t* len) = 0;
  virtual int bind(int fd, const sockaddr_in* a, socklen_t len) = 0;
  virtual int listen(int fd, int backlog) = 0;
  virtual int connect(int fd, const sockaddr_in* a, socklen_t len) = 0;
  virtual int accept4(int fd, int flags) = 0;
  virtual int getsockname(int fd, sockaddr_in* a) = 0;
  virtual int getpeername(int fd, sockaddr_in* a) = 0;
  virtual int shutdown(int fd, int how) = 0;
  virtual int close(int fd) = 0;
  virtual ssize_t send(int fd, const void* buf, std::size_t len, int flags) = 0;
  virtual ssize_t recv(int fd, void* buf, std::size_t len, int flags) = 0;
  virtual int poll(pollfd* fds, nfds_t n, int timeout_ms) = 0;
  virtual int fcntl(int fd, int cmd, int arg) = 0;
  virtual int epoll_create1(int flags) = 0;
  virtual int epoll_ctl(int ep, int op, int fd, epoll_event* ev) = 0;
  virtual int epoll_wait(int ep, epoll_event* evs, int n, int timeout_ms) = 0;
};

class KernelSys final : public Sys {
 public:
  int socket(bool, int type) override { return ::socket(AF_INET, type, 0); }
  sockaddr_in addr(bool) override {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }
  int setsockopt(int fd, int level, int name, const void* val, socklen_t len) override {
    return ::setsockopt(fd, level, name, val, len);
  }
  int getsockopt(int fd, int level, int name, void* val, socklen_t* len) override {
    return ::getsockopt(fd, level, name, val, len);
  }
  int bind(int fd, const sockaddr_in* a, socklen_t len) override {
    return ::bind(fd, reinterpret_cast<const sockaddr*>(a), len);
  }
  int listen(int fd, int backlog) override { return ::listen(fd, backlog); }
  int connect(int fd, const sockaddr_in* a, socklen_t len) override {
    return ::connect(fd, reinterpret_cast<const sockaddr*>(a), len);
  }
  int accept4(int fd, int flags) override { return ::accept4(fd, nullptr, nullptr, flags); }
  int getsockname(int fd, sockaddr_in* a) override {
    socklen_t len = sizeof *a;
    return ::getsockname(fd, reinterpret_cast<sockaddr*>(a), &len);
  }
  int getpeername(int fd, sockaddr_in* a) override {
    socklen_t len = sizeof *a;
    return ::getpeername(fd, reinterpret_cast<sockaddr*>(a), &len);
  }
  int shutdown(int fd, int how) override { return ::shutdown(fd, how); }
  int close(int fd) override { return ::close(fd); }
  ssize_t send(int fd, const void* buf, std::size_t len, int flags) override {
    return ::send(fd, buf, len, flags | MSG_NOSIGNAL);
  }
  ssize_t recv(int fd, void* buf, std::size_t len, int flags) override {
    return ::recv(fd, buf, len, flags);
  }
  int poll(pollfd* fds, nfds_t n, int timeout_ms) override { return ::poll(fds, n, timeout_ms); }
  int fcntl(int fd, int cmd, int arg) override { return ::fcntl(fd, cmd, arg); }
  int epoll_create1(int flags) override { return ::epoll_create1(flags); }
  int epoll_ctl(int ep, int op, int fd, epoll_event* ev) override {
    return ::epoll_ctl(ep, op, fd, ev);
  }
  int epoll_wait(int ep, epoll_event* evs, int n, int timeout_ms) override {
    return ::epoll_wait(ep, evs, n, timeout_ms);
  }
};

// The host's value of a sysctl, as /proc/sys prints it (tabs made spaces).
std::string host_sysctl(const std::string& name) {
  std::string path = "/proc/sys/" + name;
  for (char& c : path)
    if (c == '.') c = '/';
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  for (char& c : line)
    if (c == '\t') c = ' ';
  return line;
}

class SendpathSys final : public Sys {
 public:
  SendpathSys() {
    // The defaults that come from sysctls are the host's, so that the
    // values themselves can be compared.
    for (Stack* st : {&near_, &far_}) {
      for (const char* name :
           {"net.core.wmem_default", "net.core.rmem_default", "net.core.wmem_max",
            "net.core.rmem_max", "net.core.somaxconn", "net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem",
            "net.ipv4.ip_default_ttl", "net.ipv4.tcp_syn_retries", "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_notsent_lowat"}) {
        const std::string v = host_sysctl(name);
        if (v.empty()) continue;
        const std::string err = st->sysctl().set(name, v);
        EXPECT_EQ(err, "") << name << " = " << v;
      }
    }
    SimLinkConfig cfg;
    cfg.a_to_b.delay = cfg.b_to_a.delay = 50 * kNsPerUs;
    cfg.mtu = 65536;  // the loopback device's
    world_.connect(near_, near_addr_, far_, far_addr_, 24, cfg);
  }
  int socket(bool far, int type) override {
    return sp::socket(far ? far_ : near_, AF_INET, type, 0);
  }
  sockaddr_in addr(bool far) override {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = far ? far_addr_ : near_addr_;
    return a;
  }
  int setsockopt(int fd, int level, int name, const void* val, socklen_t len) override {
    return sp::setsockopt(fd, level, name, val, len);
  }
  int getsockopt(int fd, int level, int name, void* val, socklen_t* len) override {
    return sp::getsockopt(fd, level, name, val, len);
  }
  int bind(int fd, const sockaddr_in* a, socklen_t len) override {
    return sp::bind(fd, reinterpret_cast<const sockaddr*>(a), len);
  }
  int listen(int fd, int backlog) override { return sp::listen(fd, backlog); }
  int connect(int fd, const sockaddr_in* a, socklen_t len) override {
    return sp::connect(fd, reinterpret_cast<const sockaddr*>(a), len);
  }
  int accept4(int fd, int flags) override { return sp::accept4(fd, nullptr, nullptr, flags); }
  int getsockname(int fd, sockaddr_in* a) override {
    socklen_t len = sizeof *a;
    return sp::getsockname(fd, reinterpret_cast<sockaddr*>(a), &len);
  }
  int getpeername(int fd, sockaddr_in* a) override {
    socklen_t len = sizeof *a;
    return sp::getpeername(fd, reinterpret_cast<sockaddr*>(a), &len);
  }
  int shutdown(int fd, int how) override { return sp::shutdown(fd, how); }
  int close(int fd) override { return sp::close(fd); }
  ssize_t send(int fd, const void* buf, std::size_t len, int flags) override {
    return sp::send(fd, buf, len, flags);
  }
  ssize_t recv(int fd, void* buf, std::size_t len, int flags) override {
    return sp::recv(fd, buf, len, flags);
  }
  int poll(pollfd* fds, nfds_t n, int timeout_ms) override { return sp::poll(fds, n, timeout_ms); }
  int fcntl(int fd, int cmd, int arg) override { return sp::fcntl(fd, cmd, arg); }
  int epoll_create1(int flags) override { return sp::epoll_create1(flags); }
  int epoll_ctl(int ep, int op, int fd, epoll_event* ev) override {
    return sp::epoll_ctl(ep, op, fd, ev);
  }
  int epoll_wait(int ep, epoll_event* evs, int n, int timeout_ms) override {
    return sp::epoll_wait(ep, evs, n, timeout_ms);
  }

 private:
  SimWorld world_;
  Stack& near_ = world_.add_stack();
  Stack& far_ = world_.add_stack();
  be32 near_addr_ = htonl(0x0a090001);  // 10.9.0.1
  be32 far_addr_ = htonl(0x0a090002);   // 10.9.0.2
};

// --- option names -------------------------------------------------------------------

struct OptName {
  int level;
  int name;
  const char* text;
};

#define SP_OPT(level, name) \
  { level, name, #name }
// Every option Linux 6.12 handles for a TCP/IPv4 socket (sk_setsockopt,
// sk_getsockopt, do_ip_setsockopt, do_ip_getsockopt, do_tcp_setsockopt,
// do_tcp_getsockopt); the sweep also tries every number in between.
constexpr OptName kOptNames[] = {
    SP_OPT(SOL_SOCKET, SO_DEBUG),
    SP_OPT(SOL_SOCKET, SO_REUSEADDR),
    SP_OPT(SOL_SOCKET, SO_TYPE),
    SP_OPT(SOL_SOCKET, SO_ERROR),
    SP_OPT(SOL_SOCKET, SO_DONTROUTE),
    SP_OPT(SOL_SOCKET, SO_BROADCAST),
    SP_OPT(SOL_SOCKET, SO_SNDBUF),
    SP_OPT(SOL_SOCKET, SO_RCVBUF),
    SP_OPT(SOL_SOCKET, SO_KEEPALIVE),
    SP_OPT(SOL_SOCKET, SO_OOBINLINE),
    SP_OPT(SOL_SOCKET, SO_NO_CHECK),
    SP_OPT(SOL_SOCKET, SO_PRIORITY),
    SP_OPT(SOL_SOCKET, SO_LINGER),
    SP_OPT(SOL_SOCKET, SO_BSDCOMPAT),
    SP_OPT(SOL_SOCKET, SO_REUSEPORT),
    SP_OPT(SOL_SOCKET, SO_PASSCRED),
    SP_OPT(SOL_SOCKET, SO_PEERCRED),
    SP_OPT(SOL_SOCKET, SO_RCVLOWAT),
    SP_OPT(SOL_SOCKET, SO_SNDLOWAT),
    SP_OPT(SOL_SOCKET, SO_RCVTIMEO_OLD),
    SP_OPT(SOL_SOCKET, SO_SNDTIMEO_OLD),
    SP_OPT(SOL_SOCKET, SO_SECURITY_AUTHENTICATION),
    SP_OPT(SOL_SOCKET, SO_SECURITY_ENCRYPTION_TRANSPORT),
    SP_OPT(SOL_SOCKET, SO_SECURITY_ENCRYPTION_NETWORK),
    SP_OPT(SOL_SOCKET, SO_BINDTODEVICE),
    SP_OPT(SOL_SOCKET, SO_ATTACH_FILTER),
    SP_OPT(SOL_SOCKET, SO_DETACH_FILTER),
    SP_OPT(SOL_SOCKET, SO_PEERNAME),
    SP_OPT(SOL_SOCKET, SO_TIMESTAMP_OLD),
    SP_OPT(SOL_SOCKET, SO_ACCEPTCONN),
    SP_OPT(SOL_SOCKET, SO_PEERSEC),
    SP_OPT(SOL_SOCKET, SO_SNDBUFFORCE),
    SP_OPT(SOL_SOCKET, SO_RCVBUFFORCE),
    SP_OPT(SOL_SOCKET, SO_PASSSEC),
    SP_OPT(SOL_SOCKET, SO_TIMESTAMPNS_OLD),
    SP_OPT(SOL_SOCKET, SO_MARK),
    SP_OPT(SOL_SOCKET, SO_TIMESTAMPING_OLD),
    SP_OPT(SOL_SOCKET, SO_PROTOCOL),
    SP_OPT(SOL_SOCKET, SO_DOMAIN),
    SP_OPT(SOL_SOCKET, SO_RXQ_OVFL),
    SP_OPT(SOL_SOCKET, SO_WIFI_STATUS),
    SP_OPT(SOL_SOCKET, SO_PEEK_OFF),
    SP_OPT(SOL_SOCKET, SO_NOFCS),
    SP_OPT(SOL_SOCKET, SO_LOCK_FILTER),
    SP_OPT(SOL_SOCKET, SO_SELECT_ERR_QUEUE),
    SP_OPT(SOL_SOCKET, SO_BUSY_POLL),
    SP_OPT(SOL_SOCKET, SO_MAX_PACING_RATE),
    SP_OPT(SOL_SOCKET, SO_BPF_EXTENSIONS),
    SP_OPT(SOL_SOCKET, SO_INCOMING_CPU),
    SP_OPT(SOL_SOCKET, SO_ATTACH_BPF),
    SP_OPT(SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF),
    SP_OPT(SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF),
    SP_OPT(SOL_SOCKET, SO_CNX_ADVICE),
    SP_OPT(SOL_SOCKET, SO_MEMINFO),
    SP_OPT(SOL_SOCKET, SO_INCOMING_NAPI_ID),
    SP_OPT(SOL_SOCKET, SO_COOKIE),
    SP_OPT(SOL_SOCKET, SO_PEERGROUPS),
    SP_OPT(SOL_SOCKET, SO_ZEROCOPY),
    SP_OPT(SOL_SOCKET, SO_TXTIME),
    SP_OPT(SOL_SOCKET, SO_BINDTOIFINDEX),
    SP_OPT(SOL_SOCKET, SO_TIMESTAMP_NEW),
    SP_OPT(SOL_SOCKET, SO_TIMESTAMPNS_NEW),
    SP_OPT(SOL_SOCKET, SO_TIMESTAMPING_NEW),
    SP_OPT(SOL_SOCKET, SO_RCVTIMEO_NEW),
    SP_OPT(SOL_SOCKET, SO_SNDTIMEO_NEW),
    SP_OPT(SOL_SOCKET, SO_DETACH_REUSEPORT_BPF),
    SP_OPT(SOL_SOCKET, SO_PREFER_BUSY_POLL),
    SP_OPT(SOL_SOCKET, SO_BUSY_POLL_BUDGET),
    SP_OPT(SOL_SOCKET, SO_NETNS_COOKIE),
    SP_OPT(SOL_SOCKET, SO_BUF_LOCK),
    SP_OPT(SOL_SOCKET, SO_RESERVE_MEM),
    SP_OPT(SOL_SOCKET, SO_TXREHASH),
    SP_OPT(SOL_SOCKET, SO_RCVMARK),
    {SOL_SOCKET, 76, "SO_PASSPIDFD"},
    {SOL_SOCKET, 77, "SO_PEERPIDFD"},
    {SOL_SOCKET, 78, "SO_DEVMEM_LINEAR"},
    {SOL_SOCKET, 79, "SO_DEVMEM_DMABUF"},
    {SOL_SOCKET, 80, "SO_DEVMEM_DONTNEED"},
    SP_OPT(IPPROTO_IP, IP_TOS),
    SP_OPT(IPPROTO_IP, IP_TTL),
    SP_OPT(IPPROTO_IP, IP_HDRINCL),
    SP_OPT(IPPROTO_IP, IP_OPTIONS),
    SP_OPT(IPPROTO_IP, IP_ROUTER_ALERT),
    SP_OPT(IPPROTO_IP, IP_RECVOPTS),
    SP_OPT(IPPROTO_IP, IP_RETOPTS),
    SP_OPT(IPPROTO_IP, IP_PKTINFO),
    SP_OPT(IPPROTO_IP, IP_PKTOPTIONS),
    SP_OPT(IPPROTO_IP, IP_MTU_DISCOVER),
    SP_OPT(IPPROTO_IP, IP_RECVERR),
    SP_OPT(IPPROTO_IP, IP_RECVTTL),
    SP_OPT(IPPROTO_IP, IP_RECVTOS),
    SP_OPT(IPPROTO_IP, IP_MTU),
    SP_OPT(IPPROTO_IP, IP_FREEBIND),
    SP_OPT(IPPROTO_IP, IP_IPSEC_POLICY),
    SP_OPT(IPPROTO_IP, IP_XFRM_POLICY),
    SP_OPT(IPPROTO_IP, IP_PASSSEC),
    SP_OPT(IPPROTO_IP, IP_TRANSPARENT),
    SP_OPT(IPPROTO_IP, IP_RECVORIGDSTADDR),
    SP_OPT(IPPROTO_IP, IP_MINTTL),
    SP_OPT(IPPROTO_IP, IP_NODEFRAG),
    SP_OPT(IPPROTO_IP, IP_CHECKSUM),
    SP_OPT(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT),
    SP_OPT(IPPROTO_IP, IP_RECVFRAGSIZE),
    SP_OPT(IPPROTO_IP, IP_RECVERR_RFC4884),
    SP_OPT(IPPROTO_IP, IP_MULTICAST_IF),
    SP_OPT(IPPROTO_IP, IP_MULTICAST_TTL),
    SP_OPT(IPPROTO_IP, IP_MULTICAST_LOOP),
    SP_OPT(IPPROTO_IP, IP_ADD_MEMBERSHIP),
    SP_OPT(IPPROTO_IP, IP_DROP_MEMBERSHIP),
    SP_OPT(IPPROTO_IP, IP_UNBLOCK_SOURCE),
    SP_OPT(IPPROTO_IP, IP_BLOCK_SOURCE),
    SP_OPT(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP),
    SP_OPT(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP),
    SP_OPT(IPPROTO_IP, IP_MSFILTER),
    SP_OPT(IPPROTO_IP, MCAST_JOIN_GROUP),
    SP_OPT(IPPROTO_IP, MCAST_BLOCK_SOURCE),
    SP_OPT(IPPROTO_IP, MCAST_UNBLOCK_SOURCE),
    SP_OPT(IPPROTO_IP, MCAST_LEAVE_GROUP),
    SP_OPT(IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP),
    SP_OPT(IPPROTO_IP, MCAST_LEAVE_SOURCE_GROUP),
    SP_OPT(IPPROTO_IP, MCAST_MSFILTER),
    SP_OPT(IPPROTO_IP, IP_MULTICAST_ALL),
    SP_OPT(IPPROTO_IP, IP_UNICAST_IF),
    {IPPROTO_IP, 51, "IP_LOCAL_PORT_RANGE"},
    {IPPROTO_IP, 52, "IP_PROTOCOL"},
    SP_OPT(IPPROTO_TCP, TCP_NODELAY),
    SP_OPT(IPPROTO_TCP, TCP_MAXSEG),
    SP_OPT(IPPROTO_TCP, TCP_CORK),
    SP_OPT(IPPROTO_TCP, TCP_KEEPIDLE),
    SP_OPT(IPPROTO_TCP, TCP_KEEPINTVL),
    SP_OPT(IPPROTO_TCP, TCP_KEEPCNT),
    SP_OPT(IPPROTO_TCP, TCP_SYNCNT),
    SP_OPT(IPPROTO_TCP, TCP_LINGER2),
    SP_OPT(IPPROTO_TCP, TCP_DEFER_ACCEPT),
    SP_OPT(IPPROTO_TCP, TCP_WINDOW_CLAMP),
    SP_OPT(IPPROTO_TCP, TCP_INFO),
    SP_OPT(IPPROTO_TCP, TCP_QUICKACK),
    SP_OPT(IPPROTO_TCP, TCP_CONGESTION),
    SP_OPT(IPPROTO_TCP, TCP_MD5SIG),
    SP_OPT(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS),
    SP_OPT(IPPROTO_TCP, TCP_THIN_DUPACK),
    SP_OPT(IPPROTO_TCP, TCP_USER_TIMEOUT),
    SP_OPT(IPPROTO_TCP, TCP_REPAIR),
    SP_OPT(IPPROTO_TCP, TCP_REPAIR_QUEUE),
    SP_OPT(IPPROTO_TCP, TCP_QUEUE_SEQ),
    SP_OPT(IPPROTO_TCP, TCP_REPAIR_OPTIONS),
    SP_OPT(IPPROTO_TCP, TCP_FASTOPEN),
    SP_OPT(IPPROTO_TCP, TCP_TIMESTAMP),
    SP_OPT(IPPROTO_TCP, TCP_NOTSENT_LOWAT),
    SP_OPT(IPPROTO_TCP, TCP_CC_INFO),
    SP_OPT(IPPROTO_TCP, TCP_SAVE_SYN),
    SP_OPT(IPPROTO_TCP, TCP_SAVED_SYN),
    SP_OPT(IPPROTO_TCP, TCP_REPAIR_WINDOW),
    SP_OPT(IPPROTO_TCP, TCP_FASTOPEN_CONNECT),
    SP_OPT(IPPROTO_TCP, TCP_ULP),
    SP_OPT(IPPROTO_TCP, TCP_MD5SIG_EXT),
    SP_OPT(IPPROTO_TCP, TCP_FASTOPEN_KEY),
    SP_OPT(IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE),
    SP_OPT(IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE),
    SP_OPT(IPPROTO_TCP, TCP_INQ),
    SP_OPT(IPPROTO_TCP, TCP_TX_DELAY),
    {IPPROTO_TCP, 38, "TCP_AO_ADD_KEY"},
    {IPPROTO_TCP, 39, "TCP_AO_DEL_KEY"},
    {IPPROTO_TCP, 40, "TCP_AO_INFO"},
    {IPPROTO_TCP, 41, "TCP_AO_GET_KEYS"},
    {IPPROTO_TCP, 42, "TCP_AO_REPAIR"},
    {IPPROTO_TCP, 43, "TCP_IS_MPTCP"},
};
#undef SP_OPT

// The numbers each level's sweep covers: every 6.12 option, the options
// later kernels added, and unknown numbers on both sides.
constexpr int kSweepEnd[] = {/*SOL_SOCKET*/ 90, /*IPPROTO_IP*/ 60, /*IPPROTO_TCP*/ 50};
constexpr int kLevels[] = {SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP};

std::string level_text(int level) {
  switch (level) {
    case SOL_SOCKET:
      return "SOL_SOCKET";
    case IPPROTO_IP:
      return "SOL_IP";
    case IPPROTO_TCP:
      return "SOL_TCP";
    default:
      return std::to_string(level);
  }
}

std::string opt_text(int level, int name) {
  for (const OptName& o : kOptNames)
    if (o.level == level && o.name == name) return o.text;
  return std::to_string(name);
}

// --- exceptions ---------------------------------------------------------------------

enum class Exc {
  // The host kernel is newer than 6.12 and knows this option; sendpath must
  // treat it as 6.12 does, as an unknown number: it is compared with the
  // kernel's answers for an unknown number instead.
  kAfter612,
  // Linux 6.12 has it, sendpath refuses it as an unknown option: compared
  // with the kernel's answers for an unknown number.
  kNotImplemented,
  // The value read depends on the machine or the moment: return value,
  // errno and length are compared, the bytes are not.
  kValue,
  // As kValue, but only for the value read before the script set anything.
  kDefaultValue,
  // Linux changed the option after 6.12: the host's answers are not 6.12's,
  // and sendpath keeps 6.12's. Not compared.
  kChangedAfter612,
  // The kernel's answer depends on the caller's capabilities. Not compared.
  kPrivileged,
};

struct Exception {
  int level;
  int name;
  Exc kind;
  const char* reason;
};

const Exception kExceptions[] = {
    {SOL_SOCKET, 81, Exc::kAfter612, "SO_RCVPRIORITY (6.14)"},
    {SOL_SOCKET, 82, Exc::kAfter612, "SO_PASSRIGHTS (6.16)"},
    {SOL_SOCKET, 83, Exc::kAfter612, "SO_INQ (6.17)"},
    {IPPROTO_TCP, 44, Exc::kAfter612, "TCP_RTO_MAX_MS (6.15)"},
    {IPPROTO_TCP, 45, Exc::kAfter612, "TCP_RTO_MIN_US (6.15)"},
    {IPPROTO_TCP, 46, Exc::kAfter612, "TCP_DELACK_MAX_US (6.15)"},
    {SOL_SOCKET, SO_PASSCRED, Exc::kChangedAfter612,
     "6.16 refuses SO_PASS* on TCP (EOPNOTSUPP); 6.12 keeps the flag"},
    {SOL_SOCKET, SO_PASSSEC, Exc::kChangedAfter612,
     "6.16 refuses SO_PASS* on TCP (EOPNOTSUPP); 6.12 keeps the flag"},
    {SOL_SOCKET, 76, Exc::kChangedAfter612,
     "SO_PASSPIDFD: 6.16 refuses SO_PASS* on TCP (EOPNOTSUPP); 6.12 keeps the flag"},
    {SOL_SOCKET, SO_RESERVE_MEM, Exc::kChangedAfter612,
     "6.18 checks for a memory cgroup before the range (EOPNOTSUPP where 6.12 says EINVAL)"},
    {SOL_SOCKET, SO_DONTROUTE, Exc::kNotImplemented, "route lookups would have to honour it"},
    {SOL_SOCKET, SO_OOBINLINE, Exc::kNotImplemented, "sendpath has no urgent data"},
    {SOL_SOCKET, SO_BINDTODEVICE, Exc::kNotImplemented, "binding to a device"},
    {SOL_SOCKET, SO_BINDTOIFINDEX, Exc::kNotImplemented, "binding to a device"},
    {SOL_SOCKET, SO_TIMESTAMP_OLD, Exc::kNotImplemented, "no receive timestamps"},
    {SOL_SOCKET, SO_TIMESTAMP_NEW, Exc::kNotImplemented, "no receive timestamps"},
    {SOL_SOCKET, SO_TIMESTAMPNS_OLD, Exc::kNotImplemented, "no receive timestamps"},
    {SOL_SOCKET, SO_TIMESTAMPNS_NEW, Exc::kNotImplemented, "no receive timestamps"},
    {SOL_SOCKET, SO_PEEK_OFF, Exc::kNotImplemented, "MSG_PEEK offsets"},
    {SOL_SOCKET, SO_ATTACH_FILTER, Exc::kNotImplemented, "no BPF (also SO_GET_FILTER)"},
    {SOL_SOCKET, SO_DETACH_FILTER, Exc::kNotImplemented, "no BPF"},
    {SOL_SOCKET, SO_LOCK_FILTER, Exc::kNotImplemented, "no BPF"},
    {SOL_SOCKET, SO_ATTACH_BPF, Exc::kNotImplemented, "no BPF"},
    {SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, Exc::kNotImplemented, "no BPF"},
    {SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, Exc::kNotImplemented, "no BPF"},
    {SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, Exc::kNotImplemented, "no BPF"},
    {SOL_SOCKET, SO_BPF_EXTENSIONS, Exc::kNotImplemented, "no BPF"},
    {SOL_SOCKET, 78, Exc::kNotImplemented, "SO_DEVMEM_LINEAR: no device memory TCP"},
    {SOL_SOCKET, 79, Exc::kNotImplemented, "SO_DEVMEM_DMABUF: no device memory TCP"},
    {SOL_SOCKET, 80, Exc::kNotImplemented, "SO_DEVMEM_DONTNEED: no device memory TCP"},
    {IPPROTO_TCP, TCP_INFO, Exc::kChangedAfter612,
     "the host's struct tcp_info is longer than 6.12's (256 bytes, not 248)"},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, Exc::kNotImplemented, "listeners accept on the handshake"},
    {IPPROTO_TCP, TCP_MD5SIG, Exc::kNotImplemented, "no TCP-MD5 (RFC 2385)"},
    {IPPROTO_TCP, TCP_MD5SIG_EXT, Exc::kNotImplemented, "no TCP-MD5 (RFC 2385)"},
    {IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, Exc::kNotImplemented, "no thin-stream timeouts"},
    {IPPROTO_TCP, TCP_REPAIR, Exc::kNotImplemented, "no repair mode"},
    {IPPROTO_TCP, TCP_REPAIR_QUEUE, Exc::kNotImplemented, "no repair mode"},
    {IPPROTO_TCP, TCP_QUEUE_SEQ, Exc::kNotImplemented, "no repair mode"},
    {IPPROTO_TCP, TCP_REPAIR_OPTIONS, Exc::kNotImplemented, "no repair mode"},
    {IPPROTO_TCP, TCP_REPAIR_WINDOW, Exc::kNotImplemented, "no repair mode"},
    {IPPROTO_TCP, TCP_FASTOPEN, Exc::kNotImplemented, "no TCP Fast Open"},
    {IPPROTO_TCP, TCP_FASTOPEN_CONNECT, Exc::kNotImplemented, "no TCP Fast Open"},
    {IPPROTO_TCP, TCP_FASTOPEN_KEY, Exc::kNotImplemented, "no TCP Fast Open"},
    {IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, Exc::kNotImplemented, "no TCP Fast Open"},
    {IPPROTO_TCP, TCP_TIMESTAMP, Exc::kNotImplemented, "the timestamp offset (repair mode)"},
    {IPPROTO_TCP, TCP_CC_INFO, Exc::kNotImplemented, "congestion control info (BBR/Vegas/DCTCP)"},
    {IPPROTO_TCP, TCP_SAVE_SYN, Exc::kNotImplemented, "SYN headers are not saved"},
    {IPPROTO_TCP, TCP_SAVED_SYN, Exc::kNotImplemented, "SYN headers are not saved"},
    {IPPROTO_TCP, TCP_ULP, Exc::kNotImplemented, "no upper-layer protocols (kTLS)"},
    {IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, Exc::kNotImplemented, "no receive zerocopy (mmap)"},
    {IPPROTO_TCP, TCP_TX_DELAY, Exc::kNotImplemented, "no added transmit delay"},
    {IPPROTO_TCP, 38, Exc::kNotImplemented, "TCP_AO_ADD_KEY: no TCP-AO (RFC 5925)"},
    {IPPROTO_TCP, 39, Exc::kNotImplemented, "TCP_AO_DEL_KEY: no TCP-AO"},
    {IPPROTO_TCP, 40, Exc::kNotImplemented, "TCP_AO_INFO: no TCP-AO"},
    {IPPROTO_TCP, 41, Exc::kNotImplemented, "TCP_AO_GET_KEYS: no TCP-AO"},
    {IPPROTO_TCP, 42, Exc::kNotImplemented, "TCP_AO_REPAIR: no TCP-AO"},
    {IPPROTO_IP, IP_ADD_MEMBERSHIP, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, Exc::kNotImplemented, "bind always takes a port"},
    {IPPROTO_IP, IP_BLOCK_SOURCE, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, IP_DROP_MEMBERSHIP, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, IP_FREEBIND, Exc::kNotImplemented, "binding to non-local addresses"},
    {IPPROTO_IP, IP_IPSEC_POLICY, Exc::kNotImplemented, "no IPsec"},
    {IPPROTO_IP, IP_MINTTL, Exc::kNotImplemented, "no minimum TTL check (RFC 5082)"},
    {IPPROTO_IP, IP_MSFILTER, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, IP_OPTIONS, Exc::kNotImplemented, "no IP options"},
    {IPPROTO_IP, IP_RECVERR, Exc::kNotImplemented, "ICMP errors are not queued"},
    {IPPROTO_IP, IP_TRANSPARENT, Exc::kNotImplemented, "no transparent proxying"},
    {IPPROTO_IP, IP_UNBLOCK_SOURCE, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, IP_UNICAST_IF, Exc::kNotImplemented, "binding to a device"},
    {IPPROTO_IP, IP_XFRM_POLICY, Exc::kNotImplemented, "no IPsec"},
    {IPPROTO_IP, MCAST_BLOCK_SOURCE, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, MCAST_JOIN_GROUP, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, MCAST_LEAVE_GROUP, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, MCAST_LEAVE_SOURCE_GROUP, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, MCAST_MSFILTER, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, MCAST_UNBLOCK_SOURCE, Exc::kNotImplemented, "multicast"},
    {IPPROTO_IP, 51, Exc::kNotImplemented, "IP_LOCAL_PORT_RANGE: one port range per stack"},
    {IPPROTO_IP, 52, Exc::kValue, "IP_PROTOCOL: Linux reads inet_num, on TCP the local port"},
    {SOL_SOCKET, SO_PEERNAME, Exc::kValue, "the peer's address and port"},
    {SOL_SOCKET, SO_COOKIE, Exc::kValue, "a counter of the machine's sockets"},
    {SOL_SOCKET, SO_NETNS_COOKIE, Exc::kValue, "a counter of the machine's namespaces"},
    {IPPROTO_TCP, TCP_CONGESTION, Exc::kDefaultValue,
     "the host's net.ipv4.tcp_congestion_control, which sendpath need not have"},
};

// sendpath answers as Linux does for a caller with CAP_NET_ADMIN and
// CAP_NET_RAW (it has no capabilities to check). Run without them, the
// kernel refuses these with EPERM, so they are then not compared.
const Exception kUnprivileged[] = {
    {SOL_SOCKET, SO_DEBUG, Exc::kPrivileged, "needs CAP_NET_ADMIN to set"},
    {SOL_SOCKET, SO_PRIORITY, Exc::kPrivileged, "needs CAP_NET_ADMIN above 6"},
    {SOL_SOCKET, SO_MARK, Exc::kPrivileged, "needs CAP_NET_ADMIN"},
    {SOL_SOCKET, SO_SNDBUFFORCE, Exc::kPrivileged, "needs CAP_NET_ADMIN"},
    {SOL_SOCKET, SO_RCVBUFFORCE, Exc::kPrivileged, "needs CAP_NET_ADMIN"},
    {SOL_SOCKET, SO_PREFER_BUSY_POLL, Exc::kPrivileged, "needs CAP_NET_ADMIN"},
    {SOL_SOCKET, SO_BUSY_POLL_BUDGET, Exc::kPrivileged, "needs CAP_NET_ADMIN to raise"},
};

const Exception* find_exception(int level, int name) {
  for (const Exception& e : kExceptions)
    if (e.level == level && e.name == name) return &e;
  if (geteuid() != 0)
    for (const Exception& e : kUnprivileged)
      if (e.level == level && e.name == name) return &e;
  return nullptr;
}

// --- recording a script -------------------------------------------------------------

struct Entry {
  std::string call;  // the call as written in the script, descriptors by name
  long rc = 0;
  int err = 0;
  std::string out;  // out-values, printed
  bool value_exempt = false;
};

std::string hex(const void* p, std::size_t n) {
  std::string s;
  char b[4];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", static_cast<const unsigned char*>(p)[i]);
    s += b;
  }
  return s;
}

std::string errno_text(int e) {
  const char* name = strerrorname_np(e);
  return name ? name : std::to_string(e);
}

std::string result_text(const Entry& e) {
  std::string s = std::to_string(e.rc);
  if (e.rc < 0) s += " " + errno_text(e.err);
  if (!e.out.empty()) s += " [" + e.out + "]";
  return s;
}

// Runs the calls of a script on one backend and records them. Descriptors
// are named by creation order, so that the two runs print alike.
class Calls {
 public:
  explicit Calls(Sys& sys) : sys_(sys) {}
  Sys& sys() { return sys_; }
  const std::vector<Entry>& entries() const { return entries_; }

  std::string name(int fd) const {
    auto it = names_.find(fd);
    return it == names_.end() ? "fd?" : it->second;
  }
  int add_fd(int fd) {
    if (fd >= 0) names_[fd] = "s" + std::to_string(next_name_++);
    return fd;
  }

  template <typename F>
  long rec(std::string call, F&& f, std::string out = {}) {
    errno = 0;
    Entry e;
    e.call = std::move(call);
    e.rc = f();
    e.err = e.rc < 0 ? errno : 0;
    e.out = std::move(out);
    entries_.push_back(e);
    return e.rc;
  }
  // The out-values of the last call, known only after it ran.
  void set_out(std::string out, bool exempt = false) {
    entries_.back().out = std::move(out);
    entries_.back().value_exempt = exempt;
  }

  int socket(bool far = false, int type = SOCK_STREAM | SOCK_NONBLOCK) {
    errno = 0;
    const int fd = sys_.socket(far, type);
    Entry e;
    e.call = std::string("socket(") + (far ? "far" : "near") + ")";
    e.rc = fd < 0 ? -1 : 0;
    e.err = fd < 0 ? errno : 0;
    entries_.push_back(e);
    return add_fd(fd);
  }

  // getsockopt with a buffer of `len` bytes (nullptr when !buffer); records
  // the length and the bytes returned.
  long get(int fd, int level, int name, int len, bool buffer = true, bool exempt = false) {
    unsigned char buf[512];
    std::memset(buf, 0x5a, sizeof buf);
    socklen_t l = static_cast<socklen_t>(len);
    const std::string call = "getsockopt(" + this->name(fd) + ", " + level_text(level) + ", " +
                             opt_text(level, name) + ", " + (buffer ? "buf" : "NULL") +
                             ", len=" + std::to_string(len) + ")";
    const long r =
        rec(call, [&] { return sys_.getsockopt(fd, level, name, buffer ? buf : nullptr, &l); });
    if (r == 0) {
      const std::size_t shown = std::min<std::size_t>(l, sizeof buf);
      set_out("len=" + std::to_string(static_cast<int>(l)) + " " + hex(buf, shown), exempt);
    } else if (static_cast<int>(l) != len) {
      set_out("len=" + std::to_string(static_cast<int>(l)));
    }
    return r;
  }

  long set(int fd, int level, int name, const void* val, int len, const std::string& shown) {
    const std::string call = "setsockopt(" + this->name(fd) + ", " + level_text(level) + ", " +
                             opt_text(level, name) + ", " + shown + ", " + std::to_string(len) +
                             ")";
    return rec(call,
               [&] { return sys_.setsockopt(fd, level, name, val, static_cast<socklen_t>(len)); });
  }
  long set_int(int fd, int level, int name, int v, int len = sizeof(int)) {
    unsigned char buf[16] = {};
    std::memcpy(buf, &v, sizeof v);
    std::string shown = "&";
    shown += std::to_string(v);
    return set(fd, level, name, buf, len, shown);
  }

  long bind(int fd, sockaddr_in a, const std::string& shown, socklen_t len = sizeof(sockaddr_in)) {
    return rec("bind(" + name(fd) + ", " + shown + ")", [&] { return sys_.bind(fd, &a, len); });
  }
  long listen(int fd, int backlog) {
    return rec("listen(" + name(fd) + ", " + std::to_string(backlog) + ")",
               [&] { return sys_.listen(fd, backlog); });
  }
  long connect(int fd, sockaddr_in a, const std::string& shown) {
    return rec("connect(" + name(fd) + ", " + shown + ")",
               [&] { return sys_.connect(fd, &a, sizeof a); });
  }
  int accept(int fd, int flags = SOCK_NONBLOCK) {
    int nfd = -1;
    rec("accept4(" + name(fd) + ")", [&] {
      nfd = sys_.accept4(fd, flags);
      return nfd < 0 ? -1 : 0;
    });
    return add_fd(nfd);
  }
  long shutdown(int fd, int how) {
    return rec("shutdown(" + name(fd) + ", " + std::to_string(how) + ")",
               [&] { return sys_.shutdown(fd, how); });
  }
  long close(int fd) {
    return rec("close(" + name(fd) + ")", [&] { return sys_.close(fd); });
  }
  long send(int fd, std::size_t len, int flags = 0) {
    std::vector<char> buf(len, 'x');
    return rec("send(" + name(fd) + ", " + std::to_string(len) + ")",
               [&] { return static_cast<long>(sys_.send(fd, buf.data(), len, flags)); });
  }
  long recv(int fd, std::size_t len, int flags = 0) {
    std::vector<char> buf(len);
    return rec("recv(" + name(fd) + ", " + std::to_string(len) + ", " + std::to_string(flags) + ")",
               [&] { return static_cast<long>(sys_.recv(fd, buf.data(), len, flags)); });
  }
  // poll one descriptor; out: revents.
  long poll(int fd, short events, int timeout_ms) {
    pollfd p{fd, events, 0};
    const long r = rec("poll(" + name(fd) + ", " + std::to_string(events) + ", " +
                           std::to_string(timeout_ms) + ")",
                       [&] { return static_cast<long>(sys_.poll(&p, 1, timeout_ms)); });
    char b[16];
    std::snprintf(b, sizeof b, "0x%x", static_cast<unsigned>(p.revents));
    set_out(b);
    return r;
  }
  // Wait (bounded) until fd shows one of events.
  void wait(int fd, short events) {
    pollfd p{fd, events, 0};
    for (int i = 0; i < 200 && sys_.poll(&p, 1, 10) == 0; ++i) {
    }
  }

  int epoll_create() {
    int fd = -1;
    rec("epoll_create1(0)", [&] {
      fd = sys_.epoll_create1(0);
      return fd < 0 ? -1 : 0;
    });
    return add_fd(fd);
  }
  long epoll_ctl(int ep, int op, int fd, unsigned events, bool null_event = false) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = 0;
    char b[32];
    std::snprintf(b, sizeof b, "0x%x", events);
    static const char* ops[] = {"?", "ADD", "DEL", "MOD"};
    return rec("epoll_ctl(" + name(ep) + ", " + (op >= 1 && op <= 3 ? ops[op] : "op?") + ", " +
                   name(fd) + ", " + (null_event ? "NULL" : b) + ")",
               [&] { return sys_.epoll_ctl(ep, op, fd, null_event ? nullptr : &ev); });
  }
  // epoll_wait; out: the events reported.
  long epoll_wait(int ep, int timeout_ms) {
    epoll_event evs[8] = {};
    const long r = rec("epoll_wait(" + name(ep) + ", " + std::to_string(timeout_ms) + ")",
                       [&] { return sys_.epoll_wait(ep, evs, 8, timeout_ms); });
    std::string out;
    for (long i = 0; i < r; ++i) {
      char b[32];
      std::snprintf(b, sizeof b, "0x%x", evs[i].events);
      if (i) out += ' ';
      out += b;
    }
    set_out(out);
    return r;
  }

 private:
  Sys& sys_;
  std::vector<Entry> entries_;
  std::map<int, std::string> names_;
  int next_name_ = 1;
};

// --- comparing ----------------------------------------------------------------------

using Script = std::function<void(Calls&)>;

// Reports every call whose result differs between the two runs.
void compare(const std::vector<Entry>& k, const std::vector<Entry>& s) {
  ASSERT_EQ(k.size(), s.size()) << "the script took a different path";
  // SP_SOCKDIFF_VERBOSE=1 prints every call with both results.
  const bool verbose = std::getenv("SP_SOCKDIFF_VERBOSE") != nullptr;
  int mismatches = 0;
  for (std::size_t i = 0; i < k.size(); ++i) {
    if (verbose)
      std::printf("%-60s kernel %-30s sendpath %s\n", s[i].call.c_str(), result_text(k[i]).c_str(),
                  result_text(s[i]).c_str());
    const Entry& a = k[i];
    const Entry& b = s[i];
    const bool same_value = a.value_exempt || b.value_exempt || a.out == b.out;
    if (a.rc == b.rc && a.err == b.err && same_value) continue;
    if (a.rc == b.rc && a.err == b.err && a.value_exempt) continue;
    // The first few lines of a script say enough; the rest are counted.
    if (++mismatches <= 12)
      ADD_FAILURE() << b.call << ": kernel " << result_text(a) << " | sendpath " << result_text(b);
  }
  if (mismatches > 12) ADD_FAILURE() << "... and " << mismatches - 12 << " more mismatches";
}

// Runs script on both backends and compares. kernel_script, when given,
// replaces the kernel's run (an unknown option's answers, for an option
// sendpath treats as unknown).
void check(const Script& script, const Script& kernel_script = {}) {
  KernelSys kernel;
  Calls k(kernel);
  (kernel_script ? kernel_script : script)(k);
  SendpathSys sendpath;
  Calls s(sendpath);
  script(s);
  compare(k.entries(), s.entries());
}

// --- option sweeps ------------------------------------------------------------------

// Whether a value read for (level, name) is exempt from comparison, given
// whether the script has set anything yet.
bool exempt(int level, int name, bool after_set) {
  const Exception* e = find_exception(level, name);
  if (!e) return false;
  return e->kind == Exc::kValue || (e->kind == Exc::kDefaultValue && !after_set);
}

// Values of a live connection that depend on the device and the machine:
// buffer autotuning (the loopback's 64 KiB GSO against the link's) and the
// CPU that took the packet. TCP_QUICKACK after the peer's FIN depends on
// whether the delayed-ACK timer has fired yet, and TCP_MAXSEG on whether
// the peer's window has grown yet (the MSS is bound to half the largest
// window seen): races on the kernel's side. Compared by length only.
bool live_value(int level, int name) {
  return (level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_RCVBUF || name == SO_MEMINFO ||
                                  name == SO_INCOMING_CPU)) ||
         (level == IPPROTO_TCP && (name == TCP_QUICKACK || name == TCP_MAXSEG));
}

void connected_pair(Calls& r, int* l, int* c, int* a);

// The full sweep of one option on a fresh socket: reads with every length,
// writes of ordinary, boundary and invalid values, each followed by a read.
void sweep_option(Calls& r, int level, int name, int exempt_name, bool connected = false) {
  int fd = -1, l = -1, a = -1;
  if (connected)
    connected_pair(r, &l, &fd, &a);
  else
    fd = r.socket();
  const bool live = connected && live_value(level, exempt_name);
  const auto exempt = [live](int lv, int nm, bool after_set) {
    return live || sp::exempt(lv, nm, after_set);
  };
  const int big = 256;
  r.get(fd, level, name, big, true, exempt(level, exempt_name, false));
  r.get(fd, level, name, 4, true, exempt(level, exempt_name, false));
  r.get(fd, level, name, 1, true, exempt(level, exempt_name, false));
  r.get(fd, level, name, 0, true, exempt(level, exempt_name, false));
  r.get(fd, level, name, -1);
  r.get(fd, level, name, 4, false);
  // Until a write succeeds the value read is still the default.
  bool changed = false;
  for (int v : {1, 0, -1, 2, 3, 7, 88, 255, 256, 536, 1000, 4095, 65535, 65536, 1 << 20, INT_MAX,
                INT_MIN}) {
    changed |= r.set_int(fd, level, name, v) == 0;
    r.get(fd, level, name, big, true, exempt(level, exempt_name, changed));
  }
  for (int len : {0, 1, 2, 8, 16}) {
    changed |= r.set_int(fd, level, name, 1, len) == 0;
    r.get(fd, level, name, big, true, exempt(level, exempt_name, changed));
  }
  // Names: the string options take them.
  for (const char* text : {"reno", "cubic", "no-such-name"}) {
    changed |= r.set(fd, level, name, text, static_cast<int>(std::strlen(text)),
                     std::string("\"") + text + "\"") == 0;
    r.get(fd, level, name, big, true, exempt(level, exempt_name, changed));
  }
  r.set(fd, level, name, nullptr, 4, "NULL");
  r.set(fd, level, name, nullptr, 0, "NULL");
  r.close(fd);
  if (connected) {
    r.close(a);
    r.close(l);
  }
}

constexpr int kUnknownOpt = 2000;

void sweep_level(int level, int first, int end, bool connected = false) {
  for (int name = first; name < end; ++name) {
    SCOPED_TRACE(level_text(level) + " " + opt_text(level, name));
    const Exception* e = find_exception(level, name);
    if (e && (e->kind == Exc::kChangedAfter612 || e->kind == Exc::kPrivileged)) continue;
    const bool as_unknown = e && (e->kind == Exc::kAfter612 || e->kind == Exc::kNotImplemented);
    check([&](Calls& r) { sweep_option(r, level, name, name, connected); },
          as_unknown
              ? Script([&](Calls& r) { sweep_option(r, level, kUnknownOpt, name, connected); })
              : Script());
  }
}

TEST(SockDiff, every_sol_socket_option_on_a_fresh_socket) {
  sweep_level(SOL_SOCKET, 0, kSweepEnd[0]);
}
TEST(SockDiff, every_sol_ip_option_on_a_fresh_socket) {
  sweep_level(IPPROTO_IP, 0, kSweepEnd[1]);
}
TEST(SockDiff, every_sol_tcp_option_on_a_fresh_socket) {
  sweep_level(IPPROTO_TCP, 0, kSweepEnd[2]);
}
// The same on an established connection (the near end).
TEST(SockDiff, every_sol_socket_option_on_a_connected_socket) {
  sweep_level(SOL_SOCKET, 0, kSweepEnd[0], true);
}
TEST(SockDiff, every_sol_ip_option_on_a_connected_socket) {
  sweep_level(IPPROTO_IP, 0, kSweepEnd[1], true);
}
TEST(SockDiff, every_sol_tcp_option_on_a_connected_socket) {
  sweep_level(IPPROTO_TCP, 0, kSweepEnd[2], true);
}

TEST(SockDiff, unknown_levels_and_numbers) {
  check([](Calls& r) {
    const int fd = r.socket();
    for (int level :
         std::initializer_list<int>{SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, 255, 12345})
      for (int name : {-1, 1000, INT_MAX}) {
        r.get(fd, level, name, 4);
        r.set_int(fd, level, name, 1);
      }
    r.close(fd);
  });
}

// --- options in each state of a connection --------------------------------------------

// Every option read (and a few written) on sockets in the states of a
// connection's life.
// connected: fd has (or had) a peer.
void read_all(Calls& r, int fd, bool connected = false) {
  for (int i = 0; i < 3; ++i) {
    const int level = kLevels[i];
    for (int name = 0; name < kSweepEnd[i]; ++name) {
      const Exception* e = find_exception(level, name);
      if (e && (e->kind == Exc::kAfter612 || e->kind == Exc::kNotImplemented ||
                e->kind == Exc::kChangedAfter612 || e->kind == Exc::kPrivileged))
        continue;
      const bool live =
          connected ? live_value(level, name) : level == IPPROTO_TCP && name == TCP_QUICKACK;
      // Nothing here sets an option: every value read is the default.
      r.get(fd, level, name, 256, true, live || exempt(level, name, false));
    }
  }
}

// A listener on the far side; its address (port included) into *to.
int far_listener(Calls& r, sockaddr_in* to) {
  const int l = r.socket(true);
  sockaddr_in a = r.sys().addr(true);
  r.bind(l, a, "far:0");
  r.listen(l, 8);
  r.sys().getsockname(l, to);
  return l;
}

// A connected pair: *c near, *a far (accepted), l the listener.
void connected_pair(Calls& r, int* l, int* c, int* a) {
  sockaddr_in to{};
  *l = far_listener(r, &to);
  *c = r.socket();
  r.connect(*c, to, "far:port");
  r.wait(*c, POLLOUT);
  r.poll(*c, POLLOUT, 0);
  r.wait(*l, POLLIN);
  *a = r.accept(*l);
}

TEST(SockDiff, options_read_in_each_state) {
  check([](Calls& r) {
    const int fresh = r.socket();
    read_all(r, fresh);
    const int bound = r.socket();
    r.bind(bound, r.sys().addr(false), "near:0");
    read_all(r, bound);
    int l, c, a;
    connected_pair(r, &l, &c, &a);
    read_all(r, l);
    read_all(r, c, true);
    read_all(r, a, true);
    r.shutdown(c, SHUT_WR);
    r.wait(a, POLLRDHUP);
    read_all(r, c, true);
    read_all(r, a, true);
    for (int fd : {fresh, bound, l, c, a}) r.close(fd);
  });
}

TEST(SockDiff, options_after_the_peers_reset) {
  check([](Calls& r) {
    int l, c, a;
    connected_pair(r, &l, &c, &a);
    linger lg{1, 0};
    r.set(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg, "{1,0}");
    r.close(a);
    r.wait(c, POLLERR);
    r.poll(c, POLLIN | POLLOUT | POLLRDHUP, 0);
    r.get(c, SOL_SOCKET, SO_ERROR, 4);
    r.get(c, SOL_SOCKET, SO_ERROR, 4);
    read_all(r, c, true);
    r.close(c);
    r.close(l);
  });
}

// TCP_INFO before a connection, field by field: Linux 6.12's 248 bytes
// (the host's struct is longer), with the three "time since" fields
// blanked, since they count from the machine's boot.
void tcp_info_612(Calls& r, int fd) {
  constexpr std::size_t kLen612 = 248;
  unsigned char buf[kLen612] = {};
  socklen_t len = kLen612;
  r.rec("getsockopt(" + r.name(fd) + ", SOL_TCP, TCP_INFO, buf, len=248)",
        [&] { return r.sys().getsockopt(fd, IPPROTO_TCP, TCP_INFO, buf, &len); });
  const std::size_t blanked[] = {offsetof(tcp_info, tcpi_last_data_sent),
                                 offsetof(tcp_info, tcpi_last_data_recv),
                                 offsetof(tcp_info, tcpi_last_ack_recv)};
  for (std::size_t off : blanked) std::memset(buf + off, 0, 4);
  r.set_out("len=" + std::to_string(len) + " " + hex(buf, std::min<std::size_t>(len, kLen612)));
}

TEST(SockDiff, tcp_info_before_a_connection) {
  check([](Calls& r) {
    const int fresh = r.socket();
    tcp_info_612(r, fresh);
    const int bound = r.socket();
    r.bind(bound, r.sys().addr(false), "near:0");
    tcp_info_612(r, bound);
    r.listen(bound, 8);
    tcp_info_612(r, bound);
    r.close(fresh);
    r.close(bound);
  });
}

// IP_PKTOPTIONS: the control messages IP_PKTINFO, IP_RECVTTL and IP_RECVTOS
// ask for, whole and cut short.
TEST(SockDiff, ip_pktoptions) {
  check([](Calls& r) {
    const int fresh = r.socket();
    for (int name : {IP_PKTINFO, IP_RECVTTL, IP_RECVTOS}) r.set_int(fresh, IPPROTO_IP, name, 1);
    for (int len : {256, 40, 24, 16, 8, 0}) r.get(fresh, IPPROTO_IP, IP_PKTOPTIONS, len);
    int l, c, a;
    connected_pair(r, &l, &c, &a);
    // The accepted socket's TTL and TOS come from the handshake's last ACK.
    for (int name : {IP_RECVTTL, IP_RECVTOS}) r.set_int(a, IPPROTO_IP, name, 1);
    r.get(a, IPPROTO_IP, IP_PKTOPTIONS, 256);
    for (int fd : {fresh, a, c, l}) r.close(fd);
  });
}

// --- misuse ---------------------------------------------------------------------------

TEST(SockDiff, bind_misuse) {
  check([](Calls& r) {
    const int fd = r.socket();
    sockaddr_in a = r.sys().addr(false);
    r.bind(fd, a, "near:0", sizeof(sockaddr_in) - 1);
    sockaddr_in bad = a;
    bad.sin_family = AF_INET6;
    r.bind(fd, bad, "family AF_INET6");
    sockaddr_in other{};
    other.sin_family = AF_INET;
    other.sin_addr.s_addr = htonl(0xc0000201);  // 192.0.2.1, not ours
    r.bind(fd, other, "192.0.2.1:0");
    r.bind(fd, a, "near:0");
    r.bind(fd, a, "near:0 again");
    sockaddr_in b{};
    r.sys().getsockname(fd, &b);
    const int fd2 = r.socket();
    r.bind(fd2, b, "near:same port");
    r.close(fd2);
    r.close(fd);
  });
}

// SO_REUSEPORT: sockets that all set it share a port, listening or not; one
// that did not set it is refused, and so is a newcomer next to a socket
// that did not set it.
TEST(SockDiff, bind_and_listen_with_so_reuseport) {
  check([](Calls& r) {
    const int a = r.socket(true);
    r.set_int(a, SOL_SOCKET, SO_REUSEPORT, 1);
    r.bind(a, r.sys().addr(true), "far:0");
    sockaddr_in port{};
    r.sys().getsockname(a, &port);
    const int b = r.socket(true);
    r.set_int(b, SOL_SOCKET, SO_REUSEPORT, 1);
    r.bind(b, port, "far:same port, both reuseport");
    r.listen(a, 8);
    r.listen(b, 8);
    const int c = r.socket(true);
    r.bind(c, port, "far:same port, without reuseport");
    const int d = r.socket(true);
    r.set_int(d, SOL_SOCKET, SO_REUSEPORT, 1);
    r.bind(d, port, "far:same port, reuseport, beside two listeners");
    r.listen(d, 8);
    const int e = r.socket(true);
    r.bind(e, r.sys().addr(true), "far:0");
    sockaddr_in port2{};
    r.sys().getsockname(e, &port2);
    const int f = r.socket(true);
    r.set_int(f, SOL_SOCKET, SO_REUSEPORT, 1);
    r.bind(f, port2, "far:port of a socket without reuseport");
    for (int fd : {a, b, c, d, e, f}) r.close(fd);
  });
}

TEST(SockDiff, listen_connect_accept_misuse) {
  check([](Calls& r) {
    int l, c, a;
    connected_pair(r, &l, &c, &a);
    sockaddr_in to{};
    r.sys().getsockname(l, &to);
    r.listen(c, 5);  // connected
    r.connect(c, to, "far:port again");
    r.connect(l, to, "far:port on a listener");
    r.accept(c);  // not listening
    const int fresh = r.socket();
    r.accept(fresh);
    r.accept(l);       // nothing queued
    r.listen(l, 100);  // a listener may listen again
    r.listen(fresh, -1);
    r.listen(fresh, 0);
    const int again = r.socket();
    sockaddr_in unsp{};
    unsp.sin_family = AF_UNSPEC;
    r.connect(again, unsp, "AF_UNSPEC");
    for (int fd : {fresh, again, a, c, l}) r.close(fd);
  });
}

TEST(SockDiff, shutdown_send_and_recv_misuse) {
  check([](Calls& r) {
    const int fresh = r.socket();
    r.shutdown(fresh, -1);
    r.shutdown(fresh, 3);
    r.shutdown(fresh, SHUT_RD);
    r.shutdown(fresh, SHUT_WR);
    r.send(fresh, 10);
    r.recv(fresh, 10);
    int l, c, a;
    connected_pair(r, &l, &c, &a);
    r.shutdown(c, 7);
    r.send(c, 10);
    r.wait(a, POLLIN);
    r.recv(a, 100);
    r.recv(a, 100);
    r.shutdown(c, SHUT_WR);
    r.send(c, 10);
    r.send(c, 10);
    r.wait(a, POLLRDHUP);
    r.poll(a, POLLIN | POLLOUT | POLLRDHUP, 0);
    r.recv(a, 100);
    r.shutdown(c, SHUT_WR);
    r.shutdown(c, SHUT_RD);
    r.recv(c, 10);
    r.shutdown(c, SHUT_RDWR);
    r.shutdown(l, SHUT_RD);
    r.accept(l);
    for (int fd : {fresh, a, c, l}) r.close(fd);
  });
}

TEST(SockDiff, sends_after_the_peers_reset) {
  check([](Calls& r) {
    int l, c, a;
    connected_pair(r, &l, &c, &a);
    linger lg{1, 0};
    r.set(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg, "{1,0}");
    r.close(a);
    r.wait(c, POLLERR);
    r.send(c, 10);
    r.send(c, 10);
    r.recv(c, 10);
    r.shutdown(c, SHUT_WR);
    r.close(c);
    r.close(l);
  });
}

TEST(SockDiff, closed_descriptors) {
  check([](Calls& r) {
    const int fd = r.socket();
    r.close(fd);
    r.close(fd);
    r.get(fd, SOL_SOCKET, SO_TYPE, 4);
    r.set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    r.bind(fd, r.sys().addr(false), "near:0");
    r.listen(fd, 1);
    r.shutdown(fd, SHUT_RDWR);
    r.send(fd, 1);
    r.recv(fd, 1);
  });
}

// --- epoll ----------------------------------------------------------------------------

TEST(SockDiff, epoll_ctl_errors) {
  check([](Calls& r) {
    const int ep = r.epoll_create();
    const int fd = r.socket();
    r.epoll_ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN);  // itself
    r.epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN);  // not there
    r.epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0);
    r.epoll_ctl(ep, 7, fd, EPOLLIN);
    r.epoll_ctl(fd, EPOLL_CTL_ADD, fd, EPOLLIN);  // not an epoll fd
    r.epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, true);
    r.epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN);
    r.epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN);  // twice
    r.epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLEXCLUSIVE);
    r.epoll_ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT | EPOLLET | EPOLLONESHOT | EPOLLWAKEUP);
    r.epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0, true);
    const int x = r.socket();
    r.epoll_ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT);
    r.epoll_ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN | EPOLLEXCLUSIVE | EPOLLWAKEUP);
    r.epoll_ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP | EPOLLET);
    r.epoll_ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN | EPOLLEXCLUSIVE | EPOLLPRI);
    r.epoll_ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN | EPOLLEXCLUSIVE);
    r.epoll_ctl(ep, EPOLL_CTL_MOD, x, EPOLLIN);
    r.epoll_ctl(ep, EPOLL_CTL_DEL, x, 0);
    // Nesting: an epoll instance watching another, and a loop.
    const int ep2 = r.epoll_create();
    r.epoll_ctl(ep2, EPOLL_CTL_ADD, ep, EPOLLIN);
    r.epoll_ctl(ep, EPOLL_CTL_ADD, ep2, EPOLLIN);
    r.epoll_ctl(ep2, EPOLL_CTL_ADD, ep, EPOLLIN | EPOLLEXCLUSIVE);
    r.epoll_ctl(ep2, EPOLL_CTL_DEL, ep, 0);
    r.epoll_ctl(ep2, EPOLL_CTL_ADD, ep, EPOLLIN | EPOLLEXCLUSIVE);
    r.rec("epoll_wait(maxevents 0)", [&] {
      epoll_event ev;
      return static_cast<long>(r.sys().epoll_wait(ep, &ev, 0, 0));
    });
    r.rec("epoll_wait(not an epoll fd)", [&] {
      epoll_event ev;
      return static_cast<long>(r.sys().epoll_wait(fd, &ev, 1, 0));
    });
    r.rec("epoll_create1(bad flags)", [&] { return static_cast<long>(r.sys().epoll_create1(1)); });
    for (int f : {x, fd, ep2, ep}) r.close(f);
    r.epoll_ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN);
  });
}

TEST(SockDiff, epoll_reports_as_linux) {
  check([](Calls& r) {
    int l, c, a;
    connected_pair(r, &l, &c, &a);
    const int ep = r.epoll_create();
    // Fresh, unconnected socket: EPOLLOUT|EPOLLHUP as Linux reports a closed one.
    const int fresh = r.socket();
    r.epoll_ctl(ep, EPOLL_CTL_ADD, fresh, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI);
    r.epoll_wait(ep, 0);
    r.epoll_ctl(ep, EPOLL_CTL_DEL, fresh, 0);
    // Level-triggered: reported on every wait while ready.
    r.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN | EPOLLRDHUP | EPOLLPRI);
    r.epoll_wait(ep, 0);
    r.send(c, 100);
    r.wait(a, POLLIN);
    r.epoll_wait(ep, 0);
    r.epoll_wait(ep, 0);
    // Edge-triggered: once per arrival.
    r.epoll_ctl(ep, EPOLL_CTL_MOD, a, EPOLLIN | EPOLLET);
    r.epoll_wait(ep, 0);
    r.epoll_wait(ep, 0);
    r.send(c, 100);
    r.wait(a, POLLIN);
    r.epoll_wait(ep, 100);
    r.epoll_wait(ep, 0);
    // One-shot: once, then disarmed until MOD.
    r.epoll_ctl(ep, EPOLL_CTL_MOD, a, EPOLLIN | EPOLLONESHOT);
    r.epoll_wait(ep, 0);
    r.epoll_wait(ep, 0);
    r.epoll_ctl(ep, EPOLL_CTL_MOD, a, EPOLLIN | EPOLLONESHOT);
    r.epoll_wait(ep, 0);
    // EPOLLWAKEUP is kept for a caller with CAP_BLOCK_SUSPEND (root here).
    r.epoll_ctl(ep, EPOLL_CTL_MOD, a, EPOLLIN | EPOLLWAKEUP);
    r.epoll_wait(ep, 0);
    r.recv(a, 1000);
    r.epoll_wait(ep, 0);
    // EPOLLRDHUP on the peer's shutdown.
    r.epoll_ctl(ep, EPOLL_CTL_MOD, a, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI);
    r.shutdown(c, SHUT_WR);
    r.wait(a, POLLRDHUP);
    r.epoll_wait(ep, 0);
    // The other side: writable; hang-up after its own full shutdown.
    r.epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    r.epoll_wait(ep, 0);
    r.shutdown(a, SHUT_WR);
    r.wait(c, POLLRDHUP);
    r.epoll_wait(ep, 0);
    // The listener: readable when a connection is queued.
    const int c2 = r.socket();
    sockaddr_in to{};
    r.sys().getsockname(l, &to);
    r.epoll_ctl(ep, EPOLL_CTL_DEL, a, 0);
    r.epoll_ctl(ep, EPOLL_CTL_DEL, c, 0);
    r.epoll_ctl(ep, EPOLL_CTL_ADD, l, EPOLLIN | EPOLLEXCLUSIVE);
    r.epoll_wait(ep, 0);
    r.connect(c2, to, "far:port");
    r.wait(l, POLLIN);
    r.epoll_wait(ep, 0);
    // Closing a watched socket removes it.
    r.close(l);
    r.epoll_wait(ep, 0);
    for (int fd : {fresh, c2, a, c, ep}) r.close(fd);
  });
}

}  // namespace
}  // namespace sp
