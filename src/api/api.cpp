// The BSD-shaped calls (net/socket.c): a per-thread descriptor table of
// struct socket, errno-style results, and the dispatch into proto_ops.
#include "sendpath/api.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <vector>

#include "api/call_guard.hpp"
#include "api/fd_table.hpp"
#include "api/sock_calls.hpp"
#include "core/stack.hpp"
#include "fs/eventpoll.hpp"
#include "sock/sock.hpp"
#include "tcp/tcp.hpp"

namespace sp {

namespace {

constexpr int kFirstFd = 3;

// One descriptor table per thread (a stack is one thread).
std::vector<std::unique_ptr<File>>& fd_table() {
  thread_local std::vector<std::unique_ptr<File>> table;
  return table;
}

// Turn a kernel-style result (negative errno) into the C convention.
template <typename T>
T ret(T v) {
  if (v < 0) {
    errno = static_cast<int>(-v);
    return -1;
  }
  return v;
}

// The socket behind fd with a live sock, or nullptr and errno set.
Socket* lookup_live(int fd) {
  Socket* sock = sockfd_lookup(fd);
  if (!sock) {
    // A descriptor that is open but not a socket (an epoll instance).
    errno = fget(fd) ? ENOTSOCK : EBADF;
    return nullptr;
  }
  if (!sock->sk) {
    // The stack that owned it is gone.
    errno = ENOTCONN;
    return nullptr;
  }
  return sock;
}

// The stack a descriptor's socket lives on (nullptr when none).
Stack* stack_of(const Socket* sock) {
  return sock && sock->sk ? sock->sk->stack : nullptr;
}

// The stack whose lock covers work on file (a socket's, or the one an epoll
// instance waits on).
Stack* file_stack(File* file) {
  if (!file) return nullptr;
  if (file->f_kind == File::Kind::kSocket) return stack_of(static_cast<Socket*>(file));
  return eventpoll_stack(file);
}

std::unique_ptr<Socket> sock_alloc(Stack& st) {
  auto sock = std::make_unique<Socket>();
  sock->ops = &inet_stream_ops;
  sock->type = SOCK_STREAM;
  Sock* sk = tcp_prot.alloc(st);
  if (!sk) return nullptr;  // inet_create: sk_alloc failed, -ENOMEM
  sk->sk_prot->init(sk);
  sk->sk_socket = sock.get();
  sock->sk = sk;
  return sock;
}

}  // namespace

// --- the calls on a struct socket (api/sock_calls.hpp) ------------------------

namespace sockcall {

std::unique_ptr<Socket> create(Stack& st, int domain, int type, int protocol, int* err) {
  const int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
  type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  *err = 0;
  if (domain != AF_INET)
    *err = -EAFNOSUPPORT;
  else if (type != SOCK_STREAM)
    *err = -ESOCKTNOSUPPORT;
  else if (protocol != 0 && protocol != IPPROTO_TCP)
    *err = -EPROTONOSUPPORT;
  if (*err) return nullptr;
  CallGuard guard(&st);
  auto sock = sock_alloc(st);
  if (!sock) {
    *err = -ENOMEM;
    return nullptr;
  }
  if (flags & SOCK_NONBLOCK) sock->file_flags |= O_NONBLOCK;
  return sock;
}

int bind(Socket* sock, const sockaddr* addr, socklen_t addrlen) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  if (!addr) return -EFAULT;
  return sock->ops->bind(sock, addr, static_cast<int>(addrlen));
}

int listen(Socket* sock, int backlog) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  return sock->ops->listen(sock, backlog);
}

std::unique_ptr<Socket> accept(Socket* sock, sockaddr* addr, socklen_t* addrlen, int flags,
                               int* err) {
  *err = 0;
  if (!sock->sk) {
    *err = -ENOTCONN;
    return nullptr;
  }
  CallGuard guard(stack_of(sock));
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
    *err = -EINVAL;
    return nullptr;
  }
  auto newsock = std::make_unique<Socket>();
  newsock->ops = sock->ops;
  newsock->type = sock->type;
  const int r = sock->ops->accept(sock, newsock.get(), sock->file_flags);
  if (r < 0) {
    *err = r;
    return nullptr;
  }
  if (flags & SOCK_NONBLOCK) newsock->file_flags |= O_NONBLOCK;
  if (addr && addrlen) {
    sockaddr_in sin{};
    const int len = newsock->ops->getname(newsock.get(), reinterpret_cast<sockaddr*>(&sin), 2);
    if (len > 0) {
      const socklen_t n = std::min<socklen_t>(*addrlen, static_cast<socklen_t>(len));
      std::memcpy(addr, &sin, n);
      *addrlen = static_cast<socklen_t>(len);
    }
  }
  return newsock;
}

