// `sendpath bench`: the stack's speed per CPU-second, each figure beside a
// reference measured in the same run (issue 17). Figures:
//   send_path  one stack writing to a sink that ACKs at once, against memcpy
//   e2e        two stacks over a lossless SimLink, against Linux over veth
//   lwip       the same two-stack run with software checksums, against lwIP
// Payload is a pattern buffer made before any clock starts; the receiver's
// pattern check is timed apart and left out.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_linux.hpp"
#include "bench_lwip.hpp"
#include "cli_parse.hpp"
#include "command.hpp"
#include "harness/bench.hpp"
#include "trace/json.hpp"

namespace {

using namespace sp;
namespace bench = sp::bench;

struct Reference {
  std::string name;
  double value = 0;
  std::string unit;
};

struct Figure {
  std::string name;
  double value = 0;
  std::string unit = "B/cpu-s";
  std::optional<Reference> reference;
  std::string note;  // what was measured, or why a reference is missing
  std::vector<std::pair<std::string, double>> more;  // details (cpu seconds, frames, ...)
  std::string error;                                 // the run failed
  double ratio() const { return reference && reference->value > 0 ? value / reference->value : 0; }
};

using trace::json_escape;

std::string json_number(double v) {
  return fmt::format("{:.6g}", v);
}

std::string to_json(const Figure& f) {
  std::string s = fmt::format(R"({{"name": "{}", "value": {}, "unit": "{}", )", json_escape(f.name),
                              json_number(f.value), f.unit);
  if (f.reference) {
    s += fmt::format(R"("reference": {{"name": "{}", "value": {}, "unit": "{}"}}, "ratio": {})",
                     json_escape(f.reference->name), json_number(f.reference->value),
                     f.reference->unit, json_number(f.ratio()));
  } else {
    s += R"("reference": null, "ratio": null)";
  }
  if (!f.note.empty()) s += fmt::format(R"(, "note": "{}")", json_escape(f.note));
  if (!f.error.empty()) s += fmt::format(R"(, "error": "{}")", json_escape(f.error));
  if (!f.more.empty()) {
    s += R"(, "details": {)";
    for (std::size_t i = 0; i < f.more.size(); ++i)
      s += fmt::format(R"({}"{}": {})", i ? ", " : "", f.more[i].first,
                       json_number(f.more[i].second));
    s += "}";
  }
  return s + "}";
}

std::string shown(double v, const std::string& unit) {
  if (unit == "B/cpu-s") return fmt::format("{:.2f} GB/cpu-s", v / 1e9);
  if (unit == "B/s") return fmt::format("{:.2f} GB/s", v / 1e9);
  return fmt::format("{:.0f} {}", v, unit);
}

// The run with the median bytes per CPU-second of `repeat` runs: the
// machine is shared, and one run can lose its caches to a neighbour.
template <class Fn>
auto median_run(int repeat, Fn fn) {
  std::vector<decltype(fn())> runs;
  for (int i = 0; i < std::max(1, repeat); ++i) {
    runs.push_back(fn());
    if (!runs.back().error.empty() || !runs.back().skipped_reason().empty()) return runs.back();
  }
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return a.bytes_per_cpu_s() < b.bytes_per_cpu_s(); });
  return runs[runs.size() / 2];
}

// Two measurements that a ratio compares, taken in turns (A, B, A, B...) so
// that a change in the machine's load during the invocation weighs on both
// medians alike.
template <typename FnA, typename FnB>
auto median_runs_interleaved(int repeat, FnA a, FnB b) {
  std::vector<decltype(a())> as;
  std::vector<decltype(b())> bs;
  for (int i = 0; i < std::max(1, repeat); ++i) {
    as.push_back(a());
    if (!as.back().error.empty()) return std::pair{as.back(), b()};
    bs.push_back(b());
  }
  const auto by_rate = [](const auto& x, const auto& y) {
    return x.bytes_per_cpu_s() < y.bytes_per_cpu_s();
  };
  std::sort(as.begin(), as.end(), by_rate);
  std::sort(bs.begin(), bs.end(), by_rate);
  return std::pair{as[as.size() / 2], bs[bs.size() / 2]};
}

