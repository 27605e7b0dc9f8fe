// The sender's side of a report: what the trace (JSON lines, one flat event
// per line, see shared docs/design.md "Watching it") says about one socket.
// TraceCollector takes events one at a time, from a file or from a sink in
// the same process, and keeps only what the report draws, so a trace of
// millions of events is never held whole.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sp::report {

// One field of a flat event: a number or a string (never both).
struct TraceValue {
  bool is_string = false;
  double num = 0;
  std::string_view str;
};

// A parsed event: the views point into the caller's line buffer and live
// until the next event.
struct TraceEvent {
  std::int64_t t_ns = 0;
  std::string_view stack;
  std::string_view event;
  std::vector<std::pair<std::string_view, TraceValue>> fields;

  const TraceValue* find(std::string_view name) const;
  std::optional<double> num(std::string_view name) const;
  std::string_view str(std::string_view name) const;  // "" when absent
};

// Parses one JSON-lines record of a flat object ({"k":v,...}, values
// numbers, strings, true/false/null). String escapes are decoded into
// scratch, which must outlive ev's use. Returns "" or what is wrong.
std::string parse_trace_line(std::string_view line, TraceEvent& ev, std::string& scratch);

// The columns of tcp:tcp_probe kept for the charts, one row per event.
enum ProbeCol : int {
  kCwnd,        // snd_cwnd, packets
  kSsthresh,    // packets; NaN while "infinite"
  kInFlight,    // packets
  kSackedOut,   // packets
  kLostOut,     // packets
  kRetransOut,  // packets
  kSrttMs,      // srtt, ms
  kRttMs,       // the latest RTT sample, ms
  kMinRttMs,    // ms
  kRtoMs,       // ms
  kPacingMbps,  // pacing_rate, Mbit/s
  kSndUna,      // raw 32-bit
  kSndNxt,      // raw 32-bit
  kSndWnd,      // bytes
  kProbeCols
};

struct Interval {
  double t0_ns, t1_ns;  // [t0, t1)
  int state;
};

struct Marker {
  double t_ns;
  std::string kind;
  double seq;
};

// One skb's trip down the send chain: the send-chain events of the
// segment that starts at seq, in order.
struct SkbStep {
  std::string event;
  double t_ns = 0;
  std::map<std::string, double> num;  // seq, end_seq, len, data_off, ...
  std::map<std::string, std::string> str;
};

struct TraceData {
  std::string stack;  // the sender's stack and socket
  std::string sock_cookie;
  std::uint64_t events = 0;
  double first_ns = 0, last_ns = 0;
  std::vector<double> probe_t;                                   // ns
  std::vector<std::vector<double>> probe;                        // [ProbeCol][row]
  std::vector<std::pair<std::string, std::string>> final_probe;  // the last tcp_probe's fields
  std::vector<Interval> cong_state;                              // 0 Open .. 4 Loss
  std::vector<Interval> limit;                                   // index into kLimitNames
  std::vector<Interval> stop;                                    // index into kStopNames
  std::vector<Marker> recovery;                                  // sendpath:tcp_recovery_event
  std::vector<Marker> retransmits;  // tcp:tcp_retransmit_skb (t, "", seq)
  std::map<std::string, std::uint64_t> event_counts;
  std::map<std::string, std::uint64_t> drop_reasons;               // skb:kfree_skb
  std::vector<std::pair<std::string, std::string>> state_changes;  // "t ms", "OLD -> NEW"
  std::vector<SkbStep> skb_steps;
};

extern const std::vector<std::string> kCongStateNames;  // Open, Disorder, CWR, Recovery, Loss
extern const std::vector<std::string> kLimitNames;      // none, busy, rwnd_limited, ...
extern const std::vector<std::string> kStopNames;       // cwnd, rwnd, nagle, ..., push_one

class TraceCollector {
 public:
  // stack: keep only events of this stack ("" keeps all and picks the
  // socket that sent the most data).
  explicit TraceCollector(std::string stack = "");
  ~TraceCollector();
  TraceCollector(const TraceCollector&) = delete;
  TraceCollector& operator=(const TraceCollector&) = delete;

  void add(const TraceEvent& ev);
  // Reads a JSON-lines file through add(). Returns "" or what went wrong
  // (the first malformed line is an error: a trace is machine-written).
  std::string add_file(const std::string& path);
  // False once some socket's first data segment has been followed down
  // the send chain: its events can be skipped from then on.
  bool wants_send_chain() const { return !chain_seen_; }
  // Picks the sending socket and closes the open intervals.
  TraceData finish();

 private:
  struct Sock;
  Sock& sock(std::string_view stack, const std::string& cookie);
  void follow_chain(Sock& s, const TraceEvent& ev);
  static void extend(std::vector<Interval>& v, double t, int state);

  std::string want_stack_;
  std::map<std::pair<std::string, std::string>, Sock*> socks_;
  std::vector<std::unique_ptr<Sock>> owned_;
  bool chain_seen_ = false;
  std::uint64_t events_ = 0;
  double first_ns_ = -1, last_ns_ = 0;
  std::map<std::string, std::uint64_t> event_counts_;
  std::map<std::string, std::uint64_t> drop_reasons_;
};

}  // namespace sp::report
