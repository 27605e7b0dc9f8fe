// run_transfer: stacks, link, sockets and the loop that moves the bytes.
#include "harness/sim_transfer.hpp"

#include <openssl/evp.h>

#include <ctime>  // struct timespec, before linux/errqueue.h uses it
// clang-format off
#include <linux/errqueue.h>
// clang-format on
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "core/stack.hpp"
#include "dev/pcap_tap.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/trace_file.hpp"

namespace sp {

namespace {

constexpr std::uint16_t kPort = 5001;
constexpr std::size_t kBlock = 64 * 1024;  // payload generation granule
// Blocks a zerocopy sender rotates through: more than a send buffer and a
// window's worth, so that completions rarely hold the sender up.
constexpr std::size_t kZcRing = 256;

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* p, std::size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    static const char* kHex = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < n; ++i) {
      s += kHex[md[i] >> 4];
      s += kHex[md[i] & 15];
    }
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// One direction of one connection, seen from the sending fd and the
// receiving fd.
struct Flow {
  std::uint64_t stream = 0;
  std::uint64_t total = 0;
  std::uint64_t sent = 0;
  bool shut = false;  // SHUT_WR issued after the last byte
  std::uint64_t received = 0;
  bool eof = false;
  Sha256 tx_hash, rx_hash;
  std::vector<std::uint8_t> block;  // the current payload block
  std::uint64_t block_index = ~std::uint64_t{0};
  // Zerocopy: the payload blocks in flight, the sends still reading each
  // one, and the block each send id pointed into.
  std::vector<std::vector<std::uint8_t>> ring;
  std::vector<int> ring_busy;
  std::vector<std::uint16_t> send_slot;
  std::uint64_t zc_completed = 0, zc_copied = 0;
};

// Both ends of one connection.
struct Conn {
  int cfd = -1;  // client side
  int sfd = -1;  // server side (after accept)
  std::uint16_t cport = 0;
  bool connected = false;
  std::unique_ptr<Flow> up;    // client -> server
  std::unique_ptr<Flow> down;  // server -> client (bidirectional only)
};

bool would_block(int e) {
  return e == EAGAIN || e == EWOULDBLOCK;
}

}  // namespace

void payload_fill(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::uint8_t* out,
                  std::size_t len) {
  while (len) {
    const std::uint64_t blk = offset / kBlock;
    std::uint64_t state = seed * 0x100000001b3ull ^ (stream << 40) ^ blk;
    std::uint8_t buf[kBlock];
    for (std::size_t i = 0; i < kBlock; i += 8) {
      const std::uint64_t v = splitmix(state);
      std::memcpy(buf + i, &v, 8);
    }
    const std::size_t off = offset % kBlock;
    const std::size_t n = std::min(len, kBlock - off);
    std::memcpy(out, buf + off, n);
    out += n;
    offset += n;
    len -= n;
  }
}

namespace {

class Runner {
 public:
  explicit Runner(const TransferOptions& o) : opt_(o) {}

  TransferResult run() {
    client_ = &world_.add_stack();
    server_ = &world_.add_stack();
    client_->set_name("client");
    server_->set_name("server");
    if (!opt_.trace_path.empty()) {
      if (auto e = trace_.open(opt_.trace_path, opt_.trace_events, opt_.trace_format); !e.empty())
        return fail("trace: " + e);
    }
    for (Stack* s : {client_, server_}) {
      if (auto e = s->sysctl().set("net.ipv4.tcp_congestion_control", opt_.cc); !e.empty())
        return fail("congestion control: " + e);
      for (const auto& [name, value] : opt_.sysctls)
        if (auto e = s->sysctl().set(name, value); !e.empty()) return fail(name + ": " + e);
    }
    const be32 ca = htonl(0x0a000001), sa = htonl(0x0a000002);  // 10.0.0.1, 10.0.0.2
    SimLinkConfig lc = opt_.link;
    lc.seed = opt_.seed;
    SimWorld::Wrap wrap;
    std::string pcap_err;
    if (!opt_.pcap_path.empty()) {
      wrap = [&](std::unique_ptr<NetDevice> dev) -> std::unique_ptr<NetDevice> {
        auto tap = std::make_unique<PcapTap>(std::move(dev), world_.clock());
        pcap_err = tap->open(opt_.pcap_path, opt_.pcap_snaplen);
        return tap;
      };
    }
    link_ = world_.connect(*client_, ca, *server_, sa, 24, lc, wrap).link;
    if (!pcap_err.empty()) return fail("pcap: " + pcap_err);

    // Armed for the sockets' lives only: the stacks' own set-up is not
    // what is under test, and the world's teardown must free all.
    struct Armed {
      explicit Armed(const FailAlloc& f) { fail_alloc_set(f); }
      ~Armed() { fail_alloc_set({}); }
    };
    std::optional<Armed> armed;
    if (opt_.fail_alloc.kinds) armed.emplace(opt_.fail_alloc);
    auto disarm = [&] {
      if (armed) res_.fail_alloc = fail_alloc_stats();
      armed.reset();
    };
    if (!setup_listener(sa) || !setup_clients(sa)) {
      disarm();
      cleanup();
      return res_;
    }
    start_ = world_.now();
    loop();
    res_.virtual_ns = world_.now() - start_;
    if (opt_.zerocopy) drain_completions();
    disarm();
    collect();
    cleanup();
    if (opt_.stats) {
      // Let the closes finish (FINs, last ACKs) so the final view shows
      // what is left: time-wait socks and the complete counters.
      world_.run_until(
          [&] { return client_->tcp().sock_count() == 0 && server_->tcp().sock_count() == 0; },
          world_.now() + opt_.stall_timeout);
      opt_.stats(StatsPoint::kClosed, *client_, *server_, world_.now() - start_);
    }
    return res_;
  }

