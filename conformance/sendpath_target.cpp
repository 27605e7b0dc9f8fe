// The system under test for the runner: sendpath's BSD-shaped socket API
// (include/sendpath/api.hpp) on the runner's Stack.
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>

#include "runner.hpp"
#include "sendpath/api.hpp"

namespace sp::drill {

namespace {

// The API reports -1 and errno; the runner wants -errno.
long ret(long r) {
  return r < 0 ? -static_cast<long>(errno) : r;
}

class SendpathTarget final : public Target {
 public:
  explicit SendpathTarget(Stack& st) : st_(st) {}
  ~SendpathTarget() override {
    // Descriptors live in a per-thread table: give back every one this
    // script opened while its stack still exists.
    for (int fd : open_) sp::close(fd);
  }

  int socket(int family, int type, int protocol) override {
    int fd = static_cast<int>(ret(sp::socket(st_, family, type, protocol)));
    if (fd >= 0) open_.insert(fd);
    return fd;
  }
  int bind(int fd, std::uint32_t addr, std::uint16_t port) override {
    sockaddr_in a = make_addr(addr, port);
    return static_cast<int>(ret(sp::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a)));
  }
  int listen(int fd, int backlog) override {
    return static_cast<int>(ret(sp::listen(fd, backlog)));
  }
  int accept(int fd) override {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    int r = static_cast<int>(ret(sp::accept(fd, reinterpret_cast<sockaddr*>(&a), &len)));
    if (r >= 0) open_.insert(r);
    return r;
  }
  int connect(int fd, std::uint32_t addr, std::uint16_t port) override {
    sockaddr_in a = make_addr(addr, port);
    return static_cast<int>(ret(sp::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a)));
  }
  long sendmsg(int fd, const std::vector<std::size_t>& iov_lens, int flags) override {
    std::size_t total = 0;
    for (std::size_t l : iov_lens) total += l;
    if (zeros_.size() < total) zeros_.resize(total, 0);
    std::vector<iovec> iov;
    std::size_t off = 0;
    for (std::size_t l : iov_lens) {
      if (flags & MSG_ZEROCOPY) {
        // The stack may keep pointing at these bytes until the completion,
        // so each iovec gets its own buffer (packetdrill callocs one per
        // iovec too) that lives as long as the target.
        pinned_.emplace_back(l, 0);
        iov.push_back({pinned_.back().data(), l});
        continue;
      }
      iov.push_back({zeros_.data() + off, l});
      off += l;
    }
    msghdr m{};
    m.msg_iov = iov.data();
    m.msg_iovlen = iov.size();
    return ret(sp::sendmsg(fd, &m, flags));
  }
  RecvResult recvmsg(int fd, std::size_t len, int flags, std::size_t controllen) override {
    RecvResult r;
    if (buf_.size() < len) buf_.resize(len);
    iovec iov{buf_.data(), len};
    std::vector<cmsghdr> ctl((controllen + sizeof(cmsghdr) - 1) / sizeof(cmsghdr));
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (controllen) {
      m.msg_control = ctl.data();
      m.msg_controllen = controllen;
    }
    r.ret = ret(sp::recvmsg(fd, &m, flags));
    r.msg_flags = m.msg_flags;
    if (r.ret >= 0 && controllen) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        Cmsg out;
        out.level = c->cmsg_level;
        out.type = c->cmsg_type;
        const unsigned char* d = CMSG_DATA(c);
        out.data.assign(d, d + (c->cmsg_len - CMSG_LEN(0)));
        r.control.push_back(std::move(out));
      }
    }
    return r;
  }
  int setsockopt(int fd, int level, int name, const void* val, unsigned len) override {
    return static_cast<int>(ret(sp::setsockopt(fd, level, name, val, len)));
  }
  int getsockopt(int fd, int level, int name, void* val, unsigned* len) override {
    socklen_t l = *len;
    int r = static_cast<int>(ret(sp::getsockopt(fd, level, name, val, &l)));
    *len = l;
    return r;
  }
  int close(int fd) override {
    int r = static_cast<int>(ret(sp::close(fd)));
    if (r == 0) open_.erase(fd);
    return r;
  }
  int shutdown(int fd, int how) override { return static_cast<int>(ret(sp::shutdown(fd, how))); }
  int fcntl(int fd, int cmd, long arg) override {
    return static_cast<int>(ret(sp::fcntl(fd, cmd, static_cast<int>(arg))));
  }
  int ioctl(int fd, unsigned long request, int* value) override {
    return static_cast<int>(ret(sp::ioctl(fd, request, value)));
  }
  int poll(struct pollfd* fds, unsigned nfds, int timeout_ms) override {
    return static_cast<int>(ret(sp::poll(fds, nfds, timeout_ms)));
  }
  int epoll_create(int size) override {
    int fd = static_cast<int>(ret(sp::epoll_create(size)));
    if (fd >= 0) open_.insert(fd);
    return fd;
  }
  int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) override {
    return static_cast<int>(ret(sp::epoll_ctl(epfd, op, fd, ev)));
  }
  int epoll_wait(int epfd, struct epoll_event* evs, int max, int timeout_ms) override {
    return static_cast<int>(ret(sp::epoll_wait(epfd, evs, max, timeout_ms)));
  }
  int tcp_info(int fd, struct tcp_info* info) override {
    socklen_t len = sizeof *info;
    return static_cast<int>(ret(sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len)));
  }

 private:
  static sockaddr_in make_addr(std::uint32_t addr, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(addr);
    return a;
  }

  Stack& st_;
  std::set<int> open_;
  std::vector<char> zeros_;
  std::deque<std::vector<char>> pinned_;  // MSG_ZEROCOPY send buffers
  std::vector<char> buf_;
};

}  // namespace

TargetFactory sendpath_target_factory() {
  return [](Stack& st) -> std::unique_ptr<Target> { return std::make_unique<SendpathTarget>(st); };
}

}  // namespace sp::drill
