// Lexer and recursive-descent parser for packetdrill scripts. The token rules
// follow packetdrill's lexer.l (longest match: "0...0.5" is 0, ..., 0.5; a
// leading '-' belongs to a number), the grammar its parser.y: options,
// an optional init command, events, an optional cleanup command.
#include "parser.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sp::drill {

namespace {

bool is_word_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

class Lexer {
 public:
  Lexer(std::string_view s, std::vector<std::pair<int, std::string>>* failures)
      : s_(s), failures_(failures) {}

  std::variant<std::vector<Token>, ParseError> run() {
    std::vector<Token> out;
    while (true) {
      skip_space_and_comments();
      if (err_) return *err_;
      if (i_ >= s_.size()) break;
      Token t;
      if (!next(t)) return *err_;
      out.push_back(std::move(t));
    }
    Token end;
    end.kind = Token::Kind::kEnd;
    end.line = end.end_line = line_;
    out.push_back(end);
    return out;
  }

 private:
  char peek(size_t k = 0) const { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }

  void skip_space_and_comments() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\n') {
        ++line_;
        ++i_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++i_;
      } else if (c == '/' && peek(1) == '/') {
        size_t e = s_.find('\n', i_);
        if (e == std::string_view::npos) e = s_.size();
        std::string body = trim(s_.substr(i_ + 2, e - i_ - 2));
        if (failures_ && body.rfind("Failure:", 0) == 0) {
          failures_->emplace_back(line_, trim(std::string_view(body).substr(8)));
        }
        i_ = e;
      } else if (c == '/' && peek(1) == '*') {
        size_t e = s_.find("*/", i_ + 2);
        if (e == std::string_view::npos) {
          err_ = ParseError{line_, "unterminated /* comment"};
          return;
        }
        for (size_t k = i_; k < e; ++k) line_ += s_[k] == '\n';
        i_ = e + 2;
      } else {
        break;
      }
    }
  }

  // Reads a delimited block (backquotes, %{ }%, quotes), counting lines.
  bool read_block(Token& t, Token::Kind kind, size_t open_len, std::string_view close,
                  const char* what) {
    size_t start = i_ + open_len;
    size_t e = s_.find(close, start);
    if (e == std::string_view::npos) {
      err_ = ParseError{line_, std::string("unterminated ") + what};
      return false;
    }
    t.kind = kind;
    t.text = std::string(s_.substr(start, e - start));
    for (char c : t.text) line_ += c == '\n';
    i_ = e + close.size();
    return true;
  }

  bool next(Token& t) {
    t.line = line_;
    char c = s_[i_];
    bool ok = true;
    if (c == '%' && peek(1) == '{') {
      ok = read_block(t, Token::Kind::kCode, 2, "}%", "%{ code block");
    } else if (c == '`') {
      ok = read_block(t, Token::Kind::kBackquote, 1, "`", "`command`");
    } else if (c == '"') {
      ok = read_string(t);
    } else if (c == '-' && peek(1) == '-' && is_word_start(peek(2))) {
      read_option(t);
    } else if (is_digit(c) || (c == '-' && is_digit(peek(1)))) {
      ok = read_number(t);
    } else if (c == '.' && peek(1) == '.' && peek(2) == '.') {
      t.kind = Token::Kind::kEllipsis;
      t.text = "...";
      i_ += 3;
    } else if (c == '.' && is_digit(peek(1))) {
      ok = read_number(t);
    } else if (is_word_start(c)) {
      size_t b = i_;
      while (i_ < s_.size() && is_word_char(s_[i_])) ++i_;
      t.kind = Token::Kind::kWord;
      t.text = std::string(s_.substr(b, i_ - b));
    } else if (std::string_view("+*~<>.,:()[]{}=|-;/!&").find(c) != std::string_view::npos) {
      t.kind = Token::Kind::kPunct;
      t.text = std::string(1, c);
      ++i_;
    } else {
      err_ = ParseError{line_, std::string("unexpected character '") + c + "'"};
      return false;
    }
    t.end_line = line_;
    return ok;
  }

  bool read_string(Token& t) {
    std::string out;
    size_t k = i_ + 1;
    while (k < s_.size() && s_[k] != '"') {
      if (s_[k] == '\\' && k + 1 < s_.size()) {
        char n = s_[k + 1];
        out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
        k += 2;
        continue;
      }
      if (s_[k] == '\n') ++line_;
      out += s_[k++];
    }
    if (k >= s_.size()) {
      err_ = ParseError{t.line, "unterminated string"};
      return false;
    }
    t.kind = Token::Kind::kString;
    t.text = std::move(out);
    i_ = k + 1;
    return true;
  }

  void read_option(Token& t) {
    size_t b = i_ + 2;
    size_t k = b;
    while (k < s_.size() && !std::isspace(static_cast<unsigned char>(s_[k]))) ++k;
    t.kind = Token::Kind::kOption;
    t.text = std::string(s_.substr(b, k - b));
    i_ = k;
  }

  bool read_number(Token& t) {
    size_t b = i_;
    size_t k = i_;
    if (s_[k] == '-') ++k;
    // A dotted quad is an address, not two floats.
    {
      size_t q = k;
      int parts = 0;
      while (true) {
        size_t d = q;
        while (d < s_.size() && is_digit(s_[d])) ++d;
        if (d == q) break;
        ++parts;
        q = d;
        if (parts < 4 && q < s_.size() && s_[q] == '.' && q + 1 < s_.size() && is_digit(s_[q + 1]))
          ++q;
        else
          break;
      }
      if (parts == 4 && s_[b] != '-') {
        t.kind = Token::Kind::kIpv4;
        t.text = std::string(s_.substr(b, q - b));
        i_ = q;
        return true;
      }
    }
    if (s_[k] == '0' && k + 1 < s_.size() && (s_[k + 1] == 'x' || s_[k + 1] == 'X')) {
      size_t d = k + 2;
      while (d < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[d]))) ++d;
      if (d == k + 2) {
        err_ = ParseError{line_, "bad hex number"};
        return false;
      }
      t.kind = Token::Kind::kInt;
      t.hex = true;
      t.text = std::string(s_.substr(b, d - b));
      t.num = static_cast<std::int64_t>(
          std::strtoull(std::string(s_.substr(k + 2, d - k - 2)).c_str(), nullptr, 16));
      if (s_[b] == '-') t.num = -t.num;
      i_ = d;
      return true;
    }
    size_t d = k;
    while (d < s_.size() && is_digit(s_[d])) ++d;
    // "[0-9]*\.[0-9]+" is a float, but "0..." is an integer and an ellipsis.
    if (d < s_.size() && s_[d] == '.' && d + 1 < s_.size() && is_digit(s_[d + 1])) {
      size_t f = d + 1;
      while (f < s_.size() && is_digit(s_[f])) ++f;
      t.kind = Token::Kind::kFloat;
      t.text = std::string(s_.substr(b, f - b));
      t.fnum = std::strtod(t.text.c_str(), nullptr);
      i_ = f;
      return true;
    }
    t.kind = Token::Kind::kInt;
    t.text = std::string(s_.substr(b, d - b));
    t.num = std::strtoll(t.text.c_str(), nullptr, 10);
    i_ = d;
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  int line_ = 1;
  std::optional<ParseError> err_;
  std::vector<std::pair<int, std::string>>* failures_;
};