int connect(Socket* sock, const sockaddr* addr, socklen_t addrlen) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  if (!addr) return -EFAULT;
  return sock->ops->connect(sock, addr, static_cast<int>(addrlen), sock->file_flags);
}

int getname(Socket* sock, sockaddr* addr, socklen_t* addrlen, int peer) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  if (!addr || !addrlen) return -EFAULT;
  sockaddr_in sin{};
  const int len = sock->ops->getname(sock, reinterpret_cast<sockaddr*>(&sin), peer);
  if (len < 0) return len;
  const socklen_t n = std::min<socklen_t>(*addrlen, static_cast<socklen_t>(len));
  std::memcpy(addr, &sin, n);
  *addrlen = static_cast<socklen_t>(len);
  return 0;
}

long sendmsg(Socket* sock, const msghdr* msg, int flags) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  if (!msg || (msg->msg_iovlen && !msg->msg_iov)) return -EFAULT;
  if (msg->msg_iovlen > IOV_MAX) return -EMSGSIZE;
  // ____sys_sendmsg copies the control messages in first.
  if (msg->msg_controllen > INT_MAX) return -ENOBUFS;
  if (msg->msg_controllen && !msg->msg_control) return -EFAULT;
  for (std::size_t i = 0; i < msg->msg_iovlen; ++i)
    if (msg->msg_iov[i].iov_len && !msg->msg_iov[i].iov_base) return -EFAULT;
  msghdr m = *msg;
  m.msg_flags = flags;
  // __sys_sendmsg: a non-blocking descriptor makes every send MSG_DONTWAIT.
  if (sock->file_flags & O_NONBLOCK) m.msg_flags |= MSG_DONTWAIT;
  return sock_sendmsg(sock, &m);
}

long recvmsg(Socket* sock, msghdr* msg, int flags) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  if (!msg || (msg->msg_iovlen && !msg->msg_iov)) return -EFAULT;
  for (std::size_t i = 0; i < msg->msg_iovlen; ++i)
    if (msg->msg_iov[i].iov_len && !msg->msg_iov[i].iov_base) return -EFAULT;
  if (sock->file_flags & O_NONBLOCK) flags |= MSG_DONTWAIT;
  msg->msg_flags = 0;
  // put_cmsg advances msg_control as it fills it; the caller gets the
  // buffer back with msg_controllen saying how much was used (____sys_recvmsg).
  void* const control = msg->msg_control;
  const std::size_t controllen = msg->msg_controllen;
  const int r = sock_recvmsg(sock, msg, flags);
  const std::size_t left = msg->msg_controllen;
  msg->msg_control = control;
  msg->msg_controllen = r >= 0 ? controllen - left : controllen;
  return r;
}

int shutdown(Socket* sock, int how) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  return sock->ops->shutdown(sock, how);
}

void release(std::unique_ptr<Socket> sock) {
  CallGuard guard(stack_of(sock.get()));
  // __fput: epoll instances stop watching the file before it is released.
  eventpoll_release(sock.get());
  if (sock->sk) sock->ops->release(sock.get());
  sock.reset();
}

int setsockopt(Socket* sock, int level, int optname, const void* optval, socklen_t optlen) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  // A null optval faults where the option first reads it.
  return sock->ops->setsockopt(sock, level, optname, optval, optlen);
}

int getsockopt(Socket* sock, int level, int optname, void* optval, socklen_t* optlen) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  if (!optlen) return -EFAULT;
  return sock->ops->getsockopt(sock, level, optname, optval, optlen);
}

int ioctl(Socket* sock, unsigned long request, int* arg) {
  if (!sock->sk) return -ENOTCONN;
  CallGuard guard(stack_of(sock));
  if (!arg) return -EFAULT;
  return sock->ops->ioctl(sock, static_cast<unsigned>(request),
                          reinterpret_cast<unsigned long>(arg));
}

unsigned poll(Socket* sock) {
  if (!sock->sk) return POLLNVAL;
  CallGuard guard(stack_of(sock));
  return vfs_poll(sock);
}

