// Symbol tables for scripts (see symbols.hpp).
#include "symbols.hpp"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif

namespace sp::drill {

namespace {

#define SYM(x) \
  { #x, static_cast < std::int64_t>(x) }

const std::unordered_map<std::string_view, std::int64_t>& symbols() {
  static const std::unordered_map<std::string_view, std::int64_t> table = {
      SYM(AF_INET),
      SYM(AF_INET6),
      SYM(PF_INET),
      SYM(SOCK_STREAM),
      SYM(SOCK_DGRAM),
      SYM(SOCK_NONBLOCK),
      SYM(IPPROTO_TCP),
      SYM(IPPROTO_UDP),
      SYM(IPPROTO_IP),
      SYM(SOL_SOCKET),
      {"SOL_TCP", IPPROTO_TCP},
      {"SOL_IP", IPPROTO_IP},
      SYM(SO_REUSEADDR),
      SYM(SO_REUSEPORT),
      SYM(SO_SNDBUF),
      SYM(SO_RCVBUF),
      SYM(SO_ERROR),
      SYM(SO_KEEPALIVE),
      SYM(SO_LINGER),
      SYM(SO_MARK),
      SYM(SO_ZEROCOPY),
      SYM(SO_TIMESTAMPING),
      SYM(SO_SNDLOWAT),
      SYM(SO_RCVLOWAT),
      SYM(SO_SNDTIMEO),
      SYM(SO_RCVTIMEO),
      SYM(SO_PRIORITY),
      SYM(SO_MAX_PACING_RATE),
      SYM(TCP_NODELAY),
      SYM(TCP_MAXSEG),
      SYM(TCP_CORK),
      SYM(TCP_KEEPIDLE),
      SYM(TCP_KEEPINTVL),
      SYM(TCP_KEEPCNT),
      SYM(TCP_INFO),
      SYM(TCP_CONGESTION),
      SYM(TCP_USER_TIMEOUT),
      SYM(TCP_NOTSENT_LOWAT),
      SYM(TCP_INQ),
      {"TCP_CM_INQ", TCP_INQ},
      SYM(TCP_QUICKACK),
      SYM(TCP_DEFER_ACCEPT),
      SYM(TCP_WINDOW_CLAMP),
      SYM(MSG_OOB),
      SYM(MSG_PEEK),
      SYM(MSG_DONTWAIT),
      SYM(MSG_EOR),
      SYM(MSG_MORE),
      SYM(MSG_NOSIGNAL),
      SYM(MSG_ZEROCOPY),
      SYM(MSG_ERRQUEUE),
      SYM(MSG_TRUNC),
      SYM(MSG_WAITALL),
      SYM(MSG_CTRUNC),
      SYM(SHUT_RD),
      SYM(SHUT_WR),
      SYM(SHUT_RDWR),
      SYM(F_GETFL),
      SYM(F_SETFL),
      SYM(O_RDONLY),
      SYM(O_WRONLY),
      SYM(O_RDWR),
      SYM(O_NONBLOCK),
      SYM(POLLIN),
      SYM(POLLOUT),
      SYM(POLLERR),
      SYM(POLLHUP),
      SYM(POLLRDHUP),
      SYM(POLLPRI),
      SYM(POLLRDNORM),
      SYM(POLLWRNORM),
      SYM(POLLNVAL),
      SYM(EPOLLIN),
      SYM(EPOLLOUT),
      SYM(EPOLLERR),
      SYM(EPOLLHUP),
      SYM(EPOLLRDHUP),
      SYM(EPOLLET),
      SYM(EPOLLONESHOT),
      SYM(EPOLLPRI),
      SYM(EPOLL_CTL_ADD),
      SYM(EPOLL_CTL_MOD),
      SYM(EPOLL_CTL_DEL),
      SYM(SIOCINQ),
      SYM(SIOCOUTQ),
      {"SIOCOUTQNSD", 0x894B},
      SYM(FIONREAD),
      {"CMSG_LEVEL_IP", SOL_IP},
      {"CMSG_TYPE_RECVERR", IP_RECVERR},
      SYM(IP_RECVERR),
      SYM(SO_EE_ORIGIN_ZEROCOPY),
      SYM(SO_EE_CODE_ZEROCOPY_COPIED),
      SYM(SO_EE_ORIGIN_TIMESTAMPING),
      SYM(SCM_TIMESTAMPING),
      SYM(SCM_TSTAMP_SCHED),
      SYM(SCM_TSTAMP_SND),
      SYM(SCM_TSTAMP_ACK),
      SYM(SOF_TIMESTAMPING_TX_SCHED),
      SYM(SOF_TIMESTAMPING_TX_SOFTWARE),
      SYM(SOF_TIMESTAMPING_TX_ACK),
      SYM(SOF_TIMESTAMPING_SOFTWARE),
      SYM(SOF_TIMESTAMPING_OPT_ID),
      SYM(SOF_TIMESTAMPING_OPT_TSONLY),
      SYM(SOF_TIMESTAMPING_OPT_STATS),
      SYM(ENOMSG),
  };
  return table;
}

const std::unordered_map<std::string_view, int>& errnos() {
  static const std::unordered_map<std::string_view, int> table = {
      SYM(EPERM),        SYM(ENOENT),          SYM(EINTR),           SYM(EIO),
      SYM(EBADF),        SYM(EAGAIN),          SYM(ENOMEM),          SYM(EFAULT),
      SYM(EBUSY),        SYM(EEXIST),          SYM(EINVAL),          SYM(ENFILE),
      SYM(EMFILE),       SYM(ENOSPC),          SYM(EPIPE),           SYM(ENOMSG),
      SYM(ENOTSOCK),     SYM(EDESTADDRREQ),    SYM(EMSGSIZE),        SYM(EPROTOTYPE),
      SYM(ENOPROTOOPT),  SYM(EPROTONOSUPPORT), SYM(ESOCKTNOSUPPORT), SYM(EOPNOTSUPP),
      SYM(EAFNOSUPPORT), SYM(EADDRINUSE),      SYM(EADDRNOTAVAIL),   SYM(ENETDOWN),
      SYM(ENETUNREACH),  SYM(ECONNABORTED),    SYM(ECONNRESET),      SYM(ENOBUFS),
      SYM(EISCONN),      SYM(ENOTCONN),        SYM(ESHUTDOWN),       SYM(ETIMEDOUT),
      SYM(ECONNREFUSED), SYM(EHOSTUNREACH),    SYM(EALREADY),        SYM(EINPROGRESS),
      SYM(EWOULDBLOCK),
  };
  return table;
}

#undef SYM

}  // namespace

std::optional<std::int64_t> lookup_symbol(std::string_view name) {
  auto it = symbols().find(name);
  if (it != symbols().end()) return it->second;
  if (auto e = errno_from_name(name)) return *e;
  return std::nullopt;
}

std::optional<int> errno_from_name(std::string_view name) {
  auto it = errnos().find(name);
  if (it == errnos().end()) return std::nullopt;
  return it->second;
}

std::string errno_name(int err) {
  if (err == EAGAIN) return "EAGAIN";
  for (auto& [n, v] : errnos())
    if (v == err) return std::string(n);
  return "E?" + std::to_string(err);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace sp::drill
