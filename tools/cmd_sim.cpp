// `sendpath sim`: move data from a client stack to a server stack over a
// simulated link and prove it arrived (SHA-256 of what was sent == of what
// was received). Everything runs on virtual time; a run is repeatable from
// its seed.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli_parse.hpp"
#include "command.hpp"
#include "core/stack.hpp"
#include "core/sysctl.hpp"
#include "harness/sim_transfer.hpp"
#include "report/report.hpp"
#include "report_trace.hpp"
#include "stats_view.hpp"
#include "trace/json.hpp"
#include "trace/nstat.hpp"
#include "trace/ss.hpp"

namespace {

using namespace sp;
using sp::tools::parse_duration;
using sp::tools::parse_rate;
using sp::tools::parse_size;

struct Options {
  sp::tools::ClockOptions clock;
  std::string size = "256M";
  std::string rate = "1g";
  std::string rtt = "20ms";
  double loss = 0, reorder = 0, dup = 0;
  std::string jitter = "0";
  std::string reorder_delay = "1ms";
  std::uint32_t queue = 1000;
  std::string cc = "cubic";
  std::uint32_t mss = 1460;
  bool tso = true;
  bool tso_passthrough = false;
  bool gro = false;
  std::string rx_usecs;              // empty: 0, or 50us with --gro
  std::vector<std::string> sysctls;  // NAME=VALUE, on both stacks
  std::uint64_t seed = 1;
  int connections = 1;
  bool bidirectional = false;
  bool zerocopy = false;
  std::string fail_alloc;  // KINDS:1/N[@SEED] or KINDS:#N
  std::string pcap;
  std::string report;
  std::string trace, trace_events, trace_format = "json";
  bool json = false;
  bool quiet = false;
  sp::tools::StatsOptions stats;
};

using trace::json_escape;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", b, units[u]);
}

std::string human_rate(double bps) {
  if (bps >= 1e9) return fmt::format("{:.2f} Gbit/s", bps / 1e9);
  if (bps >= 1e6) return fmt::format("{:.2f} Mbit/s", bps / 1e6);
  return fmt::format("{:.2f} kbit/s", bps / 1e3);
}

// Ethernet (14) + the longest IPv4 (60) and TCP (60) headers.
constexpr std::uint32_t kHeadersSnaplen = 14 + 60 + 60;

// What the report shows of the stacks themselves, taken through the stats
// hook: each client socket's TCP_INFO as ss -tin prints it once the last
// byte is acknowledged, and both stacks' counters (nstat -a) after close.
void snapshot_for_report(StatsPoint at, Stack& client, Stack& server, report::RunInput& run) {
  if (at == StatsPoint::kLastByte) {
    for (const SsEntry& e : ss_collect(client)) {
      if (!e.has_info || e.state != 1 /* TCP_ESTABLISHED */) continue;
      report::KeyValues kv;
      // " cubic wscale:7,7 rto:204 ...": one row per "label:value" (a bare
      // word is a flag such as the congestion control's name).
      std::string text = ss_tcp_info_text(e);
      std::size_t i = 0;
      while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        std::size_t end = text.find(' ', i);
        if (end == std::string::npos) end = text.size();
        std::string word = text.substr(i, end - i);
        i = end;
        if (word.empty()) continue;
        const auto colon = word.find(':');
        // "send 1.2Gbps" and "pacing_rate 1.2Gbps" take the next word.
        if (colon == std::string::npos && i < text.size() &&
            (word == "send" || word == "pacing_rate" || word == "delivery_rate" ||
             word == "bytes_acked" || word == "minrtt")) {
          while (i < text.size() && text[i] == ' ') ++i;
          end = text.find(' ', i);
          if (end == std::string::npos) end = text.size();
          kv.emplace_back(word, text.substr(i, end - i));
          i = end;
        } else if (colon == std::string::npos) {
          kv.emplace_back(word, "");
        } else {
          kv.emplace_back(word.substr(0, colon), word.substr(colon + 1));
        }
      }
      run.tables.emplace_back(
          fmt::format("TCP_INFO at the last byte (ss -tin, client port {})", e.sport),
          std::move(kv));
    }
  } else if (at == StatsPoint::kClosed) {
    for (auto [label, st] :
         {std::pair<const char*, Stack*>{"client", &client}, {"server", &server}}) {
      report::KeyValues kv;
      for (const NstatRow& row : nstat_rows(st->mib(), nullptr))
        kv.emplace_back(std::string(row.name), fmt::format("{}", row.value));
      run.tables.emplace_back(fmt::format("Counters after close (nstat -a, {})", label),
                              std::move(kv));
    }
  }
}