struct Options {
  bool json = false;
  bool quick = false;
  std::string only = "send_path,e2e,lwip,scale,tap";
  std::string bytes;  // override the bytes per run
  double linux_seconds = 5;
  int repeat = 3;  // sendpath, memcpy and lwIP runs per figure (the median is reported)
  bool no_linux = false;
  std::string match;  // run only the figures whose name contains this
};

bool matches(const Options& o, const std::string& name) {
  return o.match.empty() || name.find(o.match) != std::string::npos;
}

bool wanted(const Options& o, const std::string& what) {
  std::stringstream ss(o.only);
  for (std::string item; std::getline(ss, item, ',');)
    if (item == what || item == "all") return true;
  return false;
}

void send_path_figures(const Options& o, std::uint64_t bytes, std::vector<Figure>& out) {
  struct Cfg {
    const char* name;
    bool tso, csum;
  };
  for (const Cfg& c :
       {Cfg{"tso", true, true}, Cfg{"sg_csum", false, true}, Cfg{"sw_csum", false, false}}) {
    for (std::uint32_t ws : {1024u, 16384u, 65536u}) {
      const std::string name = fmt::format("send_path/{}/write_{}k", c.name, ws / 1024);
      if (!matches(o, name)) continue;
      bench::SendPathOptions so;
      so.bytes = bytes;
      so.write_size = ws;
      so.tso = c.tso;
      so.csum_offload = c.csum;
      const auto [r, m] = median_runs_interleaved(
          o.repeat, [&] { return bench::run_send_path(so); },
          [&] { return bench::run_memcpy(bytes, ws); });
      Figure f;
      f.name = name;
      f.value = r.bytes_per_cpu_s();
      f.reference =
          Reference{fmt::format("memcpy/{}k_chunks", ws / 1024), m.bytes_per_cpu_s(), "B/cpu-s"};
      f.note = fmt::format("MSS 1448, {}; sink ACKs every frame",
                           c.tso    ? "TSO + checksum offload"
                           : c.csum ? "no TSO, checksum offload"
                                    : "no TSO, checksums in software");
      f.error = r.error;
      f.more = {{"bytes", static_cast<double>(r.bytes)},
                {"cpu_s", r.cpu_s},
                {"wall_s", r.wall_s},
                {"frames", static_cast<double>(r.frames)},
                {"acks", static_cast<double>(r.acks)},
                {"sends", static_cast<double>(r.sends)},
                {"memcpy_cpu_s", m.cpu_s}};
      out.push_back(std::move(f));
    }
  }
}

// The Linux veth runs, made once per invocation and shared by the e2e and
// tap figures.
const tools::LinuxVethRun& linux_veth(const Options& o, bool offloads) {
  static std::optional<tools::LinuxVethRun> runs[2];
  auto& r = runs[offloads ? 1 : 0];
  if (!r) {
    if (o.no_linux) {
      r.emplace();
      r->skipped = "--no-linux";
    } else {
      r = tools::run_linux_veth(offloads, o.linux_seconds);
    }
  }
  return *r;
}

