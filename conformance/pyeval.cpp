// A small Python-subset interpreter for %{ }% blocks (see pyeval.hpp).
#include "pyeval.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace sp::drill {

namespace {

struct PyError {
  PyOutcome::Kind kind;
  std::string message;
};

[[noreturn]] void raise(const std::string& type, const std::string& msg) {
  throw PyError{PyOutcome::Kind::kError, type + ": " + msg};
}
[[noreturn]] void unsupported(const std::string& what) {
  throw PyError{PyOutcome::Kind::kUnsupported, "unsupported Python: " + what};
}

std::string type_name(const PyValue& v) {
  switch (v.kind) {
    case PyValue::Kind::kNone:
      return "NoneType";
    case PyValue::Kind::kInt:
      return "int";
    case PyValue::Kind::kFloat:
      return "float";
    case PyValue::Kind::kStr:
      return "str";
    case PyValue::Kind::kTuple:
      return "tuple";
  }
  return "object";
}

std::string float_str(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  // Python prints the shortest repr; try shorter precisions that round-trip.
  for (int prec = 1; prec <= 17; ++prec) {
    char b2[64];
    std::snprintf(b2, sizeof b2, "%.*g", prec, d);
    if (std::strtod(b2, nullptr) == d) {
      std::string s = b2;
      if (s.find_first_of(".en") == std::string::npos) s += ".0";
      return s;
    }
  }
  return buf;
}

// --- tokens --------------------------------------------------------------------
struct PyTok {
  enum class Kind { kEnd, kName, kInt, kFloat, kStr, kOp };
  Kind kind = Kind::kEnd;
  std::string text;
  std::int64_t i = 0;
  double f = 0;
};

std::vector<PyTok> py_tokenize(std::string_view s) {
  std::vector<PyTok> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    PyTok t;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = i;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
      t.kind = PyTok::Kind::kName;
      t.text = std::string(s.substr(b, i - b));
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t b = i;
      if (c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        while (i < s.size() && (std::isxdigit(static_cast<unsigned char>(s[i])) || s[i] == '_'))
          ++i;
        t.kind = PyTok::Kind::kInt;
        t.i = static_cast<std::int64_t>(
            std::strtoull(std::string(s.substr(b + 2, i - b - 2)).c_str(), nullptr, 16));
      } else {
        bool is_float = false;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
        if (i < s.size() && s[i] == '.') {
          is_float = true;
          ++i;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
          is_float = true;
          ++i;
          if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
        std::string num;
        for (char d : s.substr(b, i - b))
          if (d != '_') num += d;
        if (is_float) {
          t.kind = PyTok::Kind::kFloat;
          t.f = std::strtod(num.c_str(), nullptr);
        } else {
          t.kind = PyTok::Kind::kInt;
          t.i = std::strtoll(num.c_str(), nullptr, 10);
        }
      }
      t.text = std::string(s.substr(b, i - b));
    } else if (c == '\'' || c == '"') {
      std::string v;
      ++i;
      while (i < s.size() && s[i] != c) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          char n = s[i + 1];
          v += n == 'n' ? '\n' : n == 't' ? '\t' : n;
          i += 2;
          continue;
        }
        v += s[i++];
      }
      if (i >= s.size()) raise("SyntaxError", "unterminated string literal");
      ++i;
      t.kind = PyTok::Kind::kStr;
      t.text = std::move(v);
    } else {
      static const char* const ops[] = {
          "**", "//", "==", "!=", "<=", ">=", "<<", ">>", "+=", "-=", "*=", "+", "-", "*", "/",
          "%",  "<",  ">",  "(",  ")",  ",",  "=",  "|",  "&",  "^",  "~",  ":", "[", "]", "."};
      bool found = false;
      for (const char* op : ops) {
        std::string_view o(op);
        if (s.substr(i, o.size()) == o) {
          t.kind = PyTok::Kind::kOp;
          t.text = std::string(o);
          i += o.size();
          found = true;
          break;
        }
      }
      if (!found) raise("SyntaxError", std::string("invalid character '") + c + "'");
    }
    out.push_back(std::move(t));
  }
  out.push_back(PyTok{});
  return out;
}

