// Corpus runs, expectations and summaries (see report.hpp).
#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
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
