/// @file sendpath/api.hpp
/// @brief The BSD-shaped socket API of sendpath (namespace sp).
///
/// Calls take and return what the POSIX calls do, with Linux's constants and
/// errno values: -1 and errno on failure. Only socket() names the stack
/// (a Host, sendpath/stack.hpp); every other call takes a descriptor.
/// Descriptors start at 3 and live in a table of the calling thread: a
/// descriptor is usable from the thread that created it (or accepted it).
///
/// A call that must wait (connect, accept, a send into a full buffer, a recv
/// on an empty queue, poll, epoll_wait) waits until it can finish or its
/// timeout (SO_SNDTIMEO, SO_RCVTIMEO) passes, while the stack keeps
/// processing packets and timers: on a Host running in its thread the call
/// sleeps until the stack thread has done work; otherwise the call runs the
/// stack's loop itself. sendpath never raises SIGPIPE: a send on a broken
/// connection returns EPIPE.
#pragma once
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>  // TCP_* option names and struct tcp_info, as Linux defines them
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>  // TIOCOUTQ/FIONREAD, which SIOCOUTQ/SIOCINQ expand to
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace sp {

class Stack;
class Host;

/// TCP_INFO as Linux 6.12 fills it: the system's struct tcp_info, followed
/// by the fields 6.x added (tcpi_rcv_wnd .. tcpi_total_rto_time). A caller
/// that passes a plain struct tcp_info gets the prefix, as with Linux.
struct tcp_info_612 {
  ::tcp_info v;                     ///< the fields <linux/tcp.h> declares
  __u32 tcpi_rcv_wnd;               ///< local advertised receive window after scaling (bytes)
  __u32 tcpi_rehash;                ///< PLB or timeout triggered rehash attempts
  __u16 tcpi_total_rto;             ///< RTO timeouts, including SYN/SYN-ACK
  __u16 tcpi_total_rto_recoveries;  ///< RTO recoveries, including an unfinished one
  __u32 tcpi_total_rto_time;        ///< ms spent in RTO recoveries
};

/// A new TCP socket on host's stack: socket(2) with domain AF_INET, type
/// SOCK_STREAM (optionally | SOCK_NONBLOCK) and protocol 0 or IPPROTO_TCP.
/// @return the descriptor, or -1 (EAFNOSUPPORT, ESOCKTNOSUPPORT, EPROTONOSUPPORT).
int socket(Host& host, int domain, int type, int protocol);
/// socket() on a stack directly: for code built inside sendpath only.
int socket(Stack& st, int domain, int type, int protocol);
/// bind(2): a local address and port (port 0 picks one on listen/connect).
int bind(int fd, const sockaddr* addr, socklen_t addrlen);
/// listen(2): backlog as Linux (capped by net.core.somaxconn).
int listen(int fd, int backlog);
/// accept(2): blocks, unless the listener is O_NONBLOCK (then EAGAIN).
int accept(int fd, sockaddr* addr, socklen_t* addrlen);
/// accept4(2): flags SOCK_NONBLOCK and SOCK_CLOEXEC (the latter has no effect).
int accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags);
/// connect(2): blocks until established or failed (ECONNREFUSED, ETIMEDOUT);
/// on an O_NONBLOCK socket returns EINPROGRESS, then POLLOUT/EPOLLOUT and
/// SO_ERROR tell the outcome.
int connect(int fd, const sockaddr* addr, socklen_t addrlen);
/// getsockname(2).
int getsockname(int fd, sockaddr* addr, socklen_t* addrlen);
/// getpeername(2): ENOTCONN when not connected.
int getpeername(int fd, sockaddr* addr, socklen_t* addrlen);

/// send(2): MSG_DONTWAIT, MSG_MORE, MSG_NOSIGNAL (implied), MSG_EOR,
/// MSG_ZEROCOPY (see sendmsg()).
ssize_t send(int fd, const void* buf, std::size_t len, int flags);
/// sendto(2): a connected stream socket ignores the destination, as Linux.
ssize_t sendto(int fd, const void* buf, std::size_t len, int flags, const sockaddr* dest,
               socklen_t addrlen);
