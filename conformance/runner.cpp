// The packetdrill runner (see runner.hpp). The structure follows packetdrill's
// run.c (event loop, times), run_packet.c (inbound packets mapped from script
// space, outbound packets mapped back and verified) and run_system_call.c
// (arguments, results, errnos); time is the stack's VirtualClock, so a script
// that covers a minute of TCP runs in milliseconds and identically each time.
#include "runner.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>

#include "commands.hpp"
#include "core/mib.hpp"
#include "core/stack.hpp"
#include "core/sysctl.hpp"
#include "packet.hpp"
#include "parser.hpp"
#include "pyeval.hpp"
#include "script_device.hpp"
#include "symbols.hpp"

namespace sp::drill {

namespace {

// packetdrill's default addresses (config.c): the stack under test is
// 192.168.0.1 on the tun device, the remote end 192.0.2.1 behind the
// gateway 192.168.0.2; scripts bind and connect to port 8080.
constexpr std::uint32_t kLocalIp = 0xC0A80001;    // 192.168.0.1
constexpr std::uint32_t kGatewayIp = 0xC0A80002;  // 192.168.0.2
constexpr std::uint32_t kRemoteIp = 0xC0000201;   // 192.0.2.1
constexpr std::uint16_t kScriptPort = 8080;
constexpr std::uint16_t kRemoteEphemeralPort = 48123;
// The virtual clock starts away from zero so "time 0" never looks like
// "never happened" to the stack.
constexpr Nanos kClockStart = 10 * kNsPerSec;

// What Sysctl::set says when it refuses a value it has no behaviour for.
constexpr std::string_view kNotImplemented = "not implemented in sendpath";

// Thrown inside the runner only (never through the stack) to end a script.
struct Stop {
  ScriptResult::Kind kind;
  int line;
  std::string reason;
};

std::string secs(std::int64_t usecs) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(usecs) / 1e6);
  return buf;
}

class Runner {
 public:
  Runner(const Script& s, const RunnerConfig& cfg) : s_(s), cfg_(cfg) {}

  ScriptResult run() {
    ScriptResult r;
    try {
      configure();
      setup();
      for (idx_ = 0; idx_ < s_.events.size();) run_next_event(false);
    } catch (const Stop& st) {
      r.kind = st.kind;
      r.line = st.line;
      r.reason = st.reason;
    }
    if (stack_) r.virtual_secs = static_cast<double>(script_now()) / 1e6;
    // A pass or a failure that relied on a defaults.sh knob sendpath refused
    // is neither: the script is unsupported, naming the knob.
    if (stack_ && r.kind != ScriptResult::Kind::kUnsupported) {
      if (auto why = refused_default_exercised()) {
        r.kind = ScriptResult::Kind::kUnsupported;
        r.reason = *why;
      }
    }
    // packetdrill's own sanity scripts declare the failure they end with.
    if (r.kind == ScriptResult::Kind::kFail) {
      for (const auto& d : s_.declared_failures) {
        if (d.line == r.line && matches_declared(d.message, r.reason)) {
          r.kind = ScriptResult::Kind::kPass;
          r.failed_as_declared = true;
          r.reason = "failed as declared: " + r.reason;
        }
      }
    } else if (r.kind == ScriptResult::Kind::kPass && !s_.declared_failures.empty()) {
      r.kind = ScriptResult::Kind::kFail;
      r.line = s_.declared_failures[0].line;
      r.reason = "script declares a failure (" + s_.declared_failures[0].message +
                 ") but ran to the end without it";
    }
    // The outcome is known before the stack is destroyed, so a crash while
    // tearing it down cannot hide it (the isolated runner reports both).
    if (cfg_.on_result) cfg_.on_result(r);
    teardown();
    return r;
  }

 private:
  // --- configuration -----------------------------------------------------------
  [[noreturn]] void unsupported(int line, const std::string& what) {
    throw Stop{ScriptResult::Kind::kUnsupported, line, what};
  }
  [[noreturn]] void fail(int line, const std::string& what) {
    throw Stop{ScriptResult::Kind::kFail, line, what};
  }

  static bool matches_declared(const std::string& declared, const std::string& actual) {
    std::string plain;
    for (size_t i = 0; i < declared.size(); ++i) {
      if (declared[i] == '\\' && i + 1 < declared.size()) continue;
      plain += declared[i];
    }
    return actual.find(plain) != std::string::npos;
  }

  void configure() {
    for (const ScriptOption& o : s_.options) {
      auto num = [&]() -> long long {
        char* end = nullptr;
        long long v = std::strtoll(o.value.c_str(), &end, 10);
        if (o.value.empty() || *end)
          unsupported(o.line, "script option --" + o.name + "=" + o.value);
        return v;
      };
      if (o.name == "tolerance_usecs") {
        tol_.tolerance_usecs = num();
      } else if (o.name == "tolerance_percent") {
        tol_.tolerance_percent = std::strtod(o.value.c_str(), nullptr);
      } else if (o.name == "tcp_ts_tick_usecs") {
        tol_.tcp_ts_tick_usecs = static_cast<int>(num());
      } else if (o.name == "mss") {
        dev_cfg_.rx_gso_size = static_cast<std::uint16_t>(num());
      } else if (o.name == "mtu") {
        dev_cfg_.mtu = static_cast<std::uint32_t>(num());
      } else if (o.name == "strict_segments") {
        dev_cfg_.tso = false;
      } else {
        unsupported(o.line, "script option --" + o.name);
      }
    }
    script_dir_ = std::filesystem::path(s_.path).parent_path().string();
    if (script_dir_.empty()) script_dir_ = ".";
    // Every command is checked before anything runs: a script that needs a
    // shell command the runner cannot do is unsupported, not half-run.
    if (s_.init_command) {
      init_plan_ = plan_command(*s_.init_command, script_dir_);
      if (init_plan_.unsupported) unsupported(s_.init_command_line, *init_plan_.unsupported);
    }
    for (const Event& e : s_.events) {
      if (e.type == EventType::kCommand) {
        CommandPlan p = plan_command(e.text, script_dir_);
        if (p.unsupported) unsupported(e.line, *p.unsupported);
      } else if (e.type == EventType::kSyscall && !known_syscall(e.syscall.name)) {
        unsupported(e.line, "system call " + e.syscall.name + "()");
      }
    }
    if (!cfg_.make_target) unsupported(0, "no system under test (socket API) available");
  }

  static bool known_syscall(const std::string& n) {
    static const char* const names[] = {
        "socket",   "bind",    "listen",     "accept",       "connect",   "read",
        "write",    "writev",  "send",       "sendto",       "sendmsg",   "recv",
        "recvfrom", "recvmsg", "setsockopt", "getsockopt",   "close",     "shutdown",
        "fcntl",    "ioctl",   "poll",       "epoll_create", "epoll_ctl", "epoll_wait"};
    for (const char* k : names)
      if (n == k) return true;
    return false;
  }

  void setup() {
    clock_ = std::make_unique<VirtualClock>(kClockStart);
    stack_ = std::make_unique<Stack>(*clock_);
    auto dev = std::make_unique<ScriptDevice>(*clock_, dev_cfg_);
    dev_ = dev.get();
    int ifindex = stack_->register_netdev(std::move(dev));
    stack_->add_address(ifindex, htonl(kLocalIp), 16);
    stack_->add_route(0, 0, htonl(kGatewayIp), ifindex);
    // packetdrill routes the remote host through the tun device
    // (route_traffic_to_device), which `ip route change` then modifies.
    stack_->add_route(htonl(kRemoteIp), 32, htonl(kGatewayIp), ifindex);
    apply_sysctls(init_plan_, s_.init_command_line);
    stack_->set_wait_driver([this](Nanos deadline) { drive(deadline); });
    target_ = cfg_.make_target(*stack_);
    if (!target_) unsupported(0, "no system under test (socket API) available");
  }