// --- values --------------------------------------------------------------------
bool is_num(const PyValue& v) {
  return v.kind == PyValue::Kind::kInt || v.kind == PyValue::Kind::kFloat;
}
double as_double(const PyValue& v) {
  return v.kind == PyValue::Kind::kInt ? static_cast<double>(v.i) : v.f;
}
PyValue of_float(double d) {
  PyValue p;
  p.kind = PyValue::Kind::kFloat;
  p.f = d;
  return p;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string format_percent(const std::string& fmt, const PyValue& args) {
  std::vector<PyValue> list;
  if (args.kind == PyValue::Kind::kTuple)
    list = args.t;
  else
    list.push_back(args);
  size_t used = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) raise("ValueError", "incomplete format");
    std::string spec;
    while (i < fmt.size() && (std::isdigit(static_cast<unsigned char>(fmt[i])) || fmt[i] == '-' ||
                              fmt[i] == '.' || fmt[i] == '0'))
      spec += fmt[i++];
    char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (used >= list.size()) raise("TypeError", "not enough arguments for format string");
    const PyValue& a = list[used++];
    char buf[128];
    std::string cfmt = "%" + spec;
    switch (conv) {
      case 'd':
      case 'i':
      case 'u':
        if (!is_num(a)) raise("TypeError", "%d format: a number is required, not " + type_name(a));
        std::snprintf(buf, sizeof buf, (cfmt + "lld").c_str(),
                      static_cast<long long>(
                          a.kind == PyValue::Kind::kInt ? a.i : static_cast<std::int64_t>(a.f)));
        out += buf;
        break;
      case 'x':
      case 'X':
        if (a.kind != PyValue::Kind::kInt) raise("TypeError", "%x format: an integer is required");
        std::snprintf(buf, sizeof buf, (cfmt + "ll" + conv).c_str(), static_cast<long long>(a.i));
        out += buf;
        break;
      case 'f':
      case 'g':
      case 'e':
        if (!is_num(a)) raise("TypeError", "must be real number, not " + type_name(a));
        std::snprintf(buf, sizeof buf, (cfmt + conv).c_str(), as_double(a));
        out += buf;
        break;
      case 's':
        out += a.str();
        break;
      case 'r':
        out += a.repr();
        break;
      default:
        unsupported(std::string("format conversion %") + conv);
    }
  }
  if (used != list.size())
    raise("TypeError", "not all arguments converted during string formatting");
  return out;
}

// --- the evaluator --------------------------------------------------------------
class Eval {
 public:
  Eval(std::vector<PyTok> toks, PyEnv& env) : t_(std::move(toks)), env_(env) {}

  void statement() {
    if (at_end()) return;
    if (is_name("assert")) {
      take();
      PyValue cond = expr();
      std::string msg;
      bool has_msg = false;
      if (is_op(",")) {
        take();
        msg = expr().str();
        has_msg = true;
      }
      end();
      if (!cond.truthy()) {
        throw PyError{PyOutcome::Kind::kAssertionFailed,
                      has_msg ? "AssertionError: " + msg : "AssertionError"};
      }
      return;
    }
    if (is_name("pass")) {
      take();
      end();
      return;
    }
    for (const char* kw : {"if", "for", "while", "def", "import", "from", "class", "with", "try",
                           "return", "lambda", "global", "del", "elif", "else"}) {
      if (is_name(kw)) unsupported(std::string("'") + kw + "' statements");
    }
    if (cur().kind == PyTok::Kind::kName && t_[p_ + 1].kind == PyTok::Kind::kOp) {
      const std::string& op = t_[p_ + 1].text;
      if (op == "=" || op == "+=" || op == "-=" || op == "*=") {
        std::string name = take().text;
        take();
        PyValue v = expr();
        if (is_op(",")) v = tuple_rest(std::move(v));
        end();
        if (op != "=") {
          PyValue old = lookup(name);
          v = binary(op.substr(0, 1), old, v);
        }
        env_.vars[name] = std::move(v);
        return;
      }
    }
    expr();
    end();
  }

 private:
  const PyTok& cur() const { return t_[p_]; }
  const PyTok& take() { return t_[p_ < t_.size() - 1 ? p_++ : p_]; }
  bool at_end() const { return cur().kind == PyTok::Kind::kEnd; }
  bool is_op(std::string_view o) const { return cur().kind == PyTok::Kind::kOp && cur().text == o; }
  bool is_name(std::string_view n) const {
    return cur().kind == PyTok::Kind::kName && cur().text == n;
  }
  void end() {
    if (!at_end()) raise("SyntaxError", "invalid syntax near '" + cur().text + "'");
  }
  void expect(std::string_view o) {
    if (!is_op(o)) raise("SyntaxError", "expected '" + std::string(o) + "'");
    take();
  }

  PyValue lookup(const std::string& name) {
    auto it = env_.vars.find(name);
    if (it == env_.vars.end()) raise("NameError", "name '" + name + "' is not defined");
    return it->second;
  }

