// sendpath send HOST:PORT: connect over a real tap/tun device through the
// public socket API, send --size bytes of a seeded pseudo-random stream (or
// --file), close with a FIN, and report bytes, SHA-256, time and CPU.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "cli_parse.hpp"
#include "command.hpp"
#include "realnet.hpp"
#include "report/report.hpp"
#include "report_trace.hpp"
#include "sendpath/api.hpp"
#include "stats_view.hpp"
#include "trace/nstat.hpp"

namespace sp::tools {
namespace {

struct SendOptions {
  ClockOptions clock;
  std::string target;
  std::string size = "64M";
  std::string file;
  std::uint64_t seed = 1;
  bool json = false;
  double timeout_s = 120;
  RealNetOptions net;
  StatsOptions stats;
  std::string report;
};

// The sent bytes are all acknowledged (nothing unsent, nothing in flight).
bool all_acked(int fd) {
  tcp_info_612 ti{};
  socklen_t len = sizeof(ti);
  return sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.v.tcpi_unacked == 0 &&
         ti.v.tcpi_notsent_bytes == 0;
}

int send_main(const SendOptions& o) {
  be32 daddr = 0;
  std::uint16_t dport = 0;
  if (!parse_host_port(o.target, &daddr, &dport)) {
    std::fprintf(stderr, "send: want HOST:PORT, got %s\n", o.target.c_str());
    return 2;
  }
  std::uint64_t total = 0;
  FILE* in = nullptr;
  if (!o.file.empty()) {
    in = std::fopen(o.file.c_str(), "rb");
    if (!in) {
      std::perror(("send: " + o.file).c_str());
      return 2;
    }
  } else if (auto size = parse_size(o.size)) {
    total = *size;
  } else {
    std::fprintf(stderr, "send: bad --size %s\n", o.size.c_str());
    return 2;
  }

  const auto stats_every = stats_interval(o.stats);
  if (!stats_every) {
    std::fprintf(stderr, "send: bad --stats-interval %s\n", o.stats.interval.c_str());
    return 2;
  }
  const bool stats_on = o.stats.enabled || *stats_every > 0;

  // --report: the device's capture (to a temporary file unless --pcap) and
  // the stack's trace, recorded for the run.
  RealNetOptions netopt = o.net;
  std::string report_pcap;
  if (!o.report.empty() && netopt.pcap.empty()) {
    report_pcap = fmt::format("/tmp/sendpath-send-report-{}.pcap", getpid());
    netopt.pcap = report_pcap;
  }
  std::optional<ReportTrace> report_trace;
  if (!o.report.empty()) report_trace.emplace(netopt.name);
  RealNet net(netopt);
  if (!net.error().empty()) {
    std::fprintf(stderr, "send: %s\n", net.error().c_str());
    return 1;
  }
  Stack& st = net.stack();
  const int fd = sp::socket(st, AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    std::perror("send: socket");
    return 1;
  }
  if (!o.net.cc.empty() && sp::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o.net.cc.data(),
                                          static_cast<socklen_t>(o.net.cc.size())) < 0) {
    std::perror("send: TCP_CONGESTION");
    return 1;
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(o.timeout_s);
  sp::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sp::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(dport);
  sin.sin_addr.s_addr = daddr;
  const double cpu0 = cpu_seconds();
  const Nanos t0 = st.now();
  StatsReporter stats(o.json);
  // Interval views run from the stack's timer, so they come while a
  // blocking call waits as well.
  Timer stats_tick;
  if (*stats_every > 0) {
    stats_tick.set_function([&] {
      stats.interval("", st, st.now() - t0);
      st.mod_timer(stats_tick, st.now() + *stats_every);
    });
    st.mod_timer(stats_tick, t0 + *stats_every);
  }
  if (sp::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) < 0) {
    std::fprintf(stderr, "send: connect %s: %s\n", o.target.c_str(), std::strerror(errno));
    return 1;
  }
  PayloadStream stream(o.seed);
  Sha256 sha;
  std::vector<std::uint8_t> buf(256 * 1024);
  std::uint64_t sent = 0;
  bool failed = false;
  for (;;) {
    std::size_t n = buf.size();
    if (in) {
      n = std::fread(buf.data(), 1, buf.size(), in);
      if (n == 0) break;
    } else {
      if (sent >= total) break;
      n = static_cast<std::size_t>(std::min<std::uint64_t>(n, total - sent));
      stream.fill(buf.data(), n);
    }
    sha.update(buf.data(), n);
    std::size_t off = 0;
    while (off < n) {
      const ssize_t w = sp::send(fd, buf.data() + off, n - off, 0);
      if (w < 0) {
        std::fprintf(stderr, "send: after %llu bytes: %s\n",
                     static_cast<unsigned long long>(sent + off), std::strerror(errno));
        failed = true;
        break;
      }
      off += static_cast<std::size_t>(w);
    }
    sent += off;
    if (failed) break;
  }
  if (in) std::fclose(in);
  if (stats_on && !failed) {
    // The connection's final view while it is still established: wait for
    // the last byte's ACK before the FIN (as sendpath sim --stats does).
    net.loop().run_until([&] { return all_acked(fd); },
                         st.now() + static_cast<Nanos>(o.timeout_s * 1e9));
    stats.sockets("", st, st.now() - t0, "last_byte", "last byte acknowledged");
  }
  // Orderly close: our FIN, then wait for the peer's (recv returns 0).
  sp::shutdown(fd, SHUT_WR);
  std::uint64_t echoed = 0;
  for (;;) {
    const ssize_t r = sp::recv(fd, buf.data(), buf.size(), 0);
    if (r <= 0) break;
    echoed += static_cast<std::uint64_t>(r);
  }
  const Nanos t1 = st.now();
  tcp_info_612 ti{};
  socklen_t tlen = sizeof(ti);
  const bool have_info = sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) == 0;
  sp::close(fd);
  net.loop().run_until([] { return false; }, st.now() + 200 * kNsPerMs);
  st.del_timer(stats_tick);
  if (stats_on) stats.totals("", st, st.now() - t0, "closed", "after close");
  const double cpu = cpu_seconds() - cpu0;