  void teardown() {
    if (stack_) stack_->set_wait_driver({});
    target_.reset();
    stack_.reset();
    dev_ = nullptr;
    clock_.reset();
  }

  void apply_sysctls(const CommandPlan& plan, int line) {
    for (const SysctlAssignment& a : plan.sysctls) {
      std::string err = stack_->sysctl().set(a.name, a.value);
      if (!err.empty()) {
        // defaults.sh runs each line on its own, and Linux ignores a sysctl
        // its kernel does not have (tcp_fack, long gone); a script's own
        // sysctl is a behaviour it asks for, so there it is unsupported.
        if (a.from_defaults) {
          note("defaults.sh: " + a.name + "=" + a.value + " ignored: " + err);
          if (Sysctl().get(a.name)) refused_defaults_.push_back(a);
          continue;
        }
        // A refusal names the knob and the feature sendpath lacks.
        unsupported(line, err.find(kNotImplemented) != std::string::npos
                              ? err
                              : "sysctl " + a.name + "=" + a.value + ": " + err);
      }
      note("sysctl " + a.name + "=" + a.value);
    }
    for (const std::string& i : plan.ignored) note("ignored command: " + i);
    for (const RouteChange& rc : plan.routes) {
      RouteMetrics m;
      m.advmss = rc.advmss;
      m.mtu = rc.mtu;
      m.mtu_locked = rc.mtu_lock;
      m.initcwnd = rc.initcwnd;
      if (stack_->change_route(htonl(rc.dst), rc.prefix_len, htonl(rc.gateway), dev_->ifindex, m))
        fail(line, "ip route change: RTNETLINK answers: No such file or directory");
      note("route changed: advmss " + std::to_string(rc.advmss) + " mtu " +
           (rc.mtu_lock ? "lock " : "") + std::to_string(rc.mtu) + " initcwnd " +
           std::to_string(rc.initcwnd));
    }
    if (plan.offloads_off) {
      dev_->set_offloads(false);
      note("ethtool: tun0 gso/tso off");
    }
    for (DeviceAction a : plan.device) {
      dev_->set_drop_all(a == DeviceAction::kQdiscDropAll);
      dev_->set_fq(a == DeviceAction::kQdiscFq);
      note(a == DeviceAction::kQdiscDropAll ? "qdisc: pfifo limit 0 (every transmit is refused)"
           : a == DeviceAction::kQdiscFq    ? "qdisc: fq (packets leave at their departure time)"
                                            : "qdisc: pfifo");
    }
  }

  // defaults.sh configures every script, so a value sendpath refuses there
  // (tcp_fastopen=0x70403) does not stop the script; it
  // makes it unsupported only if the script reaches what the knob governs.
  std::optional<std::string> refused_default_exercised() const {
    for (const SysctlAssignment& a : refused_defaults_) {
      std::string name = a.name;
      for (char& c : name)
        if (c == '/') c = '.';
      const std::string knob =
          "defaults.sh's " + name + "=" + a.value + ", which sendpath refuses: ";
      if (name == "net.ipv4.tcp_fastopen") {
        // Fast Open options in packets are refused by the parser; calls ask
        // for it by name.
        for (const Event& e : s_.events) {
          if (e.type != EventType::kSyscall) continue;
          for (const ExprPtr& x : e.syscall.args)
            if (x && x->to_string().find("FASTOPEN") != std::string::npos)
              return name + ": " + knob + "line " + std::to_string(e.line) + " asks for Fast Open";
        }
      }
    }
    return std::nullopt;
  }

  void note(const std::string& m) {
    if (cfg_.verbose && cfg_.log) *cfg_.log << "    " << m << "\n";
  }

  // --- time ---------------------------------------------------------------------
  std::int64_t script_now() const {
    return static_cast<std::int64_t>((clock_->now_ns() - kClockStart) / kNsPerUs);
  }
  Nanos live_ns(std::int64_t script_usecs) const {
    return kClockStart + static_cast<Nanos>(std::max<std::int64_t>(0, script_usecs)) * kNsPerUs;
  }
  Nanos latency_ns() const { return static_cast<Nanos>(cfg_.event_latency_us) * kNsPerUs; }
  // When the stack sees an event the script schedules at `start`: as
  // packetdrill's wait_for_event, the runner waits until then (or goes on at
  // once when already late, or still busy with the event before), and the
  // packet or call reaches the stack one event latency after that.
  Nanos act_ns(std::int64_t start) const {
    return std::max({live_ns(start), clock_->now_ns(), live_ns(last_event_us_)}) + latency_ns();
  }

  // Runs the stack until it is idle at the current time (bounded).
  void settle() {
    for (int i = 0; i < 10000; ++i)
      if (stack_->poll() == 0) break;
  }

  // The next instant something is due: a stack timer or a packet the fq
  // qdisc holds.
  Nanos next_wakeup() const { return std::min(stack_->next_timer_expiry(), dev_->next_release()); }

  // Moves virtual time forward to `t`, firing every timer on the way at its
  // own time. If stop_on_packet, returns early (true) once a packet is sent.
  bool advance_to(Nanos t, bool stop_on_packet) {
    settle();
    if (stop_on_packet && !dev_->sent().empty()) return true;
    for (int guard = 0; guard < 10000000; ++guard) {
      Nanos next = next_wakeup();
      if (next == Stack::kNoTimer || next > t) break;
      const bool stuck = next <= clock_->now_ns();
      clock_->advance_to(next);
      settle();
      // Something due now that polling did not clear: leave it to the
      // final step rather than spin.
      if (stuck && next_wakeup() <= clock_->now_ns()) break;
      if (stop_on_packet && !dev_->sent().empty()) return true;
    }
    clock_->advance_to(t);
    settle();
    return stop_on_packet && !dev_->sent().empty();
  }

  // packetdrill's verify_time(): expected time (or range) vs actual.
  std::optional<std::string> check_time(const Event& e, std::int64_t start, std::int64_t end,
                                        std::int64_t actual, const char* what) {
    if (e.time.type == TimeType::kAny) return std::nullopt;
    std::int64_t tol = tolerance_for(start);
    if (end >= 0) {
      if (actual < start - tol || actual > end + tol) {
        return std::string("timing error: expected ") + what + " in time range " + secs(start) +
               "~" + secs(end) + " sec but happened at " + secs(actual) + " sec; tolerance " +
               secs(tol) + " sec";
      }
      return std::nullopt;
    }
    if (std::llabs(actual - start) > tol) {
      return std::string("timing error: expected ") + what + " at " + secs(start) +
             " sec but happened at " + secs(actual) + " sec; tolerance " + secs(tol) + " sec";
    }
    return std::nullopt;
  }
  std::int64_t tolerance_for(std::int64_t expected) const {
    std::int64_t tol = tol_.tolerance_usecs;
    if (tol_.tolerance_percent > 0) {
      std::int64_t delta = expected - last_event_us_;
      tol = std::max<std::int64_t>(
          tol, static_cast<std::int64_t>(std::llround(delta * tol_.tolerance_percent / 100.0)));
    }
    return tol;
  }

