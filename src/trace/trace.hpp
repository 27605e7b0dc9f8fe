// Tracepoints: typed call sites named and shaped like Linux's
// (tcp:tcp_probe, skb:kfree_skb, net:net_dev_xmit, ...) plus one per step of
// the send chain (sendpath:tcp_sendmsg, sendpath:tcp_write_xmit, ...).
//
// A call site is `trace_tcp_probe(sk, skb)` (events.hpp). When no sink
// listens to that event the call is one relaxed load of a process-wide mask
// and a predicted-not-taken branch: the arguments are not even read. When a
// sink listens, an out-of-line function fills the event's struct from the
// kernel objects and hands it to every sink whose mask has the event, the way
// a kernel tracepoint's probe fills its ring-buffer entry.
//
// Built with -DSP_TRACE=0 (CMake: SP_TRACE=OFF) every call site compiles to
// nothing; bench/ measures the send path both ways.
//
// Sinks (sinks.hpp): text (ftrace-like lines), JSON lines (one object per
// event, the schema below) and a recorder that keeps the typed events.
//
// JSON-lines schema (docs/trace.md has the field tables): every line is one
// flat object {"t_ns":N,"stack":"client","event":"tcp:tcp_probe", fields...}
// with the fields of the event's struct, in the order visit() lists them.
// Addresses are dotted strings, skb and socket identities hex strings,
// everything else a number or a string.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#ifndef SP_TRACE
#define SP_TRACE 1
#endif

