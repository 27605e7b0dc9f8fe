// The file-facing half of an IPv4 stream socket (net/ipv4/af_inet.c,
// net/core/sock.c socket options): inet_stream_ops, through which every
// socket call reaches TCP.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
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

int get_timeval_jiffies(const void* optval, socklen_t optlen, std::int64_t* out) {
  if (optlen < static_cast<socklen_t>(sizeof(timeval))) return -EINVAL;
  timeval tv;
  std::memcpy(&tv, optval, sizeof tv);
  if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return -EDOM;
  if (tv.tv_sec < 0) {
    *out = 0;  // Linux: a negative timeout means "do not wait"
    return 0;
  }
  if (tv.tv_sec == 0 && tv.tv_usec == 0) {
    *out = Sock::MAX_SCHEDULE_TIMEOUT;
    return 0;
  }
  // sock_set_timeout: whole jiffies, the microseconds rounded up.
  const std::int64_t us_per_jiffy = 1000000 / HZ;
  *out = static_cast<std::int64_t>(tv.tv_sec) * HZ + (tv.tv_usec + us_per_jiffy - 1) / us_per_jiffy;
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

int sock_setsockopt(Socket* sock, int optname, const void* optval, socklen_t optlen) {
  Sock* sk = sock->sk;
  if (optname == SO_SNDTIMEO || optname == SO_RCVTIMEO) {
    std::int64_t j;
    int err = get_timeval_jiffies(optval, optlen, &j);
    if (err) return err;
    (optname == SO_SNDTIMEO ? sk->sk_sndtimeo : sk->sk_rcvtimeo) = j;
    return 0;
  }
  if (optname == SO_LINGER) {
    if (optlen < static_cast<socklen_t>(sizeof(linger))) return -EINVAL;
    linger ling;
    std::memcpy(&ling, optval, sizeof ling);
    if (!ling.l_onoff) {
      sock_reset_flag(sk, SOCK_LINGER);
    } else {
      sk->sk_lingertime = static_cast<std::int64_t>(ling.l_linger) * HZ;
      if (ling.l_linger < 0) sk->sk_lingertime = Sock::MAX_SCHEDULE_TIMEOUT;
      sock_set_flag(sk, SOCK_LINGER);
    }
    return 0;
  }
  if (optlen < static_cast<socklen_t>(sizeof(int))) return -EINVAL;
  int val;
  std::memcpy(&val, optval, sizeof val);
  switch (optname) {
    case SO_REUSEADDR:
      sk->sk_reuse = val ? 1 : 0;
      return 0;
    case SO_REUSEPORT:
      sk->sk_reuseport = val ? 1 : 0;
      return 0;
    case SO_SNDBUF:
    case SO_SNDBUFFORCE:
      sk_set_sndbuf(sk, val);
      return 0;
    case SO_RCVBUF:
    case SO_RCVBUFFORCE:
      sk_set_rcvbuf(sk, val);
      return 0;
    case SO_KEEPALIVE:
      tcp_set_keepalive(sk, val ? 1 : 0);
      sock_valbool_flag(sk, SOCK_KEEPOPEN, val != 0);
      return 0;
    case SO_RCVLOWAT:
      sk->sk_rcvlowat = val ? val : 1;
      return 0;
    case SO_PRIORITY:
      sk->sk_priority = static_cast<std::uint32_t>(val);
      return 0;
    case SO_MARK:
      sk->sk_mark = static_cast<std::uint32_t>(val);
      return 0;
    case SO_MAX_PACING_RATE: {
      const std::uint64_t rate = val == -1 ? ~std::uint64_t{0} : static_cast<std::uint32_t>(val);
      sk->sk_max_pacing_rate = rate;
      sk->sk_pacing_rate = std::min(sk->sk_pacing_rate, rate);
      return 0;
    }
    case SO_ZEROCOPY:
      if (val < 0 || val > 1) return -EINVAL;
      sock_valbool_flag(sk, SOCK_ZEROCOPY, val != 0);
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
    case SO_ERROR:
    case SO_TYPE:
    case SO_ACCEPTCONN:
    case SO_PROTOCOL:
    case SO_DOMAIN:
      return -ENOPROTOOPT;
    default:
      return -ENOPROTOOPT;
  }
}

int put_int(void* optval, socklen_t* optlen, int val) {
  const socklen_t len = std::min<socklen_t>(*optlen, sizeof(int));
  std::memcpy(optval, &val, static_cast<std::size_t>(len));
  *optlen = len;
  return 0;
}

int sock_getsockopt(Socket* sock, int optname, void* optval, socklen_t* optlen) {
  Sock* sk = sock->sk;
  switch (optname) {
    case SO_SNDBUF:
      return put_int(optval, optlen, sk->sk_sndbuf);
    case SO_RCVBUF:
      return put_int(optval, optlen, sk->sk_rcvbuf);
    case SO_REUSEADDR:
      return put_int(optval, optlen, sk->sk_reuse);
    case SO_REUSEPORT:
      return put_int(optval, optlen, sk->sk_reuseport);
    case SO_KEEPALIVE:
      return put_int(optval, optlen, sock_flag(sk, SOCK_KEEPOPEN) ? 1 : 0);
    case SO_TYPE:
      return put_int(optval, optlen, SOCK_STREAM);
    case SO_PROTOCOL:
      return put_int(optval, optlen, IPPROTO_TCP);
    case SO_DOMAIN:
      return put_int(optval, optlen, AF_INET);
    case SO_ACCEPTCONN:
      return put_int(optval, optlen, sk->sk_state == TCP_LISTEN ? 1 : 0);
    case SO_RCVLOWAT:
      return put_int(optval, optlen, sk->sk_rcvlowat);
    case SO_PRIORITY:
      return put_int(optval, optlen, static_cast<int>(sk->sk_priority));
    case SO_MARK:
      return put_int(optval, optlen, static_cast<int>(sk->sk_mark));
    case SO_ZEROCOPY:
      return put_int(optval, optlen, sock_flag(sk, SOCK_ZEROCOPY) ? 1 : 0);
    case SO_TIMESTAMPING_OLD:
    case SO_TIMESTAMPING_NEW: {
      so_timestamping ts{};
      ts.flags = static_cast<int>(sk->sk_tsflags);
      const socklen_t len = std::min<socklen_t>(*optlen, sizeof ts);
      std::memcpy(optval, &ts, static_cast<std::size_t>(len));
      *optlen = len;
      return 0;
    }
    case SO_ERROR: {
      // Reading SO_ERROR clears it (sock_error), or the soft error.
      int err = -sock_error(sk);
      if (!err) {
        err = sk->sk_err_soft;
        sk->sk_err_soft = 0;
      }
      return put_int(optval, optlen, err);
    }
    case SO_LINGER: {
      linger ling{};
      ling.l_onoff = sock_flag(sk, SOCK_LINGER) ? 1 : 0;
      ling.l_linger = static_cast<int>(sk->sk_lingertime / HZ);
      const socklen_t len = std::min<socklen_t>(*optlen, sizeof ling);
      std::memcpy(optval, &ling, static_cast<std::size_t>(len));
      *optlen = len;
      return 0;
    }
    case SO_SNDTIMEO:
    case SO_RCVTIMEO: {
      timeval tv{};
      put_timeval_jiffies(optname == SO_SNDTIMEO ? sk->sk_sndtimeo : sk->sk_rcvtimeo, &tv);
      const socklen_t len = std::min<socklen_t>(*optlen, sizeof tv);
      std::memcpy(optval, &tv, static_cast<std::size_t>(len));
      *optlen = len;
      return 0;
    }
    default:
      return -ENOPROTOOPT;
  }
}

int inet_setsockopt(Socket* sock, int level, int optname, const void* optval, socklen_t optlen) {
  Sock* sk = sock->sk;
  if (level == SOL_SOCKET) return sock_setsockopt(sock, optname, optval, optlen);
  if (level == IPPROTO_IP) {
    int val;
    if (optlen < static_cast<socklen_t>(sizeof(int))) return -EINVAL;
    std::memcpy(&val, optval, sizeof val);
    switch (optname) {
      case IP_TOS:
        inet_sk(sk)->tos = static_cast<std::uint8_t>(val);
        return 0;
      case IP_TTL:
        if (val != -1 && (val < 1 || val > 255)) return -EINVAL;
        inet_sk(sk)->uc_ttl = val;
        return 0;
      default:
        return -ENOPROTOOPT;
    }
  }
  return sk->sk_prot->setsockopt(sk, level, optname, optval, optlen);
}

int inet_getsockopt(Socket* sock, int level, int optname, void* optval, socklen_t* optlen) {
  Sock* sk = sock->sk;
  if (level == SOL_SOCKET) return sock_getsockopt(sock, optname, optval, optlen);
  if (level == IPPROTO_IP) {
    switch (optname) {
      case IP_TOS:
        return put_int(optval, optlen, inet_sk(sk)->tos);
      case IP_TTL:
        return put_int(
            optval, optlen,
            inet_sk(sk)->uc_ttl >= 0 ? inet_sk(sk)->uc_ttl : sk->stack->sysctl().ip_default_ttl);
      default:
        return -ENOPROTOOPT;
    }
  }
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