  // Scheduled script time of an event (and the end of its range), from the
  // time of the event before it: the runner's clock when that event was done
  // or, for an inbound packet right after an inbound packet, that packet's
  // scheduled time (run.c is_event_start_time_anchored: a train of inbound
  // packets does not gather the host's latency).
  std::pair<std::int64_t, std::int64_t> event_times(const Event& e) const {
    const bool anchored = e.type == EventType::kPacket && e.packet.inbound && inbound_anchor_us_;
    const std::int64_t base = anchored ? *inbound_anchor_us_ : last_event_us_;
    switch (e.time.type) {
      case TimeType::kAbsolute:
        return {e.time.usecs, -1};
      case TimeType::kRelative:
        return {base + e.time.usecs, -1};
      case TimeType::kAbsoluteRange:
        return {e.time.usecs, e.time.usecs_end};
      case TimeType::kRelativeRange:
        return {base + e.time.usecs, base + e.time.usecs_end};
      case TimeType::kAny:
        return {script_now(), -1};
    }
    return {0, -1};
  }

  // --- events -------------------------------------------------------------------
  void run_next_event(bool inside_blocking_call) {
    const Event& e = s_.events[idx_++];
    if (cfg_.on_event) cfg_.on_event(e.line);
    auto [start, end] = event_times(e);
    if (cfg_.verbose && cfg_.log) {
      *cfg_.log << secs(start) << " line " << e.line << ": " << describe_event(e) << "\n";
    }
    const bool inbound = e.type == EventType::kPacket && e.packet.inbound;
    if (!inbound) inbound_anchor_us_.reset();
    switch (e.type) {
      case EventType::kPacket:
        if (inbound) {
          advance_to(act_ns(start), false);
          inject(e);
          last_event_us_ = std::max(start, script_now());
          inbound_anchor_us_ = start;
          settle();
        } else {
          outbound(e, start, end);
        }
        break;
      case EventType::kSyscall:
        if (inside_blocking_call) {
          fail(e.line, "a system call cannot start while another one is blocked");
        }
        {
          advance_to(act_ns(start), false);
          // A blocking call's end time counts from the same point as its
          // start (run.c adjust_relative_event_times).
          std::int64_t offset = e.time.type == TimeType::kAbsolute ? 0 : last_event_us_;
          last_event_us_ = std::max(start, script_now());
          syscall(e, offset);
          break;
        }
      case EventType::kCommand: {
        advance_to(act_ns(start), false);
        last_event_us_ = std::max(start, script_now());
        CommandPlan p = plan_command(e.text, script_dir_);
        apply_sysctls(p, e.line);
        break;
      }
      case EventType::kCode:
        advance_to(act_ns(start), false);
        last_event_us_ = std::max(start, script_now());
        code(e);
        break;
    }
  }

  std::string describe_event(const Event& e) const {
    switch (e.type) {
      case EventType::kPacket:
        return std::string(e.packet.inbound ? "< " : "> ") + e.packet.flags + " " +
               std::to_string(e.packet.start_seq) + ":" +
               std::to_string(e.packet.start_seq + e.packet.payload_len) + "(" +
               std::to_string(e.packet.payload_len) + ")";
      case EventType::kSyscall: {
        std::string s = e.syscall.name + "(";
        for (size_t i = 0; i < e.syscall.args.size(); ++i)
          s += (i ? ", " : "") + e.syscall.args[i]->to_string();
        s += ") = " + e.syscall.result->to_string();
        if (!e.syscall.errno_name.empty()) s += " " + e.syscall.errno_name;
        return s;
      }
      case EventType::kCommand:
        return "`" + e.text + "`";
      case EventType::kCode:
        return "%{ ... }%";
    }
    return "";
  }

  // The wait driver: while a call blocks, the script goes on. Stack::wait_until
  // treats a driver call that neither moved time nor delivered a packet as
  // "nothing can happen", so events that change neither (an outbound packet
  // already sent, a %{ }% block) are run together with the next one that does.
  void drive(Nanos deadline) {
    if (failed_) return;  // no progress: the call gives up
    if (!blocking_) {
      // A call the script expects to return at once may still need the
      // stack's deferred work at the current instant; time does not move.
      settle();
      return;
    }
    for (int guard = 0; guard < 100000; ++guard) {
      Nanos t0 = clock_->now_ns();
      size_t i0 = idx_;
      drive_step(deadline);
      if (failed_ || clock_->now_ns() != t0 || idx_ == i0) return;
      const Event& done = s_.events[idx_ - 1];
      if (done.type == EventType::kPacket && done.packet.inbound) return;
      if (done.type == EventType::kCommand) return;
    }
  }

  // Runs the script's next event if it is due before the deadline; otherwise
  // lets the stack's timers run up to the deadline.
  void drive_step(Nanos deadline) {
    if (idx_ < s_.events.size() && s_.events[idx_].type != EventType::kSyscall) {
      const Event& e = s_.events[idx_];
      std::int64_t start = event_times(e).first;
      Nanos due = act_ns(start);
      if (e.type == EventType::kPacket && !e.packet.inbound) due = clock_->now_ns();
      if (due <= deadline) {
        Nanos next = next_wakeup();
        if (next != Stack::kNoTimer && next < due && next > clock_->now_ns()) {
          advance_to(next, false);
          return;
        }
        try {
          run_next_event(true);
        } catch (const Stop& st) {
          failed_ = true;
          pending_stop_ = st;
        }
        return;
      }
    }
    Nanos next = next_wakeup();
    Nanos t = std::min(next, deadline);
    if (t == Stack::kNoTimer || t == ~Nanos{0}) {
      settle();
      return;  // nothing will ever happen: the call returns
    }
    advance_to(std::max(t, clock_->now_ns()), false);
  }

  // --- packets ------------------------------------------------------------------
  void inject(const Event& e) {
    const PacketSpec& p = e.packet;
    std::uint16_t local_port = local_port_;
    if (!local_port) fail(e.line, "error handling packet: no matching socket for script packet");
    WirePacket w;
    w.saddr = kRemoteIp;
    w.daddr = kLocalIp;
    w.ttl = 64;
    w.tos = 0;
    if (p.ip_ecn) {
      const std::string& ecn = *p.ip_ecn;
      w.tos = ecn == "ect0" ? 2 : ecn == "ect1" ? 1 : ecn == "ce" ? 3 : 0;
    }
    if (p.tos) w.tos = static_cast<std::uint8_t>(*p.tos);
    w.sport = remote_port_;
    w.dport = local_port;
    w.flags = tcp_flags_from_script(p.flags);
    w.seq = p.start_seq + map_.remote_isn;
    w.ack_seq = p.ack;
    if ((w.flags & TH_ACK) && map_.local_isn_known) w.ack_seq = p.ack + map_.local_isn;
    w.window = static_cast<std::uint16_t>(p.window >= 0 ? p.window : 65535);
    w.urg_ptr = p.urg_ptr;
    w.payload_len = p.payload_len;
    std::vector<TcpOption> opts = p.options;
    for (TcpOption& o : opts) {
      if (o.kind == TcpOption::Kind::kSack && map_.local_isn_known) {
        for (auto& [l, r] : o.sack) {
          l += map_.local_isn;
          r += map_.local_isn;
        }
      }
      // The echoed timestamp refers to one the stack sent: map the script's
      // value to the live one (run_packet.c map_inbound_packet).
      if (o.kind == TcpOption::Kind::kTimestamp && (w.flags & TH_ACK)) {
        auto it = map_.ts_script_to_live.find(o.ecr);
        if (it != map_.ts_script_to_live.end()) {
          o.ecr = it->second;
        } else if (map_.ts_base_known) {
          o.ecr = o.ecr - map_.ts_script_base + map_.ts_live_base;
        } else if (o.ecr != 0) {
          fail(e.line, "error handling packet: unable to find mapping for timestamp ecr " +
                           std::to_string(o.ecr));
        }
      }
    }
    w.options = encode_tcp_options(opts);
    if (cfg_.verbose && cfg_.log)
      *cfg_.log << "    injected: " << describe_packet(w, nullptr, false) << "\n";
    dev_->inject(build_ipv4_tcp(w));
  }

