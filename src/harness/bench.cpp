// The timed runs of `sendpath bench` (harness/bench.hpp).
#include "harness/bench.hpp"

#include <arpa/inet.h>
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/stack.hpp"
#include "harness/ack_sink.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "skb/pool.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp::bench {

namespace {

constexpr std::uint16_t kPort = 5001;
constexpr int kTcpEstablished = 1;  // tcpi_state: TCP_ESTABLISHED

double clock_seconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Nanos monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNsPerSec + static_cast<Nanos>(ts.tv_nsec);
}

sockaddr_in addr(be32 a) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(kPort);
  sin.sin_addr.s_addr = a;
  return sin;
}

int tcp_state(int fd) {
  ::tcp_info ti{};
  socklen_t len = sizeof ti;
  if (sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return -1;
  return ti.tcpi_state;
}

bool would_block() {
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

std::string errno_text(const char* call) {
  return std::string(call) + ": " + std::strerror(errno);
}

// net.ipv4.tcp_wmem with room for n full segments and their overhead.
std::string fmt_wmem(std::uint32_t n) {
  const std::uint64_t max =
      std::min<std::uint64_t>(std::uint64_t{n} * 4096 + (16u << 20), 2147483647);
  return "4096 16384 " + std::to_string(max);
}

std::string fmt_count(const char* a, std::size_t n, const char* b) {
  return a + std::to_string(n) + b;
}

}  // namespace

double thread_cpu_seconds() {
  return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}
double wall_seconds() {
  return clock_seconds(CLOCK_MONOTONIC);
}

Pattern::Pattern() : buf_(2 * kPatternPeriod) {
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (std::size_t i = 0; i < kPatternPeriod; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf_[i] = static_cast<std::uint8_t>(x);
  }
  std::memcpy(buf_.data() + kPatternPeriod, buf_.data(), kPatternPeriod);
}

bool Pattern::check(std::uint64_t offset, const std::uint8_t* p, std::size_t n) const {
  while (n) {
    const std::size_t k = std::min<std::size_t>(n, kPatternPeriod);
    if (std::memcmp(at(offset), p, k) != 0) return false;
    offset += k;
    p += k;
    n -= k;
  }
  return true;
}

void RxChecker::flush() {
  const double c0 = thread_cpu_seconds();
  ok_ &= pat_.check(checked_, ring_.data(), fill_);
  cpu_s_ += thread_cpu_seconds() - c0;
  checked_ += fill_;
  fill_ = 0;
}

// --- figure 1: the send path alone --------------------------------------------

SendPathRun run_send_path(const SendPathOptions& o) {
  SendPathRun r;
  const Pattern pat;
  // Virtual time that follows the real clock, read once per loop turn: the
  // stack's timers (pacing, delayed work) see real time pass, and a clock
  // read is not charged per packet.
  VirtualClock clock(monotonic_ns());
  Stack st(clock);
  std::uint64_t feats = NETIF_F_SG;
  if (o.csum_offload) feats |= NETIF_F_HW_CSUM | NETIF_F_RXCSUM;
  // Linux's netdev_fix_features drops TSO from a device that cannot
  // checksum: there is no "TSO without checksum offload" to measure.
  if (o.tso && o.csum_offload) feats |= NETIF_F_TSO;
  auto dev = std::make_unique<AckSink>(feats);
  AckSink* sink = dev.get();
  const int ifindex = st.register_netdev(std::move(dev));
  const be32 me = htonl(0x0a000001), peer = htonl(0x0a000002);
  st.add_address(ifindex, me, 24);
  st.neigh_add(ifindex, peer, {0x02, 0, 0, 0, 0x5e, 0x02});

  const int fd = sp::socket(st, AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return r.error = errno_text("socket"), r;
  sp::fcntl(fd, F_SETFL, O_NONBLOCK);
  const sockaddr_in sin = addr(peer);
  if (sp::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 &&
      errno != EINPROGRESS)
    return r.error = errno_text("connect"), r;
  for (int i = 0; i < 1000 && tcp_state(fd) != kTcpEstablished; ++i) {
    clock.advance_to(monotonic_ns());
    st.poll();
  }
  if (tcp_state(fd) != kTcpEstablished) return r.error = "handshake with the sink failed", r;

  const double w0 = wall_seconds(), c0 = thread_cpu_seconds();
  std::uint64_t sent = 0;
  for (std::uint64_t turn = 0; sink->acked() < o.bytes; ++turn) {
    while (sent < o.bytes) {
      const std::size_t n = std::min<std::uint64_t>(o.write_size, o.bytes - sent);
      const ssize_t k = sp::send(fd, pat.at(sent), n, MSG_DONTWAIT);
      if (k < 0) {
        if (would_block()) break;
        return r.error = errno_text("send"), r;
      }
      sent += static_cast<std::uint64_t>(k);
      r.sends++;
    }
    clock.advance_to(monotonic_ns());
    st.poll();
    if ((turn & 1023) == 0 && wall_seconds() - w0 > o.timeout_s) {
      r.error = "timed out";
      break;
    }
  }
  r.cpu_s = thread_cpu_seconds() - c0;
  r.wall_s = wall_seconds() - w0;
  r.bytes = std::min<std::uint64_t>(sink->acked(), o.bytes);
  r.frames = sink->sink_stats().frames;
  r.acks = sink->sink_stats().acks;
  sp::close(fd);
  return r;
}

// --- figure 2: two stacks end to end ------------------------------------------

TwoStackRun run_two_stacks(const TwoStackOptions& o) {
  TwoStackRun r;
  const Pattern pat;
  RxChecker rx(pat);
  SimWorld world;
  Stack& client = world.add_stack();
  Stack& server = world.add_stack();
  SimLinkConfig lc;
  for (SimPathConfig* p : {&lc.a_to_b, &lc.b_to_a}) {
    p->rate_bps = 0;  // no serialisation delay
    p->delay = 0;
    p->queue_limit = 1u << 20;
  }
  lc.tso = o.tso_gro && o.csum_offload;  // TSO needs checksum offload (netdev_fix_features)
  lc.tso_passthrough = lc.tso;
  lc.csum_offload = o.csum_offload;
  lc.rx_csum_verified = o.csum_offload;
  const be32 ca = htonl(0x0a000001), sa = htonl(0x0a000002);
  SimWorld::Connection conn = world.connect(client, ca, server, sa, 24, lc);

  const int lfd = sp::socket(server, AF_INET, SOCK_STREAM, 0);
  const sockaddr_in sin = addr(sa);
  if (lfd < 0 || sp::bind(lfd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 ||
      sp::listen(lfd, 8) != 0)
    return r.error = errno_text("listen"), r;
  sp::fcntl(lfd, F_SETFL, O_NONBLOCK);
  const int cfd = sp::socket(client, AF_INET, SOCK_STREAM, 0);
  sp::fcntl(cfd, F_SETFL, O_NONBLOCK);
  if (sp::connect(cfd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 &&
      errno != EINPROGRESS)
    return r.error = errno_text("connect"), r;
  int sfd = -1;
  for (int i = 0; i < 1000 && sfd < 0; ++i) {
    world.step(world.now() + kNsPerSec);
    sfd = sp::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
  }
  if (sfd < 0) return r.error = "no connection accepted", r;

  const double w0 = wall_seconds(), c0 = thread_cpu_seconds();
  std::uint64_t sent = 0;
  for (std::uint64_t turn = 0; r.bytes < o.bytes; ++turn) {
    while (sent < o.bytes) {
      const std::size_t n = std::min<std::uint64_t>(o.write_size, o.bytes - sent);
      const ssize_t k = sp::send(cfd, pat.at(sent), n, MSG_DONTWAIT);
      if (k < 0) {
        if (would_block()) break;
        return r.error = errno_text("send"), r;
      }
      sent += static_cast<std::uint64_t>(k);
    }
    for (;;) {
      const ssize_t k =
          sp::recv(sfd, rx.space(), std::min<std::size_t>(o.read_size, rx.room()), MSG_DONTWAIT);
      if (k < 0) {
        if (would_block()) break;
        return r.error = errno_text("recv"), r;
      }
      if (k == 0) return r.error = "unexpected end of stream", r;
      rx.received(static_cast<std::size_t>(k));
      r.bytes += static_cast<std::uint64_t>(k);
    }
    // One round of the devices at this instant, then back to the
    // application, as a program woken by each batch of packets reads them:
    // SimWorld::step would settle the whole window first, and the receive
    // queue would fill and be collapsed (copied) before anyone read it.
    // Time moves (timers) only when a round finds nothing to do.
    const int work = conn.link->advance() + client.poll() + server.poll();
    if (!work && !world.step() && r.bytes < o.bytes && sent == o.bytes) {
      // Nothing pending anywhere yet bytes are missing: a stall.
      r.error = "the transfer stalled";
      break;
    }
    if ((turn & 1023) == 0 && wall_seconds() - w0 > o.timeout_s) {
      r.error = "timed out";
      break;
    }
  }
  // The thread's CPU time minus the pattern check's, both from the thread's
  // CPU clock (wall time would count time the thread waited for a CPU as
  // check time on a loaded machine).
  rx.flush();
  r.pattern_ok = rx.ok();
  r.verified = rx.checked();
  r.verify_s = rx.check_cpu_s();
  r.cpu_s = thread_cpu_seconds() - c0 - r.verify_s;
  r.wall_s = wall_seconds() - w0;
  for (Stack* s : {&client, &server}) {
    r.segments_out += s->mib().get(MibId::TcpOutSegs);
    r.rcv_collapsed += s->mib().get(MibId::TcpExtTCPRcvCollapsed);
    r.prune_called += s->mib().get(MibId::TcpExtPruneCalled);
  }
  r.frames = conn.link->stats(0).delivered + conn.link->stats(1).delivered;
  sp::close(cfd);
  sp::close(sfd);
  sp::close(lfd);
  return r;
}

// --- scale: the cost of a SACK-carrying ACK against packets in flight ----------

SackScaleRun run_sack_scale(std::uint32_t inflight, std::uint32_t max_acks) {
  constexpr std::uint32_t kWarmAcks = 20;
  constexpr std::uint32_t kMss = 1448;
  SackScaleRun r;
  r.inflight = inflight;
  if (inflight < kWarmAcks + 10) return r.error = "too few packets in flight", r;
  const Pattern pat;
  VirtualClock clock(kNsPerSec);
  Stack st(clock);
  const std::string wmem = fmt_wmem(inflight);
  st.sysctl().set("net.ipv4.tcp_wmem", wmem);
  st.sysctl().set("net.core.wmem_max", "2147483647");
  auto dev = std::make_unique<AckSink>(NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_RXCSUM);
  AckSink* sink = dev.get();
  const int ifindex = st.register_netdev(std::move(dev));
  const be32 me = htonl(0x0a000001), peer = htonl(0x0a000002);
  st.add_address(ifindex, me, 24);
  st.neigh_add(ifindex, peer, {0x02, 0, 0, 0, 0x5e, 0x02});
  RouteMetrics m;
  m.initcwnd = inflight + 16;
  st.change_route(me, 24, 0, ifindex, m);

  const int fd = sp::socket(st, AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return r.error = errno_text("socket"), r;
  sp::fcntl(fd, F_SETFL, O_NONBLOCK);
  const sockaddr_in sin = addr(peer);
  if (sp::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 &&
      errno != EINPROGRESS)
    return r.error = errno_text("connect"), r;
  for (int i = 0; i < 100; ++i) st.poll();  // SYN, SYN-ACK, ACK and its window update
  if (tcp_state(fd) != kTcpEstablished) return r.error = "handshake with the sink failed", r;
  sink->set_auto_ack(false);

  const std::uint64_t total = std::uint64_t{inflight} * kMss;
  std::uint64_t sent = 0;
  for (int guard = 0; guard < 1'000'000 && sink->sent().size() < inflight; ++guard) {
    while (sent < total) {
      const std::size_t n = std::min<std::uint64_t>(64 * 1024, total - sent);
      const ssize_t k = sp::send(fd, pat.at(sent), n, MSG_DONTWAIT);
      if (k <= 0) break;
      sent += static_cast<std::uint64_t>(k);
    }
    if (!st.poll() && sent == total && sink->sent().size() < inflight) break;
  }
  if (sink->sent().size() < inflight)
    return r.error = fmt_count("only ", sink->sent().size(), " packets went out"), r;
  const std::vector<AckSink::Segment> segs(sink->sent().begin(), sink->sent().begin() + inflight);
  const std::uint32_t una = segs[0].seq;

  const std::uint32_t last = std::min(inflight - 1, kWarmAcks + max_acks);
  double c0 = 0;
  for (std::uint32_t k = 1; k <= last; ++k) {
    if (k == kWarmAcks + 1) c0 = thread_cpu_seconds();
    clock.advance_by(kNsPerUs);
    sink->inject_ack(una, segs[1].seq, segs[k].end_seq);
    st.poll();
  }
  r.cpu_s = thread_cpu_seconds() - c0;
  r.acks = last - kWarmAcks;
  r.bytes = 0;
  ::tcp_info ti{};
  socklen_t len = sizeof ti;
  if (sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
    r.sacked = ti.tcpi_sacked;
    r.unacked = ti.tcpi_unacked;
    r.ca_state = ti.tcpi_ca_state;
  }
  // The scenario held: the window stayed full and the SACKs were taken.
  if (r.sacked + 1 < last || r.unacked < inflight) r.error = "SACKs not taken as expected";
  sp::close(fd);
  return r;
}

// --- scale: many connections ------------------------------------------------

namespace {
double heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd) -
         static_cast<double>(skb_pool::stats().cached_bytes + skb_pool::depot_cached_bytes());
}
}  // namespace

ConnScaleRun run_conn_scale(std::uint32_t conns) {
  ConnScaleRun r;
  r.conns = conns;
  SimWorld world;
  Stack& client = world.add_stack();
  Stack& server = world.add_stack();
  const std::string backlog = std::to_string(conns);
  for (Stack* st : {&client, &server}) {
    st->sysctl().set("net.core.somaxconn", backlog);
    st->sysctl().set("net.ipv4.tcp_max_syn_backlog", backlog);
  }
  SimLinkConfig lc;
  for (SimPathConfig* p : {&lc.a_to_b, &lc.b_to_a}) {
    p->rate_bps = 0;
    p->delay = 0;
    p->queue_limit = 1u << 20;
  }
  const be32 ca = htonl(0x0a000001), sa = htonl(0x0a000002);
  world.connect(client, ca, server, sa, 24, lc);
  const int lfd = sp::socket(server, AF_INET, SOCK_STREAM, 0);
  const sockaddr_in sin = addr(sa);
  if (lfd < 0 || sp::bind(lfd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 ||
      sp::listen(lfd, static_cast<int>(conns)) != 0)
    return r.error = errno_text("listen"), r;
  sp::fcntl(lfd, F_SETFL, O_NONBLOCK);
  std::vector<int> cfds, sfds;
  cfds.reserve(conns);
  sfds.reserve(conns);
  world.run_for(kNsPerMs);
  const double m0 = heap_in_use();

  double c0 = thread_cpu_seconds();
  constexpr std::uint32_t kBatch = 256;  // connects between two rounds of the world
  for (std::uint64_t turn = 0; sfds.size() < conns && turn < 100000; ++turn) {
    for (std::uint32_t i = 0; i < kBatch && cfds.size() < conns; ++i) {
      const int fd = sp::socket(client, AF_INET, SOCK_STREAM, 0);
      if (fd < 0) return r.error = errno_text("socket"), r;
      sp::fcntl(fd, F_SETFL, O_NONBLOCK);
      if (sp::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 &&
          errno != EINPROGRESS)
        return r.error = errno_text("connect"), r;
      cfds.push_back(fd);
    }
    world.step(world.now() + kNsPerMs);
    for (int fd; (fd = sp::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) sfds.push_back(fd);
  }
  r.setup_cpu_s = thread_cpu_seconds() - c0;
  if (sfds.size() < conns) return r.error = fmt_count("only ", sfds.size(), " connections"), r;
  world.run_for(kNsPerSec);  // delayed ACKs and other timers settle
  r.bytes_per_socket = (heap_in_use() - m0) / (2.0 * conns);

  c0 = thread_cpu_seconds();
  for (int fd : cfds) sp::close(fd);
  for (int fd : sfds) sp::close(fd);
  world.run_until([&] { return client.tcp().sock_count() == 0 && server.tcp().sock_count() <= 1; },
                  world.now() + 300 * kNsPerSec);
  r.teardown_cpu_s = thread_cpu_seconds() - c0;
  if (client.tcp().sock_count() != 0) r.error = "sockets left after the close";
  sp::close(lfd);
  return r;
}

// --- the memcpy reference -------------------------------------------------------

Run run_memcpy(std::uint64_t bytes, std::uint32_t chunk) {
  Run r;
  const Pattern pat;
  constexpr std::size_t kRing = 4u << 20;
  chunk = std::min<std::uint32_t>(chunk, kRing);
  std::vector<std::uint8_t> dst(kRing);
  const double w0 = wall_seconds(), c0 = thread_cpu_seconds();
  std::size_t at = 0;
  for (std::uint64_t done = 0; done < bytes;) {
    const std::size_t n = std::min<std::uint64_t>(chunk, bytes - done);
    if (at + n > kRing) at = 0;
    std::memcpy(dst.data() + at, pat.at(done), n);
    // Keep the compiler from proving the copies dead.
    asm volatile("" : : "r"(dst.data()) : "memory");
    at += n;
    done += n;
  }
  r.cpu_s = thread_cpu_seconds() - c0;
  r.wall_s = wall_seconds() - w0;
  r.bytes = bytes;
  return r;
}

}  // namespace sp::bench
