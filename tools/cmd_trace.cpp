// `sendpath trace`: one write's journey through the real stack, from the
// tracepoints. `sendpath skb`: the same run, narrowed to one segment's skb as
// it goes down the layers (its four pointers after each header push).
//
// Both open a tiny connection over a SimLink (trace/one_write.hpp), make one
// send() and print what the client's stack recorded; nothing here knows how
// the stack builds an skb, so the view cannot drift from the code.
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "command.hpp"
#include "trace/one_write.hpp"
#include "trace/sinks.hpp"

namespace {

using namespace sp;
using namespace sp::trace;

struct Options {
  std::uint32_t size = 3000;
  std::uint32_t mss = 1000;
  bool json = false;
  bool linear = false;  // no scatter-gather: payload in the linear part
  bool no_tso = false;
  bool no_csum = false;
  bool nodelay = false;
  std::string events = "all";
};

// Depth of each event in the call chain, for indentation.
int depth(Ev id) {
  switch (id) {
    case Ev::sock_sendmsg:
      return 0;
    case Ev::inet_sendmsg:
      return 1;
    case Ev::tcp_sendmsg:
      return 2;
    case Ev::tcp_skb_entail:
    case Ev::tcp_skb_append:
    case Ev::tcp_push:
      return 3;
    case Ev::tcp_write_xmit:
      return 4;
    case Ev::tcp_transmit_skb:
    case Ev::tcp_event_new_data_sent:
    case Ev::tcp_retransmit_skb:
      return 5;
    case Ev::ip_queue_xmit:
      return 6;
    case Ev::neigh_output:
    case Ev::skb_gso_segment:
      return 7;
    case Ev::dev_queue_xmit:
      return 8;
    case Ev::net_dev_xmit:
      return 9;
    case Ev::netif_receive_skb:
      return 0;
    case Ev::tcp_probe:
      return 1;
    default:
      return 2;
  }
}

// Numbers skbs by first appearance, so "skb#2" reads better than an address.
// An address that comes back for a new skb (the pools reuse them) gets a new
// number at the step that creates one: entail or the transmit clone.
class SkbNames {
 public:
  std::string name(std::uint64_t addr, bool born) {
    auto it = ids_.find(addr);
    if (it == ids_.end() || born) it = ids_.insert_or_assign(addr, ++next_).first;
    return fmt::format("skb#{}", it->second);
  }
  std::string buffer(std::uint64_t head) {
    auto it = heads_.find(head);
    if (it == heads_.end()) it = heads_.emplace(head, ++next_head_).first;
    return fmt::format("buf#{}", it->second);
  }