struct Abort {
  ParseError err;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Script parse(const std::string& path) {
    Script s;
    s.path = path;
    while (cur().kind == Token::Kind::kOption) {
      const Token& o = take();
      ScriptOption opt;
      opt.line = o.line;
      size_t eq = o.text.find('=');
      opt.name = o.text.substr(0, eq);
      if (eq != std::string::npos) opt.value = o.text.substr(eq + 1);
      s.options.push_back(std::move(opt));
    }
    if (cur().kind == Token::Kind::kBackquote) {
      s.init_command_line = cur().line;
      s.init_command = take().text;
    }
    while (cur().kind != Token::Kind::kEnd) {
      if (cur().kind == Token::Kind::kBackquote) {
        // A command without a time is the cleanup command; it must end the script.
        const Token& c = take();
        if (cur().kind != Token::Kind::kEnd)
          fail(cur(), "a command without a time must end the script");
        Event e;
        e.line = c.line;
        e.type = EventType::kCommand;
        e.time.type = TimeType::kRelative;
        e.text = c.text;
        cleanup_ = e;
        break;
      }
      s.events.push_back(parse_event());
    }
    if (s.events.empty()) fail(cur(), "script has no events");
    if (cleanup_) s.events.push_back(*cleanup_);
    return s;
  }