void tap_figures(const Options& o, std::uint64_t bytes, std::vector<Figure>& out) {
  if (!matches(o, "tap/")) return;
  const tools::TapRun t = tools::run_tap_path(bytes);
  const tools::LinuxVethRun& l = linux_veth(o, true);
  const std::string how =
      "sendpath on a tap (TSO, checksum offload, vnet header) sending to a Linux reader thread in "
      "a namespace "
      "of the bench's";
  for (bool goodput : {true, false}) {
    Figure f;
    f.name = goodput ? "tap/goodput" : "tap/bytes_per_cpu_s";
    f.unit = goodput ? "B/s" : "B/cpu-s";
    if (!t.skipped.empty()) {
      // Without root or a tap there is no figure at all, only the reason.
      fmt::print(stderr, "{}: skipped: {}\n", f.name, t.skipped);
      continue;
    }
    f.value = goodput ? (t.wall_s > 0 ? t.bytes / t.wall_s : 0)
                      : (t.cpu_s() > 0 ? t.bytes / t.cpu_s() : 0);
    if (!t.pattern_ok) f.error = "the Linux reader's pattern check failed";
    f.note =
        how + (goodput
                   ? std::string("; wall time from the first send() to the reader's end of stream")
                   : std::string("; CPU: sendpath's thread (Linux's receive softirqs run in it "
                                 "when it writes the tap) + the reader's thread + ksoftirqd"));
    if (l.skipped.empty()) {
      f.reference = goodput ? Reference{"linux_veth/offloads_goodput", l.bytes / l.seconds, "B/s"}
                            : Reference{"linux_veth/offloads", l.bytes_per_cpu_s(), "B/cpu-s"};
      f.note += "; Linux: the iperf3 veth run of e2e/tso_gro";
    } else {
      f.note += "; Linux reference skipped: " + l.skipped;
    }
    f.more = {{"bytes", static_cast<double>(t.bytes)}, {"wall_s", t.wall_s},
              {"sender_cpu_s", t.sender_cpu_s},        {"reader_cpu_s", t.reader_cpu_s},
              {"ksoftirqd_cpu_s", t.ksoftirqd_cpu_s},  {"pattern_ok", t.pattern_ok ? 1.0 : 0.0}};
    out.push_back(std::move(f));
  }
}

Figure two_stack_figure(const Options& o, const std::string& name, std::uint64_t bytes,
                        bool tso_gro, bool csum) {
  bench::TwoStackOptions to;
  to.bytes = bytes;
  to.tso_gro = tso_gro;
  to.csum_offload = csum;
  const bench::TwoStackRun r = median_run(o.repeat, [&] { return bench::run_two_stacks(to); });
  Figure f;
  f.name = name;
  f.value = r.bytes_per_cpu_s();
  f.error = r.error;
  if (r.error.empty() && !r.pattern_ok) f.error = "pattern check failed: the payload was corrupted";
  f.more = {{"bytes", static_cast<double>(r.bytes)},
            {"cpu_s", r.cpu_s},
            {"wall_s", r.wall_s},
            {"pattern_ok", r.pattern_ok ? 1.0 : 0.0},
            {"verified_bytes", static_cast<double>(r.verified)},
            {"verify_s", r.verify_s},
            {"segments_out", static_cast<double>(r.segments_out)},
            {"link_frames", static_cast<double>(r.frames)},
            {"rcv_collapsed", static_cast<double>(r.rcv_collapsed)},
            {"prune_called", static_cast<double>(r.prune_called)}};
  return f;
}

void e2e_figures(const Options& o, std::uint64_t bytes, std::vector<Figure>& out) {
  for (bool off : {true, false}) {
    if (!matches(o, off ? "e2e/tso_gro" : "e2e/no_tso_gro")) continue;
    Figure f = two_stack_figure(o, off ? "e2e/tso_gro" : "e2e/no_tso_gro", bytes, off, true);
    const tools::LinuxVethRun l = linux_veth(o, off);
    std::string what = off ? "TSO/GSO/GRO on" : "TSO/GSO/GRO off";
    f.note = fmt::format(
        "both stacks in one thread, SimLink without rate or delay ({}, checksum offload on as on "
        "veth); "
        "payload checked by memcmp against the pattern, outside the CPU time",
        off ? "TSO skbs cross whole: GRO-sized receive" : "MSS frames");
    if (l.skipped.empty()) {
      f.reference = Reference{fmt::format("linux_veth/{}", off ? "offloads" : "no_offloads"),
                              l.bytes_per_cpu_s(), "B/cpu-s"};
      f.more.push_back({"linux_bytes", static_cast<double>(l.bytes)});
      f.more.push_back({"linux_seconds", l.seconds});
      f.more.push_back({"linux_sender_cpu_pct", l.host_cpu_pct});
      f.more.push_back({"linux_receiver_cpu_pct", l.remote_cpu_pct});
      f.more.push_back({"linux_ksoftirqd_cpu_s", l.ksoftirqd_cpu_s});
      f.more.push_back({"linux_cpu_s", l.cpu_s});
      f.more.push_back({"linux_system_busy_cpu_s", l.system_cpu_s});
      f.note += fmt::format(
          "; Linux: iperf3 (CUBIC) over veth between two namespaces, {}, CPU = sender + "
          "receiver process time + ksoftirqd threads (softirq work in the iperf3s' context is in "
          "their own time)",
          what);
    } else {
      f.note += "; Linux reference skipped: " + l.skipped;
    }
    out.push_back(std::move(f));
  }
}