  // The next packet the stack sends, waiting (in virtual time) up to
  // `deadline_us`; nullopt if none leaves by then.
  std::optional<WirePacket> next_sent(std::int64_t deadline_us) {
    if (dev_->sent().empty()) advance_to(std::max(live_ns(deadline_us), clock_->now_ns()), true);
    if (dev_->sent().empty()) return std::nullopt;
    WirePacket p = dev_->sent().front();
    dev_->sent().pop_front();
    return p;
  }

  void outbound(const Event& e, std::int64_t start, std::int64_t end) {
    std::int64_t tol = tolerance_for(start);
    std::int64_t window_end = (end >= 0 ? end : start) + tol;
    if (e.time.type == TimeType::kAny) window_end = script_now() + 3600LL * 1000000;  // no limit
    std::optional<WirePacket> first = next_sent(window_end);
    if (!first) {
      last_event_us_ = script_now();
      fail(e.line, "error handling packet: Timed out waiting for packet");
    }
    WirePacket live = *first;
    std::int64_t actual_us = static_cast<std::int64_t>((live.time_ns - kClockStart) / kNsPerUs);
    // The stack's SYN or SYN-ACK fixes its ISN: script sequence numbers on
    // its side are relative to it (packetdrill's local_isn).
    if ((live.flags & TH_SYN) && tcp_flags_from_script(e.packet.flags) & TH_SYN) {
      map_.local_isn = live.seq - e.packet.start_seq;
      map_.local_isn_known = true;
      if (!local_port_) local_port_ = live.sport;
    }
    if (cfg_.verbose && cfg_.log) {
      *cfg_.log << "    actual: " << secs(actual_us) << " " << describe_packet(live, &map_, true)
                << "\n";
    }
    // Unless --strict_segments, consecutive packets of one flight are taken
    // together until they carry the payload the script expects, as
    // packetdrill's do_outbound_script_packet aggregates them: a stack may
    // cut a burst into several TSO skbs where the script writes one. The
    // aggregate is packetdrill's aggregate_packets: the last fragment's
    // headers (flags, window, options) and time, with the first fragment's
    // sequence number and CWR bit.
    if (dev_cfg_.tso) {
      const WirePacket head = live;
      std::uint32_t total = live.payload_len;
      std::uint32_t last_len = live.payload_len;
      std::uint32_t next_seq = live.seq + live.payload_len;
      while (total < e.packet.payload_len && live.payload_len > 0) {
        std::optional<WirePacket> more = next_sent(window_end);
        if (!more) break;
        if (cfg_.verbose && cfg_.log) {
          std::int64_t t = static_cast<std::int64_t>((more->time_ns - kClockStart) / kNsPerUs);
          *cfg_.log << "    actual: " << secs(t) << " " << describe_packet(*more, &map_, true)
                    << "\n";
        }
        const bool last = more->payload_len >= e.packet.payload_len - total;
        if (more->seq != next_seq || more->ack_seq != live.ack_seq || more->payload_len == 0 ||
            (!last && more->payload_len != last_len)) {
          fail(e.line, "error handling packet: fragment of " + std::to_string(total) +
                           " bytes at " + describe_packet(live, &map_, true) + " is followed by " +
                           describe_packet(*more, &map_, true) +
                           ", which does not continue it; total payload: expected " +
                           std::to_string(e.packet.payload_len) + " bytes");
        }
        total += more->payload_len;
        last_len = more->payload_len;
        next_seq += more->payload_len;
        live = *more;
      }
      live.seq = head.seq;
      live.flags = static_cast<std::uint8_t>((live.flags & ~TH_CWR) | (head.flags & TH_CWR));
      live.payload_len = total;
      actual_us = static_cast<std::int64_t>((live.time_ns - kClockStart) / kNsPerUs);
    }
    if (live.payload_len != e.packet.payload_len) {
      last_event_us_ = actual_us;
      fail(e.line, "error handling packet: live packet payload: expected " +
                       std::to_string(e.packet.payload_len) + " bytes vs actual " +
                       std::to_string(live.payload_len) + " bytes [script packet: " + secs(start) +
                       " " + script_packet_text(e.packet) + "] [actual packet: " + secs(actual_us) +
                       " " + describe_packet(live, &map_, true) + "]");
    }
    auto err = verify_outbound(e.packet, live, map_, tol_);
    if (!err) err = check_time(e, start, end, actual_us, "outbound packet");
    // The packet is checked at the time it left (packetdrill takes the
    // packet socket's timestamp), but packetdrill is done with it, and counts
    // the next relative time from there, one event latency after it read it:
    // after the packet left and after the event before was done.
    last_event_us_ = std::max(actual_us, last_event_us_) + cfg_.event_latency_us;
    if (err) {
      fail(e.line, "error handling packet: " + *err + " [script packet: " + secs(start) + " " +
                       script_packet_text(e.packet) + "] [actual packet: " + secs(actual_us) + " " +
                       describe_packet(live, &map_, true) + "]");
    }
  }

  static std::string script_packet_text(const PacketSpec& p) {
    std::string s = p.flags + " " + std::to_string(p.start_seq) + ":" +
                    std::to_string(p.start_seq + p.payload_len) + "(" +
                    std::to_string(p.payload_len) + ")";
    if (p.has_ack_field) s += " ack " + std::to_string(p.ack);
    if (p.window >= 0) s += " win " + std::to_string(p.window);
    if (p.options_any) {
      s += " <...>";
    } else if (!p.options.empty()) {
      WirePacket w;
      w.options = encode_tcp_options(p.options);
      std::string d = describe_packet(w, nullptr, true);
      s += d.substr(d.find(" <"));
    }
    return s;
  }

  // --- system calls -------------------------------------------------------------
  [[noreturn]] void sys_fail(const Event& e, const std::string& what) {
    fail(e.line, "runtime error in " + e.syscall.name + " call: " + what);
  }
  [[noreturn]] void sys_unsupported(const Event& e, const std::string& what) {
    unsupported(e.line, e.syscall.name + "(): " + what);
  }

  std::int64_t eval_int(const Event& e, const ExprPtr& x) {
    switch (x->kind) {
      case Expr::Kind::kInt:
        return x->num;
      case Expr::Kind::kWord: {
        auto v = lookup_symbol(x->text);
        if (!v) sys_unsupported(e, "unknown symbol " + x->text);
        return *v;
      }
      case Expr::Kind::kOr:
        return eval_int(e, x->items[0]) | eval_int(e, x->items[1]);
      case Expr::Kind::kList:
        if (x->items.size() == 1) return eval_int(e, x->items[0]);
        break;
      default:
        break;
    }
    sys_unsupported(e, "expected an integer but found " + x->to_string());
  }

  const ExprPtr& arg(const Event& e, size_t i) {
    if (i >= e.syscall.args.size()) sys_fail(e, "missing argument " + std::to_string(i + 1));
    return e.syscall.args[i];
  }