namespace sp::trace {

// The event list: X(system, name). The enum value is the bit in the mask.
// clang-format off
#define SP_TRACE_EVENTS(X)                                                          \
  X(tcp, tcp_probe) X(tcp, tcp_retransmit_skb) X(tcp, tcp_send_reset)               \
  X(tcp, tcp_receive_reset) X(tcp, tcp_destroy_sock) X(tcp, tcp_rcv_space_adjust)   \
  X(tcp, tcp_cong_state_set) X(sock, inet_sock_set_state)                           \
  X(sock, sock_exceed_buf_limit) X(skb, kfree_skb) X(net, net_dev_xmit)             \
  X(net, netif_receive_skb)                                                         \
  X(sendpath, sock_sendmsg) X(sendpath, inet_sendmsg) X(sendpath, tcp_sendmsg)      \
  X(sendpath, tcp_skb_entail) X(sendpath, tcp_skb_append) X(sendpath, tcp_push)     \
  X(sendpath, tcp_write_xmit) X(sendpath, tcp_transmit_skb)                         \
  X(sendpath, tcp_event_new_data_sent) X(sendpath, ip_queue_xmit)                   \
  X(sendpath, skb_gso_segment) X(sendpath, neigh_output)                            \
  X(sendpath, dev_queue_xmit) X(sendpath, tcp_clean_rtx_queue)                      \
  X(sendpath, tcp_recovery_event)
// clang-format on

enum class Ev : std::uint8_t {
#define SP_TRACE_ENUM(sys, name) name,
  SP_TRACE_EVENTS(SP_TRACE_ENUM)
#undef SP_TRACE_ENUM
      kCount
};
static_assert(static_cast<int>(Ev::kCount) <= 64, "the mask is 64 bits");

constexpr std::uint64_t ev_bit(Ev e) {
  return std::uint64_t{1} << static_cast<unsigned>(e);
}
constexpr std::uint64_t kAllEvents = (std::uint64_t{1} << static_cast<unsigned>(Ev::kCount)) - 1;

// "tcp:tcp_probe"; "tcp_probe"; "tcp".
std::string_view event_full_name(Ev e);
std::string_view event_name(Ev e);
std::string_view event_system(Ev e);
// Parses a comma-separated list of event names ("tcp:tcp_probe", "tcp_probe",
// a system "tcp:*" or "sendpath", or "all") into a mask; false on an unknown
// name (the name is returned in *bad).
bool parse_event_list(std::string_view list, std::uint64_t* mask, std::string* bad);

// The union of every attached sink's mask (the "static key").
inline std::atomic<std::uint64_t> g_enabled{0};

inline bool enabled(Ev e) {
#if SP_TRACE
  return __builtin_expect((g_enabled.load(std::memory_order_relaxed) & ev_bit(e)) != 0, 0);
#else
  (void)e;
  return false;
#endif
}

// --- value wrappers the field visitor sees ------------------------------------
struct Ip4 {
  std::uint32_t be = 0;  // network byte order
};
struct Hex {
  std::uint64_t v = 0;
};

// --- the events ---------------------------------------------------------------
// Each struct lists its fields in visit(v): v("name", value) with value an
// integer, bool, Ip4, Hex or std::string_view (string literals and names
// from static tables only, so a recorded event owns no memory).

struct Header {
  Ev id{};
  std::uint16_t stack = 0;  // stack_name(stack): "client", "server", ...
  std::uint64_t t_ns = 0;   // the stack's clock
};

// Socket identity, as Linux's TCP events print it.
struct SockFields {
  Hex sock_cookie;  // sock_gen_cookie(sk): unique per socket for the process
  Ip4 saddr, daddr;
  std::uint16_t sport = 0, dport = 0;  // host order
  std::string_view state;              // "TCP_ESTABLISHED"
  template <class V>
  void visit(V& v) const {
    v("sock_cookie", sock_cookie);
    v("saddr", saddr);
    v("daddr", daddr);
    v("sport", sport);
    v("dport", dport);
    v("state", state);
  }
};

// An skb as the send path sees it: identity, TCP_SKB_CB, the four pointers
// as offsets from head, and the paged part. Below TCP (ip_queue_xmit and
// later) the control block belongs to IP, so seq, end_seq and tcp_flags are
// read from the TCP header the skb carries.
struct SkbFields {
  Hex skbaddr;
  Hex head;  // buffer identity: clones share it
  std::uint32_t seq = 0, end_seq = 0;
  std::uint8_t tcp_flags = 0;
  std::uint32_t len = 0, data_len = 0;
  std::uint32_t data_off = 0, tail_off = 0, end_off = 0;  // from head (head_off is 0)
  std::uint32_t headroom = 0, tailroom = 0;
  std::uint8_t nr_frags = 0;
  std::uint32_t truesize = 0;
  bool cloned = false;
  std::uint16_t gso_segs = 0, gso_size = 0;
  template <class V>
  void visit(V& v) const {
    v("skbaddr", skbaddr);
    v("head", head);
    v("seq", seq);
    v("end_seq", end_seq);
    v("tcp_flags", tcp_flags);
    v("len", len);
    v("data_len", data_len);
    v("data_off", data_off);
    v("tail_off", tail_off);
    v("end_off", end_off);
    v("headroom", headroom);
    v("tailroom", tailroom);
    v("nr_frags", nr_frags);
    v("truesize", truesize);
    v("cloned", cloned);
    v("gso_segs", gso_segs);
    v("gso_size", gso_size);
  }
};

// tcp:tcp_probe: Linux's fields (include/trace/events/tcp.h), then sendpath's
// additions after `sock_cookie` (what the report charts need).
struct TcpProbe : Header {
  Ip4 saddr, daddr;
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t mark = 0;
  std::uint32_t data_len = 0;  // payload of the segment that arrived
  std::uint32_t snd_nxt = 0, snd_una = 0;
  std::uint32_t snd_cwnd = 0;
  std::uint32_t ssthresh = 0;  // tcp_current_ssthresh(), as Linux prints it
  std::uint32_t snd_wnd = 0;
  std::uint32_t srtt = 0;  // us (srtt_us >> 3)
  std::uint32_t rcv_wnd = 0;
  Hex sock_cookie;
  // sendpath's additions
  std::uint32_t snd_ssthresh = 0;  // the raw tp->snd_ssthresh (TCP_INFO's tcpi_snd_ssthresh)
  std::uint32_t rto_us = 0;
  std::uint32_t rtt_us = 0;  // latest RTT sample the estimator took (0 before the first)
  std::uint32_t min_rtt_us = 0;
  std::uint32_t packets_out = 0, in_flight = 0, sacked_out = 0, lost_out = 0, retrans_out = 0;
  std::uint32_t mss = 0;
  std::uint64_t pacing_rate = 0;  // bytes/s; 0 = unlimited
  std::uint32_t delivered = 0;
  std::uint64_t bytes_acked = 0;
  std::uint8_t ca_state = 0;
  std::uint32_t write_seq = 0;
  std::string_view limit;  // chrono: "none", "busy", "rwnd_limited", "sndbuf_limited"
  template <class V>
  void visit(V& v) const {
    v("saddr", saddr);
    v("daddr", daddr);
    v("sport", sport);
    v("dport", dport);
    v("mark", mark);
    v("data_len", data_len);
    v("snd_nxt", snd_nxt);
    v("snd_una", snd_una);
    v("snd_cwnd", snd_cwnd);
    v("ssthresh", ssthresh);
    v("snd_wnd", snd_wnd);
    v("srtt", srtt);
    v("rcv_wnd", rcv_wnd);
    v("sock_cookie", sock_cookie);
    v("snd_ssthresh", snd_ssthresh);
    v("rto_us", rto_us);
    v("rtt_us", rtt_us);
    v("min_rtt_us", min_rtt_us);
    v("packets_out", packets_out);
    v("in_flight", in_flight);
    v("sacked_out", sacked_out);
    v("lost_out", lost_out);
    v("retrans_out", retrans_out);
    v("mss", mss);
    v("pacing_rate", pacing_rate);
    v("delivered", delivered);
    v("bytes_acked", bytes_acked);
    v("ca_state", ca_state);
    v("write_seq", write_seq);
    v("limit", limit);
  }
};

// tcp:tcp_retransmit_skb (also the TLP's probe and the RTO's head resend),
// and tcp:tcp_send_reset (skb zero for an active reset; for a segment that
// matched no socket only the addresses and ports are set, state is empty).
struct TcpRetransmitSkb : Header {
  SockFields sk;
  SkbFields skb;
  // tcp_retransmit_skb only (sendpath's addition): which path resent it,
  // "recovery" (marked lost by RACK or the SACK scoreboard), "loss" (the
  // queue resent after an RTO), "rto" (the timer's own resend of the head),
  // "tlp" (a loss probe resending the tail), "syn".
  std::string_view cause;
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    skb.visit(v);
    if (id == Ev::tcp_retransmit_skb) v("cause", cause);
  }
};

