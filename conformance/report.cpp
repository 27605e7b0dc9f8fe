// Corpus runs, expectations and summaries (see report.hpp).
#include "report.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace sp::drill {

namespace fs = std::filesystem;

std::vector<ScriptEntry> collect_scripts(const std::vector<std::string>& paths,
                                         std::vector<std::string>* missing) {
  std::vector<ScriptEntry> out;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<ScriptEntry> here;
      for (auto it = fs::recursive_directory_iterator(p, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".pkt") {
          here.push_back({it->path().string(), fs::relative(it->path(), p).generic_string()});
        }
      }
      std::sort(here.begin(), here.end(),
                [](const auto& a, const auto& b) { return a.key < b.key; });
      out.insert(out.end(), here.begin(), here.end());
    } else if (fs::is_regular_file(p, ec)) {
      out.push_back({p, fs::path(p).filename().generic_string()});
    } else if (missing) {
      missing->push_back(p);
    }
  }
  return out;
}

bool load_expectations(const std::string& path, std::map<std::string, Expectation>* out,
                       std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream ls(line);
    std::string key, kind;
    if (!(ls >> key)) continue;
    if (!(ls >> kind)) {
      *error = path + ":" + std::to_string(n) + ": missing result after " + key;
      return false;
    }
    Expectation e;
    e.line = n;
    if (kind == "pass") {
      e.kind = ScriptResult::Kind::kPass;
    } else if (kind == "fail") {
      e.kind = ScriptResult::Kind::kFail;
    } else if (kind == "unsupported") {
      e.kind = ScriptResult::Kind::kUnsupported;
    } else {
      *error = path + ":" + std::to_string(n) + ": result must be pass, fail or unsupported, not " +
               kind;
      return false;
    }
    std::getline(ls, e.reason);
    size_t b = e.reason.find_first_not_of(" \t");
    e.reason = b == std::string::npos ? "" : e.reason.substr(b);
    if (e.kind != ScriptResult::Kind::kPass && e.reason.empty()) {
      *error = path + ":" + std::to_string(n) + ": " + key + " is listed as " + kind +
               " without a reason";
      return false;
    }
    if (out->count(key)) {
      *error = path + ":" + std::to_string(n) + ": " + key + " listed twice";
      return false;
    }
    (*out)[key] = e;
  }
  return true;
}

RunRecord run_isolated(const ScriptEntry& script, const RunnerConfig& cfg, int wall_limit_secs) {
  RunRecord rec{script, {}, 0};
  auto t0 = std::chrono::steady_clock::now();
  int fds[2];
  std::fflush(stdout);
  std::cout.flush();
  if (pipe(fds) != 0) {
    rec.result.kind = ScriptResult::Kind::kFail;
    rec.result.reason = std::string("runner: pipe: ") + std::strerror(errno);
    return rec;
  }
  pid_t pid = fork();
  if (pid == 0) {
    ::close(fds[0]);
    alarm(static_cast<unsigned>(wall_limit_secs));
    FILE* out = fdopen(fds[1], "w");
    bool reported = false;
    auto report = [&](const ScriptResult& r) {
      std::fprintf(out, "R %d %d %d %.9f %zu\n", static_cast<int>(r.kind), r.line,
                   r.failed_as_declared ? 1 : 0, r.virtual_secs, r.reason.size());
      std::fwrite(r.reason.data(), 1, r.reason.size(), out);
      std::fputc('\n', out);
      std::fflush(out);
      reported = true;
    };
    RunnerConfig c = cfg;
    c.on_event = [&](int line) {
      std::fprintf(out, "E %d\n", line);
      std::fflush(out);
    };
    c.on_result = report;
    ScriptResult r = run_script_file(script.path, c);
    if (!reported) report(r);
    std::cout.flush();
    std::fflush(stdout);
    std::fclose(out);
    _exit(0);
  }
  ::close(fds[1]);
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fds[0]);
  int status = 0;
  while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  rec.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  int last_line = 0;
  bool have = false;
  size_t i = 0;
  while (i < data.size()) {
    size_t nl = data.find('\n', i);
    if (nl == std::string::npos) break;
    std::string line = data.substr(i, nl - i);
    i = nl + 1;
    if (line.rfind("E ", 0) == 0) {
      last_line = std::atoi(line.c_str() + 2);
    } else if (line.rfind("R ", 0) == 0) {
      int kind = 0, ln = 0, decl = 0;
      double vs = 0;
      size_t len = 0;
      if (std::sscanf(line.c_str(), "R %d %d %d %lf %zu", &kind, &ln, &decl, &vs, &len) == 5 &&
          i + len <= data.size()) {
        rec.result.kind = static_cast<ScriptResult::Kind>(kind);
        rec.result.line = ln;
        rec.result.failed_as_declared = decl != 0;
        rec.result.virtual_secs = vs;
        rec.result.reason = data.substr(i, len);
        i += len + 1;
        have = true;
      }
    }
  }
  bool crashed = pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  if (!crashed) return rec;
  std::string how =
      pid < 0 ? "fork failed"
      : WIFSIGNALED(status)
          ? (WTERMSIG(status) == SIGALRM
                 ? "did not finish within " + std::to_string(wall_limit_secs) + " s of real time"
                 : "crashed with signal " + std::to_string(WTERMSIG(status)) + " (" +
                       strsignal(WTERMSIG(status)) + ")")
          : "exited with status " + std::to_string(WEXITSTATUS(status));
  if (!have) {
    rec.result.kind = ScriptResult::Kind::kFail;
    rec.result.line = last_line;
    rec.result.reason = "the stack " + how + " during this event";
  } else {
    std::string outcome = ScriptResult::kind_name(rec.result.kind);
    rec.result.reason = "script " + outcome +
                        (rec.result.reason.empty() ? "" : " (" + rec.result.reason + ")") +
                        ", then the stack " + how + " while being torn down";
    rec.result.kind = ScriptResult::Kind::kFail;
  }
  return rec;
}