  int live_fd(const Event& e, size_t i) {
    std::int64_t sfd = eval_int(e, arg(e, i));
    auto it = fds_.find(static_cast<int>(sfd));
    if (it == fds_.end()) return -9999;  // an fd the script never opened: EBADF from the target
    return it->second;
  }

  static const ExprPtr* field(const Expr& s, const std::string& name) {
    for (const ExprPtr& f : s.items)
      if (f->kind == Expr::Kind::kField && f->text == name) return &f->value;
    return nullptr;
  }

  // Checks result and errno as packetdrill does (run_system_call.c).
  void check_result(const Event& e, long live) {
    const SyscallSpec& c = e.syscall;
    if (live == -ENOSYS)
      unsupported(e.line, c.name + "(): not provided by the socket API under test");
    if (c.result->kind == Expr::Kind::kEllipsis) return;
    std::int64_t want = eval_int(e, c.result);
    if (want == -1) {
      if (live >= 0) sys_fail(e, "Expected result -1 but got " + std::to_string(live));
      if (!c.errno_name.empty()) {
        auto we = errno_from_name(c.errno_name);
        if (!we) sys_unsupported(e, "unknown errno " + c.errno_name);
        int got = static_cast<int>(-live);
        if (*we != got) {
          sys_fail(e, "Expected errno " + std::to_string(*we) + " (" + errno_text(*we) +
                          ") but got " + std::to_string(got) + " (" + errno_text(got) + ")");
        }
      }
      return;
    }
    if (live < 0) {
      int got = static_cast<int>(-live);
      if (want >= 0 && (c.name == "socket" || c.name == "accept" || c.name == "epoll_create")) {
        sys_fail(e, "Expected non-negative result but got -1 with errno " + std::to_string(got) +
                        " (" + errno_text(got) + ")");
      }
      sys_fail(e, "Expected result " + std::to_string(want) + " but got -1 with errno " +
                      std::to_string(got) + " (" + errno_text(got) + ")");
    }
    if (c.name == "socket" || c.name == "accept" || c.name == "epoll_create")
      return;  // fd numbers map
    if (want != live) {
      sys_fail(e, "Expected result " + std::to_string(want) + " but got " + std::to_string(live));
    }
  }

  void map_new_fd(const Event& e, long live) {
    if (live < 0 || e.syscall.result->kind != Expr::Kind::kInt) return;
    fds_[static_cast<int>(e.syscall.result->num)] = static_cast<int>(live);
  }

  std::vector<std::size_t> iov_lengths(const Event& e, const Expr& list) {
    std::vector<std::size_t> out;
    if (list.kind != Expr::Kind::kList)
      sys_unsupported(e, "iovec must be a list: " + list.to_string());
    for (const ExprPtr& v : list.items) {
      if (v->kind != Expr::Kind::kStruct || v->items.size() != 2)
        sys_unsupported(e, "iovec entry " + v->to_string());
      out.push_back(static_cast<std::size_t>(eval_int(e, v->items[1])));
    }
    return out;
  }

  void syscall(const Event& e, std::int64_t offset_us) {
    const SyscallSpec& c = e.syscall;
    const std::string& n = c.name;
    blocking_ = c.blocking();
    std::int64_t start_us = script_now();
    long r = 0;
    bool result_checked = false;
    if (n == "socket") {
      r = target_->socket(AF_INET, static_cast<int>(eval_int(e, arg(e, 1))),
                          static_cast<int>(eval_int(e, arg(e, 2))));
    } else if (n == "bind") {
      r = target_->bind(live_fd(e, 0), kLocalIp, kScriptPort);
      if (r == 0) local_port_ = kScriptPort;
    } else if (n == "listen") {
      r = target_->listen(live_fd(e, 0), static_cast<int>(eval_int(e, arg(e, 1))));
    } else if (n == "accept") {
      r = target_->accept(live_fd(e, 0));
    } else if (n == "connect") {
      remote_port_ = kScriptPort;
      r = target_->connect(live_fd(e, 0), kRemoteIp, kScriptPort);
      sock_under_test_ = live_fd(e, 0);
    } else if (n == "write" || n == "send" || n == "sendto") {
      std::size_t len = static_cast<std::size_t>(eval_int(e, arg(e, 2)));
      int flags = n == "write" ? 0 : static_cast<int>(eval_int(e, arg(e, 3)));
      r = target_->sendmsg(live_fd(e, 0), {len}, flags);
    } else if (n == "writev") {
      r = target_->sendmsg(live_fd(e, 0), iov_lengths(e, *arg(e, 1)), 0);
    } else if (n == "sendmsg") {
      const Expr& m = *arg(e, 1);
      const ExprPtr* iov = m.kind == Expr::Kind::kStruct ? field(m, "msg_iov") : nullptr;
      if (!iov) sys_unsupported(e, "msghdr without msg_iov: " + m.to_string());
      r = target_->sendmsg(live_fd(e, 0), iov_lengths(e, **iov),
                           static_cast<int>(eval_int(e, arg(e, 2))));
    } else if (n == "read" || n == "recv" || n == "recvfrom") {
      std::size_t len = static_cast<std::size_t>(eval_int(e, arg(e, 2)));
      int flags = n == "read" ? 0 : static_cast<int>(eval_int(e, arg(e, 3)));
      r = target_->recvmsg(live_fd(e, 0), len, flags, false).ret;
    } else if (n == "recvmsg") {
      r = do_recvmsg(e);
      result_checked = true;
    } else if (n == "setsockopt") {
      r = do_setsockopt(e);
    } else if (n == "getsockopt") {
      r = do_getsockopt(e);
      result_checked = true;
    } else if (n == "close") {
      r = target_->close(live_fd(e, 0));
    } else if (n == "shutdown") {
      r = target_->shutdown(live_fd(e, 0), static_cast<int>(eval_int(e, arg(e, 1))));
    } else if (n == "fcntl") {
      int cmd = static_cast<int>(eval_int(e, arg(e, 1)));
      long a = c.args.size() > 2 ? eval_int(e, arg(e, 2)) : 0;
      r = target_->fcntl(live_fd(e, 0), cmd, a);
    } else if (n == "ioctl") {
      r = do_ioctl(e);
      result_checked = true;
    } else if (n == "poll") {
      r = do_poll(e);
      result_checked = true;
    } else if (n == "epoll_create") {
      r = target_->epoll_create(static_cast<int>(eval_int(e, arg(e, 0))));
    } else if (n == "epoll_ctl") {
      r = do_epoll_ctl(e);
    } else if (n == "epoll_wait") {
      r = do_epoll_wait(e);
      result_checked = true;
    } else {
      sys_unsupported(e, "not supported");
    }
    blocking_ = false;
    settle();
    if (failed_) {
      Stop st = *pending_stop_;
      throw st;
    }
    if (!result_checked) check_result(e, r);
    if (n == "socket" || n == "epoll_create") map_new_fd(e, r);
    if (n == "accept") {
      map_new_fd(e, r);
      if (r >= 0) sock_under_test_ = static_cast<int>(r);
    }
    // A blocking call must return at its end time; a non-blocking one at once.
    std::int64_t end_us = script_now();
    if (c.blocking()) {
      Event t = e;
      t.time.type = TimeType::kAbsolute;
      std::int64_t want_end = offset_us + c.end_usecs;
      if (auto err = check_time(t, want_end, -1, end_us, "system call return")) fail(e.line, *err);
    } else if (end_us > start_us + tol_.tolerance_usecs) {
      fail(e.line, "runtime error in " + n +
                       " call: expected non-blocking system call but it blocked for " +
                       secs(end_us - start_us) + " sec");
    }
    last_event_us_ = std::max(last_event_us_, c.blocking() ? end_us : start_us);
  }