void lwip_figure(const Options& o, std::uint64_t bytes, std::vector<Figure>& out) {
  if (!matches(o, "e2e_vs_lwip/sw_csum")) return;
  Figure f = two_stack_figure(o, "e2e_vs_lwip/sw_csum", bytes, false, false);
  const tools::LwipRun l = median_run(o.repeat, [&] { return tools::run_lwip(bytes); });
  f.note =
      "sendpath: two stacks over the SimLink, no TSO/GRO, checksums in software (lwIP has no "
      "offloads)";
  if (l.skipped.empty()) {
    f.reference = Reference{"lwip_2.1.3", l.bytes_per_cpu_s(), "B/cpu-s"};
    f.note += "; lwIP: " + l.note;
    f.more.push_back({"lwip_bytes", static_cast<double>(l.bytes)});
    f.more.push_back({"lwip_cpu_s", l.cpu_s});
    f.more.push_back({"lwip_pattern_ok", l.pattern_ok ? 1.0 : 0.0});
    f.more.push_back({"lwip_wall_s", l.wall_s});
    f.more.push_back({"lwip_idle_waits", static_cast<double>(l.idle_waits)});
    if (!l.pattern_ok) f.error += "lwIP's payload failed the pattern check";
  } else {
    f.note += "; lwIP reference skipped: " + l.skipped;
  }
  out.push_back(std::move(f));
}

void scale_figures(const Options& o, std::vector<Figure>& out) {
  const std::vector<std::uint32_t> sizes =
      o.quick ? std::vector<std::uint32_t>{100, 1000}
              : std::vector<std::uint32_t>{100, 300, 1000, 3000, 10000, 30000, 100000};
  const std::uint32_t acks = o.quick ? 50 : 2000;
  const auto name_of = [](std::uint32_t n) { return fmt::format("scale/sack_ack/inflight_{}", n); };
  // The smallest window is every other size's reference: run it when any
  // size is wanted, and run no other size that --match leaves out.
  if (std::none_of(sizes.begin(), sizes.end(),
                   [&](std::uint32_t n) { return matches(o, name_of(n)); }))
    return;
  double base = 0;
  for (std::uint32_t n : sizes) {
    const std::string name = name_of(n);
    if (n != sizes.front() && !matches(o, name)) continue;
    // Small windows give few ACKs per connection: sum connections until
    // `acks` ACKs were timed.
    const auto enough_acks = [&] {
      bench::SackScaleRun sum;
      for (int i = 0; i < 1000 && sum.acks < acks; ++i) {
        const bench::SackScaleRun r = bench::run_sack_scale(n, acks - sum.acks);
        if (!r.error.empty()) return r;
        const std::uint32_t total = sum.acks + r.acks;
        const double cpu = sum.cpu_s + r.cpu_s;
        sum = r;
        sum.acks = total;
        sum.cpu_s = cpu;
      }
      return sum;
    };
    const bench::SackScaleRun r = median_run(o.repeat, enough_acks);
    if (n == sizes.front()) base = r.ns_per_ack();
    if (!matches(o, name)) continue;
    Figure f;
    f.name = name;
    f.unit = "ns/ack";
    f.value = r.ns_per_ack();
    f.error = r.error;
    if (n != sizes.front())
      f.reference =
          Reference{fmt::format("scale/sack_ack/inflight_{}", sizes.front()), base, "ns/ack"};
    else
      f.note = "the reference of the larger windows (skipped: a figure is not its own reference)";
    f.note += (f.note.empty() ? "" : "; ") +
              std::string(
                  "one stack, no TSO, MSS 1448; the first segment lost, each ACK a duplicate "
                  "whose SACK block grows by one segment; CPU of the ACKs after the first 20");
    f.more = {{"inflight", static_cast<double>(n)},
              {"acks", static_cast<double>(r.acks)},
              {"cpu_s", r.cpu_s},
              {"tcpi_sacked", static_cast<double>(r.sacked)},
              {"tcpi_unacked", static_cast<double>(r.unacked)},
              {"tcpi_ca_state", static_cast<double>(r.ca_state)}};
    out.push_back(std::move(f));
  }
}