  PyValue tuple_rest(PyValue first) {
    PyValue t;
    t.kind = PyValue::Kind::kTuple;
    t.t.push_back(std::move(first));
    while (is_op(",")) {
      take();
      if (at_end() || is_op(")")) break;
      t.t.push_back(expr());
    }
    return t;
  }

  PyValue expr() { return or_test(); }

  PyValue or_test() {
    PyValue v = and_test();
    while (is_name("or")) {
      take();
      PyValue r = and_test();
      if (!v.truthy()) v = r;
    }
    return v;
  }
  PyValue and_test() {
    PyValue v = not_test();
    while (is_name("and")) {
      take();
      PyValue r = not_test();
      if (v.truthy()) v = r;
    }
    return v;
  }
  PyValue not_test() {
    if (is_name("not")) {
      take();
      return PyValue::of(!not_test().truthy());
    }
    return comparison();
  }

  static bool compare(const std::string& op, const PyValue& a, const PyValue& b) {
    if (is_num(a) && is_num(b)) {
      if (a.kind == PyValue::Kind::kInt && b.kind == PyValue::Kind::kInt) {
        std::int64_t x = a.i, y = b.i;
        if (op == "<") return x < y;
        if (op == ">") return x > y;
        if (op == "<=") return x <= y;
        if (op == ">=") return x >= y;
        if (op == "==") return x == y;
        return x != y;
      }
      double x = as_double(a), y = as_double(b);
      if (op == "<") return x < y;
      if (op == ">") return x > y;
      if (op == "<=") return x <= y;
      if (op == ">=") return x >= y;
      if (op == "==") return x == y;
      return x != y;
    }
    if (a.kind == PyValue::Kind::kStr && b.kind == PyValue::Kind::kStr) {
      int c = a.s.compare(b.s);
      if (op == "<") return c < 0;
      if (op == ">") return c > 0;
      if (op == "<=") return c <= 0;
      if (op == ">=") return c >= 0;
      if (op == "==") return c == 0;
      return c != 0;
    }
    if (op == "==") return a.repr() == b.repr();
    if (op == "!=") return a.repr() != b.repr();
    raise("TypeError", "'" + op + "' not supported between instances of '" + type_name(a) +
                           "' and '" + type_name(b) + "'");
  }

  PyValue comparison() {
    PyValue left = bit_or();
    bool result = true;
    bool any = false;
    while (cur().kind == PyTok::Kind::kOp &&
           (cur().text == "<" || cur().text == ">" || cur().text == "==" || cur().text == "!=" ||
            cur().text == "<=" || cur().text == ">=")) {
      std::string op = take().text;
      PyValue right = bit_or();
      any = true;
      // Chained comparisons (a <= b <= c) are a and b; all operands are
      // evaluated here, which is the same for side-effect-free operands.
      result = result && compare(op, left, right);
      left = std::move(right);
    }
    if (is_name("in") || is_name("is")) unsupported("'" + cur().text + "' comparisons");
    return any ? PyValue::of(result) : left;
  }