Stack* stack(const Socket* sock) {
  return stack_of(sock);
}

}  // namespace sockcall

File* fget(int fd) {
  auto& t = fd_table();
  if (fd < kFirstFd || static_cast<std::size_t>(fd - kFirstFd) >= t.size()) return nullptr;
  return t[static_cast<std::size_t>(fd - kFirstFd)].get();
}

Socket* sockfd_lookup(int fd) {
  File* f = fget(fd);
  return f && f->f_kind == File::Kind::kSocket ? static_cast<Socket*>(f) : nullptr;
}

int fd_install(std::unique_ptr<File> file) {
  auto& t = fd_table();
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!t[i]) {
      t[i] = std::move(file);
      return static_cast<int>(i) + kFirstFd;
    }
  }
  t.push_back(std::move(file));
  return static_cast<int>(t.size() - 1) + kFirstFd;
}

int socket(Stack& st, int domain, int type, int protocol) {
  int err = 0;
  auto sock = sockcall::create(st, domain, type, protocol, &err);
  if (!sock) return ret(err);
  CallGuard guard(&st);
  return fd_install(std::move(sock));
}

int bind(int fd, const sockaddr* addr, socklen_t addrlen) {
  Socket* sock = lookup_live(fd);
  return sock ? ret(sockcall::bind(sock, addr, addrlen)) : -1;
}

int listen(int fd, int backlog) {
  Socket* sock = lookup_live(fd);
  return sock ? ret(sockcall::listen(sock, backlog)) : -1;
}

int accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags) {
  Socket* sock = lookup_live(fd);
  if (!sock) return -1;
  CallGuard guard(stack_of(sock));
  int err = 0;
  auto newsock = sockcall::accept(sock, addr, addrlen, flags, &err);
  if (!newsock) return ret(err);
  return fd_install(std::move(newsock));
}

int accept(int fd, sockaddr* addr, socklen_t* addrlen) {
  return sp::accept4(fd, addr, addrlen, 0);
}

int connect(int fd, const sockaddr* addr, socklen_t addrlen) {
  Socket* sock = lookup_live(fd);
  return sock ? ret(sockcall::connect(sock, addr, addrlen)) : -1;
}

namespace {
int getname(int fd, sockaddr* addr, socklen_t* addrlen, int peer) {
  Socket* sock = lookup_live(fd);
  return sock ? ret(sockcall::getname(sock, addr, addrlen, peer)) : -1;
}
}  // namespace

int getsockname(int fd, sockaddr* addr, socklen_t* addrlen) {
  return getname(fd, addr, addrlen, 0);
}
int getpeername(int fd, sockaddr* addr, socklen_t* addrlen) {
  return getname(fd, addr, addrlen, 1);
}

ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  Socket* sock = lookup_live(fd);
  return sock ? ret<ssize_t>(sockcall::sendmsg(sock, msg, flags)) : -1;
}