 private:
  TransferResult fail(const std::string& what) {
    if (res_.error.empty()) res_.error = what;
    return res_;
  }
  bool api_error(const char* call) {
    if (res_.error.empty()) {
      res_.error = std::string(call) + ": " + std::strerror(errno);
      res_.error_errno = errno;
    }
    return false;
  }

  bool setup_listener(be32 sa) {
    lfd_ = sp::socket(*server_, AF_INET, SOCK_STREAM, 0);
    if (lfd_ < 0) return api_error("socket");
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(kPort);
    sin.sin_addr.s_addr = sa;
    if (sp::bind(lfd_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
      return api_error("bind");
    if (sp::listen(lfd_, std::max(128, opt_.connections)) != 0) return api_error("listen");
    if (sp::fcntl(lfd_, F_SETFL, O_NONBLOCK) != 0) return api_error("fcntl");
    return true;
  }

  bool setup_clients(be32 sa) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(kPort);
    sin.sin_addr.s_addr = sa;
    for (int i = 0; i < opt_.connections; ++i) {
      auto c = std::make_unique<Conn>();
      c->cfd = sp::socket(*client_, AF_INET, SOCK_STREAM, 0);
      if (c->cfd < 0) return api_error("socket");
      if (sp::fcntl(c->cfd, F_SETFL, O_NONBLOCK) != 0) return api_error("fcntl");
      if (opt_.zerocopy && !set_zerocopy(c->cfd)) return false;
      if (sp::connect(c->cfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 &&
          errno != EINPROGRESS)
        return api_error("connect");
      sockaddr_in me{};
      socklen_t len = sizeof me;
      if (sp::getsockname(c->cfd, reinterpret_cast<sockaddr*>(&me), &len) != 0)
        return api_error("getsockname");
      c->cport = ntohs(me.sin_port);
      c->up = make_flow(static_cast<std::uint64_t>(2 * i));
      if (opt_.bidirectional) c->down = make_flow(static_cast<std::uint64_t>(2 * i + 1));
      by_port_[c->cport] = c.get();
      by_fd_[c->cfd] = c.get();
      conns_.push_back(std::move(c));
    }
    return true;
  }

  bool set_zerocopy(int fd) {
    const int one = 1;
    if (sp::setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) != 0)
      return api_error("setsockopt(SO_ZEROCOPY)");
    return true;
  }

  // After the last byte: the completions of the last sends follow their
  // ACKs; run the world until all are in (or the stall timeout passes).
  void drain_completions() {
    const Nanos deadline = world_.now() + opt_.stall_timeout;
    for (int i = 0; i < (1 << 24); ++i) {
      bool pending = false;
      for (auto& c : conns_) {
        reap_completions(c->cfd, *c->up);
        pending |= c->up->zc_completed < c->up->send_slot.size();
        if (c->down && c->sfd >= 0) {
          reap_completions(c->sfd, *c->down);
          pending |= c->down->zc_completed < c->down->send_slot.size();
        }
      }
      if (!pending || world_.now() > deadline || !world_.step(deadline)) return;
    }
  }

  std::unique_ptr<Flow> make_flow(std::uint64_t stream) {
    auto f = std::make_unique<Flow>();
    f->stream = stream;
    f->total = opt_.size;
    if (opt_.zerocopy) {
      f->ring.assign(kZcRing, std::vector<std::uint8_t>(kBlock));
      f->ring_busy.assign(kZcRing, 0);
    } else {
      f->block.resize(kBlock);
    }
    return f;
  }

  // accept() whatever the listener has, pairing each with its client by port.
  bool accept_pending() {
    bool moved = false;
    for (;;) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      const int fd = sp::accept4(lfd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK);
      if (fd < 0) {
        if (!would_block(errno)) api_error("accept");
        return moved;
      }
      moved = true;
      auto it = by_port_.find(ntohs(peer.sin_port));
      if (it == by_port_.end() || it->second->sfd >= 0) {
        res_.error = "accepted a connection from an unknown port";
        sp::close(fd);
        continue;
      }
      it->second->sfd = fd;
      by_fd_[fd] = it->second;
      if (opt_.zerocopy && it->second->down) set_zerocopy(fd);
    }
  }