  PyValue bit_or() {
    PyValue v = bit_xor();
    while (is_op("|")) {
      take();
      v = binary("|", v, bit_xor());
    }
    return v;
  }
  PyValue bit_xor() {
    PyValue v = bit_and();
    while (is_op("^")) {
      take();
      v = binary("^", v, bit_and());
    }
    return v;
  }
  PyValue bit_and() {
    PyValue v = shift();
    while (is_op("&")) {
      take();
      v = binary("&", v, shift());
    }
    return v;
  }
  PyValue shift() {
    PyValue v = arith();
    while (is_op("<<") || is_op(">>")) {
      std::string op = take().text;
      v = binary(op, v, arith());
    }
    return v;
  }
  PyValue arith() {
    PyValue v = term();
    while (is_op("+") || is_op("-")) {
      std::string op = take().text;
      v = binary(op, v, term());
    }
    return v;
  }
  PyValue term() {
    PyValue v = factor();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = take().text;
      v = binary(op, v, factor());
    }
    return v;
  }
  PyValue factor() {
    if (is_op("-") || is_op("+") || is_op("~")) {
      std::string op = take().text;
      PyValue v = factor();
      if (!is_num(v))
        raise("TypeError", "bad operand type for unary " + op + ": '" + type_name(v) + "'");
      if (op == "+") return v;
      if (op == "-") return v.kind == PyValue::Kind::kInt ? PyValue::of(-v.i) : of_float(-v.f);
      if (v.kind != PyValue::Kind::kInt) raise("TypeError", "bad operand type for unary ~");
      return PyValue::of(~v.i);
    }
    return power();
  }
  PyValue power() {
    PyValue v = atom();
    if (is_op("**")) {
      take();
      PyValue e = factor();
      if (v.kind == PyValue::Kind::kInt && e.kind == PyValue::Kind::kInt && e.i >= 0) {
        std::int64_t r = 1;
        for (std::int64_t k = 0; k < e.i && k < 64; ++k) r *= v.i;
        return PyValue::of(r);
      }
      if (!is_num(v) || !is_num(e)) raise("TypeError", "unsupported operand type(s) for **");
      return of_float(std::pow(as_double(v), as_double(e)));
    }
    return v;
  }

  PyValue call(const std::string& fn) {
    std::vector<PyValue> args;
    if (!is_op(")")) {
      while (true) {
        args.push_back(expr());
        if (is_op(",")) {
          take();
          if (is_op(")")) break;
          continue;
        }
        break;
      }
    }
    expect(")");
    if (fn == "print") {
      std::string line;
      for (size_t k = 0; k < args.size(); ++k) {
        if (k) line += ' ';
        line += args[k].str();
      }
      env_.printed.push_back(line);
      return PyValue{};
    }
    if (fn == "int" && args.size() == 1) {
      if (args[0].kind == PyValue::Kind::kInt) return args[0];
      if (args[0].kind == PyValue::Kind::kFloat)
        return PyValue::of(static_cast<std::int64_t>(args[0].f));
      if (args[0].kind == PyValue::Kind::kStr)
        return PyValue::of(std::strtoll(args[0].s.c_str(), nullptr, 0));
    }
    if (fn == "float" && args.size() == 1 && is_num(args[0])) return of_float(as_double(args[0]));
    if (fn == "str" && args.size() == 1) return PyValue::of_str(args[0].str());
    if (fn == "abs" && args.size() == 1 && is_num(args[0]))
      return args[0].kind == PyValue::Kind::kInt ? PyValue::of(std::llabs(args[0].i))
                                                 : of_float(std::fabs(args[0].f));
    if ((fn == "min" || fn == "max") && !args.empty()) {
      PyValue best = args[0];
      for (size_t k = 1; k < args.size(); ++k) {
        bool less = compare("<", args[k], best);
        if (fn == "min" ? less : compare(">", args[k], best)) best = args[k];
      }
      return best;
    }
    unsupported("call of " + fn + "()");
  }

  PyValue atom() {
    const PyTok& t = cur();
    switch (t.kind) {
      case PyTok::Kind::kInt:
        take();
        return PyValue::of(t.i);
      case PyTok::Kind::kFloat:
        take();
        return of_float(t.f);
      case PyTok::Kind::kStr: {
        std::string s = take().text;
        while (cur().kind == PyTok::Kind::kStr) s += take().text;  // "a" "b"
        return PyValue::of_str(s);
      }
      case PyTok::Kind::kName: {
        std::string n = take().text;
        if (n == "True") return PyValue::of(1);
        if (n == "False") return PyValue::of(0);
        if (n == "None") return PyValue{};
        if (is_op("(")) {
          take();
          return call(n);
        }
        if (is_op(".") || is_op("[")) unsupported("attributes and subscripts");
        return lookup(n);
      }
      case PyTok::Kind::kOp:
        if (t.text == "(") {
          take();
          if (is_op(")")) {
            take();
            PyValue e;
            e.kind = PyValue::Kind::kTuple;
            return e;
          }
          PyValue v = expr();
          if (is_op(",")) v = tuple_rest(std::move(v));
          expect(")");
          return v;
        }
        break;
      case PyTok::Kind::kEnd:
        raise("SyntaxError", "unexpected end of statement");
    }
    raise("SyntaxError", "invalid syntax near '" + t.text + "'");
  }

  PyValue binary(const std::string& op, const PyValue& a, const PyValue& b) {
    if (op == "%" && a.kind == PyValue::Kind::kStr) return PyValue::of_str(format_percent(a.s, b));
    if (op == "+" && a.kind == PyValue::Kind::kStr && b.kind == PyValue::Kind::kStr)
      return PyValue::of_str(a.s + b.s);
    if (!is_num(a) || !is_num(b)) {
      raise("TypeError", "unsupported operand type(s) for " + op + ": '" + type_name(a) +
                             "' and '" + type_name(b) + "'");
    }
    bool ints = a.kind == PyValue::Kind::kInt && b.kind == PyValue::Kind::kInt;
    if (op == "|" || op == "&" || op == "^" || op == "<<" || op == ">>") {
      if (!ints) raise("TypeError", "unsupported operand type(s) for " + op);
      if (op == "|") return PyValue::of(a.i | b.i);
      if (op == "&") return PyValue::of(a.i & b.i);
      if (op == "^") return PyValue::of(a.i ^ b.i);
      if (op == "<<") return PyValue::of(a.i << b.i);
      return PyValue::of(a.i >> b.i);
    }
    if (op == "/") {
      if (as_double(b) == 0) raise("ZeroDivisionError", "division by zero");
      return of_float(as_double(a) / as_double(b));
    }
    if (ints) {
      if (op == "+") return PyValue::of(a.i + b.i);
      if (op == "-") return PyValue::of(a.i - b.i);
      if (op == "*") return PyValue::of(a.i * b.i);
      if (b.i == 0) raise("ZeroDivisionError", "integer division or modulo by zero");
      std::int64_t q = floor_div(a.i, b.i);
      if (op == "//") return PyValue::of(q);
      return PyValue::of(a.i - q * b.i);
    }
    double x = as_double(a), y = as_double(b);
    if (op == "+") return of_float(x + y);
    if (op == "-") return of_float(x - y);
    if (op == "*") return of_float(x * y);
    if (y == 0) raise("ZeroDivisionError", "float division by zero");
    if (op == "//") return of_float(std::floor(x / y));
    return of_float(x - std::floor(x / y) * y);
  }

  std::vector<PyTok> t_;
  size_t p_ = 0;
  PyEnv& env_;
};

