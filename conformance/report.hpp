// Running many scripts: collecting them from files and directories, the
// expectations file (script -> pass, or fail/unsupported with the Linux
// behaviour that is missing), counts and the JSON summary.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner.hpp"

namespace sp::drill {

struct ScriptEntry {
  std::string path;  // as opened
  std::string key;   // relative to the directory it was found under (the expectations key)
};

// Files are taken as given; directories are walked recursively for *.pkt.
// Sorted by key. Missing paths are returned in `missing`.
std::vector<ScriptEntry> collect_scripts(const std::vector<std::string>& paths,
                                         std::vector<std::string>* missing);

struct Expectation {
  ScriptResult::Kind kind = ScriptResult::Kind::kPass;
  std::string reason;
  int line = 0;  // line in the expectations file
};

// Format, one script per line ('#' starts a comment):
//   <key> pass
//   <key> fail <why: the Linux behaviour sendpath lacks>
//   <key> unsupported <why>
// Returns false with `error` (file:line: message) on a malformed file.
bool load_expectations(const std::string& path, std::map<std::string, Expectation>* out,
                       std::string* error);

struct RunRecord {
  ScriptEntry script;
  ScriptResult result;
  double wall_ms = 0;
};

// Runs one script in a child process, so that a crash or a hang in the
// stack fails that script (at the event it was running) instead of the whole
// run. `wall_limit_secs` bounds a script's real running time.
RunRecord run_isolated(const ScriptEntry& script, const RunnerConfig& cfg,
                       int wall_limit_secs = 120);

struct Summary {
  int total = 0, passed = 0, failed = 0, unsupported = 0;
};
Summary summarize(const std::vector<RunRecord>& runs);

std::string to_json(const std::vector<RunRecord>& runs);

// Compares runs with expectations. A script expected to pass that does not,
// or a script missing from the file, is a regression; a script that passes
// although listed as fail/unsupported is reported as an improvement (the
// file should be updated) but is not an error.
struct Comparison {
  std::vector<std::string> regressions;
  std::vector<std::string> improvements;
  std::vector<std::string> stale;  // listed but not run
};
Comparison compare(const std::vector<RunRecord>& runs,
                   const std::map<std::string, Expectation>& exp);

}  // namespace sp::drill