  long do_setsockopt(const Event& e) {
    int fd = live_fd(e, 0);
    int level = static_cast<int>(eval_int(e, arg(e, 1)));
    int name = static_cast<int>(eval_int(e, arg(e, 2)));
    const Expr& v = *arg(e, 3);
    if (v.kind == Expr::Kind::kString) {
      return target_->setsockopt(fd, level, name, v.text.data(),
                                 static_cast<unsigned>(v.text.size()));
    }
    if (v.kind == Expr::Kind::kStruct) {
      const ExprPtr* onoff = field(v, "onoff");
      const ExprPtr* lin = field(v, "linger");
      if (!onoff || !lin) sys_unsupported(e, "option value " + v.to_string());
      struct linger l {};
      l.l_onoff = static_cast<int>(eval_int(e, *onoff));
      l.l_linger = static_cast<int>(eval_int(e, *lin));
      return target_->setsockopt(fd, level, name, &l, sizeof l);
    }
    int iv = static_cast<int>(eval_int(e, arg(e, 3)));
    return target_->setsockopt(fd, level, name, &iv, sizeof iv);
  }

  long do_getsockopt(const Event& e) {
    int fd = live_fd(e, 0);
    int level = static_cast<int>(eval_int(e, arg(e, 1)));
    int name = static_cast<int>(eval_int(e, arg(e, 2)));
    const Expr& v = *arg(e, 3);
    if (level == IPPROTO_TCP && name == TCP_INFO && v.kind == Expr::Kind::kStruct)
      return tcp_info_struct(e, fd, v);
    if (v.kind != Expr::Kind::kList || v.items.size() != 1)
      sys_unsupported(e,
                      "option value " + v.to_string() + " (only [int] and {tcpi_...} are checked)");
    int out = 0;
    unsigned len = sizeof out;
    long r = target_->getsockopt(fd, level, name, &out, &len);
    check_result(e, r);
    if (r < 0) return r;
    std::int64_t want = eval_int(e, v.items[0]);
    if (want != out) {
      sys_fail(e, "Bad getsockopt optval: expected: " + std::to_string(want) +
                      " actual: " + std::to_string(out));
    }
    if (arg(e, 4)->kind == Expr::Kind::kList) {
      std::int64_t want_len = eval_int(e, arg(e, 4));
      if (want_len != static_cast<std::int64_t>(len)) {
        sys_fail(e, "Bad getsockopt optlen: expected: " + std::to_string(want_len) +
                        " actual: " + std::to_string(len));
      }
    }
    return r;
  }

  // getsockopt(fd, SOL_TCP, TCP_INFO, {tcpi_state=1, ...}, ...): every field
  // the script names must have the value it gives.
  long tcp_info_struct(const Event& e, int fd, const Expr& want) {
    struct tcp_info ti {};
    long r = target_->tcp_info(fd, &ti);
    check_result(e, r);
    if (r < 0) return r;
    PyEnv saved = py_;
    bind_tcp_info(ti);
    PyEnv got = py_;
    py_ = saved;
    for (const ExprPtr& f : want.items) {
      if (f->kind != Expr::Kind::kField || !f->value)
        sys_unsupported(e, "tcp_info field " + f->to_string());
      auto it = got.vars.find(f->text);
      if (it == got.vars.end() || f->text.rfind("tcpi_", 0) != 0)
        sys_unsupported(e, "tcp_info field " + f->text);
      std::int64_t w = eval_int(e, f->value);
      if (w != it->second.i) {
        sys_fail(e, "Bad getsockopt TCP_INFO " + f->text + ": expected: " + std::to_string(w) +
                        " actual: " + std::to_string(it->second.i));
      }
    }
    return r;
  }

  long do_ioctl(const Event& e) {
    int fd = live_fd(e, 0);
    unsigned long req = static_cast<unsigned long>(eval_int(e, arg(e, 1)));
    int v = 0;
    long r = target_->ioctl(fd, req, &v);
    check_result(e, r);
    if (r >= 0 && e.syscall.args.size() > 2 && arg(e, 2)->kind == Expr::Kind::kList) {
      std::int64_t want = eval_int(e, arg(e, 2));
      if (want != v) {
        sys_fail(e, "Bad ioctl optval: expected: " + std::to_string(want) +
                        " actual: " + std::to_string(v));
      }
    }
    return r;
  }

  long do_poll(const Event& e) {
    const Expr& list = *arg(e, 0);
    if (list.kind != Expr::Kind::kList) sys_unsupported(e, "pollfd list " + list.to_string());
    std::vector<pollfd> fds;
    std::vector<std::optional<std::int64_t>> want_revents;
    for (const ExprPtr& p : list.items) {
      if (p->kind != Expr::Kind::kStruct) sys_unsupported(e, "pollfd " + p->to_string());
      const ExprPtr* fd = field(*p, "fd");
      const ExprPtr* ev = field(*p, "events");
      const ExprPtr* rev = field(*p, "revents");
      if (!fd || !ev) sys_unsupported(e, "pollfd " + p->to_string());
      pollfd pf{};
      auto it = fds_.find(static_cast<int>(eval_int(e, *fd)));
      pf.fd = it == fds_.end() ? -1 : it->second;
      pf.events = static_cast<short>(eval_int(e, *ev));
      fds.push_back(pf);
      want_revents.push_back(rev ? std::optional<std::int64_t>(eval_int(e, *rev)) : std::nullopt);
    }
    int timeout = static_cast<int>(eval_int(e, arg(e, 2)));
    long r = target_->poll(fds.data(), static_cast<unsigned>(fds.size()), timeout);
    check_result(e, r);
    for (size_t i = 0; r >= 0 && i < fds.size(); ++i) {
      if (want_revents[i] && *want_revents[i] != fds[i].revents) {
        sys_fail(e, "Expected revents " + std::to_string(*want_revents[i]) + " but got " +
                        std::to_string(fds[i].revents) + " for pollfd " + std::to_string(i));
      }
    }
    return r;
  }

  long do_epoll_ctl(const Event& e) {
    int epfd = live_fd(e, 0);
    int op = static_cast<int>(eval_int(e, arg(e, 1)));
    int script_fd = static_cast<int>(eval_int(e, arg(e, 2)));
    auto it = fds_.find(script_fd);
    int fd = it == fds_.end() ? -1 : it->second;
    const Expr& ev = *arg(e, 3);
    epoll_event event{};
    if (ev.kind == Expr::Kind::kStruct) {
      const ExprPtr* events = field(ev, "events");
      if (!events) sys_unsupported(e, "epoll_event " + ev.to_string());
      event.events = static_cast<std::uint32_t>(eval_int(e, *events));
      // The data word carries the script's fd number, so epoll_wait results
      // compare in script space.
      if (const ExprPtr* f = field(ev, "fd"))
        event.data.u64 = static_cast<std::uint64_t>(eval_int(e, *f));
      if (const ExprPtr* p = field(ev, "ptr"))
        event.data.u64 = static_cast<std::uint64_t>(eval_int(e, *p));
      if (const ExprPtr* u = field(ev, "u32"))
        event.data.u64 = static_cast<std::uint64_t>(eval_int(e, *u));
      if (const ExprPtr* u = field(ev, "u64"))
        event.data.u64 = static_cast<std::uint64_t>(eval_int(e, *u));
    } else if (ev.kind != Expr::Kind::kEllipsis) {
      sys_unsupported(e, "epoll_event " + ev.to_string());
    }
    return target_->epoll_ctl(epfd, op, fd, &event);
  }