ssize_t sendto(int fd, const void* buf, std::size_t len, int flags, const sockaddr* dest,
               socklen_t addrlen) {
  iovec iov{const_cast<void*>(buf), len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  // A connected stream socket ignores the destination (as Linux for TCP).
  m.msg_name = const_cast<sockaddr*>(dest);
  m.msg_namelen = dest ? addrlen : 0;
  if (len && !buf) {
    errno = EFAULT;
    return -1;
  }
  return sp::sendmsg(fd, &m, flags);
}

ssize_t send(int fd, const void* buf, std::size_t len, int flags) {
  return sp::sendto(fd, buf, len, flags, nullptr, 0);
}

ssize_t write(int fd, const void* buf, std::size_t len) {
  return sp::send(fd, buf, len, 0);
}

namespace {
// readv/writev as recvmsg/sendmsg of a bare msghdr; a negative count or more
// than IOV_MAX vectors is EINVAL (import_iovec).
template <typename Call>
ssize_t vector_io(const iovec* iov, int iovcnt, Call&& call) {
  if (iovcnt < 0 || iovcnt > IOV_MAX) return ret<ssize_t>(-EINVAL);
  msghdr m{};
  m.msg_iov = const_cast<iovec*>(iov);
  m.msg_iovlen = static_cast<std::size_t>(iovcnt);
  return call(&m);
}
}  // namespace

ssize_t writev(int fd, const iovec* iov, int iovcnt) {
  return vector_io(iov, iovcnt, [fd](msghdr* m) { return sp::sendmsg(fd, m, 0); });
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  Socket* sock = lookup_live(fd);
  return sock ? ret<ssize_t>(sockcall::recvmsg(sock, msg, flags)) : -1;
}

ssize_t recvfrom(int fd, void* buf, std::size_t len, int flags, sockaddr* src, socklen_t* addrlen) {
  if (len && !buf) {
    errno = EFAULT;
    return -1;
  }
  iovec iov{buf, len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  ssize_t n = sp::recvmsg(fd, &m, flags);
  if (n >= 0 && src && addrlen) {
    // TCP reports no source address per read; the peer is getpeername's.
    *addrlen = 0;
  }
  return n;
}

ssize_t recv(int fd, void* buf, std::size_t len, int flags) {
  return sp::recvfrom(fd, buf, len, flags, nullptr, nullptr);
}

ssize_t read(int fd, void* buf, std::size_t len) {
  return sp::recv(fd, buf, len, 0);
}

ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  return vector_io(iov, iovcnt, [fd](msghdr* m) { return sp::recvmsg(fd, m, 0); });
}

int shutdown(int fd, int how) {
  Socket* sock = lookup_live(fd);
  return sock ? ret(sockcall::shutdown(sock, how)) : -1;
}

int close(int fd) {
  if (!fget(fd)) {
    errno = EBADF;
    return -1;
  }
  auto& t = fd_table();
  CallGuard guard(file_stack(t[static_cast<std::size_t>(fd - kFirstFd)].get()));
  std::unique_ptr<File> owned = std::move(t[static_cast<std::size_t>(fd - kFirstFd)]);
  // __fput: epoll instances stop watching the file before it is released.
  eventpoll_release(owned.get());
  if (owned->f_kind == File::Kind::kSocket) {
    auto* sock = static_cast<Socket*>(owned.get());
    if (sock->sk) sock->ops->release(sock);
  }
  return 0;
}

int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  Socket* sock = lookup_live(fd);
  return sock ? ret(sockcall::setsockopt(sock, level, optname, optval, optlen)) : -1;
}

int getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen) {
  Socket* sock = lookup_live(fd);
  return sock ? ret(sockcall::getsockopt(sock, level, optname, optval, optlen)) : -1;
}

int fcntl(int fd, int cmd, int arg) {
  File* file = fget(fd);
  if (!file) {
    errno = EBADF;
    return -1;
  }
  // An epoll instance keeps no file flags: epoll_wait's timeout decides.
  Socket* sock = sockfd_lookup(fd);
  CallGuard guard(stack_of(sock));
  switch (cmd) {
    case F_GETFL:
      return O_RDWR | (sock ? sock->file_flags : 0);
    case F_SETFL:
      if (sock) sock->file_flags = (sock->file_flags & ~O_NONBLOCK) | (arg & O_NONBLOCK);
      return 0;
    default:
      errno = EINVAL;
      return -1;
  }
}

int ioctl(int fd, unsigned long request, int* arg) {
  Socket* sock = lookup_live(fd);
  return sock ? ret(sockcall::ioctl(sock, request, arg)) : -1;
}

int poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  if (nfds && !fds) return ret(-EFAULT);
  // The first socket's stack: its lock covers the scan, its clock the timeout.
  Stack* st = nullptr;
  for (nfds_t i = 0; i < nfds && !st; ++i) st = stack_of(sockfd_lookup(fds[i].fd));
  CallGuard guard(st);
  auto scan = [&]() {
    int ready = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
      fds[i].revents = 0;
      if (fds[i].fd < 0) continue;
      File* file = fget(fds[i].fd);
      if (!file) {
        fds[i].revents = POLLNVAL;
        ++ready;
        continue;
      }
      const unsigned mask = vfs_poll(file);
      // POLLERR and POLLHUP are reported whether asked for or not.
      fds[i].revents =
          static_cast<short>(mask & (static_cast<unsigned>(fds[i].events) | POLLERR | POLLHUP));
      if (fds[i].revents) ++ready;
    }
    return ready;
  };
  int ready = scan();
  if (ready || timeout_ms == 0 || !st) return ready;
  const Nanos deadline =
      timeout_ms < 0 ? Stack::kNoTimer : st->now() + static_cast<Nanos>(timeout_ms) * kNsPerMs;
  st->wait_until([&] { return scan() > 0; }, deadline);
  return scan();
}

}  // namespace sp
