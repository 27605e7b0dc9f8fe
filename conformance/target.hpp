// What the runner needs from the system under test: BSD-shaped calls on one
// stack, each returning a value >= 0 or a negative errno. Keeping this
// interface here lets the runner's event machinery be tested on its own; the
// sendpath adapter (sendpath_target.cpp) maps it onto the socket API.
#pragma once
#include <linux/tcp.h>
#include <poll.h>
#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sp::drill {

struct Cmsg {
  int level = 0;
  int type = 0;
  std::vector<std::uint8_t> data;  // cmsg_len - CMSG_LEN(0) bytes
};

struct RecvResult {
  long ret = 0;       // bytes, or -errno
  int msg_flags = 0;  // MSG_TRUNC, MSG_ERRQUEUE, ...
  std::vector<Cmsg> control;
};

class Target {
 public:
  virtual ~Target() = default;

  virtual int socket(int family, int type, int protocol) = 0;
  // Addresses and ports in host byte order.
  virtual int bind(int fd, std::uint32_t addr, std::uint16_t port) = 0;
  virtual int listen(int fd, int backlog) = 0;
  virtual int accept(int fd) = 0;
  virtual int connect(int fd, std::uint32_t addr, std::uint16_t port) = 0;
  // Sends zero-filled buffers of the given lengths (one iovec each).
  virtual long sendmsg(int fd, const std::vector<std::size_t>& iov, int flags) = 0;
  // Receives up to `len` bytes with a control buffer of `controllen` bytes
  // (none when 0), as packetdrill sizes it from the script's msg_control.
  virtual RecvResult recvmsg(int fd, std::size_t len, int flags, std::size_t controllen) = 0;
  virtual int setsockopt(int fd, int level, int name, const void* val, unsigned len) = 0;
  virtual int getsockopt(int fd, int level, int name, void* val, unsigned* len) = 0;
  virtual int close(int fd) = 0;
  virtual int shutdown(int fd, int how) = 0;
  virtual int fcntl(int fd, int cmd, long arg) = 0;
  virtual int ioctl(int fd, unsigned long request, int* value) = 0;
  virtual int poll(struct pollfd* fds, unsigned nfds, int timeout_ms) = 0;
  virtual int epoll_create(int size) = 0;
  virtual int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) = 0;
  virtual int epoll_wait(int epfd, struct epoll_event* evs, int max, int timeout_ms) = 0;
  // getsockopt(TCP_INFO) in Linux's struct tcp_info layout.
  virtual int tcp_info(int fd, struct tcp_info* info) = 0;
};

}  // namespace sp::drill