// Splits a block into statements: physical lines joined by a trailing
// backslash or open brackets, then split on ';', comments dropped.
struct Stmt {
  int line;
  std::string text;
};

std::vector<Stmt> split_statements(std::string_view code) {
  std::vector<Stmt> out;
  std::string curr;
  int line = 1, start_line = 1;
  int depth = 0;
  char quote = 0;
  auto flush = [&] {
    size_t b = curr.find_first_not_of(" \t\r\n");
    if (b != std::string::npos) out.push_back({start_line, curr.substr(b)});
    curr.clear();
  };
  for (size_t i = 0; i < code.size(); ++i) {
    char c = code[i];
    if (quote) {
      curr += c;
      if (c == '\\' && i + 1 < code.size()) {
        curr += code[++i];
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (curr.find_first_not_of(" \t\r\n") == std::string::npos) start_line = line;
    if (c == '\'' || c == '"') {
      quote = c;
      curr += c;
    } else if (c == '#') {
      while (i + 1 < code.size() && code[i + 1] != '\n') ++i;
    } else if (c == '\\' && i + 1 < code.size() && code[i + 1] == '\n') {
      curr += ' ';
      ++i;
      ++line;
    } else if (c == '\n') {
      ++line;
      if (depth > 0)
        curr += ' ';
      else
        flush();
    } else if (c == ';' && depth == 0) {
      flush();
    } else {
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      curr += c;
    }
  }
  flush();
  return out;
}

}  // namespace

bool PyValue::truthy() const {
  switch (kind) {
    case Kind::kNone:
      return false;
    case Kind::kInt:
      return i != 0;
    case Kind::kFloat:
      return f != 0;
    case Kind::kStr:
      return !s.empty();
    case Kind::kTuple:
      return !t.empty();
  }
  return false;
}

std::string PyValue::str() const {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kInt:
      return std::to_string(i);
    case Kind::kFloat:
      return float_str(f);
    case Kind::kStr:
      return s;
    case Kind::kTuple:
      return repr();
  }
  return "";
}

std::string PyValue::repr() const {
  if (kind == Kind::kStr) return "'" + s + "'";
  if (kind != Kind::kTuple) return str();
  std::string out = "(";
  for (size_t k = 0; k < t.size(); ++k) {
    if (k) out += ", ";
    out += t[k].repr();
  }
  if (t.size() == 1) out += ",";
  return out + ")";
}

PyOutcome py_exec(std::string_view code, PyEnv& env) {
  PyOutcome out;
  for (const Stmt& st : split_statements(code)) {
    try {
      Eval ev(py_tokenize(st.text), env);
      ev.statement();
    } catch (const PyError& e) {
      out.kind = e.kind;
      out.line = st.line;
      out.message = e.message;
      out.statement = st.text;
      return out;
    }
  }
  return out;
}

}  // namespace sp::drill