// Linux's memory for one established TCP socket with nothing queued: the
// slab objects it holds (struct tcp_sock, the socket inode, the file, the
// dentry), from this kernel's /proc/slabinfo. A lower bound: hash buckets,
// bind buckets and the fd table are left out.
std::optional<double> linux_socket_objects(std::string* what) {
  std::ifstream f("/proc/slabinfo");
  if (!f) return std::nullopt;
  double sum = 0;
  int found = 0;
  for (std::string line; std::getline(f, line);) {
    std::istringstream in(line);
    std::string name;
    double active = 0, num = 0, objsize = 0;
    in >> name >> active >> num >> objsize;
    for (const char* want : {"TCP", "sock_inode_cache", "filp", "dentry"}) {
      if (name == want) {
        sum += objsize;
        ++found;
        *what += fmt::format("{}{} {}", what->empty() ? "" : " + ", name, objsize);
      }
    }
  }
  if (found != 4) return std::nullopt;
  return sum;
}

void conn_figures(const Options& o, std::vector<Figure>& out) {
  if (!matches(o, "scale/conn_memory") && !matches(o, "scale/conn_setup") &&
      !matches(o, "scale/conn_teardown"))
    return;
  const std::uint32_t n = o.quick ? 500 : 10000;
  const bench::ConnScaleRun r = median_run(o.repeat, [&] { return bench::run_conn_scale(n); });
  const std::string count = fmt::format("{} connections between two stacks over the SimLink", n);
  tools::LinuxConnRun l;
  if (o.no_linux)
    l.skipped = "--no-linux";
  else
    l = tools::run_linux_conns(n);
  const std::string linux_how =
      "Linux: one thread in a namespace of the bench's connecting to and accepting from its "
      "loopback, CPU of that thread (softirqs included) + ksoftirqd";
  if (matches(o, "scale/conn_memory")) {
    Figure f;
    f.name = "scale/conn_memory";
    f.unit = "B/socket";
    f.value = r.bytes_per_socket;
    f.error = r.error;
    std::string what;
    const std::optional<double> objects = linux_socket_objects(&what);
    f.more = {{"conns", static_cast<double>(n)}};
    if (objects) f.more.push_back({"linux_socket_objects_bytes", *objects});
    if (l.skipped.empty()) {
      f.reference = Reference{"linux_slab_growth", l.bytes_per_socket, "B/socket"};
      f.more.push_back({"linux_conns", static_cast<double>(l.conns)});
      f.note = count +
               "; heap in use per established socket, both ends; Linux: growth of the TCP, "
               "sock_inode_cache, filp and dentry slabs per socket over " +
               fmt::format("{}", l.conns) +
               " loopback connections in a namespace (objects: " + what + ")";
    } else {
      f.note = count + "; Linux reference skipped: " + l.skipped;
    }
    out.push_back(std::move(f));
  }
  for (bool setup : {true, false}) {
    const char* name = setup ? "scale/conn_setup" : "scale/conn_teardown";
    if (!matches(o, name)) continue;
    Figure f;
    f.name = name;
    f.unit = "conn/cpu-s";
    const double cpu = setup ? r.setup_cpu_s : r.teardown_cpu_s;
    f.value = cpu > 0 ? n / cpu : 0;
    f.error = r.error;
    f.note =
        count +
        (setup ? "; from the first connect() to the last accept()"
               : "; from the first close() until no socket is left (TIME_WAIT on virtual time)");
    f.more = {{"conns", static_cast<double>(n)}, {"cpu_s", cpu}};
    const double lcpu = setup ? l.setup_cpu_s : l.teardown_cpu_s;
    if (l.skipped.empty() && lcpu > 0) {
      f.reference = Reference{setup ? "linux_loopback/setup" : "linux_loopback/teardown", n / lcpu,
                              "conn/cpu-s"};
      f.note += "; " + linux_how +
                (setup ? "" : "; until the last close() returns (TIME_WAIT left to the kernel)");
      f.more.push_back({"linux_cpu_s", lcpu});
    } else {
      f.note += "; Linux reference skipped: " +
                (l.skipped.empty() ? std::string("no time measured") : l.skipped);
    }
    out.push_back(std::move(f));
  }
}