  long do_epoll_wait(const Event& e) {
    int epfd = live_fd(e, 0);
    int max = static_cast<int>(eval_int(e, arg(e, 2)));
    int timeout = static_cast<int>(eval_int(e, arg(e, 3)));
    std::vector<epoll_event> evs(static_cast<size_t>(std::max(1, max)));
    long r = target_->epoll_wait(epfd, evs.data(), max, timeout);
    check_result(e, r);
    // As packetdrill's syscall_epoll_wait: the first event is compared
    // whatever the count, so `{events=0, ptr=0} ... = 0` also checks that
    // nothing was written.
    const Expr& want = *arg(e, 1);
    if (want.kind == Expr::Kind::kStruct) {
      const ExprPtr* events = field(want, "events");
      if (events) {
        std::int64_t we = eval_int(e, *events);
        if (we != evs[0].events) {
          sys_fail(e, "Expected events " + std::to_string(we) + " but got " +
                          std::to_string(evs[0].events));
        }
      }
      const ExprPtr* f = field(want, "fd");
      if (!f) f = field(want, "ptr");
      if (f) {
        std::int64_t wd = eval_int(e, *f);
        if (static_cast<std::uint64_t>(wd) != evs[0].data.u64) {
          sys_fail(e, "Expected data " + std::to_string(wd) + " but got " +
                          std::to_string(evs[0].data.u64));
        }
      }
    }
    return r;
  }

  long do_recvmsg(const Event& e) {
    const Expr& m = *arg(e, 1);
    if (m.kind != Expr::Kind::kStruct) sys_unsupported(e, "msghdr " + m.to_string());
    const ExprPtr* iov = field(m, "msg_iov");
    if (!iov) sys_unsupported(e, "msghdr without msg_iov");
    std::size_t len = 0;
    for (std::size_t l : iov_lengths(e, **iov)) len += l;
    int flags = static_cast<int>(eval_int(e, arg(e, 2)));
    const ExprPtr* ctl = field(m, "msg_control");
    // packetdrill's cmsg_new: the live call gets a control buffer exactly as
    // large as the expected messages, so one more (or a longer one) comes
    // back truncated (MSG_CTRUNC).
    std::size_t controllen = 0;
    if (ctl && (*ctl)->kind == Expr::Kind::kList) {
      for (const ExprPtr& w : (*ctl)->items) controllen += CMSG_SPACE(cmsg_data_len(e, *w));
    }
    RecvResult rr = target_->recvmsg(live_fd(e, 0), len, flags, controllen);
    check_result(e, rr.ret);
    if (rr.ret < 0) return rr.ret;
    if (const ExprPtr* mf = field(m, "msg_flags")) {
      std::int64_t want = eval_int(e, *mf);
      if (want != rr.msg_flags) {
        sys_fail(e, "Expected msg_flags " + std::to_string(want) + " but got " +
                        std::to_string(rr.msg_flags));
      }
    }
    if (ctl) check_cmsgs(e, **ctl, rr.control);
    return rr.ret;
  }

