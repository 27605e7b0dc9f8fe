// Linux's side of the TCP interop tests: small programs on kernel sockets,
// run in a forked child inside the lab namespace. Results go back to the
// test over a pipe, one line per connection: "<bytes> <sha256>".
#pragma once
#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace sp::interop {

// SHA-256 over a stream, hex at the end (OpenSSL EVP).
class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Digest() { EVP_MD_CTX_free(ctx_); }
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  Digest(Digest&& o) noexcept : ctx_(o.ctx_) { o.ctx_ = nullptr; }
  void update(const void* p, std::size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    std::string s;
    char b[3];
    for (unsigned i = 0; i < len; ++i) {
      std::snprintf(b, sizeof(b), "%02x", md[i]);
      s += b;
    }
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// A seeded pseudo-random byte stream (splitmix64 words).
class Stream {
 public:
  explicit Stream(std::uint64_t seed) : s_(seed) {}
  void fill(std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 8) {
      std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      std::memcpy(p + i, &z, std::min<std::size_t>(8, n - i));
    }
  }

 private:
  std::uint64_t s_;
};

struct PeerResult {
  std::uint64_t bytes = 0;
  std::string sha;
  std::string close;  // "fin", "reset", "error"
};

// How Linux's sockets behave in a test variant.
struct LinuxKnobs {
  int rcvbuf = 0;           // SO_RCVBUF; 0 = default autotuning
  std::string cc;           // TCP_CONGESTION; "" = the namespace default
  int slow_read_every = 0;  // pause reading after every this many bytes
  int pause_us = 1000;      // for this long
};

inline void apply_knobs(int fd, const LinuxKnobs& k) {
  if (k.rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &k.rcvbuf, sizeof(k.rcvbuf));
  if (!k.cc.empty()) {
    if (::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, k.cc.data(),
                     static_cast<socklen_t>(k.cc.size())) != 0) {
      std::fprintf(stderr, "linux peer: TCP_CONGESTION %s: %s\n", k.cc.c_str(),
                   std::strerror(errno));
    }
  }
}

inline void write_line(int out, const std::string& s) {
  const std::string l = s + "\n";
  [[maybe_unused]] ssize_t w = ::write(out, l.data(), l.size());
}

// Accepts `n` connections on port and reads each to EOF (all at once,
// multiplexed with poll), then closes. Writes "ready" once listening, then one
// result line per connection. Exit status 0 when every connection ended
// with a FIN.
inline int linux_sink(int out, std::uint16_t port, int n, LinuxKnobs k) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Options set on the listener are inherited by accepted sockets, and the
  // window is chosen at SYN time, so the receive buffer goes here.
  apply_knobs(l, k);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, 64) != 0)
    return 101;
  write_line(out, "ready");
  struct C {
    int fd;
    Digest d;
    std::uint64_t bytes = 0, since_sleep = 0;
    bool done = false;
    std::string close;
  };
  std::vector<C> cs;
  cs.reserve(n);
  std::vector<char> buf(1 << 18);
  int finished = 0;
  while (finished < n) {
    std::vector<pollfd> pf;
    if (static_cast<int>(cs.size()) < n) pf.push_back({l, POLLIN, 0});
    for (auto& c : cs)
      if (!c.done) pf.push_back({c.fd, POLLIN, 0});
    if (::poll(pf.data(), pf.size(), 60000) <= 0) return 102;
    for (auto& p : pf) {
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (p.fd == l) {
        const int fd = ::accept(l, nullptr, nullptr);
        if (fd >= 0) cs.push_back(C{fd, Digest(), 0, 0, false, ""});
        continue;
      }
      for (auto& c : cs) {
        if (c.fd != p.fd || c.done) continue;
        const ssize_t r = ::read(c.fd, buf.data(), buf.size());
        if (r > 0) {
          c.d.update(buf.data(), static_cast<std::size_t>(r));
          c.bytes += static_cast<std::uint64_t>(r);
          c.since_sleep += static_cast<std::uint64_t>(r);
          if (k.slow_read_every && c.since_sleep >= static_cast<std::uint64_t>(k.slow_read_every)) {
            c.since_sleep = 0;
            ::usleep(static_cast<useconds_t>(k.pause_us));
          }
        } else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          c.close = r == 0 ? "fin" : (errno == ECONNRESET ? "reset" : "error");
          c.done = true;
          ++finished;
        }
      }
    }
  }
  int rc = 0;
  for (auto& c : cs) {
    write_line(out, std::to_string(c.bytes) + " " + c.d.hex() + " " + c.close);
    if (c.close != "fin") rc = 1;
    ::close(c.fd);  // our FIN: the orderly close the other way
  }
  ::close(l);
  return rc;
}