std::string write_sim_report(const Options& o, const TransferOptions& t, const TransferResult& r,
                             report::RunInput run) {
  run.name = fmt::format("sendpath sim --size {} --rate {} --rtt {} --loss {} --seed {}", o.size,
                         o.rate, o.rtt, o.loss, o.seed);
  run.pcap_path = t.pcap_path;
  auto p = [&](const char* k, std::string v) { run.params.emplace_back(k, std::move(v)); };
  p("size", o.size);
  p("rate", o.rate);
  p("rtt", o.rtt);
  p("loss", fmt::format("{}", o.loss));
  p("reorder", fmt::format("{} (delay {})", o.reorder, o.reorder_delay));
  p("dup", fmt::format("{}", o.dup));
  p("jitter", o.jitter);
  p("queue", fmt::format("{} frames", o.queue));
  p("cc", o.cc);
  p("mss", fmt::format("{}", o.mss));
  p("tso", o.tso ? "on" : "off");
  p("seed", fmt::format("{}", o.seed));
  p("connections", fmt::format("{}", o.connections));
  auto c = [&](const char* k, std::uint64_t v) {
    run.counters.emplace_back(k, fmt::format("{}", v));
  };
  run.counters.emplace_back("digest",
                            r.digest_ok ? "OK (SHA-256 of sent == received)" : "MISMATCH");
  c("bytes sent", r.bytes_sent);
  c("bytes received", r.bytes_received);
  run.counters.emplace_back("virtual time",
                            fmt::format("{:.6f} s", static_cast<double>(r.virtual_ns) / 1e9));
  c("TcpOutSegs (both stacks)", r.segments_out);
  c("TcpRetransSegs (both stacks)", r.retransmits);
  c("link frames to server", r.to_server.frames_sent);
  c("link loss drops", r.to_server.loss_drops + r.to_client.loss_drops);
  c("link queue drops", r.to_server.queue_drops + r.to_client.queue_drops);
  c("link reordered", r.to_server.reordered + r.to_client.reordered);
  c("link duplicated", r.to_server.duplicated + r.to_client.duplicated);
  c("link max queue (frames)", r.to_server.max_queue);
  c("cwnd at the end", r.last_cwnd);
  c("srtt at the end (us)", r.last_srtt_us);
  return report::write_report({run}, o.report);
}