  // The cmsg_len - CMSG_LEN(0) packetdrill expects for one scripted cmsg:
  // an int, a struct scm_timestamping, or a sock_extended_err followed by
  // the offender's address (ip_recv_error's layout).
  std::size_t cmsg_data_len(const Event& e, const Expr& w) {
    const ExprPtr* lv = field(w, "cmsg_level");
    const ExprPtr* da = field(w, "cmsg_data");
    if (!lv || !da) sys_unsupported(e, "cmsg " + w.to_string());
    const Expr& d = **da;
    if (d.kind == Expr::Kind::kStruct && field(d, "ee_errno")) {
      return sizeof(sock_extended_err) +
             (eval_int(e, *lv) == SOL_IP ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    }
    if (d.kind == Expr::Kind::kStruct && field(d, "scm_sec")) return sizeof(scm_timestamping);
    return sizeof(int);
  }

  void check_cmsgs(const Event& e, const Expr& want, const std::vector<Cmsg>& got) {
    if (want.kind != Expr::Kind::kList) sys_unsupported(e, "msg_control " + want.to_string());
    if (want.items.size() != got.size()) {
      sys_fail(e, "Expected " + std::to_string(want.items.size()) + " control messages but got " +
                      std::to_string(got.size()));
    }
    for (size_t i = 0; i < want.items.size(); ++i) {
      const Expr& w = *want.items[i];
      const ExprPtr* lv = field(w, "cmsg_level");
      const ExprPtr* ty = field(w, "cmsg_type");
      const ExprPtr* da = field(w, "cmsg_data");
      if (!lv || !ty || !da) sys_unsupported(e, "cmsg " + w.to_string());
      std::int64_t level = eval_int(e, *lv), type = eval_int(e, *ty);
      const Cmsg& g = got[i];
      if (level != g.level || type != g.type) {
        sys_fail(e, "Expected cmsg level/type " + std::to_string(level) + "/" +
                        std::to_string(type) + " but got " + std::to_string(g.level) + "/" +
                        std::to_string(g.type));
      }
      if (g.data.size() != cmsg_data_len(e, w)) {
        sys_fail(e, "Bad len in cmsg " + std::to_string(i) +
                        ": expected=" + std::to_string(CMSG_LEN(cmsg_data_len(e, w))) +
                        " actual=" + std::to_string(CMSG_LEN(g.data.size())));
      }
      const Expr& d = **da;
      if (d.kind == Expr::Kind::kStruct && field(d, "ee_errno")) {
        sock_extended_err ee{};
        if (g.data.size() < sizeof ee) sys_fail(e, "short sock_extended_err");
        std::memcpy(&ee, g.data.data(), sizeof ee);
        const std::pair<const char*, std::int64_t> fields[] = {
            {"ee_errno", ee.ee_errno}, {"ee_origin", ee.ee_origin}, {"ee_type", ee.ee_type},
            {"ee_code", ee.ee_code},   {"ee_info", ee.ee_info},     {"ee_data", ee.ee_data}};
        for (auto& [fname, gv] : fields) {
          if (const ExprPtr* fw = field(d, fname)) {
            std::int64_t wv = eval_int(e, *fw);
            if (wv != gv) {
              sys_fail(e, std::string("Bad cmsg sock_extended_err ") + fname + ": expected: " +
                              std::to_string(wv) + " actual: " + std::to_string(gv));
            }
          }
        }
      } else if (d.kind == Expr::Kind::kStruct && field(d, "scm_sec")) {
        // scm_timestamping: the software stamp, in script time, within tolerance.
        if (g.data.size() < sizeof(timespec)) sys_fail(e, "short scm_timestamping");
        timespec ts{};
        std::memcpy(&ts, g.data.data(), sizeof ts);
        std::int64_t want_us =
            eval_int(e, *field(d, "scm_sec")) * 1000000 + eval_int(e, *field(d, "scm_nsec")) / 1000;
        std::int64_t live_ns_v = static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
        std::int64_t got_us = (live_ns_v - static_cast<std::int64_t>(kClockStart)) / 1000;
        if (std::llabs(got_us - want_us) > tol_.tolerance_usecs) {
          sys_fail(e,
                   "Bad scm_timestamping: expected: " + secs(want_us) + " actual: " + secs(got_us));
        }
      } else {
        std::int64_t wv = eval_int(e, *da);
        int gv = 0;
        if (g.data.size() < sizeof gv) sys_fail(e, "short cmsg data");
        std::memcpy(&gv, g.data.data(), sizeof gv);
        if (wv != gv) {
          sys_fail(e, "Bad cmsg data: expected: " + std::to_string(wv) +
                          " actual: " + std::to_string(gv));
        }
      }
    }
  }

  // --- %{ }% --------------------------------------------------------------------
  void code(const Event& e) {
    struct tcp_info ti {};
    if (sock_under_test_ < 0) fail(e.line, "%{ }%: no socket under test for TCP_INFO");
    int r = target_->tcp_info(sock_under_test_, &ti);
    if (r < 0) fail(e.line, "%{ }%: getsockopt(TCP_INFO) failed: " + errno_text(-r));
    bind_tcp_info(ti);
    PyOutcome o = py_exec(e.text, py_);
    for (const std::string& p : py_.printed) note("print: " + p);
    py_.printed.clear();
    if (o.ok()) return;
    int line = e.line;
    // The block's first line is the line of "%{"; its statements count from there.
    line += o.line - 1;
    if (o.kind == PyOutcome::Kind::kUnsupported)
      unsupported(line, o.message + " in: " + o.statement);
    fail(line,
         (o.kind == PyOutcome::Kind::kAssertionFailed ? "assertion failed: " : "python error: ") +
             o.statement + " -> " + o.message);
  }

  void bind_tcp_info(const struct tcp_info& t) {
    auto set = [&](const char* n, std::int64_t v) { py_.vars[n] = PyValue::of(v); };
    set("tcpi_state", t.tcpi_state);
    set("tcpi_ca_state", t.tcpi_ca_state);
    set("tcpi_retransmits", t.tcpi_retransmits);
    set("tcpi_probes", t.tcpi_probes);
    set("tcpi_backoff", t.tcpi_backoff);
    set("tcpi_options", t.tcpi_options);
    set("tcpi_snd_wscale", t.tcpi_snd_wscale);
    set("tcpi_rcv_wscale", t.tcpi_rcv_wscale);
    set("tcpi_delivery_rate_app_limited", t.tcpi_delivery_rate_app_limited);
    set("tcpi_rto", t.tcpi_rto);
    set("tcpi_ato", t.tcpi_ato);
    set("tcpi_snd_mss", t.tcpi_snd_mss);
    set("tcpi_rcv_mss", t.tcpi_rcv_mss);
    set("tcpi_unacked", t.tcpi_unacked);
    set("tcpi_sacked", t.tcpi_sacked);
    set("tcpi_lost", t.tcpi_lost);
    set("tcpi_retrans", t.tcpi_retrans);
    set("tcpi_fackets", t.tcpi_fackets);
    set("tcpi_last_data_sent", t.tcpi_last_data_sent);
    set("tcpi_last_ack_sent", t.tcpi_last_ack_sent);
    set("tcpi_last_data_recv", t.tcpi_last_data_recv);
    set("tcpi_last_ack_recv", t.tcpi_last_ack_recv);
    set("tcpi_pmtu", t.tcpi_pmtu);
    set("tcpi_rcv_ssthresh", t.tcpi_rcv_ssthresh);
    set("tcpi_rtt", t.tcpi_rtt);
    set("tcpi_rttvar", t.tcpi_rttvar);
    set("tcpi_snd_ssthresh", t.tcpi_snd_ssthresh);
    set("tcpi_snd_cwnd", t.tcpi_snd_cwnd);
    set("tcpi_advmss", t.tcpi_advmss);
    set("tcpi_reordering", t.tcpi_reordering);
    set("tcpi_rcv_rtt", t.tcpi_rcv_rtt);
    set("tcpi_rcv_space", t.tcpi_rcv_space);
    set("tcpi_total_retrans", t.tcpi_total_retrans);
    set("tcpi_pacing_rate", static_cast<std::int64_t>(t.tcpi_pacing_rate));
    set("tcpi_max_pacing_rate", static_cast<std::int64_t>(t.tcpi_max_pacing_rate));
    set("tcpi_bytes_acked", static_cast<std::int64_t>(t.tcpi_bytes_acked));
    set("tcpi_bytes_received", static_cast<std::int64_t>(t.tcpi_bytes_received));
    set("tcpi_segs_out", t.tcpi_segs_out);
    set("tcpi_segs_in", t.tcpi_segs_in);
    set("tcpi_notsent_bytes", t.tcpi_notsent_bytes);
    set("tcpi_min_rtt", t.tcpi_min_rtt);
    set("tcpi_data_segs_in", t.tcpi_data_segs_in);
    set("tcpi_data_segs_out", t.tcpi_data_segs_out);
    set("tcpi_delivery_rate", static_cast<std::int64_t>(t.tcpi_delivery_rate));
    set("tcpi_busy_time", static_cast<std::int64_t>(t.tcpi_busy_time));
    set("tcpi_rwnd_limited", static_cast<std::int64_t>(t.tcpi_rwnd_limited));
    set("tcpi_sndbuf_limited", static_cast<std::int64_t>(t.tcpi_sndbuf_limited));
    set("tcpi_delivered", t.tcpi_delivered);
    set("tcpi_delivered_ce", t.tcpi_delivered_ce);
    set("tcpi_bytes_sent", static_cast<std::int64_t>(t.tcpi_bytes_sent));
    set("tcpi_bytes_retrans", static_cast<std::int64_t>(t.tcpi_bytes_retrans));
    set("tcpi_dsack_dups", t.tcpi_dsack_dups);
    set("tcpi_reord_seen", t.tcpi_reord_seen);
    set("tcpi_rcv_ooopack", t.tcpi_rcv_ooopack);
    set("tcpi_snd_wnd", t.tcpi_snd_wnd);
    // The names packetdrill's generated Python defines for ca_state.
    set("TCP_CA_Open", 0);
    set("TCP_CA_Disorder", 1);
    set("TCP_CA_CWR", 2);
    set("TCP_CA_Recovery", 3);
    set("TCP_CA_Loss", 4);
  }

  const Script& s_;
  RunnerConfig cfg_;
  Tolerances tol_;
  ScriptDevice::Config dev_cfg_;
  std::string script_dir_;
  CommandPlan init_plan_;
  std::vector<SysctlAssignment> refused_defaults_;  // defaults.sh values sendpath refused

  std::unique_ptr<VirtualClock> clock_;
  std::unique_ptr<Stack> stack_;
  ScriptDevice* dev_ = nullptr;
  std::unique_ptr<Target> target_;

  size_t idx_ = 0;
  std::int64_t last_event_us_ = 0;
  // The scheduled time of the event just run if it was an inbound packet.
  std::optional<std::int64_t> inbound_anchor_us_;
  bool blocking_ = false;
  bool failed_ = false;
  std::optional<Stop> pending_stop_;

  std::map<int, int> fds_;  // script fd -> live fd
  int sock_under_test_ = -1;
  std::uint16_t local_port_ = 0;
  std::uint16_t remote_port_ = kRemoteEphemeralPort;
  SeqMap map_;
  PyEnv py_;
};

}  // namespace

ScriptResult run_script(const Script& script, const RunnerConfig& cfg) {
  Runner r(script, cfg);
  return r.run();
}

ScriptResult run_script_file(const std::string& path, const RunnerConfig& cfg) {
  auto parsed = parse_script_file(path);
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    ScriptResult r;
    r.kind = ScriptResult::Kind::kFail;
    r.line = e->line;
    r.reason = "parse error: " + e->message;
    return r;
  }
  return run_script(std::get<Script>(parsed), cfg);
}

}  // namespace sp::drill
