// The runner's own evaluator for the Python in packetdrill's %{ ... }%
// blocks. packetdrill writes those blocks into a python3 program with the
// socket's tcp_info fields bound as tcpi_* variables; the corpus uses a small
// part of Python, which this evaluates directly: assert (with a message),
// print, assignments (=, +=, -=, *=), and expressions with ints, floats,
// strings, tuples, arithmetic, comparisons (chained), and/or/not, bit
// operators, parentheses and "fmt" % args. Anything else is reported as
// unsupported Python, never guessed.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sp::drill {

struct PyValue {
  enum class Kind { kNone, kInt, kFloat, kStr, kTuple };
  Kind kind = Kind::kNone;
  std::int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<PyValue> t;

  static PyValue of(std::int64_t v) {
    PyValue p;
    p.kind = Kind::kInt;
    p.i = v;
    return p;
  }
  static PyValue of_str(std::string v) {
    PyValue p;
    p.kind = Kind::kStr;
    p.s = std::move(v);
    return p;
  }
  bool truthy() const;
  std::string str() const;   // Python's str()
  std::string repr() const;  // Python's repr()
};

// Variables live across blocks, as in packetdrill's single generated program.
struct PyEnv {
  std::map<std::string, PyValue> vars;
  std::vector<std::string> printed;  // output of print(), in order
};

struct PyOutcome {
  enum class Kind { kOk, kAssertionFailed, kError, kUnsupported };
  Kind kind = Kind::kOk;
  int line = 0;           // line within the block (1-based) of the failing statement
  std::string message;    // "AssertionError: 12", "NameError: name 'x' is not defined", ...
  std::string statement;  // the failing statement's text
  bool ok() const { return kind == Kind::kOk; }
};

// Runs a block. Stops at the first failing statement.
PyOutcome py_exec(std::string_view code, PyEnv& env);

}  // namespace sp::drill