/// sendmsg(2). MSG_ZEROCOPY (with SO_ZEROCOPY set on the socket): the stack
/// reads the caller's memory itself instead of copying it, so those bytes
/// must stay alive and unchanged until the send's completion comes back
/// through recvmsg(MSG_ERRQUEUE) (an IP_RECVERR control message with
/// SO_EE_ORIGIN_ZEROCOPY and a range of send ids counted from 0). Without
/// SO_ZEROCOPY the flag is ignored and the bytes are copied, as in Linux.
ssize_t sendmsg(int fd, const msghdr* msg, int flags);
/// write(2): send() without flags.
ssize_t write(int fd, const void* buf, std::size_t len);
/// writev(2): sendmsg() of the vectors; EINVAL beyond IOV_MAX.
ssize_t writev(int fd, const iovec* iov, int iovcnt);

/// recv(2): MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL, MSG_TRUNC; 0 at end of stream.
ssize_t recv(int fd, void* buf, std::size_t len, int flags);
/// recvfrom(2): TCP reports no source address (*addrlen set to 0).
ssize_t recvfrom(int fd, void* buf, std::size_t len, int flags, sockaddr* src, socklen_t* addrlen);
/// recvmsg(2). MSG_ERRQUEUE reads one zerocopy completion or
/// SO_TIMESTAMPING report (stamps on the stack's clock); msg_controllen
/// comes back as the bytes of control messages written (MSG_CTRUNC when
/// they did not fit).
ssize_t recvmsg(int fd, msghdr* msg, int flags);
/// read(2): recv() without flags.
ssize_t read(int fd, void* buf, std::size_t len);
/// readv(2): recvmsg() into the vectors.
ssize_t readv(int fd, const iovec* iov, int iovcnt);

/// shutdown(2): SHUT_RD, SHUT_WR (sends FIN once queued data is out), SHUT_RDWR.
int shutdown(int fd, int how);
/// close(2): releases the descriptor; the connection closes as Linux's
/// (FIN after queued data, RST when unread data is discarded, SO_LINGER).
int close(int fd);

/// setsockopt(2) at SOL_SOCKET, SOL_IP and SOL_TCP, with Linux's value
/// types and errnos (ENOPROTOOPT for what sendpath does not know).
int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);
/// getsockopt(2); TCP_INFO fills a tcp_info_612 (or its prefix).
int getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen);

/// fcntl(2): F_GETFL and F_SETFL (O_NONBLOCK).
int fcntl(int fd, int cmd, int arg = 0);
/// ioctl(2): SIOCINQ, SIOCOUTQ, SIOCOUTQNSD (FIONREAD == SIOCINQ).
int ioctl(int fd, unsigned long request, int* arg);
/// poll(2) over sendpath descriptors (of one Host, or of Hosts joined by a
/// SimLink): POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP; timeout in ms of
/// stack time (-1 forever, 0 no wait). Kernel descriptors are not watched:
/// a program's own loop waits on Host::fds() next to them instead.
int poll(pollfd* fds, nfds_t nfds, int timeout_ms);

/// epoll_create(2). epoll behaves as Linux's fs/eventpoll.c does for TCP
/// sockets. An epoll instance is a descriptor in the same table; close()
/// ends it, and closing a watched socket removes it from every instance.
/// EPOLLET items are reported once per wake-up of the socket (data arrival,
/// send room freed past a third of the buffer and below TCP_NOTSENT_LOWAT,
/// state change, error), level-triggered ones while the socket stays ready,
/// EPOLLONESHOT ones once until EPOLL_CTL_MOD re-arms them.
int epoll_create(int size);
/// epoll_create1(2): flags 0 or EPOLL_CLOEXEC.
int epoll_create1(int flags);
/// epoll_ctl(2): EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL on sendpath
/// sockets or epoll instances (nested up to Linux's depth).
int epoll_ctl(int epfd, int op, int fd, epoll_event* event);
/// epoll_wait(2): the timeout is in ms of the watched sockets' stack time
/// (-1 forever, 0 no wait); with no socket to wait on it returns at once.
int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms);

}  // namespace sp