sp::tools::Command cmd(
    "bench", "measure bytes per CPU-second beside references from the same run", [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_flag("--json", o->json, "one JSON object per figure, in an array");
      sub.add_flag("--quick", o->quick, "short runs (a smoke check, not a measurement)");
      sub.add_option("--only", o->only, "comma-separated: send_path, e2e, lwip, scale, tap, all")
          ->capture_default_str();
      sub.add_option("--match", o->match,
                     "only the figures whose name contains this (profiling one)");
      sub.add_option("--bytes", o->bytes, "bytes per sendpath run (default 1G, 16M with --quick)");
      sub.add_option("--repeat", o->repeat,
                     "runs per sendpath, memcpy and lwIP figure; the median is shown")
          ->capture_default_str();
      sub.add_flag("--no-linux", o->no_linux,
                   "leave out the Linux reference (profiling sendpath alone)");
      sub.add_option("--linux-seconds", o->linux_seconds, "iperf3 -t for the Linux reference")
          ->capture_default_str();
      return [o] {
        std::uint64_t bytes = o->quick ? 16ull << 20 : 1ull << 30;
        if (!o->bytes.empty()) {
          auto b = sp::tools::parse_size(o->bytes);
          if (!b) {
            fmt::print(stderr, "bad --bytes {}\n", o->bytes);
            return 2;
          }
          bytes = *b;
        }
        if (o->quick) {
          o->linux_seconds = 1;
          o->repeat = 1;
        }
        std::vector<Figure> figs;
        if (wanted(*o, "send_path")) send_path_figures(*o, bytes, figs);
        if (wanted(*o, "e2e")) e2e_figures(*o, bytes, figs);
        if (wanted(*o, "tap")) tap_figures(*o, bytes, figs);
        if (wanted(*o, "scale")) {
          scale_figures(*o, figs);
          conn_figures(*o, figs);
        }
        if (wanted(*o, "lwip")) lwip_figure(*o, o->quick ? bytes : bytes / 4, figs);
        if (o->json) {
          fmt::print("[\n");
          for (std::size_t i = 0; i < figs.size(); ++i)
            fmt::print("  {}{}\n", to_json(figs[i]), i + 1 < figs.size() ? "," : "");
          fmt::print("]\n");
        } else {
          fmt::print("{:<34} {:>18} {:<22} {:>18} {:>7}\n", "figure", "value", "reference", "",
                     "ratio");
          for (const Figure& f : figs) {
            fmt::print("{:<34} {:>18} {:<22} {:>18} {:>7}\n", f.name, shown(f.value, f.unit),
                       f.reference ? f.reference->name : "-",
                       f.reference ? shown(f.reference->value, f.reference->unit) : "-",
                       f.reference ? fmt::format("{:.2f}", f.ratio()) : "-");
            if (!f.error.empty()) fmt::print("  error: {}\n", f.error);
          }
          for (const Figure& f : figs)
            if (!f.reference) fmt::print("{}: {}\n", f.name, f.note);
        }
        for (const Figure& f : figs)
          if (!f.error.empty()) return 1;
        return 0;
      };
    });

}  // namespace