// tcp:tcp_send_reset / tcp:tcp_receive_reset / tcp:tcp_destroy_sock.
struct TcpSockEvent : Header {
  SockFields sk;
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
  }
};

// tcp:tcp_rcv_space_adjust: the receive-buffer autotuning step.
struct TcpRcvSpaceAdjust : Header {
  SockFields sk;
  std::uint32_t rcvq_space = 0;  // bytes copied in the last RTT
  std::int32_t sk_rcvbuf = 0;
  std::uint32_t rcv_ssthresh = 0, window_clamp = 0;
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    v("rcvq_space", rcvq_space);
    v("sk_rcvbuf", sk_rcvbuf);
    v("rcv_ssthresh", rcv_ssthresh);
    v("window_clamp", window_clamp);
  }
};

// tcp:tcp_cong_state_set: icsk_ca_state changes (tcp_set_ca_state).
struct TcpCongStateSet : Header {
  SockFields sk;
  std::uint8_t cong_state = 0;  // 0 Open, 1 Disorder, 2 CWR, 3 Recovery, 4 Loss
  std::string_view cong_state_name;
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    v("cong_state", cong_state);
    v("cong_state_name", cong_state_name);
  }
};

// sock:inet_sock_set_state.
struct InetSockSetState : Header {
  SockFields sk;
  std::string_view oldstate, newstate;
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    v("oldstate", oldstate);
    v("newstate", newstate);
  }
};

// sock:sock_exceed_buf_limit: a charge that did not fit (kind "send" or
// "receive").
struct SockExceedBufLimit : Header {
  SockFields sk;
  std::string_view kind;
  std::int32_t size = 0;       // bytes asked for
  std::int32_t allocated = 0;  // sk_wmem_queued or sk_rmem_alloc
  std::int32_t limit = 0;      // sk_sndbuf or sk_rcvbuf
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    v("kind", kind);
    v("size", size);
    v("allocated", allocated);
    v("limit", limit);
  }
};

// skb:kfree_skb with the drop reason (SKB_DROP_REASON_* without the prefix).
struct KfreeSkb : Header {
  Hex skbaddr;
  std::uint32_t len = 0;
  std::uint16_t protocol = 0;
  std::string_view reason;
  template <class V>
  void visit(V& v) const {
    v("skbaddr", skbaddr);
    v("len", len);
    v("protocol", protocol);
    v("reason", reason);
  }
};

// net:net_dev_xmit (after the driver took or refused the frame) and
// net:netif_receive_skb.
struct NetDevEvent : Header {
  std::string_view dev;
  Hex skbaddr;
  std::uint32_t len = 0;
  std::int32_t rc = 0;  // net_dev_xmit: NETDEV_TX_OK (0) or the driver's code
  template <class V>
  void visit(V& v) const {
    v("dev", dev);
    v("skbaddr", skbaddr);
    v("len", len);
    v("rc", rc);
  }
};

// sendpath:sock_sendmsg / inet_sendmsg / tcp_sendmsg: a call going down
// (fired on entry), with its size and flags.
struct SendmsgEvent : Header {
  SockFields sk;
  std::uint64_t size = 0;
  std::uint32_t flags = 0;  // MSG_*
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    v("size", size);
    v("flags", flags);
  }
};