  const double secs = static_cast<double>(t1 - t0) / 1e9;
  const double mbps = secs > 0 ? static_cast<double>(sent) * 8 / secs / 1e6 : 0;
  const std::string digest = sha.hex();
  const auto& ds = net.dev().tun_stats();
  const unsigned retrans = have_info ? ti.v.tcpi_total_retrans : 0;
  if (report_trace) {
    report::RunInput run;
    run.name = fmt::format("sendpath send {} ({} bytes)", o.target, sent);
    net.dev().close_pcap();
    run.pcap_path = netopt.pcap;
    run.trace = report_trace->finish();
    report_trace.reset();
    run.params = {{"target", o.target},
                  {"device", netopt.dev + (netopt.tun ? " (tun)" : " (tap)")},
                  {"address", netopt.addr},
                  {"mtu", fmt::format("{}", netopt.mtu)},
                  {"cc", netopt.cc.empty() ? "default" : netopt.cc},
                  {"tso", netopt.no_tso ? "off" : "on"}};
    run.counters = {{"bytes sent", fmt::format("{}", sent)},
                    {"seconds", fmt::format("{:.6f}", secs)},
                    {"goodput", fmt::format("{:.1f} Mbit/s", mbps)},
                    {"tcpi_total_retrans", fmt::format("{}", retrans)},
                    {"frames out", fmt::format("{}", net.dev().stats.tx_packets)},
                    {"frames in", fmt::format("{}", net.dev().stats.rx_packets)}};
    report::KeyValues mib;
    for (const NstatRow& row : nstat_rows(st.mib(), nullptr))
      mib.emplace_back(std::string(row.name), fmt::format("{}", row.value));
    run.tables.emplace_back("Counters after close (nstat -a)", std::move(mib));
    const std::string err = report::write_report({run}, o.report);
    if (!report_pcap.empty()) std::remove(report_pcap.c_str());
    if (!err.empty()) {
      std::fprintf(stderr, "send: report: %s\n", err.c_str());
      return 1;
    }
  }
  if (o.json) {
    std::printf(
        "%s\n",
        fmt::format("{{\"target\":\"{}\",\"bytes_sent\":{},\"sha256\":\"{}\","
                    "\"seconds\":{:.6f},\"goodput_mbps\":{:.3f},\"cpu_seconds\":{:.3f},"
                    "\"retransmits\":{},\"tx_frames\":{},\"tx_gso_frames\":{},"
                    "\"rx_frames\":{},\"bytes_echoed\":{},\"ok\":{}{}}}",
                    o.target, sent, digest, secs, mbps, cpu, retrans, net.dev().stats.tx_packets,
                    ds.tx_gso_frames, net.dev().stats.rx_packets, echoed, failed ? "false" : "true",
                    stats_on ? ",\"stats\":" + stats.json() : "")
            .c_str());
  } else {
    std::printf("sent %llu bytes to %s in %.3f s (%.1f Mbit/s), cpu %.3f s\n",
                static_cast<unsigned long long>(sent), o.target.c_str(), secs, mbps, cpu);
    std::printf("sha256 %s\n", digest.c_str());
    std::printf("retransmits %u, frames out %llu (%llu TSO), frames in %llu\n", retrans,
                static_cast<unsigned long long>(net.dev().stats.tx_packets),
                static_cast<unsigned long long>(ds.tx_gso_frames),
                static_cast<unsigned long long>(net.dev().stats.rx_packets));
  }
  return failed ? 1 : 0;
}

static Command cmd(
    "send", "send data to HOST:PORT over a tap/tun device (see scripts/netns-lab)",
    [](CLI::App& app) {
      auto o = std::make_shared<SendOptions>();
      app.add_option("target", o->target, "HOST:PORT")->required();
      auto* size = app.add_option("--size", o->size, "bytes of seeded pseudo-random data (K/M/G)");
      app.add_option("--file", o->file, "send this file instead")->excludes(size);
      app.add_option("--seed", o->seed, "seed of the data stream");
      app.add_flag("--json", o->json, "one JSON object as the result");
      app.add_option("--timeout", o->timeout_s, "give up when a call waits longer (seconds)");
      app.add_option("--report", o->report,
                     "write an HTML report of the transfer (capture and trace) here");
      o->net.name = "client";  // in trace events
      add_realnet_options(app, o->net);
      add_stats_options(app, o->stats);
      add_clock_options(app, o->clock);
      return [o] { return apply_clock_options(o->clock) ? send_main(*o) : 2; };
    });

}  // namespace
}  // namespace sp::tools