 private:
  std::map<std::uint64_t, int> ids_, heads_;
  int next_ = 0, next_head_ = 0;
};

std::string layout(const SkbFields& s) {
  std::string out = fmt::format(
      "[head 0 | headroom {} | data {}..{} ({} B linear) | tailroom {} | end {}]", s.headroom,
      s.data_off, s.tail_off, s.tail_off - s.data_off, s.tailroom, s.end_off);
  if (s.nr_frags) out += fmt::format(" + {} frag(s) {} B", s.nr_frags, s.data_len);
  out += fmt::format(" truesize {}", s.truesize);
  if (s.cloned) out += " cloned";
  return out;
}

std::string seq_range(const SkbFields& s, std::uint32_t base) {
  return fmt::format("seq {}..{}", s.seq - base, s.end_seq - base);
}

void print_text(const Options& o, const OneWrite& w) {
  fmt::print("sendpath trace: one send() of {} bytes, MSS {}, {} -> {}\n", o.size, o.mss, w.client,
             w.server);
  fmt::print(
      "device: scatter-gather {}, TSO {}, checksum offload {}; sequence numbers relative\n\n",
      o.linear ? "off" : "on", o.no_tso ? "off" : "on", o.no_csum ? "off" : "on");
  SkbNames names;
  std::uint32_t base = 0;
  bool have_base = false;
  for (const auto& e : w.events) {
    if (const auto* s = std::get_if<SkbStep>(&e); s && !have_base && s->skb.seq) {
      base = s->skb.seq;
      have_base = true;
    }
  }
  for (const auto& e : w.events) {
    const Header& h = header_of(e);
    const double ms = static_cast<double>(h.t_ns - w.write_t_ns) / 1e6;
    const std::string indent(static_cast<std::size_t>(depth(h.id)) * 2, ' ');
    const std::string prefix =
        fmt::format("{:+10.3f} ms  {:<42}", ms, indent + std::string(event_name(h.id)));
    const std::string pad(prefix.size(), ' ');
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, SendmsgEvent>) {
            fmt::print("{} size={} flags={:#x}\n", prefix, x.size, x.flags);
          } else if constexpr (std::is_same_v<T, SkbStep>) {
            const bool born = h.id == Ev::tcp_skb_entail || h.id == Ev::tcp_transmit_skb;
            const std::string n = names.name(x.skb.skbaddr.v, born);
            std::string what;
            switch (h.id) {
              case Ev::tcp_skb_entail:
                what = "new skb on the write queue";
                break;
              case Ev::tcp_skb_append:
                what = fmt::format("+{} B into its {}", x.copy,
                                   x.paged ? "page frags" : "linear part (skb_put)");
                break;
              case Ev::tcp_transmit_skb:
                what = fmt::format("clone sharing {}; skb_push({}) TCP header",
                                   names.buffer(x.skb.head.v), x.pushed);
                break;
              case Ev::tcp_event_new_data_sent:
                what = "original moves to the retransmit queue";
                break;
              case Ev::ip_queue_xmit:
                what = fmt::format("skb_push({}) IPv4 header", x.pushed);
                break;
              case Ev::skb_gso_segment:
                what = fmt::format("software GSO into {} segments", x.segs);
                break;
              case Ev::neigh_output:
                what = fmt::format("skb_push({}) Ethernet header", x.pushed);
                break;
              case Ev::dev_queue_xmit:
                what = "to the device";
                break;
              case Ev::tcp_clean_rtx_queue:
                what = "acknowledged: off the retransmit queue, freed";
                break;
              default:
                break;
            }
            const std::string queue =
                x.queue == "none" ? std::string() : fmt::format(" [{} queue]", x.queue);
            fmt::print("{} {} {}{} {}\n", prefix, n, seq_range(x.skb, base), queue, what);
            fmt::print("{} {}", pad, layout(x.skb));
            if (x.skb.gso_segs > 1) fmt::print(" gso {}x{}", x.skb.gso_segs, x.skb.gso_size);
            fmt::print(" buffer {}\n", names.buffer(x.skb.head.v));
          } else if constexpr (std::is_same_v<T, TcpWriteXmit>) {
            fmt::print("{} sent {} skb(s), {} segment(s); stopped: {} (cwnd {}, in flight {})\n",
                       prefix, x.sent, x.sent_segs, x.stop, x.snd_cwnd, x.in_flight);
          } else if constexpr (std::is_same_v<T, TcpPush>) {
            fmt::print("{} mss_now={} nonagle={}\n", prefix, x.mss_now, x.nonagle);
          } else if constexpr (std::is_same_v<T, NetDevEvent>) {
            fmt::print("{} {} frame {} B on {} rc={}\n", prefix,
                       h.id == Ev::net_dev_xmit ? "sent" : "received", x.len, x.dev, x.rc);
          } else if constexpr (std::is_same_v<T, TcpProbe>) {
            fmt::print(
                "{} a segment arrives; before it: snd_una {} snd_nxt {} cwnd {} srtt {} us in "
                "flight {}\n",
                prefix, x.snd_una - base, x.snd_nxt - base, x.snd_cwnd, x.srtt, x.in_flight);
          } else {
            std::string line = format_text(e);
            const auto colon = line.find(": ", line.find(": ") + 2);
            fmt::print("{}{}\n", prefix,
                       colon == std::string::npos ? line : line.substr(colon + 1));
          }
        },
        e);
  }
  fmt::print("\n{} frame(s) left the device; the write was acknowledged after {:.3f} ms\n",
             w.frames, static_cast<double>(w.acked_t_ns - w.write_t_ns) / 1e6);
}

