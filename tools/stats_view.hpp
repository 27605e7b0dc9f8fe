// `--stats` and `--stats-interval` of sim, send and serve: a stack's MIB
// counters as `nstat` prints them and its sockets as `ss -tina` does (the
// formatting is src/trace/nstat and src/trace/ss; this file decides when
// and where each view goes).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/mib.hpp"

namespace sp {
class Stack;
}

namespace sp::tools {

struct StatsOptions {
  bool enabled = false;
  std::string interval;  // empty: only at the end
};

void add_stats_options(CLI::App& app, StatsOptions& o);
// The interval as virtual/real time; 0 when none; nullopt when malformed.
std::optional<Nanos> stats_interval(const StatsOptions& o);

class StatsReporter {
 public:
  // Text: each view is printed on stdout as it is made. JSON: each becomes
  // one sample object, handed to `sink` if set, else kept for json().
  explicit StatsReporter(bool json, std::function<void(const std::string&)> sink = {})
      : json_(json), sink_(std::move(sink)) {}

  // While running: the counters' increase since this label's previous
  // interval (plain `nstat`, with rates per second) and the sockets.
  void interval(const std::string& label, Stack& st, Nanos t);
  // The sockets alone, at a named moment: `when` is its JSON key
  // ("last_byte"), `title` what the text says ("last byte acknowledged").
  void sockets(const std::string& label, Stack& st, Nanos t, const std::string& when,
               const std::string& title);
  // The counters since the stack started (`nstat -a`) and the sockets.
  void totals(const std::string& label, Stack& st, Nanos t, const std::string& when,
              const std::string& title);

  // JSON: the kept samples as an array.
  std::string json() const;

 private:
  void emit(const std::string& label, Nanos t, const std::string& when, const std::string& title,
            const std::string& nstat_title, const std::string* nstat_text,
            const std::string* nstat_json, Stack* sockets_of);

  bool json_;
  std::function<void(const std::string&)> sink_;
  std::vector<std::string> samples_;
  std::map<std::string, std::pair<Mib, Nanos>> last_;  // per label: previous interval
};

}  // namespace sp::tools