int run(const Options& o) {
  auto size = parse_size(o.size);
  auto rate = parse_rate(o.rate);
  auto rtt = parse_duration(o.rtt);
  auto jitter = parse_duration(o.jitter);
  auto reorder_delay = parse_duration(o.reorder_delay);
  // Interrupt moderation: with GRO, 50 us (i40e's rx-usecs default) unless
  // told; without, none, as before.
  auto rx_coalesce = parse_duration(
      o.rx_usecs.empty() ? (o.gro ? std::string("50us") : std::string("0")) : o.rx_usecs);
  if (!rx_coalesce) {
    std::fprintf(stderr, "sendpath sim: bad --rx-usecs\n");
    return 2;
  }
  if (!size || !rate || !rtt || !jitter || !reorder_delay) {
    std::fprintf(stderr, "sendpath sim: bad --size, --rate, --rtt, --jitter or --reorder-delay\n");
    return 2;
  }
  if (o.mss < 88 || o.mss > 65495 || o.connections < 1 || o.queue < 1) {
    std::fprintf(stderr, "sendpath sim: --mss must be 88..65495, --conns and --queue >= 1\n");
    return 2;
  }
  TransferOptions t;
  t.size = *size;
  t.connections = o.connections;
  t.bidirectional = o.bidirectional;
  t.zerocopy = o.zerocopy;
  t.cc = o.cc;
  for (const std::string& kv : o.sysctls) {
    const std::size_t eq = kv.find('=');
    std::string err = eq == std::string::npos ? "expected NAME=VALUE" : "";
    if (err.empty()) err = Sysctl{}.set(kv.substr(0, eq), kv.substr(eq + 1));
    if (!err.empty()) {
      std::fprintf(stderr, "sendpath sim: --sysctl %s: %s\n", kv.c_str(), err.c_str());
      return 2;
    }
    t.sysctls.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  t.seed = o.seed;
  if (!o.fail_alloc.empty()) {
    std::string err;
    if (!parse_fail_alloc(o.fail_alloc, &t.fail_alloc, &err)) {
      std::fprintf(stderr, "sendpath sim: --fail-alloc %s: %s\n", o.fail_alloc.c_str(),
                   err.c_str());
      return 2;
    }
  }
  t.pcap_path = o.pcap;
  // The report reads the client's capture; without --pcap it takes one of
  // headers only (a 1 GiB run must not write a 1 GiB file) and removes it.
  std::string report_pcap;
  if (!o.report.empty() && o.pcap.empty()) {
    report_pcap =
        (std::filesystem::temp_directory_path() / fmt::format("sendpath-report-{}.pcap", getpid()))
            .string();
    t.pcap_path = report_pcap;
    t.pcap_snaplen = kHeadersSnaplen;
  }
  t.trace_path = o.trace;
  t.trace_events = o.trace_events;
  t.trace_format = o.trace_format;
  // The MSS a peer announces is the link MTU minus the IPv4 and TCP headers.
  t.link.mtu = o.mss + 40;
  t.link.tso = o.tso;
  t.link.tso_passthrough = o.tso_passthrough;
  t.link.gro = o.gro;
  t.link.rx_coalesce = *rx_coalesce;
  for (SimPathConfig* p : {&t.link.a_to_b, &t.link.b_to_a}) {
    p->rate_bps = *rate;
    p->delay = *rtt / 2;
    p->jitter = *jitter;
    p->loss = o.loss;
    p->reorder = o.reorder;
    p->reorder_delay = *reorder_delay;
    p->dup = o.dup;
    p->queue_limit = o.queue;
  }
  const auto stats_every = sp::tools::stats_interval(o.stats);
  if (!stats_every) {
    std::fprintf(stderr, "sendpath sim: bad --stats-interval %s\n", o.stats.interval.c_str());
    return 2;
  }
  sp::tools::StatsReporter stats(o.json);
  report::RunInput report_run;
  if (!o.report.empty()) {
    t.stats = [&report_run](StatsPoint at, Stack& client, Stack& server, Nanos) {
      snapshot_for_report(at, client, server, report_run);
    };
  }
  if (o.stats.enabled || *stats_every > 0) {
    t.stats_every = *stats_every;
    t.stats = [&stats, &report_run, for_report = !o.report.empty()](StatsPoint at, Stack& client,
                                                                    Stack& server, Nanos elapsed) {
      if (for_report) snapshot_for_report(at, client, server, report_run);
      for (auto [label, st] :
           {std::pair<const char*, Stack*>{"client", &client}, {"server", &server}}) {
        switch (at) {
          case StatsPoint::kInterval:
            stats.interval(label, *st, elapsed);
            break;
          case StatsPoint::kLastByte:
            stats.sockets(label, *st, elapsed, "last_byte", "last byte acknowledged");
            break;
          case StatsPoint::kClosed:
            stats.totals(label, *st, elapsed, "closed", "after close");
            break;
        }
      }
    };
  }
  // Interval stats share the terminal: no progress bar between them.
  const bool bar = !o.quiet && isatty(STDERR_FILENO) && *stats_every == 0;
  if (bar) {
    t.progress = [](std::uint64_t done, std::uint64_t total, Nanos now) {
      const double f = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
      const int width = 40;
      const int fill = static_cast<int>(f * width);
      std::fprintf(stderr, "\r[%s%s] %5.1f%%  %s  t=%.2fs ", std::string(fill, '#').c_str(),
                   std::string(width - fill, ' ').c_str(), f * 100,
                   human_bytes(static_cast<double>(done)).c_str(), static_cast<double>(now) / 1e9);
      std::fflush(stderr);
    };
  }
  // The report's trace listens only for the run.
  std::optional<sp::tools::ReportTrace> report_trace;
  if (!o.report.empty()) report_trace.emplace("client");
  const double cpu0 = cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  TransferResult r = run_transfer(t);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double cpu = cpu_seconds() - cpu0;
  if (bar) std::fprintf(stderr, "\r%*s\r", 80, "");
  if (report_trace) {
    report_run.trace = report_trace->finish();
    report_trace.reset();
  }
  if (!o.report.empty()) {
    const std::string err = write_sim_report(o, t, r, std::move(report_run));
    if (!report_pcap.empty()) std::filesystem::remove(report_pcap);
    if (!err.empty()) {
      std::fprintf(stderr, "sendpath sim: report: %s\n", err.c_str());
      return 1;
    }
  }

  const double vsec = static_cast<double>(r.virtual_ns) / 1e9;
  const double goodput = vsec > 0 ? static_cast<double>(r.bytes_received) * 8 / vsec : 0;
  if (o.json) {
    std::string flows;
    for (std::size_t i = 0; i < r.flows.size(); ++i) {
      const auto& f = r.flows[i];
      flows += fmt::format(
          "{}{{\"sent\":{},\"received\":{},\"eof\":{},\"digest_ok\":{},\"sha256\":\"{}\"}}",
          i ? "," : "", f.sent, f.received, f.eof, f.digest_ok, f.sha_received);
    }
    std::string tail;
    if (t.fail_alloc.kinds) {
      const FailAllocStats& f = r.fail_alloc;
      tail = fmt::format(
          ",\"fail_alloc\":{{\"skb\":{{\"failed\":{},\"calls\":{}}},\"page\":{{\"failed\":{},"
          "\"calls\":{}}},\"sock\":{{\"failed\":{},\"calls\":{}}}}}",
          f.failed[0], f.calls[0], f.failed[1], f.calls[1], f.failed[2], f.calls[2]);
    }
    if (t.stats) tail += ",\"stats\":" + stats.json();
    std::printf(
        "{\"bytes_sent\":%llu,\"bytes_received\":%llu,\"digest_ok\":%s,\"stalled\":%s,"
        "\"error\":\"%s\",\"virtual_seconds\":%.6f,\"goodput_bps\":%.0f,\"retransmits\":%llu,"
        "\"segments_out\":%llu,\"cpu_seconds\":%.3f,\"wall_seconds\":%.3f,"
        "\"link\":{\"frames\":%llu,\"queue_drops\":%llu,\"loss_drops\":%llu,\"reordered\":%llu,"
        "\"duplicated\":%llu,\"max_queue\":%u,\"frames_back\":%llu},"
        "\"gro\":{\"on\":%s,\"polls\":%llu,\"merged\":%llu,\"coalesced\":%llu},"
        "\"cwnd\":%u,\"srtt_us\":%u,"
        "\"options\":{\"size\":%llu,\"rate_bps\":%llu,\"rtt_ns\":%llu,\"loss\":%g,\"reorder\":%g,"
        "\"dup\":%g,\"queue\":%u,\"cc\":\"%s\",\"mss\":%u,\"tso\":%s,\"seed\":%llu,\"conns\":%d},"
        "\"flows\":[%s]%s}\n",
        static_cast<unsigned long long>(r.bytes_sent),
        static_cast<unsigned long long>(r.bytes_received), r.digest_ok ? "true" : "false",
        r.stalled ? "true" : "false", json_escape(r.error).c_str(), vsec, goodput,
        static_cast<unsigned long long>(r.retransmits),
        static_cast<unsigned long long>(r.segments_out), cpu, wall,
        static_cast<unsigned long long>(r.to_server.frames_sent),
        static_cast<unsigned long long>(r.to_server.queue_drops + r.to_client.queue_drops),
        static_cast<unsigned long long>(r.to_server.loss_drops + r.to_client.loss_drops),
        static_cast<unsigned long long>(r.to_server.reordered + r.to_client.reordered),
        static_cast<unsigned long long>(r.to_server.duplicated + r.to_client.duplicated),
        r.to_server.max_queue, static_cast<unsigned long long>(r.to_client.frames_sent),
        o.gro ? "true" : "false", static_cast<unsigned long long>(r.server_napi_polls),
        static_cast<unsigned long long>(r.gro_server.merged),
        static_cast<unsigned long long>(r.gro_server.coalesced), r.last_cwnd, r.last_srtt_us,
        static_cast<unsigned long long>(*size), static_cast<unsigned long long>(*rate),
        static_cast<unsigned long long>(*rtt), o.loss, o.reorder, o.dup, o.queue, o.cc.c_str(),
        o.mss, o.tso ? "true" : "false", static_cast<unsigned long long>(o.seed), o.connections,
        flows.c_str(), tail.c_str());
  } else {
    std::printf("sendpath sim: %s over %s, rtt %s, loss %g, cc %s, %d connection%s%s\n",
                human_bytes(static_cast<double>(*size)).c_str(),
                human_rate(static_cast<double>(*rate)).c_str(), o.rtt.c_str(), o.loss, o.cc.c_str(),
                o.connections, o.connections > 1 ? "s" : "",
                o.bidirectional ? ", both directions" : "");
    std::printf("  sent      %llu bytes\n  received  %llu bytes\n  digest    %s\n",
                static_cast<unsigned long long>(r.bytes_sent),
                static_cast<unsigned long long>(r.bytes_received),
                r.digest_ok ? "OK (SHA-256 of sent == received)" : "MISMATCH");
    std::printf("  virtual   %.3f s, goodput %s\n", vsec, human_rate(goodput).c_str());
    std::printf("  segments  %llu out, %llu retransmitted; link drops %llu (queue) + %llu (loss)\n",
                static_cast<unsigned long long>(r.segments_out),
                static_cast<unsigned long long>(r.retransmits),
                static_cast<unsigned long long>(r.to_server.queue_drops + r.to_client.queue_drops),
                static_cast<unsigned long long>(r.to_server.loss_drops + r.to_client.loss_drops));
    std::printf("  frames    %llu to the server, %llu back\n",
                static_cast<unsigned long long>(r.to_server.frames_sent),
                static_cast<unsigned long long>(r.to_client.frames_sent));
    if (o.gro) {
      std::printf("  gro       server: %llu polls, %llu frames merged into %llu packets\n",
                  static_cast<unsigned long long>(r.server_napi_polls),
                  static_cast<unsigned long long>(r.gro_server.merged),
                  static_cast<unsigned long long>(r.gro_server.coalesced));
    }
    std::printf("  host      %.2f s wall, %.2f s CPU\n", wall, cpu);
    if (o.zerocopy) {
      std::printf("  zerocopy  %llu sends, %llu completed (%llu reported copied)\n",
                  static_cast<unsigned long long>(r.zerocopy_sends),
                  static_cast<unsigned long long>(r.zerocopy_completed),
                  static_cast<unsigned long long>(r.zerocopy_copied));
    }
    if (t.fail_alloc.kinds) {
      const FailAllocStats& f = r.fail_alloc;
      std::printf(
          "  failalloc %llu failed of %llu skb, %llu of %llu page, %llu of %llu sock\n",
          static_cast<unsigned long long>(f.failed[0]), static_cast<unsigned long long>(f.calls[0]),
          static_cast<unsigned long long>(f.failed[1]), static_cast<unsigned long long>(f.calls[1]),
          static_cast<unsigned long long>(f.failed[2]),
          static_cast<unsigned long long>(f.calls[2]));
    }
    if (r.stalled) std::printf("  STALLED: no progress on the connection\n");
    if (!r.error.empty()) std::printf("  error: %s\n", r.error.c_str());
  }
  return r.ok ? 0 : 1;
}

sp::tools::Command cmd(
    "sim", "transfer data between two stacks over a simulated link", [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_option("--size", o->size, "bytes per connection (K/M/G suffixes)")
          ->capture_default_str();
      sub.add_option("--rate", o->rate, "link rate in bit/s (k/m/g suffixes)")
          ->capture_default_str();
      sub.add_option("--rtt", o->rtt, "round-trip propagation delay (ns/us/ms/s)")
          ->capture_default_str();
      sub.add_option("--loss", o->loss, "loss probability per frame, each direction")
          ->check(CLI::Range(0.0, 1.0));
      sub.add_option("--reorder", o->reorder, "probability a frame is held back")
          ->check(CLI::Range(0.0, 1.0));
      sub.add_option("--reorder-delay", o->reorder_delay, "how long a held-back frame waits")
          ->capture_default_str();
      sub.add_option("--dup", o->dup, "duplication probability per frame")
          ->check(CLI::Range(0.0, 1.0));
      sub.add_option("--jitter", o->jitter, "extra delay uniform in [0, jitter]")
          ->capture_default_str();
      sub.add_option("--queue", o->queue, "link queue limit in frames (drop-tail)")
          ->capture_default_str();
      sub.add_option("--cc", o->cc, "congestion control")
          ->check(CLI::IsMember({"cubic", "reno"}))
          ->capture_default_str();
      sub.add_option("--mss", o->mss, "MSS: the link MTU is mss + 40")->capture_default_str();
      sub.add_flag("--tso,!--no-tso", o->tso, "advertise TSO on the link devices");
      sub.add_flag("--tso-passthrough", o->tso_passthrough,
                   "TSO skbs cross the link whole, unsegmented (loss and queueing act on "
                   "the 64 KiB unit; not GRO)");
      sub.add_flag("--gro", o->gro,
                   "GRO on the receiving ends: in-order segments of a flow taken in one NAPI "
                   "poll reach the stack as one skb");
      sub.add_option("--rx-usecs", o->rx_usecs,
                     "receive interrupt moderation: poll this long after the first frame "
                     "(default 50us with --gro, else 0: frames of one instant)");
      sub.add_option("--sysctl", o->sysctls,
                     "NAME=VALUE set on both stacks, e.g. net.ipv4.tcp_sack=0 (repeatable)");
      sub.add_option("--seed", o->seed, "seed for payload and link randomness")
          ->capture_default_str();
      sub.add_option("--conns", o->connections, "parallel connections")->capture_default_str();
      sub.add_flag("--bidir", o->bidirectional, "send in both directions at once");
      sub.add_option("--fail-alloc", o->fail_alloc,
                     "make allocations fail on purpose (both stacks): KINDS:1/N[@SEED] fails one "
                     "in N pseudo-randomly, KINDS:#N the Nth; KINDS is skb, page, sock or all, "
                     "joined by +");
      sub.add_flag("--zerocopy", o->zerocopy,
                   "send with MSG_ZEROCOPY, reusing a buffer once its completions are back");
      sub.add_option("--pcap", o->pcap, "write the client's frames to this pcap file");
      sub.add_option("--report", o->report,
                     "write an HTML report (time-sequence graph, sender state) here; as "
                     "with --stats, each sender's FIN waits for its last ACK");
      sub.add_option("--trace", o->trace, "write trace events to this file (- for stdout)");
      sub.add_option("--trace-format", o->trace_format,
                     "json (one object per line, default) or text (ftrace-like lines)")
          ->check(CLI::IsMember({"json", "text"}));
      sub.add_option("--trace-events", o->trace_events,
                     "events for --trace: names, systems or all (default: tcp,sock,skb,net,"
                     "sendpath:tcp_write_xmit,sendpath:tcp_recovery_event)");
      sub.add_flag("--json", o->json, "one JSON object on stdout");
      sub.add_flag("--quiet", o->quiet, "no progress bar");
      sp::tools::add_stats_options(sub, o->stats);
      sp::tools::add_clock_options(sub, o->clock);
      return [o] { return sp::tools::apply_clock_options(o->clock) ? run(*o) : 2; };
    });

}  // namespace