void print_json(const Options& o, const OneWrite& w) {
  std::string out = fmt::format(
      "{{\"size\":{},\"mss\":{},\"sg\":{},\"tso\":{},\"csum_offload\":{},\"client\":\"{}\","
      "\"server\":\"{}\",\"sent\":{},\"write_t_ns\":{},\"acked_t_ns\":{},\"frames\":{},\"events\":"
      "[",
      o.size, o.mss, !o.linear, !o.no_tso, !o.no_csum, w.client, w.server, w.sent, w.write_t_ns,
      w.acked_t_ns, w.frames);
  for (std::size_t i = 0; i < w.events.size(); ++i) {
    if (i) out += ",\n";
    out += format_json(w.events[i]);
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

bool run_one(const Options& o, std::uint64_t mask, OneWrite* w, const char* cmd) {
  if (o.mss < 88 || o.mss > 9000 || o.size == 0 || o.size > (64u << 20)) {
    std::fprintf(stderr, "sendpath %s: --mss must be 88..9000 and --size 1..64M\n", cmd);
    return false;
  }
  OneWriteOptions wo;
  wo.size = o.size;
  wo.mss = o.mss;
  wo.sg = !o.linear;
  wo.tso = !o.no_tso;
  wo.csum_offload = !o.no_csum;
  wo.nodelay = o.nodelay;
  wo.mask = mask;
  *w = trace_one_write(wo);
  if (!w->ok) {
    std::fprintf(stderr, "sendpath %s: %s\n", cmd, w->error.c_str());
    return false;
  }
  return true;
}

int run_trace(const Options& o) {
  std::uint64_t mask = 0;
  std::string bad;
  if (!parse_event_list(o.events, &mask, &bad)) {
    std::fprintf(stderr, "sendpath trace: unknown event '%s'\n", bad.c_str());
    return 2;
  }
  OneWrite w;
  if (!run_one(o, mask, &w, "trace")) return 1;
  if (o.json)
    print_json(o, w);
  else
    print_text(o, w);
  return 0;
}

// `sendpath skb`: the first segment's transmit clone from its birth to the
// device, and the queued original it was cloned from.
int run_skb(const Options& o) {
  OneWrite w;
  if (!run_one(o, kAllEvents, &w, "skb")) return 1;
  // The first transmit clone, and the queued original it shares a buffer with.
  const SkbStep* first_clone = nullptr;
  for (const auto& e : w.events) {
    const auto* s = std::get_if<SkbStep>(&e);
    if (s && s->id == Ev::tcp_transmit_skb) {
      first_clone = s;
      break;
    }
  }
  if (!first_clone) {
    std::fprintf(stderr, "sendpath skb: the trace has no tcp_transmit_skb\n");
    return 1;
  }
  const std::uint64_t clone = first_clone->skb.skbaddr.v, buffer = first_clone->skb.head.v;
  std::uint64_t original = 0;
  const SkbStep* entail = nullptr;
  const SkbStep* filled = nullptr;  // the original's last state before the clone
  std::vector<const SkbStep*> view;
  for (const auto& e : w.events) {
    const auto* s = std::get_if<SkbStep>(&e);
    if (!s) continue;
    if (s == first_clone) {
      if (entail) view.push_back(entail);
      if (filled && filled != entail) view.push_back(filled);
    }
    if (!original && s->id == Ev::tcp_skb_entail && s->skb.head.v == buffer) {
      original = s->skb.skbaddr.v;
      entail = filled = s;
    } else if (original && s->skb.skbaddr.v == original && s->id == Ev::tcp_skb_append &&
               view.empty()) {
      filled = s;
    }
    if (s->skb.skbaddr.v == clone &&
        (s->id == Ev::tcp_transmit_skb || s->id == Ev::ip_queue_xmit || s->id == Ev::neigh_output ||
         s->id == Ev::skb_gso_segment || s->id == Ev::dev_queue_xmit)) {
      view.push_back(s);
      if (s->id == Ev::dev_queue_xmit) break;
    }
  }
  if (o.json) {
    std::string out =
        fmt::format("{{\"size\":{},\"mss\":{},\"sg\":{},\"steps\":[", o.size, o.mss, !o.linear);
    for (std::size_t i = 0; i < view.size(); ++i) {
      const SkbFields& k = view[i]->skb;
      out += fmt::format(
          "{}{{\"step\":\"{}\",\"pushed\":{},\"head\":0,\"data\":{},\"tail\":{},\"end\":{},"
          "\"len\":{},\"data_len\":{},\"headroom\":{},\"tailroom\":{},\"nr_frags\":{},"
          "\"truesize\":{},\"cloned\":{}}}",
          i ? "," : "", event_name(view[i]->id), view[i]->pushed, k.data_off, k.tail_off, k.end_off,
          k.len, k.data_len, k.headroom, k.tailroom, k.nr_frags, k.truesize, k.cloned);
    }
    out += fmt::format("],\"frames\":{}}}\n", w.frames);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  fmt::print("one segment's skb through a send() of {} bytes (MSS {}, {}), from the trace\n\n",
             o.size, o.mss, o.linear ? "linear" : "paged");
  fmt::print("{:<24} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>5} {:>8}\n", "step", "head",
             "data", "tail", "end", "len", "headroom", "tailroom", "frags", "truesize");
  for (const SkbStep* s : view) {
    const SkbFields& k = s->skb;
    std::string step(event_name(s->id));
    if (s->pushed) step += fmt::format(" +{}", s->pushed);
    fmt::print("{:<24} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>5} {:>8}\n", step, 0,
               k.data_off, k.tail_off, k.end_off, k.len, k.headroom, k.tailroom, k.nr_frags,
               k.truesize);
  }
  return 0;
}

void add_common(CLI::App& sub, Options& o) {
  sub.add_option("--size", o.size, "bytes in the one send() (default 3000)");
  sub.add_option("--mss", o.mss, "MSS; the link MTU is MSS + 40 (default 1000)");
  sub.add_flag("--json", o.json, "JSON: the run and every event (trace.hpp's schema)");
  sub.add_flag("--linear", o.linear, "device without scatter-gather: payload in the linear part");
  sub.add_flag("--no-tso", o.no_tso, "device without TSO: software GSO splits super-packets");
  sub.add_flag("--no-csum-offload", o.no_csum, "device without checksum offload");
  sub.add_flag("--nodelay", o.nodelay, "TCP_NODELAY on the sender");
}

sp::tools::Command cmd_trace(
    "trace", "one write's journey through the stack, from the tracepoints", [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      add_common(sub, *o);
      sub.add_option("--events", o->events,
                     "events to record: all (default), a system (tcp, sendpath, ...), names");
      return [o] { return run_trace(*o); };
    });

sp::tools::Command cmd_skb("skb",
                           "one segment's skb down the layers, pointer by pointer (from the trace)",
                           [](CLI::App& sub) {
                             auto o = std::make_shared<Options>();
                             o->size = 1000;
                             add_common(sub, *o);
                             return [o] { return run_skb(*o); };
                           });

}  // namespace