// An skb step of the send chain: tcp_skb_entail (a new skb on the write
// queue), tcp_skb_append (bytes copied into the tail skb; `copy` of them,
// `paged` when they went to a page frag), tcp_transmit_skb (the clone after
// the TCP header push), tcp_event_new_data_sent (the original moved to the
// retransmit queue), ip_queue_xmit (after the IPv4 header push),
// skb_gso_segment (software segmentation), neigh_output (after the link
// header push), dev_queue_xmit (handed to the device), tcp_clean_rtx_queue
// (acknowledged and freed). `queue` names where the skb sits afterwards.
struct SkbStep : Header {
  SockFields sk;  // zero when the step has no socket (e.g. a reset's skb)
  SkbFields skb;
  std::string_view queue;  // "write", "rtx", "none", "device"
  std::uint32_t copy = 0;
  bool paged = false;
  std::uint32_t pushed = 0;  // header bytes this step pushed
  std::uint32_t segs = 0;    // skb_gso_segment: segments made
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    skb.visit(v);
    v("queue", queue);
    v("copy", copy);
    v("paged", paged);
    v("pushed", pushed);
    v("segs", segs);
  }
};

// sendpath:tcp_push: __tcp_push_pending_frames / tcp_push_one asked to send.
struct TcpPush : Header {
  SockFields sk;
  std::uint32_t mss_now = 0;
  std::int32_t nonagle = 0;
  std::uint32_t write_seq = 0, snd_nxt = 0;
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    v("mss_now", mss_now);
    v("nonagle", nonagle);
    v("write_seq", write_seq);
    v("snd_nxt", snd_nxt);
  }
};

// sendpath:tcp_write_xmit: one call's result, with the test that stopped
// it: "cwnd", "rwnd", "nagle", "tso_defer", "tsq", "pacing", "empty"
// (nothing left to send), "push_one" (a one-skb push sent its skb),
// "mtu_probe" (an MTU probe is pending), "error" (fragmenting or the
// device failed).
struct TcpWriteXmit : Header {
  SockFields sk;
  std::uint32_t sent = 0;  // skbs transmitted by this call
  std::uint32_t sent_segs = 0;
  std::string_view stop;
  std::uint32_t snd_cwnd = 0, in_flight = 0, snd_wnd = 0;
  std::uint32_t snd_nxt = 0, snd_una = 0;
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    v("sent", sent);
    v("sent_segs", sent_segs);
    v("stop", stop);
    v("snd_cwnd", snd_cwnd);
    v("in_flight", in_flight);
    v("snd_wnd", snd_wnd);
    v("snd_nxt", snd_nxt);
    v("snd_una", snd_una);
  }
};

// sendpath:tcp_recovery_event: why the sender decided data was lost, or
// that it was not: "fast_retransmit" (dupthresh / SACK entering Recovery),
// "rack" (RACK marked a segment lost), "tlp" (a tail loss probe was sent),
// "rto" (the retransmission timer fired), "undo" (a spurious episode undone).
struct TcpRecoveryEvent : Header {
  SockFields sk;
  std::string_view kind;
  std::uint32_t seq = 0;
  std::uint32_t snd_cwnd = 0, ssthresh = 0;
  template <class V>
  void visit(V& v) const {
    sk.visit(v);
    v("kind", kind);
    v("seq", seq);
    v("snd_cwnd", snd_cwnd);
    v("ssthresh", ssthresh);
  }
};

// Every event struct, by id (the recorder keeps these).
using AnyEvent =
    std::variant<TcpProbe, TcpRetransmitSkb, TcpSockEvent, TcpRcvSpaceAdjust, TcpCongStateSet,
                 InetSockSetState, SockExceedBufLimit, KfreeSkb, NetDevEvent, SendmsgEvent, SkbStep,
                 TcpPush, TcpWriteXmit, TcpRecoveryEvent>;

inline const Header& header_of(const AnyEvent& e) {
  return std::visit([](const auto& x) -> const Header& { return x; }, e);
}

// Calls v(name, value) for each field of e, header first ("t_ns", "stack",
// "event" are given as values too).
template <class V>
void visit_fields(const AnyEvent& e, V& v);

// --- sinks ---------------------------------------------------------------------
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void event(const AnyEvent& e) = 0;
};

// Attaches sink for the events in mask (ev_bit(...) | ...); a sink attached
// again gets the new mask. detach() before the sink is destroyed. Emission is
// synchronous, from the stack's thread; attach/detach must not race with it.
void attach(Sink* sink, std::uint64_t mask);
void detach(Sink* sink);
// Hands e to every sink listening to its id (the slow path of a call site).
void emit(const AnyEvent& e);

// Stack names: a Stack registers its name once and events carry the id.
std::uint16_t register_stack_name(std::string_view name);
void rename_stack(std::uint16_t id, std::string_view name);
std::string_view stack_name(std::uint16_t id);

// --- implementation of visit_fields ----------------------------------------------
template <class V>
void visit_fields(const AnyEvent& e, V& v) {
  std::visit(
      [&](const auto& x) {
        v("t_ns", x.t_ns);
        v("stack", stack_name(x.stack));
        v("event", event_full_name(x.id));
        x.visit(v);
      },
      e);
}

}  // namespace sp::trace
