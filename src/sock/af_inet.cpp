// The file-facing half of an IPv4 stream socket (net/ipv4/af_inet.c,
// net/core/sock.c socket options): inet_stream_ops, through which every
// socket call reaches TCP.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "core/stack.hpp"
#include "sock/sock.hpp"
#include "sock/sock_errqueue.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/events.hpp"

namespace sp {

namespace {

int inet_release(Socket* sock) {
  Sock* sk = sock->sk;
  if (!sk) return 0;
  // SO_LINGER makes close wait (up to the linger time) for the FIN's ACK.
  const std::int64_t timeout = sock_flag(sk, SOCK_LINGER) ? sk->sk_lingertime : 0;
  sock->sk = nullptr;
  sk->sk_prot->close(sk, timeout);
  return 0;
}

int inet_bind(Socket* sock, const sockaddr* uaddr, int addr_len) {
  Sock* sk = sock->sk;
  InetSock* inet = inet_sk(sk);
  if (addr_len < static_cast<int>(sizeof(sockaddr_in))) return -EINVAL;
  const auto* sin = reinterpret_cast<const sockaddr_in*>(uaddr);
  if (sin->sin_family != AF_INET) {
    // AF_UNSPEC with INADDR_ANY is accepted for compatibility, as Linux does.
    if (sin->sin_family != AF_UNSPEC || sin->sin_addr.s_addr != htonl(INADDR_ANY))
      return -EAFNOSUPPORT;
  }
  const be32 addr = sin->sin_addr.s_addr;
  if (addr != htonl(INADDR_ANY) && !sk->stack->is_local_address(addr)) return -EADDRNOTAVAIL;
  const std::uint16_t snum = ntohs(sin->sin_port);
  if (sk->sk_state != TCP_CLOSE || inet->inet_num) return -EINVAL;
  inet->inet_rcv_saddr = inet->inet_saddr = addr;
  if (sk->sk_prot->get_port(sk, snum)) {
    inet->inet_saddr = inet->inet_rcv_saddr = 0;
    return -EADDRINUSE;
  }
  if (addr) sk->sk_userlocks |= SOCK_BINDADDR_LOCK;
  if (snum) sk->sk_userlocks |= SOCK_BINDPORT_LOCK;
  inet->inet_sport = htons(inet->inet_num);
  inet->inet_daddr = 0;
  inet->inet_dport = 0;
  return 0;
}

int inet_stream_connect(Socket* sock, const sockaddr* uaddr, int addr_len, int flags) {
  Sock* sk = sock->sk;
  int err;
  if (addr_len < static_cast<int>(sizeof(uaddr->sa_family))) return -EINVAL;
  if (uaddr->sa_family == AF_UNSPEC) {
    err = sk->sk_prot->disconnect(sk, flags);
    sock->state = err ? SS_DISCONNECTING : SS_UNCONNECTED;
    return err;
  }
  switch (sock->state) {
    default:
      return -EINVAL;
    case SS_CONNECTED:
      return -EISCONN;
    case SS_CONNECTING:
      err = -EALREADY;
      break;
    case SS_UNCONNECTED:
      if (sk->sk_state != TCP_CLOSE) return -EISCONN;
      err = sk->sk_prot->connect(sk, uaddr, addr_len);
      if (err < 0) return err;
      sock->state = SS_CONNECTING;
      err = -EINPROGRESS;
      break;
  }
  std::int64_t timeo = sock_sndtimeo(sk, flags & O_NONBLOCK);
  if ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) {
    // inet_wait_for_connect
    if (!timeo) return err;
    sk_wait_event(sk, &timeo,
                  [sk] { return !((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)); });
    if ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)) return err;
  }
  if (sk->sk_state == TCP_CLOSE) {
    int e = sock_error(sk);
    err = e ? e : -ECONNABORTED;
    sock->state = SS_UNCONNECTED;
    if (sk->sk_prot->disconnect(sk, flags)) sock->state = SS_DISCONNECTING;
    return err;
  }
  sock->state = SS_CONNECTED;
  return 0;
}

int inet_accept(Socket* sock, Socket* newsock, int flags) {
  Sock* sk1 = sock->sk;
  int err = -EINVAL;
  Sock* sk2 = sk1->sk_prot->accept(sk1, flags, &err);
  if (!sk2) return err;
  // sock_graft
  sk2->sk_socket = newsock;
  newsock->sk = sk2;
  newsock->state = SS_CONNECTED;
  return 0;
}

int inet_getname(Socket* sock, sockaddr* uaddr, int peer) {
  Sock* sk = sock->sk;
  const InetSock* inet = inet_sk(sk);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  if (peer) {
    if (!inet->inet_dport || (((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_SYN_SENT)) && peer == 1))
      return -ENOTCONN;
    sin.sin_port = inet->inet_dport;
    sin.sin_addr.s_addr = inet->inet_daddr;
  } else {
    sin.sin_port = inet->inet_sport;
    sin.sin_addr.s_addr = inet->inet_rcv_saddr ? inet->inet_rcv_saddr : inet->inet_saddr;
  }
  std::memcpy(uaddr, &sin, sizeof sin);
  return static_cast<int>(sizeof sin);
}

unsigned inet_poll(Socket* sock) {
  return tcp_poll(sock);
}

