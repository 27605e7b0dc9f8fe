// sendpath serve PORT: a TCP sink (or echo server) on a real tap/tun device,
// through the public socket API. Per connection it reports the bytes and
// their SHA-256, so a sender can prove what arrived.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <list>
#include <vector>

#include "cli_parse.hpp"
#include "command.hpp"
#include "realnet.hpp"
#include "sendpath/api.hpp"
#include "stats_view.hpp"

namespace sp::tools {
namespace {

struct ServeOptions {
  ClockOptions clock;
  int port = 0;
  bool echo = false;
  bool once = false;
  bool json = false;
  double timeout_s = 0;  // 0: forever
  RealNetOptions net;
  StatsOptions stats;
};

struct Conn {
  int fd = -1;
  std::string peer;
  std::uint64_t bytes = 0;
  Sha256 sha;
  std::vector<std::uint8_t> pending;  // echo: received, not yet sent back
  bool eof = false;
  Nanos start = 0;
};

void report(const ServeOptions& o, Conn& c, Nanos now, const char* how) {
  const double secs = static_cast<double>(now - c.start) / 1e9;
  const double mbps = secs > 0 ? static_cast<double>(c.bytes) * 8 / secs / 1e6 : 0;
  const std::string sha = c.sha.hex();
  if (o.json) {
    std::printf("%s\n", fmt::format("{{\"peer\":\"{}\",\"bytes_received\":{},\"sha256\":\"{}\","
                                    "\"seconds\":{:.6f},\"goodput_mbps\":{:.3f},\"close\":\"{}\"}}",
                                    c.peer, c.bytes, sha, secs, mbps, how)
                            .c_str());
  } else {
    std::printf("%s: %llu bytes in %.3f s (%.1f Mbit/s) sha256 %s (%s)\n", c.peer.c_str(),
                static_cast<unsigned long long>(c.bytes), secs, mbps, sha.c_str(), how);
  }
  std::fflush(stdout);
}

int serve(const ServeOptions& o) {
  const auto stats_every = stats_interval(o.stats);
  if (!stats_every) {
    std::fprintf(stderr, "serve: bad --stats-interval %s\n", o.stats.interval.c_str());
    return 2;
  }
  const bool stats_on = o.stats.enabled || *stats_every > 0;
  RealNet net(o.net);
  if (!net.error().empty()) {
    std::fprintf(stderr, "serve: %s\n", net.error().c_str());
    return 1;
  }
  Stack& st = net.stack();
  const int lfd = sp::socket(st, AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) {
    std::perror("serve: socket");
    return 1;
  }
  int one = 1;
  sp::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<std::uint16_t>(o.port));
  if (sp::bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) < 0 ||
      sp::listen(lfd, 128) < 0) {
    std::perror("serve: bind/listen");
    return 1;
  }
  sp::fcntl(lfd, F_SETFL, O_NONBLOCK);

  // SIGINT/SIGTERM end the loop cleanly (the capture is flushed on exit).
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  bool stop = false;
  if (sfd >= 0) net.loop().watch_fd(sfd, [&] { stop = true; });

  std::fprintf(stderr, "serve: listening on %s port %d (%s)\n", o.net.addr.c_str(), o.port,
               o.echo ? "echo" : "sink");
  const Nanos deadline =
      o.timeout_s > 0 ? st.now() + static_cast<Nanos>(o.timeout_s * 1e9) : Stack::kNoTimer;
  // With --json each view is one line {"stats":{...}} as it is made.
  StatsReporter stats(o.json, [](const std::string& sample) {
    std::printf("{\"stats\":%s}\n", sample.c_str());
    std::fflush(stdout);
  });
  const Nanos t0 = st.now();
  Timer stats_tick;
  if (*stats_every > 0) {
    stats_tick.set_function([&] {
      stats.interval("", st, st.now() - t0);
      st.mod_timer(stats_tick, st.now() + *stats_every);
    });
    st.mod_timer(stats_tick, t0 + *stats_every);
  }
  std::list<Conn> conns;
  std::vector<std::uint8_t> buf(256 * 1024);
  int finished = 0;
  while (!stop && st.now() < deadline && !(o.once && finished > 0)) {
    bool progress = false;
    for (;;) {
      sockaddr_in peer{};
      socklen_t plen = sizeof(peer);
      const int fd = sp::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_NONBLOCK);
      if (fd < 0) break;
      progress = true;
      if (!o.net.cc.empty()) {
        sp::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o.net.cc.data(),
                       static_cast<socklen_t>(o.net.cc.size()));
      }
      Conn& c = conns.emplace_back();
      c.fd = fd;
      char a[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &peer.sin_addr, a, sizeof(a));
      c.peer = fmt::format("{}:{}", a, ntohs(peer.sin_port));
      c.start = st.now();
    }
    for (auto it = conns.begin(); it != conns.end();) {
      Conn& c = *it;
      const char* closed = nullptr;
      if (!c.pending.empty()) {
        const ssize_t n = sp::send(c.fd, c.pending.data(), c.pending.size(), MSG_DONTWAIT);
        if (n > 0) {
          c.pending.erase(c.pending.begin(), c.pending.begin() + n);
          progress = true;
        } else if (n < 0 && errno != EAGAIN) {
          closed = "send error";
        }
      }
      if (!closed && !c.eof && c.pending.size() < (4u << 20)) {
        const ssize_t n = sp::recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) {
          c.bytes += static_cast<std::uint64_t>(n);
          c.sha.update(buf.data(), static_cast<std::size_t>(n));
          if (o.echo) c.pending.insert(c.pending.end(), buf.begin(), buf.begin() + n);
          progress = true;
        } else if (n == 0) {
          c.eof = true;
          progress = true;
        } else if (errno != EAGAIN) {
          closed = errno == ECONNRESET ? "reset" : "recv error";
        }
      }
      if (!closed && c.eof && c.pending.empty()) closed = "fin";
      if (closed) {
        report(o, c, st.now(), closed);
        // The connection's last view, before close() lets it go.
        if (stats_on) stats.sockets("", st, st.now() - t0, "connection_end", "connection end");
        sp::close(c.fd);
        it = conns.erase(it);
        ++finished;
        continue;
      }
      ++it;
    }
    if (!progress) net.loop().run_once(deadline);
  }
  for (Conn& c : conns) {
    report(o, c, st.now(), "unfinished");
    sp::close(c.fd);
  }
  sp::close(lfd);
  // Let the FINs and last ACKs leave before the device goes away.
  net.loop().run_until([] { return false; }, st.now() + 200 * kNsPerMs);
  st.del_timer(stats_tick);
  if (stats_on) stats.totals("", st, st.now() - t0, "closed", "after close");
  return 0;
}

static Command cmd("serve", "TCP sink or echo server on a tap/tun device (see scripts/netns-lab)",
                   [](CLI::App& app) {
                     auto o = std::make_shared<ServeOptions>();
                     app.add_option("port", o->port, "TCP port to listen on")->required();
                     app.add_flag("--echo", o->echo, "send back what arrives");
                     app.add_flag("--once", o->once, "exit after the first connection ends");
                     app.add_flag("--json", o->json, "one JSON object per connection");
                     app.add_option("--timeout", o->timeout_s, "give up after this many seconds");
                     o->net.name = "server";  // in trace events
                     add_realnet_options(app, o->net);
                     add_stats_options(app, o->stats);
                     add_clock_options(app, o->clock);
                     return [o] { return apply_clock_options(o->clock) ? serve(*o) : 2; };
                   });

}  // namespace
}  // namespace sp::tools
