#include "trace/sinks.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <type_traits>

#include "trace/json.hpp"

namespace sp::trace {
namespace {

std::string ip4_string(Ip4 a) {
  const std::uint32_t h = ntohl(a.be);
  return fmt::format("{}.{}.{}.{}", h >> 24, (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

void json_string(std::string& out, std::string_view s) {
  out += '"';
  out += json_escape(s);
  out += '"';
}

struct JsonWriter {
  std::string& out;
  bool first = true;
  template <class T>
  void operator()(std::string_view name, const T& v) {
    out += first ? "" : ",";
    first = false;
    json_string(out, name);
    out += ':';
    if constexpr (std::is_same_v<T, Ip4>) {
      json_string(out, ip4_string(v));
    } else if constexpr (std::is_same_v<T, Hex>) {
      out += fmt::format("\"{:#x}\"", v.v);
    } else if constexpr (std::is_same_v<T, bool>) {
      out += v ? "true" : "false";
    } else if constexpr (std::is_convertible_v<T, std::string_view>) {
      json_string(out, std::string_view(v));
    } else {
      out += fmt::format("{}", +v);
    }
  }
};

struct TextWriter {
  std::string& out;
  template <class T>
  void operator()(std::string_view name, const T& v) {
    if (name == "t_ns" || name == "stack" || name == "event") return;  // in the prefix
    out += ' ';
    out += name;
    out += '=';
    if constexpr (std::is_same_v<T, Ip4>) {
      out += ip4_string(v);
    } else if constexpr (std::is_same_v<T, Hex>) {
      out += fmt::format("{:#x}", v.v);
    } else if constexpr (std::is_same_v<T, bool>) {
      out += v ? "1" : "0";
    } else if constexpr (std::is_convertible_v<T, std::string_view>) {
      out += std::string_view(v).empty() ? std::string_view("-") : std::string_view(v);
    } else {
      out += fmt::format("{}", +v);
    }
  }
};

}  // namespace

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += ch;
    }
  }
  return out;
}

std::string format_text(const AnyEvent& e) {
  const Header& h = header_of(e);
  std::string out = fmt::format("{} {}.{:09}: {}:", stack_name(h.stack), h.t_ns / 1000000000,
                                h.t_ns % 1000000000, event_full_name(h.id));
  TextWriter w{out};
  visit_fields(e, w);
  return out;
}

std::string format_json(const AnyEvent& e) {
  std::string out = "{";
  JsonWriter w{out};
  visit_fields(e, w);
  out += '}';
  return out;
}

void TextSink::event(const AnyEvent& e) {
  const std::string line = format_text(e);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fputc('\n', out_);
  ++lines_;
}

void JsonlSink::event(const AnyEvent& e) {
  const std::string line = format_json(e);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fputc('\n', out_);
  ++lines_;
}

std::size_t Recorder::count(Ev id) const {
  std::size_t n = 0;
  for (const auto& e : events_) n += header_of(e).id == id;
  return n;
}

}  // namespace sp::trace
