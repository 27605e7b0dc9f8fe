// Lexer and parser for packetdrill's script language (the grammar of
// packetdrill's lexer.l and parser.y, restricted to TCP over IPv4), written as
// a hand-made recursive-descent parser so that every error names its line.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "script.hpp"

namespace sp::drill {

struct Token {
  enum class Kind {
    kEnd,
    kInt,        // 12, -1, 0x1f (hex set)
    kFloat,      // .1, 0.200
    kWord,       // identifiers and keywords
    kString,     // "..."
    kBackquote,  // `...`
    kCode,       // %{ ... }%
    kOption,     // --name or --name=value
    kIpv4,       // 192.0.2.1
    kEllipsis,   // ...
    kPunct,      // one character: + * ~ < > . , : ( ) [ ] { } = | -
  };
  Kind kind = Kind::kEnd;
  std::string text;  // source text (string/code/command: the contents)
  std::int64_t num = 0;
  double fnum = 0;
  bool hex = false;
  int line = 0;      // line of the token's first character
  int end_line = 0;  // line of its last character
  bool is(char c) const { return kind == Kind::kPunct && text.size() == 1 && text[0] == c; }
  bool is_word(std::string_view w) const { return kind == Kind::kWord && text == w; }
};

struct ParseError {
  int line = 0;
  std::string message;
  std::string to_string(const std::string& path) const {
    return path + ":" + std::to_string(line) + ": " + message;
  }
};

// Splits a script into tokens; comments are dropped except "// Failure:"
// notes, which are returned through `failures` (line, text).
std::variant<std::vector<Token>, ParseError> tokenize(
    std::string_view text, std::vector<std::pair<int, std::string>>* failures = nullptr);

// Parses a whole script. `path` is recorded in the result and used in no
// other way (the caller reads the file).
std::variant<Script, ParseError> parse_script(std::string_view text, const std::string& path);

// Reads and parses a file; a read failure is a ParseError on line 0.
std::variant<Script, ParseError> parse_script_file(const std::string& path);

}  // namespace sp::drill