  // The buffer holding block blk, filled; nullptr when a zerocopy sender must
  // wait for completions before it may rewrite the ring slot.
  std::uint8_t* block_for(Flow& f, std::uint64_t blk) {
    if (!opt_.zerocopy) {
      if (blk != f.block_index) {
        payload_fill(opt_.seed, f.stream, blk * kBlock, f.block.data(), kBlock);
        f.block_index = blk;
      }
      return f.block.data();
    }
    std::vector<std::uint8_t>& buf = f.ring[blk % kZcRing];
    if (blk != f.block_index) {
      if (f.ring_busy[blk % kZcRing]) return nullptr;
      payload_fill(opt_.seed, f.stream, blk * kBlock, buf.data(), kBlock);
      f.block_index = blk;
    }
    return buf.data();
  }

  // Zerocopy completions: each id range frees its sends' ring slots.
  void reap_completions(int fd, Flow& f) {
    for (int guard = 0; guard < 1 << 20; ++guard) {
      alignas(cmsghdr)
          std::uint8_t ctl[CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in))];
      msghdr m{};
      m.msg_control = ctl;
      m.msg_controllen = sizeof ctl;
      if (sp::recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR) continue;
        sock_extended_err ee{};
        std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
        if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY) continue;
        for (std::uint64_t id = ee.ee_info; id <= ee.ee_data && id < f.send_slot.size(); ++id) {
          f.ring_busy[f.send_slot[id]]--;
          f.zc_completed++;
          if (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) f.zc_copied++;
        }
      }
    }
  }

  // Send what the socket takes; SHUT_WR after the last byte.
  bool pump_send(int fd, Flow& f) {
    bool moved = false;
    if (opt_.zerocopy) reap_completions(fd, f);
    while (f.sent < f.total) {
      const std::uint64_t blk = f.sent / kBlock;
      std::uint8_t* block = block_for(f, blk);
      if (!block) return moved;
      const std::size_t off = f.sent % kBlock;
      const std::size_t want = static_cast<std::size_t>(
          std::min<std::uint64_t>({opt_.write_size, kBlock - off, f.total - f.sent}));
      const int flags = MSG_NOSIGNAL | (opt_.zerocopy ? MSG_ZEROCOPY : 0);
      const ssize_t n = sp::send(fd, block + off, want, flags);
      if (n < 0) {
        if (!would_block(errno) && errno != ENOTCONN && errno != EINPROGRESS) api_error("send");
        return moved;
      }
      if (opt_.zerocopy) {
        // Every send that moved bytes took the next completion id.
        const auto slot = static_cast<std::uint16_t>(blk % kZcRing);
        f.send_slot.push_back(slot);
        f.ring_busy[slot]++;
      }
      f.tx_hash.update(block + off, static_cast<std::size_t>(n));
      f.sent += static_cast<std::uint64_t>(n);
      moved = true;
    }
    if (!f.shut && !holding_fins()) {
      if (sp::shutdown(fd, SHUT_WR) != 0) return api_error("shutdown");
      f.shut = true;
      moved = true;
    }
    return moved;
  }

  bool pump_recv(int fd, Flow& f) {
    bool moved = false;
    while (!f.eof) {
      const ssize_t n = sp::recv(fd, rxbuf_.data(), rxbuf_.size(), 0);
      if (n < 0) {
        if (!would_block(errno) && errno != ENOTCONN) api_error("recv");
        return moved;
      }
      moved = true;
      if (n == 0) {
        f.eof = true;
        break;
      }
      f.rx_hash.update(rxbuf_.data(), static_cast<std::size_t>(n));
      f.received += static_cast<std::uint64_t>(n);
      delivered_ += static_cast<std::uint64_t>(n);
    }
    return moved;
  }

  // With a stats hook the FINs wait for kLastByte (see TransferOptions::stats).
  bool holding_fins() const { return opt_.stats && !last_byte_seen_; }

  // The flow's bytes are all sent, read by the peer and acknowledged.
  static bool flow_complete(int fd, const Flow& f) {
    if (f.sent != f.total || f.received != f.total) return false;
    ::tcp_info ti{};
    socklen_t len = sizeof ti;
    if (sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return false;
    return ti.tcpi_unacked == 0 && ti.tcpi_notsent_bytes == 0;
  }

  bool all_complete() const {
    for (const auto& c : conns_) {
      if (!flow_complete(c->cfd, *c->up)) return false;
      if (c->down && (c->sfd < 0 || !flow_complete(c->sfd, *c->down))) return false;
    }
    return !conns_.empty();
  }

  // kLastByte, then the FINs that waited for it.
  void last_byte_stats() {
    last_byte_seen_ = true;
    opt_.stats(StatsPoint::kLastByte, *client_, *server_, world_.now() - start_);
    for (auto& c : conns_) {
      for (auto [fd, f] : {std::pair{c->cfd, c->up.get()}, std::pair{c->sfd, c->down.get()}}) {
        if (!f || f->shut || fd < 0) continue;
        if (sp::shutdown(fd, SHUT_WR) != 0) {
          api_error("shutdown");
          return;
        }
        f->shut = true;
      }
    }
  }

  bool all_done() const {
    for (const auto& c : conns_) {
      if (!c->up->eof || !c->up->shut) return false;
      if (c->down && (!c->down->eof || !c->down->shut)) return false;
    }
    return true;
  }

  // One pass of the applications: accept, then move bytes on the sockets
  // poll() says are ready, as an event-driven program would (trying every
  // socket would cost a failed send and recv per connection per step).
  bool pump_all() {
    bool moved = accept_pending();
    pfds_.clear();
    for (auto& c : conns_) {
      // The client writes as soon as its connect completes (poll says
      // POLLOUT); the server side exists once accept() returned it.
      short cev = 0, sev = 0;
      if (!c->up->shut) cev |= POLLOUT;
      if (!c->up->eof) sev |= POLLIN;
      if (c->down) {
        if (!c->down->shut) sev |= POLLOUT;
        if (!c->down->eof) cev |= POLLIN;
      }
      if (cev) pfds_.push_back({c->cfd, cev, 0});
      if (sev && c->sfd >= 0) pfds_.push_back({c->sfd, sev, 0});
    }
    if (pfds_.empty()) return moved;
    if (sp::poll(pfds_.data(), pfds_.size(), 0) <= 0) return moved;
    for (const pollfd& p : pfds_) {
      if (!p.revents) continue;
      Conn* c = by_fd_[p.fd];
      const bool client = p.fd == c->cfd;
      Flow* out = client ? c->up.get() : c->down.get();
      Flow* in = client ? c->down.get() : c->up.get();
      if (out && !out->shut && (p.revents & (POLLOUT | POLLERR | POLLHUP)))
        moved |= pump_send(p.fd, *out);
      if (in && !in->eof && (p.revents & (POLLIN | POLLERR | POLLHUP | POLLRDHUP)))
        moved |= pump_recv(p.fd, *in);
    }
    return moved;
  }

  void loop() {
    const std::uint64_t total =
        opt_.size * static_cast<std::uint64_t>(opt_.connections) * (opt_.bidirectional ? 2 : 1);
    Nanos last_move = world_.now();
    std::uint64_t last_delivered = 0;
    Nanos next_progress = world_.now();
    Nanos next_stats = world_.now() + opt_.stats_every;
    const bool interval_stats = opt_.stats && opt_.stats_every > 0;
    for (;;) {
      pump_all();
      if (!res_.error.empty()) return;
      if (holding_fins() && all_complete()) {
        last_byte_stats();
        if (!res_.error.empty()) return;
      }
      if (all_done()) return;
      if (delivered_ != last_delivered) {
        last_delivered = delivered_;
        last_move = world_.now();
      }
      if (opt_.progress && world_.now() >= next_progress) {
        opt_.progress(delivered_, total, world_.now());
        next_progress = world_.now() + opt_.progress_every;
      }
      if (interval_stats && world_.now() >= next_stats) {
        opt_.stats(StatsPoint::kInterval, *client_, *server_, world_.now() - start_);
        while (next_stats <= world_.now()) next_stats += opt_.stats_every;
      }
      if (world_.now() - last_move > opt_.stall_timeout) {
        res_.stalled = true;
        return;
      }
      // Interval stats stop the clock on their grid, so each one covers
      // exactly stats_every of virtual time.
      Nanos deadline = last_move + opt_.stall_timeout + 1;
      if (interval_stats) deadline = std::min(deadline, next_stats);
      if (!world_.step(deadline)) {
        // Idle world: one more pass may finish the job (a last recv).
        pump_all();
        if (holding_fins() && all_complete()) continue;  // the FINs are still to go
        if (!all_done()) res_.stalled = true;
        return;
      }
    }
  }

  void collect() {
    res_.digest_ok = true;
    bool complete = true;
    auto add = [&](Flow& f) {
      FlowResult r;
      r.sent = f.sent;
      r.received = f.received;
      r.eof = f.eof;
      r.sha_sent = f.tx_hash.hex();
      r.sha_received = f.rx_hash.hex();
      r.digest_ok = f.sent == f.total && f.received == f.sent && r.sha_sent == r.sha_received;
      res_.digest_ok &= r.digest_ok;
      complete &= f.eof;
      res_.bytes_sent += f.sent;
      res_.bytes_received += f.received;
      res_.zerocopy_sends += f.send_slot.size();
      res_.zerocopy_completed += f.zc_completed;
      res_.zerocopy_copied += f.zc_copied;
      res_.flows.push_back(std::move(r));
    };
    for (auto& c : conns_) add(*c->up);
    for (auto& c : conns_)
      if (c->down) add(*c->down);
    if (conns_.empty()) res_.digest_ok = false;
    res_.ok = res_.digest_ok && complete && !res_.stalled && res_.error.empty();
    for (Stack* s : {client_, server_}) {
      res_.retransmits += s->mib().get(MibId::TcpRetransSegs);
      res_.segments_out += s->mib().get(MibId::TcpOutSegs);
    }
    res_.client_mib = client_->mib();
    res_.server_mib = server_->mib();
    res_.world_steps = world_.steps();
    res_.to_server = link_->stats(0);
    res_.to_client = link_->stats(1);
    if (const SimLinkEnd* e = link_->end(1)) {
      res_.server_napi_polls = e->napi_polls();
      if (e->gro()) res_.gro_server = e->gro()->stats();
    }
    if (!conns_.empty()) {
      ::tcp_info ti{};
      socklen_t len = sizeof ti;
      if (sp::getsockopt(conns_[0]->cfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
        res_.last_cwnd = ti.tcpi_snd_cwnd;
        res_.last_srtt_us = ti.tcpi_rtt;
      }
    }
  }

  // Descriptors live in a per-thread table: close them all before the
  // stacks they point into go away with the world.
  void cleanup() {
    for (auto& c : conns_) {
      if (c->cfd >= 0) sp::close(c->cfd);
      if (c->sfd >= 0) sp::close(c->sfd);
      c->cfd = c->sfd = -1;
    }
    if (lfd_ >= 0) sp::close(lfd_);
    lfd_ = -1;
  }

  TransferOptions opt_;
  trace::TraceFile trace_;  // before world_: it outlives the stacks
  SimWorld world_;
  Stack* client_ = nullptr;
  Stack* server_ = nullptr;
  SimLink* link_ = nullptr;
  int lfd_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::map<std::uint16_t, Conn*> by_port_;
  std::unordered_map<int, Conn*> by_fd_;
  std::vector<pollfd> pfds_;
  std::vector<std::uint8_t> rxbuf_ = std::vector<std::uint8_t>(256 * 1024);
  std::uint64_t delivered_ = 0;
  Nanos start_ = 0;
  bool last_byte_seen_ = false;
  TransferResult res_;
};

}  // namespace

TransferResult run_transfer(const TransferOptions& opt) {
  Runner r(opt);
  return r.run();
}

}  // namespace sp
