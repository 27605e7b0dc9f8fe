// Helpers for the netdev tests: a socketpair standing in for /dev/net/tun,
// frame builders, and checksum checks that read like the wire does.
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "dev/tun.hpp"

namespace sp::test {

using Bytes = std::vector<std::uint8_t>;

// dev: the device's end (one message per frame, like a tun fd); peer: the
// "kernel" end the test reads and writes.
struct FdPair {
  int dev = -1, peer = -1;
  FdPair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
      dev = sv[0];
      peer = sv[1];
      int big = 1 << 20;
      ::setsockopt(dev, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
      ::setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
      ::fcntl(peer, F_SETFL, O_NONBLOCK);
    }
  }
  ~FdPair() {
    if (dev >= 0) ::close(dev);
    if (peer >= 0) ::close(peer);
  }
  FdPair(const FdPair&) = delete;
  FdPair& operator=(const FdPair&) = delete;
};

inline bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

inline bool read_frame(int fd, VirtioNetHdr* vh, Bytes* frame) {
  frame->assign(70000, 0);
  iovec iov[2] = {{vh, sizeof(*vh)}, {frame->data(), frame->size()}};
  const ssize_t n = ::readv(fd, iov, 2);
  if (n < static_cast<ssize_t>(sizeof(*vh))) return false;
  frame->resize(static_cast<std::size_t>(n) - sizeof(*vh));
  return true;
}

inline bool write_frame(int fd, const VirtioNetHdr& vh, const Bytes& frame) {
  iovec iov[2] = {{const_cast<VirtioNetHdr*>(&vh), sizeof(vh)},
                  {const_cast<std::uint8_t*>(frame.data()), frame.size()}};
  return ::writev(fd, iov, 2) == static_cast<ssize_t>(sizeof(vh) + frame.size());
}

inline std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t s = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) s += static_cast<std::uint32_t>(p[i]) << 8 | p[i + 1];
  if (n & 1) s += static_cast<std::uint32_t>(p[n - 1]) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s;
}

// Ethernet (optional) + IPv4 (tot_len for payload_len, header checksum
// right) + TCP (20 bytes, checksum field holding the pseudo-header sum as
// CHECKSUM_PARTIAL leaves it), followed by `append` payload bytes.
inline Bytes eth_ipv4_tcp_headers(std::uint32_t payload_len, bool with_eth,
                                  std::uint32_t append = 0) {
  Bytes b;
  // Reserving the whole frame up front also keeps g++ 12 at -O3 from a false
  // -Wstringop-overflow on the first insert into an empty vector.
  b.reserve(14 + 40 + payload_len + append);
  if (with_eth) {
    const std::uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
    b.insert(b.end(), eth, eth + 14);
  }
  const std::size_t ip = b.size();
  const std::uint32_t tot = 40 + payload_len;
  const std::uint8_t iph[20] = {0x45,
                                0,
                                static_cast<std::uint8_t>(tot >> 8),
                                static_cast<std::uint8_t>(tot),
                                0,
                                1,
                                0x40,
                                0,
                                64,
                                6,
                                0,
                                0,
                                10,
                                77,
                                0,
                                2,
                                10,
                                77,
                                0,
                                1};
  b.insert(b.end(), iph, iph + 20);
  const std::uint16_t ipc = static_cast<std::uint16_t>(~sum16(&b[ip], 20));
  b[ip + 10] = static_cast<std::uint8_t>(ipc >> 8);
  b[ip + 11] = static_cast<std::uint8_t>(ipc);
  const std::uint8_t th[20] = {0x9c, 0x40, 0x13, 0x89, 0,    0,    0, 1, 0, 0,
                               0,    1,    0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0};
  const std::size_t tcp = b.size();
  b.insert(b.end(), th, th + 20);
  // Pseudo-header: saddr, daddr, zero+proto, TCP length.
  std::uint32_t ps = sum16(&b[ip + 12], 8);
  ps = sum16(nullptr, 0, ps + 6 + 20 + payload_len);
  b[tcp + 16] = static_cast<std::uint8_t>(ps >> 8);
  b[tcp + 17] = static_cast<std::uint8_t>(ps);
  for (std::uint32_t i = 0; i < append; ++i) b.push_back(static_cast<std::uint8_t>(i * 7 + 3));
  return b;
}

// Does the TCP checksum of the IPv4 packet at frame[l2] verify?
inline bool tcp_checksum_ok(const Bytes& frame, std::size_t l2) {
  const std::uint8_t* ip = &frame[l2];
  const std::size_t ihl = (ip[0] & 0x0f) * 4u;
  const std::size_t tot = static_cast<std::size_t>(ip[2]) << 8 | ip[3];
  const std::size_t tcplen = tot - ihl;
  std::uint32_t s = sum16(ip + 12, 8);
  s = sum16(nullptr, 0, s + 6 + static_cast<std::uint32_t>(tcplen));
  s = sum16(ip + ihl, tcplen, s);
  return s == 0xffff;
}

// nullptr when /dev/net/tun can be used, else why not (for GTEST_SKIP).
inline const char* no_tun_reason() {
  if (::geteuid() != 0) return "needs root (CAP_NET_ADMIN) to create tun/tap devices";
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) return "/dev/net/tun is not available";
  return nullptr;
}

}  // namespace sp::test