 private:
  const Token& cur() const { return t_[p_]; }
  const Token& at(size_t k) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  const Token& take() {
    const Token& t = t_[p_];
    if (p_ + 1 < t_.size()) ++p_;
    return t;
  }

  [[noreturn]] void fail(const Token& t, const std::string& msg) {
    throw Abort{ParseError{t.line, msg}};
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Token::Kind::kEnd:
        return "end of file";
      case Token::Kind::kCode:
        return "%{ code }%";
      case Token::Kind::kBackquote:
        return "`command`";
      case Token::Kind::kString:
        return "\"" + t.text + "\"";
      default:
        return "'" + t.text + "'";
    }
  }
  [[noreturn]] void syntax(const Token& t, const std::string& expected) {
    fail(t, "syntax error: expected " + expected + " but found " + describe(t));
  }
  void expect_punct(char c, const char* where) {
    if (!cur().is(c)) syntax(cur(), std::string("'") + c + "' " + where);
    take();
  }
  std::int64_t expect_int(const char* what) {
    if (cur().kind != Token::Kind::kInt) syntax(cur(), what);
    return take().num;
  }
  std::uint32_t expect_u32(const char* what) {
    const Token& t = cur();
    std::int64_t v = expect_int(what);
    if (v < 0 || v > 0xffffffffLL) fail(t, std::string(what) + " out of range");
    return static_cast<std::uint32_t>(v);
  }

  static bool is_time_token(const Token& t) {
    return t.kind == Token::Kind::kInt || t.kind == Token::Kind::kFloat;
  }
  std::int64_t parse_time() {
    const Token& t = cur();
    if (!is_time_token(t)) syntax(t, "a time");
    take();
    double secs = t.kind == Token::Kind::kInt ? static_cast<double>(t.num) : t.fnum;
    if (secs < 0) fail(t, "negative time");
    // Round to the microsecond, as packetdrill's (s64)(secs * 1e6) does for
    // the values scripts use, without its truncation of e.g. 0.29999.
    return static_cast<std::int64_t>(secs * 1e6 + 0.5);
  }

  EventTime parse_event_time(int& line) {
    EventTime et;
    line = cur().line;
    if (cur().is('*')) {
      take();
      et.type = TimeType::kAny;
      return et;
    }
    if (cur().is('+')) {
      take();
      et.type = TimeType::kRelative;
      et.usecs = parse_time();
      if (cur().is('~')) {
        take();
        expect_punct('+', "after '~' in a relative time range");
        et.type = TimeType::kRelativeRange;
        et.usecs_end = parse_time();
      }
      return et;
    }
    if (!is_time_token(cur())) syntax(cur(), "an event time");
    et.type = TimeType::kAbsolute;
    et.usecs = parse_time();
    if (cur().is('~')) {
      take();
      et.type = TimeType::kAbsoluteRange;
      et.usecs_end = parse_time();
    }
    return et;
  }

  Event parse_event() {
    Event e;
    e.time = parse_event_time(e.line);
    const Token& a = cur();
    if (a.is('<') || a.is('>')) {
      e.type = EventType::kPacket;
      e.packet = parse_packet();
    } else if (a.kind == Token::Kind::kBackquote) {
      e.type = EventType::kCommand;
      e.text = take().text;
    } else if (a.kind == Token::Kind::kCode) {
      e.type = EventType::kCode;
      e.text = take().text;
    } else if (a.kind == Token::Kind::kEllipsis || a.kind == Token::Kind::kWord) {
      e.type = EventType::kSyscall;
      e.syscall = parse_syscall();
    } else {
      syntax(a, "a packet, system call, `command` or %{ code }%");
    }
    if (e.time.usecs_end >= 0 && e.time.usecs_end < e.time.usecs) {
      fail(a, "time range is backwards");
    }
    bool outbound_packet = e.type == EventType::kPacket && !e.packet.inbound;
    if (e.time.type == TimeType::kAny && !outbound_packet) {
      throw Abort{ParseError{e.line, "event time <star> can only be used with outbound packets"}};
    }
    if ((e.time.type == TimeType::kAbsoluteRange || e.time.type == TimeType::kRelativeRange) &&
        !outbound_packet) {
      throw Abort{ParseError{e.line, "event time range can only be used with outbound packets"}};
    }
    return e;
  }

  // --- packets ---------------------------------------------------------------
  PacketSpec parse_packet() {
    PacketSpec p;
    const Token& dir = take();
    p.inbound = dir.is('<');
    if (cur().is('[') || cur().is('(')) parse_ip_info(p);
    if (cur().kind == Token::Kind::kInt && at(1).is('>')) {
      fail(cur(), "explicit port numbers in packets are not supported");
    }
    if (cur().kind == Token::Kind::kWord && (cur().text == "udp" || cur().text == "icmp")) {
      fail(cur(), cur().text + " packets are not supported (TCP only)");
    }
    parse_flags(p);
    // seq: start:end(len)
    const Token& st = cur();
    p.start_seq = expect_u32("TCP start sequence number");
    expect_punct(':', "in start:end(len)");
    std::uint32_t end = expect_u32("TCP end sequence number");
    expect_punct('(', "in start:end(len)");
    std::int64_t len = expect_int("TCP payload size");
    if (len < 0 || len > 0xffff) fail(st, "TCP payload size out of range");
    expect_punct(')', "in start:end(len)");
    if (static_cast<std::uint32_t>(p.start_seq + len) != end) {
      fail(st, "inconsistent TCP sequence numbers and payload size");
    }
    p.payload_len = static_cast<std::uint32_t>(len);
    while (cur().kind == Token::Kind::kWord) {
      const Token& k = cur();
      if (k.text == "ack") {
        take();
        p.has_ack_field = true;
        p.ack = expect_u32("TCP ack sequence number");
      } else if (k.text == "win") {
        take();
        std::int64_t w = expect_int("TCP window value");
        if (w < 0 || w > 0xffff) fail(k, "TCP window value out of range");
        p.window = static_cast<std::int32_t>(w);
      } else if (k.text == "urg") {
        take();
        std::int64_t u = expect_int("urg_ptr value");
        if (u < 0 || u > 0xffff) fail(k, "urg_ptr value out of range");
        p.urg_ptr = static_cast<std::uint16_t>(u);
      } else {
        break;
      }
    }
    if (cur().is('<')) parse_tcp_options(p);
    if (p.options_any && p.inbound) {
      fail(dir, "<...> for TCP options can only be used with outbound packets");
    }
    return p;
  }

  void parse_ip_info(PacketSpec& p) {
    char close = cur().is('[') ? ']' : ')';
    take();
    while (!cur().is(close)) {
      const Token& w = cur();
      if (w.kind != Token::Kind::kWord) syntax(w, "IP info (ecn, tos, ttl)");
      take();
      if (w.text == "noecn" || w.text == "ect0" || w.text == "ect1" || w.text == "ce" ||
          w.text == "ect01") {
        p.ip_ecn = w.text;
      } else if (w.text == "tos") {
        p.tos = static_cast<int>(expect_int("tos value"));
      } else if (w.text == "ttl") {
        p.ttl = static_cast<int>(expect_int("ttl value"));
      } else if (w.text == "flowlabel") {
        fail(w, "IPv6 flow labels are not supported");
      } else {
        syntax(w, "IP info (ecn, tos, ttl)");
      }
      if (cur().is(',')) take();
    }
    take();
  }

  void parse_flags(PacketSpec& p) {
    const Token& f = cur();
    if (f.is('.')) {
      take();
      p.flags = ".";
    } else if (f.is('-')) {
      take();
      p.flags = "";
    } else if (f.kind == Token::Kind::kWord) {
      take();
      p.flags = f.text;
      if (cur().is('.') && cur().line == f.line) {
        take();
        p.flags += '.';
      }
    } else {
      syntax(f, "TCP flags");
    }
    for (char c : p.flags) {
      if (std::string_view("FSRP.UEWC").find(c) == std::string_view::npos) {
        fail(f, std::string("unknown TCP flag '") + c + "'");
      }
    }
  }

  void parse_tcp_options(PacketSpec& p) {
    take();  // '<'
    if (cur().kind == Token::Kind::kEllipsis) {
      take();
      expect_punct('>', "after <...");
      p.options_any = true;
      return;
    }
    while (true) {
      const Token& w = cur();
      if (w.kind != Token::Kind::kWord) syntax(w, "a TCP option");
      take();
      TcpOption o;
      if (w.text == "nop") {
        o.kind = TcpOption::Kind::kNop;
      } else if (w.text == "eol") {
        o.kind = TcpOption::Kind::kEol;
      } else if (w.text == "mss") {
        o.kind = TcpOption::Kind::kMss;
        std::int64_t v = expect_int("mss value");
        if (v < 0 || v > 0xffff) fail(w, "mss value out of range");
        o.value = static_cast<std::uint32_t>(v);
      } else if (w.text == "wscale") {
        o.kind = TcpOption::Kind::kWscale;
        std::int64_t v = expect_int("window scale shift count");
        if (v < 0 || v > 0xff) fail(w, "window scale shift count out of range");
        o.value = static_cast<std::uint32_t>(v);
      } else if (w.text == "sackOK") {
        o.kind = TcpOption::Kind::kSackOk;
      } else if (w.text == "sack") {
        o.kind = TcpOption::Kind::kSack;
        while (cur().kind == Token::Kind::kInt) {
          std::uint32_t l = expect_u32("TCP SACK left sequence number");
          expect_punct(':', "in a SACK block");
          std::uint32_t r = expect_u32("TCP SACK right sequence number");
          o.sack.emplace_back(l, r);
        }
        if (o.sack.empty()) syntax(cur(), "a SACK block left:right");
        if (o.sack.size() > 4) fail(w, "TCP option list too long");
      } else if (w.text == "TS") {
        o.kind = TcpOption::Kind::kTimestamp;
        if (!cur().is_word("val")) syntax(cur(), "'val' in TS val X ecr Y");
        take();
        o.value = expect_u32("ts val");
        if (!cur().is_word("ecr")) syntax(cur(), "'ecr' in TS val X ecr Y");
        take();
        o.ecr = expect_u32("ecr val");
      } else if (w.text == "FO" || w.text == "FOEXP" || w.text == "md5") {
        fail(w, "TCP option " + w.text + " is not supported");
      } else {
        fail(w, "unknown TCP option '" + w.text + "'");
      }
      p.options.push_back(std::move(o));
      if (cur().is(',')) {
        take();
        continue;
      }
      expect_punct('>', "to end the TCP options");
      break;
    }
  }

  // --- system calls ------------------------------------------------------------
  SyscallSpec parse_syscall() {
    SyscallSpec s;
    if (cur().kind == Token::Kind::kEllipsis) {
      take();
      s.end_usecs = parse_time();
    }
    if (cur().kind != Token::Kind::kWord) syntax(cur(), "a system call name");
    s.name = take().text;
    expect_punct('(', "after the system call name");
    if (!cur().is(')')) {
      while (true) {
        s.args.push_back(parse_expr());
        if (cur().is(',')) {
          take();
          continue;
        }
        break;
      }
    }
    expect_punct(')', "to end the system call arguments");
    expect_punct('=', "before the expected result");
    s.result = parse_expr();
    if (cur().kind == Token::Kind::kWord && cur().line == at(0).line && is_errno_like(cur().text)) {
      s.errno_name = take().text;
    }
    if (cur().is('(')) {
      const Token& open = take();
      int depth = 1;
      std::string note;
      while (depth > 0) {
        const Token& t = cur();
        if (t.kind == Token::Kind::kEnd) fail(open, "unterminated note in parentheses");
        if (t.is('(')) ++depth;
        if (t.is(')') && --depth == 0) break;
        if (!note.empty()) note += ' ';
        note += t.text;
        take();
      }
      take();
      s.note = note;
    }
    return s;
  }

  static bool is_errno_like(const std::string& w) {
    return w.size() > 1 && w[0] == 'E' && std::isupper(static_cast<unsigned char>(w[1]));
  }

  ExprPtr make(Expr::Kind k, int line) {
    auto e = std::make_shared<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  ExprPtr parse_expr() {
    ExprPtr lhs = parse_primary();
    while (cur().is('|')) {
      const Token& op = take();
      ExprPtr rhs = parse_primary();
      ExprPtr e = make(Expr::Kind::kOr, op.line);
      e->items = {lhs, rhs};
      lhs = e;
    }
    return lhs;
  }

  std::vector<ExprPtr> parse_list(char close) {
    std::vector<ExprPtr> items;
    if (cur().is(close)) {
      take();
      return items;
    }
    while (true) {
      items.push_back(parse_expr());
      if (cur().is(',')) {
        take();
        if (cur().is(close)) break;  // trailing comma
        continue;
      }
      break;
    }
    expect_punct(close, close == ']' ? "to end a list" : "to end a struct");
    return items;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.kind) {
      case Token::Kind::kEllipsis: {
        take();
        return make(Expr::Kind::kEllipsis, t.line);
      }
      case Token::Kind::kInt: {
        take();
        ExprPtr e = make(Expr::Kind::kInt, t.line);
        e->num = t.num;
        e->hex = t.hex;
        return e;
      }
      case Token::Kind::kString: {
        take();
        ExprPtr e = make(Expr::Kind::kString, t.line);
        e->text = t.text;
        if (cur().kind == Token::Kind::kEllipsis) take();
        return e;
      }
      case Token::Kind::kWord: {
        take();
        ExprPtr size;
        if (cur().is('(')) {
          take();
          size = parse_expr();
          expect_punct(')', "after a field size");
        }
        if (cur().is('=')) {
          take();
          ExprPtr e = make(Expr::Kind::kField, t.line);
          e->text = t.text;
          e->size_arg = size;
          e->value = parse_expr();
          return e;
        }
        if (size) {
          // A call-like value such as htons(8080) or inet_addr("..."): keep
          // it as a field without a value.
          ExprPtr e = make(Expr::Kind::kField, t.line);
          e->text = t.text;
          e->size_arg = size;
          return e;
        }
        ExprPtr e = make(Expr::Kind::kWord, t.line);
        e->text = t.text;
        return e;
      }
      default:
        break;
    }
    if (t.is('[')) {
      take();
      ExprPtr e = make(Expr::Kind::kList, t.line);
      e->items = parse_list(']');
      return e;
    }
    if (t.is('{')) {
      take();
      ExprPtr e = make(Expr::Kind::kStruct, t.line);
      e->items = parse_list('}');
      return e;
    }
    syntax(t, "an expression");
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  std::optional<Event> cleanup_;
};

}  // namespace

