/// @file sendpath/socket.hpp
/// @brief A thin RAII layer over sendpath/api.hpp: TcpSocket owns one
/// descriptor (move-only) and closes it when destroyed. Calls return what
/// the API calls return (-1 and errno on failure), so they can be mixed
/// freely with them.
#pragma once
#include <arpa/inet.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "sendpath/api.hpp"

namespace sp {

/// An IPv4 address and port, host order in, sockaddr_in out.
inline sockaddr_in make_sockaddr(std::uint32_t addr_host, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(addr_host);
  return sin;
}

/// One TCP socket descriptor, closed when the object goes.
class TcpSocket {
 public:
  /// No descriptor (valid() is false).
  TcpSocket() = default;
  /// Takes ownership of fd.
  explicit TcpSocket(int fd) : fd_(fd) {}
  /// socket(AF_INET, SOCK_STREAM, 0) on st (code inside sendpath).
  static TcpSocket open(Stack& st) { return TcpSocket(sp::socket(st, AF_INET, SOCK_STREAM, 0)); }
  /// socket(AF_INET, SOCK_STREAM, 0) on host's stack; valid() is false on failure.
  static TcpSocket open(Host& host) { return TcpSocket(sp::socket(host, AF_INET, SOCK_STREAM, 0)); }

  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;
  /// Takes o's descriptor.
  TcpSocket(TcpSocket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  /// Closes ours, takes o's.
  TcpSocket& operator=(TcpSocket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~TcpSocket() { reset(); }

  /// The descriptor, for the calls of sendpath/api.hpp (-1 when none).
  int fd() const { return fd_; }
  /// Whether there is a descriptor.
  bool valid() const { return fd_ >= 0; }
  /// Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  /// Closes now (an error from close is reported through errno).
  int reset() {
    if (fd_ < 0) return 0;
    return sp::close(std::exchange(fd_, -1));
  }

  /// bind() to an address and port in host byte order.
  int bind(std::uint32_t addr_host, std::uint16_t port) {
    sockaddr_in sin = make_sockaddr(addr_host, port);
    return sp::bind(fd_, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  }
  /// listen().
  int listen(int backlog) { return sp::listen(fd_, backlog); }
  /// accept(): the new connection (valid() false and errno set on failure).
  TcpSocket accept() { return TcpSocket(sp::accept(fd_, nullptr, nullptr)); }
  /// connect() to an address and port in host byte order.
  int connect(std::uint32_t addr_host, std::uint16_t port) {
    sockaddr_in sin = make_sockaddr(addr_host, port);
    return sp::connect(fd_, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  }
  /// send() of the bytes in data.
  ssize_t send(std::span<const std::uint8_t> data, int flags = 0) {
    return sp::send(fd_, data.data(), data.size(), flags);
  }
  /// recv() into buf.
  ssize_t recv(std::span<std::uint8_t> buf, int flags = 0) {
    return sp::recv(fd_, buf.data(), buf.size(), flags);
  }
  /// shutdown().
  int shutdown(int how) { return sp::shutdown(fd_, how); }
  /// setsockopt() of an int.
  int set_int_option(int level, int name, int value) {
    return sp::setsockopt(fd_, level, name, &value, sizeof value);
  }
  /// TCP_NODELAY.
  int set_nodelay(bool on) { return set_int_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0); }
  /// TCP_CORK.
  int set_cork(bool on) { return set_int_option(IPPROTO_TCP, TCP_CORK, on ? 1 : 0); }
  /// O_NONBLOCK through fcntl().
  int set_nonblocking(bool on) {
    int fl = sp::fcntl(fd_, F_GETFL);
    if (fl < 0) return fl;
    return sp::fcntl(fd_, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
  }
  /// TCP_INFO; returns false (errno set) on failure.
  bool info(tcp_info_612* out) {
    socklen_t len = sizeof *out;
    return sp::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, out, &len) == 0;
  }

 private:
  int fd_ = -1;
};

}  // namespace sp