int inet_ioctl(Socket* sock, unsigned cmd, unsigned long arg) {
  int karg = 0;
  int err = sock->sk->sk_prot->ioctl(sock->sk, static_cast<int>(cmd), &karg);
  if (!err) *reinterpret_cast<int*>(arg) = karg;
  return err;
}

int inet_shutdown(Socket* sock, int how) {
  Sock* sk = sock->sk;
  int err = 0;
  // SHUT_RD/SHUT_WR/SHUT_RDWR (0/1/2) become RCV/SEND/both (1/2/3).
  how++;
  if ((how & ~SHUTDOWN_MASK) || !how) return -EINVAL;
  if (sock->state == SS_CONNECTING) {
    if ((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_CLOSE))
      sock->state = SS_DISCONNECTING;
    else
      sock->state = SS_CONNECTED;
  }
  switch (sk->sk_state) {
    case TCP_CLOSE:
      err = -ENOTCONN;
      [[fallthrough]];
    default:
      sk->sk_shutdown |= static_cast<std::uint8_t>(how);
      if (sk->sk_prot->shutdown) sk->sk_prot->shutdown(sk, how);
      break;
    case TCP_LISTEN:
      if (!(how & RCV_SHUTDOWN)) break;
      [[fallthrough]];
    case TCP_SYN_SENT:
      err = sk->sk_prot->disconnect(sk, O_NONBLOCK);
      sock->state = err ? SS_DISCONNECTING : SS_UNCONNECTED;
      break;
  }
  sk->sk_state_change(sk);
  return err;
}

// --- SOL_SOCKET options (sk_setsockopt / sk_getsockopt) ----------------------

}  // namespace

// copy_from_sockptr / copy_to_sockptr: a null user pointer faults (EFAULT)
// at the point where Linux first touches the memory, not before.
bool copy_from_optval(void* dst, const void* optval, std::size_t n) {
  if (!optval) return false;
  std::memcpy(dst, optval, n);
  return true;
}
bool copy_to_optval(void* optval, const void* src, std::size_t n) {
  if (!n) return true;
  if (!optval) return false;
  std::memcpy(optval, src, n);
  return true;
}

// The tail of sk_getsockopt and friends: at most `lv` bytes of the value,
// and the length written back.
int put_opt(void* optval, socklen_t* optlen, const void* v, int lv) {
  // optlen is an int in Linux: a negative one never gets here.
  const int len = std::clamp(static_cast<int>(*optlen), 0, lv);
  if (!copy_to_optval(optval, v, static_cast<std::size_t>(len))) return -EFAULT;
  *optlen = static_cast<socklen_t>(len);
  return 0;
}
int put_int(void* optval, socklen_t* optlen, int val) {
  return put_opt(optval, optlen, &val, sizeof val);
}