std::string Expr::to_string() const {
  switch (kind) {
    case Kind::kEllipsis:
      return "...";
    case Kind::kInt: {
      if (!hex) return std::to_string(num);
      std::ostringstream o;
      o << "0x" << std::hex << num;
      return o.str();
    }
    case Kind::kWord:
      return text;
    case Kind::kString:
      return "\"" + text + "\"";
    case Kind::kList:
    case Kind::kStruct: {
      std::string s = kind == Kind::kList ? "[" : "{";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) s += ", ";
        s += items[i]->to_string();
      }
      return s + (kind == Kind::kList ? "]" : "}");
    }
    case Kind::kField: {
      std::string s = text;
      if (size_arg) s += "(" + size_arg->to_string() + ")";
      if (value) s += "=" + value->to_string();
      return s;
    }
    case Kind::kOr:
      return items[0]->to_string() + "|" + items[1]->to_string();
  }
  return "?";
}

std::variant<std::vector<Token>, ParseError> tokenize(
    std::string_view text, std::vector<std::pair<int, std::string>>* failures) {
  return Lexer(text, failures).run();
}

std::variant<Script, ParseError> parse_script(std::string_view text, const std::string& path) {
  std::vector<std::pair<int, std::string>> failures;
  auto toks = tokenize(text, &failures);
  if (auto* e = std::get_if<ParseError>(&toks)) return *e;
  try {
    Parser p(std::move(std::get<std::vector<Token>>(toks)));
    Script s = p.parse(path);
    // A "// Failure:" note describes the event that follows it.
    for (auto& [line, msg] : failures) {
      Script::DeclaredFailure f;
      f.line = line;
      for (const Event& e : s.events) {
        if (e.line > line) {
          f.line = e.line;
          break;
        }
      }
      f.message = msg;
      s.declared_failures.push_back(std::move(f));
    }
    return s;
  } catch (const Abort& a) {
    return a.err;
  }
}

std::variant<Script, ParseError> parse_script_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ParseError{0, "cannot open script file"};
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_script(ss.str(), path);
}

}  // namespace sp::drill