Summary summarize(const std::vector<RunRecord>& runs) {
  Summary s;
  for (const RunRecord& r : runs) {
    ++s.total;
    switch (r.result.kind) {
      case ScriptResult::Kind::kPass:
        ++s.passed;
        break;
      case ScriptResult::Kind::kFail:
        ++s.failed;
        break;
      case ScriptResult::Kind::kUnsupported:
        ++s.unsupported;
        break;
    }
  }
  return s;
}

namespace {
std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      case '\r':
        o += "\\r";
        break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}
}  // namespace

std::string to_json(const std::vector<RunRecord>& runs) {
  Summary s = summarize(runs);
  std::ostringstream o;
  o << "{\"total\":" << s.total << ",\"passed\":" << s.passed << ",\"failed\":" << s.failed
    << ",\"unsupported\":" << s.unsupported << ",\"scripts\":[";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunRecord& r = runs[i];
    if (i) o << ",";
    o << "{\"path\":" << json_string(r.script.key)
      << ",\"result\":" << json_string(ScriptResult::kind_name(r.result.kind))
      << ",\"line\":" << r.result.line << ",\"reason\":" << json_string(r.result.reason) << "}";
  }
  o << "]}";
  return o.str();
}

Comparison compare(const std::vector<RunRecord>& runs,
                   const std::map<std::string, Expectation>& exp) {
  Comparison c;
  std::set<std::string> seen;
  for (const RunRecord& r : runs) {
    seen.insert(r.script.key);
    auto it = exp.find(r.script.key);
    const char* got = ScriptResult::kind_name(r.result.kind);
    std::string detail = r.script.key + ":" + std::to_string(r.result.line) + ": " + got +
                         (r.result.reason.empty() ? "" : ": " + r.result.reason);
    if (it == exp.end()) {
      c.regressions.push_back("not in the expectations file: " + detail);
      continue;
    }
    const Expectation& e = it->second;
    if (e.kind == ScriptResult::Kind::kPass && r.result.kind != ScriptResult::Kind::kPass) {
      c.regressions.push_back("expected pass, got " + detail);
    } else if (e.kind != ScriptResult::Kind::kPass && r.result.kind == ScriptResult::Kind::kPass) {
      c.improvements.push_back(r.script.key + " now passes (listed as " +
                               ScriptResult::kind_name(e.kind) + ": " + e.reason + ")");
    }
  }
  for (const auto& [k, e] : exp)
    if (!seen.count(k)) c.stale.push_back(k);
  return c;
}

}  // namespace sp::drill