namespace {

// sock_set_timeout: a struct timeval (old) or __kernel_sock_timeval (new),
// which have one layout on a 64-bit machine.
int get_timeval_jiffies(const void* optval, socklen_t optlen, std::int64_t* out) {
  if (optlen < static_cast<socklen_t>(sizeof(timeval))) return -EINVAL;
  timeval tv;
  if (!copy_from_optval(&tv, optval, sizeof tv)) return -EFAULT;
  if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return -EDOM;
  if (tv.tv_sec < 0) {
    *out = 0;  // Linux: a negative timeout means "do not wait"
    return 0;
  }
  *out = Sock::MAX_SCHEDULE_TIMEOUT;
  if ((tv.tv_sec || tv.tv_usec) && tv.tv_sec < Sock::MAX_SCHEDULE_TIMEOUT / HZ - 1) {
    // sock_set_timeout: whole jiffies, the microseconds rounded up.
    const std::int64_t us_per_jiffy = 1000000 / HZ;
    *out =
        static_cast<std::int64_t>(tv.tv_sec) * HZ + (tv.tv_usec + us_per_jiffy - 1) / us_per_jiffy;
  }
  return 0;
}

void put_timeval_jiffies(std::int64_t j, timeval* tv) {
  if (j == Sock::MAX_SCHEDULE_TIMEOUT) {
    *tv = {};
    return;
  }
  tv->tv_sec = j / HZ;
  tv->tv_usec = (j % HZ) * 1000000 / HZ;
}

// sk_setsockopt's SO_SNDBUF/SO_RCVBUF tail: the value is already capped.
void sock_set_buf(Sock* sk, bool snd, int val) {
  // val * 2 must fit an int.
  val = std::min(val, INT_MAX / 2);
  if (snd) {
    sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
    sk->sk_sndbuf = std::max(val * 2, SOCK_MIN_SNDBUF);
    sk->sk_write_space(sk);
  } else {
    sk->sk_userlocks |= SOCK_RCVBUF_LOCK;
    sk->sk_rcvbuf = std::max(val * 2, SOCK_MIN_RCVBUF);
  }
}

// tcp_set_rcvlowat: capped at half the receive buffer (or of tcp_rmem[2]),
// and the buffer grows to hold a window of that size unless locked.
void tcp_set_rcvlowat(Sock* sk, int val) {
  const bool locked = sk->sk_userlocks & SOCK_RCVBUF_LOCK;
  const int cap = locked ? sk->sk_rcvbuf >> 1 : sk->stack->sysctl().tcp_rmem[2] >> 1;
  val = std::min(val, cap);
  sk->sk_rcvlowat = val ? val : 1;
  if (locked) return;
  // tcp_space_from_win at the default scaling ratio (half the buffer is
  // window before the first skb sets the real ratio).
  const long space = 2L * val;
  if (space > sk->sk_rcvbuf) {
    sk->sk_rcvbuf = static_cast<int>(std::min<long>(space, INT_MAX));
    TcpSock* tp = tcp_sk(sk);
    if (tp->window_clamp && tp->window_clamp < static_cast<std::uint32_t>(val))
      tp->window_clamp = static_cast<std::uint32_t>(val);
  }
}

// SOCK_BUF_LOCK_MASK: the locks SO_BUF_LOCK sets and reports.
constexpr int kSockBufLockMask = SOCK_SNDBUF_LOCK | SOCK_RCVBUF_LOCK;
constexpr int kSzOneGiB = 1 << 30;

// Options Linux 6.12 takes that sendpath does not implement; they answer as
// unknown numbers do (ENOPROTOOPT) rather than being accepted and ignored.
bool sock_opt_not_implemented(int optname) {
  switch (optname) {
    case SO_DONTROUTE:  // route lookups do not honour it
    case SO_OOBINLINE:  // no urgent data
    case SO_BINDTODEVICE:
    case SO_BINDTOIFINDEX:
    case SO_TIMESTAMP_OLD:  // no receive timestamps
    case SO_TIMESTAMP_NEW:
    case SO_TIMESTAMPNS_OLD:
    case SO_TIMESTAMPNS_NEW:
    case SO_PEEK_OFF:
    case SO_ATTACH_FILTER:  // no BPF: socket filters and reuseport programs
    case SO_DETACH_FILTER:
    case SO_LOCK_FILTER:
    case SO_ATTACH_BPF:
    case SO_ATTACH_REUSEPORT_CBPF:
    case SO_ATTACH_REUSEPORT_EBPF:
    case SO_DETACH_REUSEPORT_BPF:
    case SO_BPF_EXTENSIONS:
    case 78:  // SO_DEVMEM_LINEAR, SO_DEVMEM_DMABUF, SO_DEVMEM_DONTNEED
    case 79:
    case 80:
      return true;
    default:
      return false;
  }
}

int sock_setsockopt(Socket* sock, int optname, const void* optval, socklen_t optlen) {
  Sock* sk = sock->sk;
  if (optlen < static_cast<socklen_t>(sizeof(int))) return -EINVAL;
  int val;
  if (!copy_from_optval(&val, optval, sizeof val)) return -EFAULT;
  const bool valbool = val != 0;
  if (sock_opt_not_implemented(optname)) return -ENOPROTOOPT;
  // sendpath runs with its caller's privileges over its own devices: the
  // CAP_NET_ADMIN/CAP_NET_RAW checks (SO_PRIORITY above 6, SO_MARK,
  // SO_DEBUG, *BUFFORCE, SO_PREFER_BUSY_POLL) pass, as for root.
  switch (optname) {
    case SO_PRIORITY:
      sk->sk_priority = static_cast<std::uint32_t>(val);
      return 0;
    case SO_PASSSEC:
      sock_valbool_flag(sk, SOCK_PASSSEC, valbool);
      return 0;
    case SO_PASSCRED:
      sock_valbool_flag(sk, SOCK_PASSCRED, valbool);
      return 0;
    case 76:  // SO_PASSPIDFD
      sock_valbool_flag(sk, SOCK_PASSPIDFD, valbool);
      return 0;
    case SO_TYPE:
    case SO_PROTOCOL:
    case SO_DOMAIN:
    case SO_ERROR:
      return -ENOPROTOOPT;
    case SO_BUSY_POLL:
      if (val < 0) return -EINVAL;
      sk->sk_ll_usec = static_cast<std::uint32_t>(val);
      return 0;
    case SO_PREFER_BUSY_POLL:
      sk->sk_prefer_busy_poll = valbool;
      return 0;
    case SO_BUSY_POLL_BUDGET:
      if (val < 0 || val > UINT16_MAX) return -EINVAL;
      sk->sk_busy_poll_budget = static_cast<std::uint16_t>(val);
      return 0;
    case SO_MAX_PACING_RATE: {
      // An int, or (64-bit) an unsigned long when optlen allows.
      std::uint64_t rate =
          static_cast<unsigned>(val) == ~0u ? ~std::uint64_t{0} : static_cast<unsigned>(val);
      if (optlen >= static_cast<socklen_t>(sizeof rate)) std::memcpy(&rate, optval, sizeof rate);
      if (rate != ~std::uint64_t{0} && sk->sk_pacing_status == SK_PACING_NONE)
        sk->sk_pacing_status = SK_PACING_NEEDED;
      sk->sk_max_pacing_rate = rate;
      sk->sk_pacing_rate = std::min(sk->sk_pacing_rate, rate);
      return 0;
    }
    case SO_TXREHASH:
      if (val < -1 || val > 1) return -EINVAL;
      // -1 (SOCK_TXREHASH_DEFAULT) takes net.core.txrehash, which is 1.
      sk->sk_txrehash = val == -1 ? 1 : static_cast<std::uint8_t>(val);
      return 0;
    case SO_DEBUG:
      sock_valbool_flag(sk, SOCK_DBG, valbool);
      return 0;
    case SO_REUSEADDR:
      sk->sk_reuse = valbool;
      return 0;
    case SO_REUSEPORT:
      sk->sk_reuseport = valbool;
      return 0;
    case SO_BROADCAST:
      sock_valbool_flag(sk, SOCK_BROADCAST, valbool);
      return 0;
    case SO_SNDBUF:
      // The request is unsigned: a negative one is a huge one, capped.
      sock_set_buf(sk, true,
                   static_cast<int>(std::min<unsigned>(static_cast<unsigned>(val),
                                                       sk->stack->sysctl().wmem_max)));
      return 0;
    case SO_SNDBUFFORCE:
      sock_set_buf(sk, true, std::max(val, 0));
      return 0;
    case SO_RCVBUF:
      sock_set_buf(sk, false,
                   static_cast<int>(std::min<unsigned>(static_cast<unsigned>(val),
                                                       sk->stack->sysctl().rmem_max)));
      return 0;
    case SO_RCVBUFFORCE:
      sock_set_buf(sk, false, std::max(val, 0));
      return 0;
    case SO_KEEPALIVE:
      tcp_set_keepalive(sk, valbool);
      sock_valbool_flag(sk, SOCK_KEEPOPEN, valbool);
      return 0;
    case SO_NO_CHECK:
      sk->sk_no_check_tx = valbool;
      return 0;
    case SO_LINGER: {
      if (optlen < static_cast<socklen_t>(sizeof(linger))) return -EINVAL;
      linger ling;
      std::memcpy(&ling, optval, sizeof ling);
      if (!ling.l_onoff) {
        sock_reset_flag(sk, SOCK_LINGER);
      } else {
        // The seconds are unsigned long: a negative count lingers forever.
        const auto t_sec = static_cast<unsigned long>(static_cast<long>(ling.l_linger));
        sk->sk_lingertime = t_sec >= static_cast<unsigned long>(Sock::MAX_SCHEDULE_TIMEOUT / HZ)
                                ? Sock::MAX_SCHEDULE_TIMEOUT
                                : static_cast<std::int64_t>(t_sec) * HZ;
        sock_set_flag(sk, SOCK_LINGER);
      }
      return 0;
    }
    case SO_BSDCOMPAT:
      return 0;
    case SO_TIMESTAMPING_OLD:
    case SO_TIMESTAMPING_NEW: {
      // An int, or a struct so_timestamping whose bind_phc sendpath ignores.
      so_timestamping ts{};
      if (optlen == static_cast<socklen_t>(sizeof ts))
        std::memcpy(&ts, optval, sizeof ts);
      else
        ts.flags = val;
      return sock_set_timestamping(sk, static_cast<std::uint32_t>(ts.flags));
    }
    case SO_RCVLOWAT:
      tcp_set_rcvlowat(sk, val < 0 ? INT_MAX : val);
      return 0;
    case SO_RCVTIMEO_OLD:
    case SO_RCVTIMEO_NEW:
      return get_timeval_jiffies(optval, optlen, &sk->sk_rcvtimeo);
    case SO_SNDTIMEO_OLD:
    case SO_SNDTIMEO_NEW:
      return get_timeval_jiffies(optval, optlen, &sk->sk_sndtimeo);
    case SO_MARK:
      sk->sk_mark = static_cast<std::uint32_t>(val);
      return 0;
    case SO_RCVMARK:
      sock_valbool_flag(sk, SOCK_RCVMARK, valbool);
      return 0;
    case SO_RXQ_OVFL:
      sock_valbool_flag(sk, SOCK_RXQ_OVFL, valbool);
      return 0;
    case SO_WIFI_STATUS:
      sock_valbool_flag(sk, SOCK_WIFI_STATUS, valbool);
      return 0;
    case SO_NOFCS:
      sock_valbool_flag(sk, SOCK_NOFCS, valbool);
      return 0;
    case SO_SELECT_ERR_QUEUE:
      sock_valbool_flag(sk, SOCK_SELECT_ERR_QUEUE, valbool);
      return 0;
    case SO_INCOMING_CPU:
      sk->sk_incoming_cpu = val;
      return 0;
    case SO_CNX_ADVICE:
      // Negative advice drops the cached route: the next send looks it up.
      if (val == 1) sk_dst_reset(sk);
      return 0;
    case SO_ZEROCOPY:
      if (val < 0 || val > 1) return -EINVAL;
      sock_valbool_flag(sk, SOCK_ZEROCOPY, valbool);
      return 0;
    case SO_TXTIME: {
      sock_txtime txtime;
      if (optlen != static_cast<socklen_t>(sizeof txtime)) return -EINVAL;
      std::memcpy(&txtime, optval, sizeof txtime);
      if (txtime.flags & ~static_cast<std::uint32_t>(SOF_TXTIME_FLAGS_MASK)) return -EINVAL;
      // sockopt_validate_clockid
      if (txtime.clockid != CLOCK_REALTIME && txtime.clockid != CLOCK_MONOTONIC &&
          txtime.clockid != CLOCK_TAI)
        return -EINVAL;
      sock_set_flag(sk, SOCK_TXTIME);
      sk->sk_clockid = txtime.clockid;
      sk->sk_txtime_deadline_mode = (txtime.flags & SOF_TXTIME_DEADLINE_MODE) != 0;
      sk->sk_txtime_report_errors = (txtime.flags & SOF_TXTIME_REPORT_ERRORS) != 0;
      return 0;
    }
    case SO_BUF_LOCK:
      if (val & ~kSockBufLockMask) return -EINVAL;
      sk->sk_userlocks = static_cast<std::uint8_t>(val | (sk->sk_userlocks & ~kSockBufLockMask));
      return 0;
    case SO_RESERVE_MEM:
      if (val < 0 || val > kSzOneGiB) return -EINVAL;
      // Reserving needs a memory cgroup charging the socket: none here.
      return -EOPNOTSUPP;
    default:
      return -ENOPROTOOPT;
  }
}

int sock_getsockopt(Socket* sock, int optname, void* optval, socklen_t* optlen) {
  Sock* sk = sock->sk;
  if (static_cast<int>(*optlen) < 0) return -EINVAL;
  if (sock_opt_not_implemented(optname)) return -ENOPROTOOPT;
  switch (optname) {
    case SO_DEBUG:
      return put_int(optval, optlen, sock_flag(sk, SOCK_DBG));
    case SO_BROADCAST:
      return put_int(optval, optlen, sock_flag(sk, SOCK_BROADCAST));
    case SO_SNDBUF:
      return put_int(optval, optlen, sk->sk_sndbuf);
    case SO_RCVBUF:
      return put_int(optval, optlen, sk->sk_rcvbuf);
    case SO_REUSEADDR:
      return put_int(optval, optlen, sk->sk_reuse);
    case SO_REUSEPORT:
      return put_int(optval, optlen, sk->sk_reuseport);
    case SO_KEEPALIVE:
      return put_int(optval, optlen, sock_flag(sk, SOCK_KEEPOPEN));
    case SO_TYPE:
      return put_int(optval, optlen, SOCK_STREAM);
    case SO_PROTOCOL:
      return put_int(optval, optlen, IPPROTO_TCP);
    case SO_DOMAIN:
      return put_int(optval, optlen, AF_INET);
    case SO_ERROR: {
      // Reading SO_ERROR clears it (sock_error), or the soft error.
      int err = -sock_error(sk);
      if (!err) {
        err = sk->sk_err_soft;
        sk->sk_err_soft = 0;
      }
      return put_int(optval, optlen, err);
    }
    case SO_NO_CHECK:
      return put_int(optval, optlen, sk->sk_no_check_tx);
    case SO_PRIORITY:
      return put_int(optval, optlen, static_cast<int>(sk->sk_priority));
    case SO_LINGER: {
      linger ling{};
      ling.l_onoff = sock_flag(sk, SOCK_LINGER);
      ling.l_linger = static_cast<int>(sk->sk_lingertime / HZ);
      return put_opt(optval, optlen, &ling, sizeof ling);
    }
    case SO_BSDCOMPAT:
      return put_int(optval, optlen, 0);
    case SO_TIMESTAMPING_OLD:
    case SO_TIMESTAMPING_NEW: {
      so_timestamping ts{};
      ts.flags = static_cast<int>(sk->sk_tsflags);
      return put_opt(optval, optlen, &ts, sizeof ts);
    }
    case SO_RCVTIMEO_OLD:
    case SO_RCVTIMEO_NEW:
    case SO_SNDTIMEO_OLD:
    case SO_SNDTIMEO_NEW: {
      timeval tv{};
      const bool rcv = optname == SO_RCVTIMEO_OLD || optname == SO_RCVTIMEO_NEW;
      put_timeval_jiffies(rcv ? sk->sk_rcvtimeo : sk->sk_sndtimeo, &tv);
      return put_opt(optval, optlen, &tv, sizeof tv);
    }
    case SO_RCVLOWAT:
      return put_int(optval, optlen, sk->sk_rcvlowat);
    case SO_SNDLOWAT:
      return put_int(optval, optlen, 1);
    case SO_PASSCRED:
      return put_int(optval, optlen, sock_flag(sk, SOCK_PASSCRED));
    case 76:  // SO_PASSPIDFD
      return put_int(optval, optlen, sock_flag(sk, SOCK_PASSPIDFD));
    case SO_PEERCRED: {
      // A TCP peer has no credentials: no pid, uid and gid -1.
      ucred cred{0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
      return put_opt(optval, optlen, &cred, sizeof cred);
    }
    case 77:  // SO_PEERPIDFD
    case SO_PEERGROUPS:
      return -ENODATA;
    case SO_PEERNAME: {
      sockaddr_in sin{};
      const int lv = sock->ops->getname(sock, reinterpret_cast<sockaddr*>(&sin), 2);
      if (lv < 0) return -ENOTCONN;
      if (lv < static_cast<int>(*optlen)) return -EINVAL;
      return put_opt(optval, optlen, &sin, lv);
    }
    case SO_ACCEPTCONN:
      return put_int(optval, optlen, sk->sk_state == TCP_LISTEN);
    case SO_PASSSEC:
      return put_int(optval, optlen, sock_flag(sk, SOCK_PASSSEC));
    case SO_MARK:
      return put_int(optval, optlen, static_cast<int>(sk->sk_mark));
    case SO_RCVMARK:
      return put_int(optval, optlen, sock_flag(sk, SOCK_RCVMARK));
    case SO_RXQ_OVFL:
      return put_int(optval, optlen, sock_flag(sk, SOCK_RXQ_OVFL));
    case SO_WIFI_STATUS:
      return put_int(optval, optlen, sock_flag(sk, SOCK_WIFI_STATUS));
    case SO_NOFCS:
      return put_int(optval, optlen, sock_flag(sk, SOCK_NOFCS));
    case SO_SELECT_ERR_QUEUE:
      return put_int(optval, optlen, sock_flag(sk, SOCK_SELECT_ERR_QUEUE));
    case SO_BUSY_POLL:
      return put_int(optval, optlen, static_cast<int>(sk->sk_ll_usec));
    case SO_PREFER_BUSY_POLL:
      return put_int(optval, optlen, sk->sk_prefer_busy_poll);
    case SO_MAX_PACING_RATE: {
      // An unsigned long when there is room for one, else capped to 32 bits.
      if (*optlen >= sizeof(std::uint64_t))
        return put_opt(optval, optlen, &sk->sk_max_pacing_rate, sizeof(std::uint64_t));
      const auto v =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(sk->sk_max_pacing_rate, ~0u));
      return put_opt(optval, optlen, &v, sizeof v);
    }
    case SO_INCOMING_CPU:
      return put_int(optval, optlen, sk->sk_incoming_cpu);
    case SO_MEMINFO: {
      // sk_get_meminfo: SK_MEMINFO_RMEM_ALLOC .. SK_MEMINFO_DROPS.
      const std::uint32_t mem[9] = {
          static_cast<std::uint32_t>(sk->sk_rmem_alloc),
          static_cast<std::uint32_t>(sk->sk_rcvbuf),
          static_cast<std::uint32_t>(sk->sk_wmem_alloc - 1),
          static_cast<std::uint32_t>(sk->sk_sndbuf),
          static_cast<std::uint32_t>(sk->sk_forward_alloc),
          static_cast<std::uint32_t>(sk->sk_wmem_queued),
          static_cast<std::uint32_t>(sk->sk_omem_alloc),
          0,  // backlog: sendpath processes input under no socket lock
          0,  // drops
      };
      return put_opt(optval, optlen, mem, sizeof mem);
    }
    case SO_INCOMING_NAPI_ID:
      return put_int(optval, optlen, 0);  // no NAPI: reported as Linux's non-NAPI ids
    case SO_COOKIE:
      if (*optlen < sizeof(std::uint64_t)) return -EINVAL;
      return put_opt(optval, optlen, &sk->sk_cookie, sizeof(std::uint64_t));
    case SO_ZEROCOPY:
      return put_int(optval, optlen, sock_flag(sk, SOCK_ZEROCOPY));
    case SO_TXTIME: {
      sock_txtime txtime{};
      txtime.clockid = sk->sk_clockid;
      txtime.flags = (sk->sk_txtime_deadline_mode ? SOF_TXTIME_DEADLINE_MODE : 0) |
                     (sk->sk_txtime_report_errors ? SOF_TXTIME_REPORT_ERRORS : 0);
      return put_opt(optval, optlen, &txtime, sizeof txtime);
    }
    case SO_NETNS_COOKIE: {
      if (*optlen != sizeof(std::uint64_t)) return -EINVAL;
      // One namespace per stack; its cookie is the first Linux hands out.
      const std::uint64_t cookie = 1;
      return put_opt(optval, optlen, &cookie, sizeof cookie);
    }
    case SO_BUF_LOCK:
      return put_int(optval, optlen, sk->sk_userlocks & kSockBufLockMask);
    case SO_RESERVE_MEM:
      return put_int(optval, optlen, 0);
    case SO_TXREHASH:
      return put_int(optval, optlen, sk->sk_txrehash);
    default:
      return -ENOPROTOOPT;
  }
}

// --- SOL_IP options (do_ip_setsockopt / do_ip_getsockopt) ---------------------

// The ECN field of the TOS byte (RFC 3168).
constexpr int INET_ECN_MASK = 3;

// rt_tos2priority: the queueing priority an IP_TOS value implies.
std::uint32_t rt_tos2priority(std::uint8_t tos) {
  // TC_PRIO_BESTEFFORT 0, BULK 2, INTERACTIVE_BULK 4, INTERACTIVE 6, by
  // IPTOS_TOS(tos) >> 1 (ip_tos2prio).
  static constexpr std::uint8_t kTos2Prio[16] = {0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4};
  return kTos2Prio[(tos & 0x1e) >> 1];
}

// The IP options of a TCP socket sendpath implements; the others Linux has
// (receive control messages, multicast, IP options, transparent proxying,
// ...) answer ENOPROTOOPT as unknown ones.
bool ip_opt_takes_int(int optname) {
  switch (optname) {
    case IP_PKTINFO:
    case IP_RECVTTL:
    case IP_RECVOPTS:
    case IP_RECVTOS:
    case IP_RETOPTS:
    case IP_TOS:
    case IP_TTL:
    case IP_HDRINCL:
    case IP_MTU_DISCOVER:
    case IP_ROUTER_ALERT:
    case IP_PASSSEC:
    case IP_NODEFRAG:
    case IP_MULTICAST_TTL:
    case IP_MULTICAST_ALL:
    case IP_MULTICAST_LOOP:
    case IP_RECVORIGDSTADDR:
    case IP_CHECKSUM:
    case IP_RECVFRAGSIZE:
    case IP_RECVERR_RFC4884:
      return true;
    default:
      return false;
  }
}

int do_ip_setsockopt(Sock* sk, int optname, const void* optval, socklen_t optlen) {
  InetSock* inet = inet_sk(sk);
  int val = 0;
  // An int, or a single byte; no bytes at all read as 0.
  if (ip_opt_takes_int(optname)) {
    if (optlen >= static_cast<socklen_t>(sizeof(int))) {
      if (!copy_from_optval(&val, optval, sizeof val)) return -EFAULT;
    } else if (optlen >= 1) {
      unsigned char ucval;
      if (!copy_from_optval(&ucval, optval, 1)) return -EFAULT;
      val = ucval;
    }
  }
  switch (optname) {
    case IP_ROUTER_ALERT:
      return -EINVAL;  // raw sockets only (ip_ra_control)
    case IP_PKTINFO:
      inet->ip_pktinfo = val != 0;
      return 0;
    case IP_RECVTTL:
      inet->ip_recvttl = val != 0;
      return 0;
    case IP_RECVTOS:
      inet->ip_recvtos = val != 0;
      return 0;
    case IP_RECVOPTS:
      inet->ip_recvopts = val != 0;
      return 0;
    case IP_RETOPTS:
      inet->ip_retopts = val != 0;
      return 0;
    case IP_PASSSEC:
      inet->ip_passsec = val != 0;
      return 0;
    case IP_RECVORIGDSTADDR:
      inet->ip_origdstaddr = val != 0;
      return 0;
    case IP_RECVFRAGSIZE:
      return -EINVAL;  // datagram and raw sockets only
    case IP_RECVERR_RFC4884:
      if (val < 0 || val > 1) return -EINVAL;
      inet->ip_recverr_rfc4884 = val != 0;
      return 0;
    case IP_HDRINCL:
    case IP_NODEFRAG:
      return -ENOPROTOOPT;  // raw sockets only
    case IP_MULTICAST_LOOP:
      if (optlen < 1) return -EINVAL;
      inet->ip_mc_loop = val != 0;
      return 0;
    case IP_MULTICAST_ALL:
      if (optlen < 1) return -EINVAL;
      if (val != 0 && val != 1) return -EINVAL;
      inet->ip_mc_all = val != 0;
      return 0;
    case IP_TTL:
      if (optlen < 1) return -EINVAL;
      if (val != -1 && (val < 1 || val > 255)) return -EINVAL;
      inet->uc_ttl = val;
      return 0;
    case IP_MULTICAST_TTL:
      return -EINVAL;  // not on a stream socket
    case IP_MTU_DISCOVER:
      if (val < IP_PMTUDISC_DONT || val > IP_PMTUDISC_OMIT) return -EINVAL;
      inet->pmtudisc = static_cast<std::uint8_t>(val);
      return 0;
    case IP_TOS: {
      // A stream socket's ECN bits belong to TCP (RFC 3168): keep them.
      const std::uint8_t tos =
          static_cast<std::uint8_t>((val & ~INET_ECN_MASK) | (inet->tos & INET_ECN_MASK));
      if (tos != inet->tos) {
        inet->tos = tos;
        sk->sk_priority = rt_tos2priority(tos);
        sk_dst_reset(sk);  // the route may depend on the TOS
      }
      return 0;
    }
    case IP_CHECKSUM:
      inet->ip_checksum = val != 0;
      return 0;
    case IP_MULTICAST_IF:
      return -EINVAL;  // not on a stream socket
    default:
      return -ENOPROTOOPT;
  }
}

// put_cmsg into a user buffer of *left bytes at *p: a control message
// truncated to what fits (MSG_CTRUNC in Linux, which getsockopt drops).
int put_cmsg_opt(unsigned char** p, std::size_t* left, int type, const void* data,
                 std::size_t len) {
  if (!*p || *left < sizeof(cmsghdr)) return 0;
  std::size_t cmlen = std::min<std::size_t>(CMSG_LEN(len), *left);
  cmsghdr cm{};
  cm.cmsg_len = cmlen;
  cm.cmsg_level = SOL_IP;
  cm.cmsg_type = type;
  std::memcpy(*p, &cm, sizeof cm);
  std::memcpy(*p + sizeof cm, data, cmlen - sizeof cm);
  cmlen = std::min<std::size_t>(CMSG_SPACE(len), *left);
  *p += cmlen;
  *left -= cmlen;
  return 0;
}

// IP_PKTOPTIONS on a TCP socket: the control messages asked for with
// IP_PKTINFO, IP_RECVTTL and IP_RECVTOS, from what the socket knows.
int ip_get_pktoptions(const Sock* sk, void* optval, socklen_t* optlen) {
  const InetSock* inet = inet_sk(sk);
  auto* p = static_cast<unsigned char*>(optval);
  std::size_t left = *optlen;
  if (inet->ip_pktinfo) {
    in_pktinfo info{};
    info.ipi_addr.s_addr = inet->inet_rcv_saddr;
    info.ipi_spec_dst.s_addr = inet->inet_rcv_saddr;
    info.ipi_ifindex = 0;  // mc_index: no multicast device
    put_cmsg_opt(&p, &left, IP_PKTINFO, &info, sizeof info);
  }
  if (inet->ip_recvttl) {
    const int hlim = inet->mc_ttl;
    put_cmsg_opt(&p, &left, IP_TTL, &hlim, sizeof hlim);
  }
  if (inet->ip_recvtos) {
    const int tos = inet->rcv_tos;
    put_cmsg_opt(&p, &left, IP_TOS, &tos, sizeof tos);
  }
  *optlen = static_cast<socklen_t>(*optlen - left);
  return 0;
}

int do_ip_getsockopt(Sock* sk, int optname, void* optval, socklen_t* optlen) {
  const InetSock* inet = inet_sk(sk);
  int val;
  switch (optname) {
    case IP_TOS:
      val = inet->tos;
      break;
    case IP_TTL:
      val = inet->uc_ttl >= 0 ? inet->uc_ttl : sk->stack->sysctl().ip_default_ttl;
      break;
    case IP_MTU_DISCOVER:
      val = inet->pmtudisc;
      break;
    case IP_MTU:
      val = static_cast<int>(sk->sk_dst_mtu);
      if (!val) return -ENOTCONN;
      break;
    case IP_PKTINFO:
      val = inet->ip_pktinfo;
      break;
    case IP_RECVTTL:
      val = inet->ip_recvttl;
      break;
    case IP_RECVTOS:
      val = inet->ip_recvtos;
      break;
    case IP_RECVOPTS:
      val = inet->ip_recvopts;
      break;
    case IP_RETOPTS:
      val = inet->ip_retopts;
      break;
    case IP_PASSSEC:
      val = inet->ip_passsec;
      break;
    case IP_RECVORIGDSTADDR:
      val = inet->ip_origdstaddr;
      break;
    case IP_CHECKSUM:
      val = inet->ip_checksum;
      break;
    case IP_RECVERR_RFC4884:
      val = inet->ip_recverr_rfc4884;
      break;
    case IP_HDRINCL:  // raw sockets' flags, never set on TCP
    case IP_NODEFRAG:
    case IP_ROUTER_ALERT:
      val = 0;
      break;
    case IP_MULTICAST_LOOP:
      val = inet->ip_mc_loop;
      break;
    case IP_MULTICAST_ALL:
      val = inet->ip_mc_all;
      break;
    case IP_PKTOPTIONS:
      return ip_get_pktoptions(sk, optval, optlen);
    case 52:  // IP_PROTOCOL: Linux reads inet_num, the protocol of a raw
              // socket, which for TCP is the local port
      val = inet_sk(sk)->inet_num;
      break;
    case IP_RECVFRAGSIZE:
      val = 0;  // never set on a stream socket
      break;
    case IP_MULTICAST_TTL:
      val = inet->mc_ttl;  // a stream socket cannot change it
      break;
    case IP_MULTICAST_IF: {
      const in_addr addr{};  // none: a stream socket cannot set one
      return put_opt(optval, optlen, &addr, sizeof addr);
    }
    default:
      return -ENOPROTOOPT;
  }
  // A short buffer gets one byte when the value fits in one.
  const int len = static_cast<int>(*optlen);
  if (len < static_cast<int>(sizeof(int)) && len > 0 && val >= 0 && val <= 255) {
    const auto ucval = static_cast<unsigned char>(val);
    return put_opt(optval, optlen, &ucval, 1);
  }
  return put_int(optval, optlen, val);
}

int inet_setsockopt(Socket* sock, int level, int optname, const void* optval, socklen_t optlen) {
  Sock* sk = sock->sk;
  if (level == SOL_SOCKET) return sock_setsockopt(sock, optname, optval, optlen);
  if (level == IPPROTO_IP) return do_ip_setsockopt(sk, optname, optval, optlen);
  return sk->sk_prot->setsockopt(sk, level, optname, optval, optlen);
}

int inet_getsockopt(Socket* sock, int level, int optname, void* optval, socklen_t* optlen) {
  Sock* sk = sock->sk;
  // sk_getsockopt, do_ip_getsockopt and do_tcp_getsockopt all refuse a
  // negative length before looking at the option.
  if (static_cast<int>(*optlen) < 0) return -EINVAL;
  if (level == SOL_SOCKET) return sock_getsockopt(sock, optname, optval, optlen);
  if (level == IPPROTO_IP) return do_ip_getsockopt(sk, optname, optval, optlen);
  return sk->sk_prot->getsockopt(sk, level, optname, optval, optlen);
}

// inet_sendmsg -> sk->sk_prot->sendmsg (tcp_sendmsg).
int inet_sendmsg(Socket* sock, const msghdr* msg, std::size_t size) {
  Sock* sk = sock->sk;
  trace_inet_sendmsg(sk, size, static_cast<std::uint32_t>(msg->msg_flags));
  return sk->sk_prot->sendmsg(sk, msg, size);
}

int inet_recvmsg(Socket* sock, msghdr* msg, std::size_t size, int flags) {
  Sock* sk = sock->sk;
  int addr_len = 0;
  int err = sk->sk_prot->recvmsg(sk, msg, size, flags, &addr_len);
  if (err >= 0) msg->msg_namelen = static_cast<socklen_t>(addr_len);
  return err;
}

}  // namespace

const ProtoOps inet_stream_ops = {
    .family = AF_INET,
    .release = inet_release,
    .bind = inet_bind,
    .connect = inet_stream_connect,
    .accept = inet_accept,
    .getname = inet_getname,
    .poll = inet_poll,
    .ioctl = inet_ioctl,
    .listen = inet_listen,
    .shutdown = inet_shutdown,
    .setsockopt = inet_setsockopt,
    .getsockopt = inet_getsockopt,
    .sendmsg = inet_sendmsg,
    .recvmsg = inet_recvmsg,
};

}  // namespace sp