// Connects `n` times to dst:port and sends `bytes` on each (seed + i),
// multiplexed with poll; then shuts down writing and waits for the peer's
// FIN. One result line per connection.
inline int linux_source(int out, const char* dst, std::uint16_t port, int n, std::uint64_t bytes,
                        std::uint64_t seed, LinuxKnobs k) {
  struct C {
    int fd;
    Stream s;
    Digest d;
    std::uint64_t sent = 0;
    std::vector<std::uint8_t> chunk;
    std::size_t off = 0;
    bool wdone = false, rdone = false;
    std::string close;
  };
  std::vector<C> cs;
  cs.reserve(n);
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    apply_knobs(fd, k);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, dst, &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return 103;
    cs.push_back(
        C{fd, Stream(seed + static_cast<std::uint64_t>(i)), Digest(), 0, {}, 0, false, false, ""});
  }
  int open = n;
  while (open > 0) {
    std::vector<pollfd> pf;
    for (auto& c : cs) {
      if (c.rdone) continue;
      pf.push_back({c.fd, static_cast<short>(POLLIN | (c.wdone ? 0 : POLLOUT)), 0});
    }
    if (::poll(pf.data(), pf.size(), 60000) <= 0) return 104;
    for (auto& p : pf) {
      for (auto& c : cs) {
        if (c.fd != p.fd) continue;
        if ((p.revents & POLLOUT) && !c.wdone) {
          if (c.off == c.chunk.size()) {
            const std::size_t m =
                static_cast<std::size_t>(std::min<std::uint64_t>(1 << 18, bytes - c.sent));
            c.chunk.resize(m);
            c.s.fill(c.chunk.data(), m);
            c.d.update(c.chunk.data(), m);
            c.off = 0;
          }
          const ssize_t w =
              ::send(c.fd, c.chunk.data() + c.off, c.chunk.size() - c.off, MSG_DONTWAIT);
          if (w > 0) {
            c.off += static_cast<std::size_t>(w);
            c.sent += static_cast<std::uint64_t>(w);
          }
          if (c.sent == bytes && c.off == c.chunk.size()) {
            ::shutdown(c.fd, SHUT_WR);
            c.wdone = true;
          }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
          char b[4096];
          const ssize_t r = ::recv(c.fd, b, sizeof(b), MSG_DONTWAIT);
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            c.close = r == 0 ? "fin" : (errno == ECONNRESET ? "reset" : "error");
            c.rdone = true;
            --open;
          }
        }
      }
    }
  }
  int rc = 0;
  for (auto& c : cs) {
    write_line(out, std::to_string(c.sent) + " " + c.d.hex() + " " + c.close);
    if (c.close != "fin" || c.sent != bytes) rc = 1;
    ::close(c.fd);
  }
  return rc;
}

// Reads everything the child writes to the pipe until it closes.
inline std::string drain(int fd) {
  std::string s;
  char b[4096];
  for (;;) {
    const ssize_t r = ::read(fd, b, sizeof(b));
    if (r <= 0) break;
    s.append(b, static_cast<std::size_t>(r));
  }
  return s;
}

// Waits (bounded) for the child's "ready" line.
inline bool wait_ready(int fd, int timeout_ms) {
  std::string got;
  while (got.find("ready\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    if (::read(fd, &c, 1) != 1) return false;
    got += c;
  }
  return true;
}

// Reads result lines ("ready" excluded) from the child's pipe.
inline std::vector<PeerResult> parse_results(const std::string& text) {
  std::vector<PeerResult> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    const std::string line = text.substr(pos, nl == std::string::npos ? nl : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (line.empty() || line == "ready") continue;
    PeerResult r;
    char sha[128] = {}, how[32] = {};
    unsigned long long b = 0;
    if (std::sscanf(line.c_str(), "%llu %127s %31s", &b, sha, how) >= 2) {
      r.bytes = b;
      r.sha = sha;
      r.close = how;
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace sp::interop
