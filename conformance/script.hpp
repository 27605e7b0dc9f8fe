// The parsed form of a packetdrill script: options, then events, each with a
// time and one action (a packet, a system call, a shell command, or a block
// of Python). Field meanings follow packetdrill's script.h and packet.h, so a
// reader of packetdrill's run_*.c can map them one to one.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sp::drill {

// --- times -------------------------------------------------------------------
enum class TimeType {
  kAbsolute,       // "0.100"
  kRelative,       // "+0.100": after the previous event
  kAny,            // "*": outbound packets only
  kAbsoluteRange,  // "0.1~0.2"
  kRelativeRange,  // "+0.1~+0.2"
};

struct EventTime {
  TimeType type = TimeType::kAbsolute;
  std::int64_t usecs = 0;
  std::int64_t usecs_end = -1;  // end of a range, or -1
};

// --- packets -----------------------------------------------------------------
struct TcpOption {
  enum class Kind { kNop, kEol, kMss, kWscale, kSackOk, kSack, kTimestamp };
  Kind kind = Kind::kNop;
  std::uint32_t value = 0;                                    // mss, wscale shift, TS val
  std::uint32_t ecr = 0;                                      // TS ecr
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack;  // blocks
};

struct PacketSpec {
  bool inbound = true;  // '<': into the stack; '>': out of it
  std::string flags;    // "S.", "P.", "FP.", ".", "R", "" ('-')
  std::uint32_t start_seq = 0;
  std::uint32_t payload_len = 0;
  bool has_ack_field = false;  // "ack N" was written
  std::uint32_t ack = 0;
  std::int32_t window = -1;  // -1: not given
  std::uint16_t urg_ptr = 0;
  bool options_any = false;  // "<...>": do not check options (outbound only)
  std::vector<TcpOption> options;
  // IP-level annotations in [...] or (...) after the direction
  std::optional<std::string> ip_ecn;  // "noecn", "ect0", "ect1", "ce", "ect01"
  std::optional<int> tos;
  std::optional<int> ttl;
};

// --- system calls ------------------------------------------------------------
// A system call argument, kept as written; the runner gives it meaning by the
// call and position (packetdrill's struct expression, generalised: a braced
// struct is a list of fields, a field is "name(size)=value").
struct Expr {
  enum class Kind {
    kEllipsis,  // ...
    kInt,       // 42, -1, 0x2
    kWord,      // SOCK_STREAM, EAGAIN
    kString,    // "text"
    kList,      // [a, b]
    kStruct,    // {a, b} or {name=value, ...}
    kField,     // name=value, or name(arg)=value
    kOr,        // a|b
  };
  Kind kind = Kind::kInt;
  std::int64_t num = 0;
  bool hex = false;
  std::string text;                          // word, string, field name
  std::vector<std::shared_ptr<Expr>> items;  // list/struct items; or: 2 operands
  std::shared_ptr<Expr> size_arg;            // field: the "(1)" of msg_iov(1)
  std::shared_ptr<Expr> value;               // field: the right-hand side
  int line = 0;

  std::string to_string() const;  // back to script syntax, for messages
};
using ExprPtr = std::shared_ptr<Expr>;

struct SyscallSpec {
  std::string name;
  std::vector<ExprPtr> args;
  ExprPtr result;
  std::string errno_name;       // "EAGAIN", or empty
  std::string note;             // text of "(...)" after the result
  std::int64_t end_usecs = -1;  // "...T" of a blocking call, or -1
  bool blocking() const { return end_usecs >= 0; }
};

// --- events ------------------------------------------------------------------
enum class EventType { kPacket, kSyscall, kCommand, kCode };

struct Event {
  int line = 0;
  EventTime time;
  EventType type = EventType::kPacket;
  PacketSpec packet;
  SyscallSpec syscall;
  std::string text;  // command line (backticks) or code (%{ }%)
};

struct ScriptOption {
  std::string name;   // without the leading "--"
  std::string value;  // empty for a flag
  int line = 0;
};

struct Script {
  std::string path;
  std::vector<ScriptOption> options;
  // The command before the first event (packetdrill's init_command), if any.
  std::optional<std::string> init_command;
  int init_command_line = 0;
  std::vector<Event> events;
  // "// Failure: ..." comments: a script that declares the error it is
  // designed to end with (packetdrill's own sanity scripts).
  struct DeclaredFailure {
    int line = 0;  // the line of the event after the comment
    std::string message;
  };
  std::vector<DeclaredFailure> declared_failures;
};

}  // namespace sp::drill
