// The BSD-shaped socket API of sendpath (namespace sp). Calls take and return
// what the POSIX calls do, with Linux's constants and errno values: -1 and
// errno on failure. Only socket() names the stack; every other call takes a
// descriptor from the calling thread's table (descriptors start at 3).
//
// A call that must wait (connect, accept, a send into a full buffer, a recv
// on an empty queue, poll) runs the stack's wait driver (Stack::wait_until)
// until it can finish or its timeout (SO_SNDTIMEO, SO_RCVTIMEO) passes, so
// the stack keeps processing packets and timers while the call is blocked.
// sendpath never raises SIGPIPE: a send on a broken connection returns EPIPE.
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
class Host;  // sendpath/stack.hpp

// TCP_INFO as Linux 6.12 fills it: the system's struct tcp_info, followed by
// the fields 6.x added (tcpi_rcv_wnd .. tcpi_total_rto_time). A caller that
// passes a plain struct tcp_info gets the prefix, as with Linux.
struct tcp_info_612 {
  ::tcp_info v;
  __u32 tcpi_rcv_wnd;               // local advertised receive window after scaling (bytes)
  __u32 tcpi_rehash;                // PLB or timeout triggered rehash attempts
  __u16 tcpi_total_rto;             // RTO timeouts, including SYN/SYN-ACK
  __u16 tcpi_total_rto_recoveries;  // RTO recoveries, including an unfinished one
  __u32 tcpi_total_rto_time;        // ms spent in RTO recoveries
};

// A new socket on host's stack (AF_INET, SOCK_STREAM[|SOCK_NONBLOCK], 0 or
// IPPROTO_TCP). The Stack& form is for code built inside sendpath.
int socket(Host& host, int domain, int type, int protocol);
int socket(Stack& st, int domain, int type, int protocol);
int bind(int fd, const sockaddr* addr, socklen_t addrlen);
int listen(int fd, int backlog);
int accept(int fd, sockaddr* addr, socklen_t* addrlen);
int accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags);  // SOCK_NONBLOCK
int connect(int fd, const sockaddr* addr, socklen_t addrlen);
int getsockname(int fd, sockaddr* addr, socklen_t* addrlen);
int getpeername(int fd, sockaddr* addr, socklen_t* addrlen);

ssize_t send(int fd, const void* buf, std::size_t len, int flags);
ssize_t sendto(int fd, const void* buf, std::size_t len, int flags, const sockaddr* dest,
               socklen_t addrlen);
// MSG_ZEROCOPY (with SO_ZEROCOPY set on the socket): the stack reads the
// caller's memory itself instead of copying it, so those bytes must stay
// alive and unchanged until the send's completion comes back through
// recvmsg(MSG_ERRQUEUE) (an IP_RECVERR control message with
// SO_EE_ORIGIN_ZEROCOPY and a range of send ids counted from 0). Without
// SO_ZEROCOPY the flag is ignored and the bytes are copied, as in Linux.
ssize_t sendmsg(int fd, const msghdr* msg, int flags);
ssize_t write(int fd, const void* buf, std::size_t len);
ssize_t writev(int fd, const iovec* iov, int iovcnt);

ssize_t recv(int fd, void* buf, std::size_t len, int flags);
ssize_t recvfrom(int fd, void* buf, std::size_t len, int flags, sockaddr* src, socklen_t* addrlen);
// MSG_ERRQUEUE reads one zerocopy completion or SO_TIMESTAMPING report
// (stamps on the stack's clock); msg_controllen comes back as the bytes of
// control messages written (MSG_CTRUNC when they did not fit).
ssize_t recvmsg(int fd, msghdr* msg, int flags);
ssize_t read(int fd, void* buf, std::size_t len);
ssize_t readv(int fd, const iovec* iov, int iovcnt);

int shutdown(int fd, int how);
int close(int fd);

int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);
int getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen);

// F_GETFL / F_SETFL (O_NONBLOCK).
int fcntl(int fd, int cmd, int arg = 0);
// SIOCINQ, SIOCOUTQ, SIOCOUTQNSD (FIONREAD == SIOCINQ).
int ioctl(int fd, unsigned long request, int* arg);
// POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP; timeout in ms of stack
// time (-1 forever, 0 no wait).
int poll(pollfd* fds, nfds_t nfds, int timeout_ms);

// epoll, as Linux's fs/eventpoll.c behaves for TCP sockets. An epoll
// instance is a descriptor in the same table; close() ends it, and closing
// a watched socket removes it from every instance. EPOLLET items are
// reported once per wake-up of the socket (data arrival, send room freed
// past a third of the buffer and below TCP_NOTSENT_LOWAT, state change,
// error), level-triggered ones while the socket stays ready, EPOLLONESHOT
// ones once until EPOLL_CTL_MOD re-arms them. epoll_wait's timeout is in ms
// of the watched sockets' stack time (-1 forever, 0 no wait); with no
// socket to wait on it returns at once.
int epoll_create(int size);
int epoll_create1(int flags);  // EPOLL_CLOEXEC
int epoll_ctl(int epfd, int op, int fd, epoll_event* event);
int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms);

}  // namespace sp
