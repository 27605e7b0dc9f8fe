// The BSD-shaped calls on a struct socket instead of a descriptor: what
// net/socket.c does once sockfd_lookup has found the socket. sendpath/api.hpp's
// calls are these plus the calling thread's descriptor table; the preload
// shim (src/preload/) keeps its own, process-wide table of kernel descriptors
// and calls these directly.
//
// Each returns what the kernel's handler does: a value >= 0, or -errno. A
// socket whose stack is gone gives -ENOTCONN. Each takes the stack's
// CallLock (api/call_guard.hpp) for its length.
#pragma once
#include <sys/socket.h>

#include <memory>

#include "sock/sock.hpp"

namespace sp {

class Stack;

namespace sockcall {

// socket(2): nullptr and *err set on failure.
std::unique_ptr<Socket> create(Stack& st, int domain, int type, int protocol, int* err);
int bind(Socket* sock, const sockaddr* addr, socklen_t addrlen);
int listen(Socket* sock, int backlog);
// accept4(2): nullptr and *err set on failure (-EAGAIN when none is queued
// and the socket is O_NONBLOCK).
std::unique_ptr<Socket> accept(Socket* sock, sockaddr* addr, socklen_t* addrlen, int flags,
                               int* err);
int connect(Socket* sock, const sockaddr* addr, socklen_t addrlen);
// getsockname (peer 0) and getpeername (peer 1).
int getname(Socket* sock, sockaddr* addr, socklen_t* addrlen, int peer);
long sendmsg(Socket* sock, const msghdr* msg, int flags);
long recvmsg(Socket* sock, msghdr* msg, int flags);
int shutdown(Socket* sock, int how);
// The last close: epoll stops watching it, the connection closes as Linux's
// (FIN, or RST when unread data is discarded; SO_LINGER), the socket goes.
void release(std::unique_ptr<Socket> sock);
int setsockopt(Socket* sock, int level, int optname, const void* optval, socklen_t optlen);
int getsockopt(Socket* sock, int level, int optname, void* optval, socklen_t* optlen);
// SIOCINQ, SIOCOUTQ, SIOCOUTQNSD.
int ioctl(Socket* sock, unsigned long request, int* arg);
// The socket's readiness now (EPOLL* bits; POLLNVAL when its stack is gone).
unsigned poll(Socket* sock);
// The stack the socket lives on (nullptr when gone).
Stack* stack(const Socket* sock);

}  // namespace sockcall
}  // namespace sp
