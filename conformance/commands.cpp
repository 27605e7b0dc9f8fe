// Backtick command planner (see commands.hpp).
#include "commands.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace sp::drill {

namespace {

// `ip route change DST via GW dev tun0` plus advmss / mtu [lock] / initcwnd,
// nothing else: another form stays unsupported rather than half-applied.
std::optional<RouteChange> parse_route_change(const std::vector<std::string>& w) {
  auto parse_ip = [](const std::string& s, std::uint32_t* out) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
    *out = ntohl(a.s_addr);
    return true;
  };
  auto parse_num = [](const std::string& s, std::uint32_t* out) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    *out = static_cast<std::uint32_t>(std::stoul(s));
    return true;
  };
  RouteChange rc;
  if (w.size() < 8) return std::nullopt;
  std::string dst = w[3];
  const size_t slash = dst.find('/');
  if (slash != std::string::npos) {
    std::uint32_t plen = 0;
    if (!parse_num(dst.substr(slash + 1), &plen) || plen > 32) return std::nullopt;
    rc.prefix_len = static_cast<int>(plen);
    dst.resize(slash);
  }
  if (!parse_ip(dst, &rc.dst) || w[4] != "via" || !parse_ip(w[5], &rc.gateway) || w[6] != "dev" ||
      w[7] != "tun0")
    return std::nullopt;
  for (size_t k = 8; k < w.size(); ++k) {
    const bool has_arg = k + 1 < w.size();
    if (w[k] == "advmss" && has_arg && parse_num(w[k + 1], &rc.advmss)) {
      ++k;
    } else if (w[k] == "initcwnd" && has_arg && parse_num(w[k + 1], &rc.initcwnd)) {
      ++k;
    } else if (w[k] == "mtu" && has_arg) {
      ++k;
      if (w[k] == "lock") {
        rc.mtu_lock = true;
        if (++k >= w.size()) return std::nullopt;
      }
      if (!parse_num(w[k], &rc.mtu)) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return rc;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// $((a*b*c)) with + - * / on integers, the only arithmetic defaults.sh uses.
bool eval_arith(std::string_view e, long long* out) {
  std::string s;
  for (char c : e)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  size_t i = 0;
  auto number = [&](long long* v) {
    size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (b == i) return false;
    *v = std::stoll(s.substr(b, i - b));
    return true;
  };
  auto term = [&](long long* v) {
    if (!number(v)) return false;
    while (i < s.size() && (s[i] == '*' || s[i] == '/')) {
      char op = s[i++];
      long long r;
      if (!number(&r)) return false;
      if (op == '/' && r == 0) return false;
      *v = op == '*' ? *v * r : *v / r;
    }
    return true;
  };
  long long v;
  if (!term(&v)) return false;
  while (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    char op = s[i++];
    long long r;
    if (!term(&r)) return false;
    v = op == '+' ? v + r : v - r;
  }
  if (i != s.size()) return false;
  *out = v;
  return true;
}

// Splits one shell command line into words: quotes removed, $((...))
// expanded, redirections dropped. Returns false for shell syntax the runner
// does not interpret (pipes, variables, command substitution).
bool shell_words(std::string_view line, std::vector<std::string>* words) {
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != '\'' && c == '$' && line.substr(i, 3) == "$((") {
      size_t e = line.find("))", i + 3);
      if (e == std::string_view::npos) return false;
      long long v;
      if (!eval_arith(line.substr(i + 3, e - i - 3), &v)) return false;
      cur += std::to_string(v);
      in_word = true;
      i = e + 1;
      continue;
    }
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        if (c == '$' && quote == '"') return false;
        cur += c;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
      continue;
    }
    if (c == '|' || c == '`' || c == '$' || c == '&' || c == '<') {
      // "2>&1" is a redirection, handled below; anything else is real shell.
      if (!(c == '&' && !cur.empty() && cur.back() == '>')) return false;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words->push_back(cur);
      cur.clear();
      in_word = false;
      continue;
    }
    cur += c;
    in_word = true;
  }
  if (quote) return false;
  if (in_word) words->push_back(cur);
  // Drop redirections: "> /dev/null", "2>&1", ">/dev/null".
  std::vector<std::string> out;
  for (size_t k = 0; k < words->size(); ++k) {
    const std::string& w = (*words)[k];
    bool redir = w == ">" || w == "2>" || w == ">>";
    if (redir) {
      ++k;
      continue;
    }
    if (w.rfind(">", 0) == 0 || w.rfind("2>", 0) == 0 || w.rfind("1>", 0) == 0) continue;
    out.push_back(w);
  }
  *words = std::move(out);
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void plan_text(std::string_view text, const std::string& dir, bool in_defaults, int depth,
               CommandPlan& plan);

void plan_line(const std::string& line, const std::string& dir, bool in_defaults, int depth,
               CommandPlan& plan) {
  // set_sysctls.py's restore script (its name has the shell's ${PPID}):
  // the stack is discarded after the script, so there is nothing to restore.
  if (line.rfind("/tmp/sysctl_restore_", 0) == 0 && ends_with(line, ".sh")) {
    plan.ignored.push_back(line + " (the stack is discarded after the script)");
    return;
  }
  // tcp_cubic module parameters: sendpath's CUBIC has Linux's defaults built
  // in, so writing a parameter's default value is a no-op; any other value
  // asks for behaviour the stack cannot be set to.
  {
    static const std::regex cubic_param(
        R"(^echo\s+(\S+)\s*>\s*/sys/module/tcp_cubic/parameters/(\w+)$)");
    std::smatch m;
    if (std::regex_match(line, m, cubic_param)) {
      static const std::map<std::string, std::string> linux_defaults = {
          {"hystart", "1"},
          {"hystart_detect", "3"},
          {"hystart_low_window", "16"},
          {"hystart_ack_delta_us", "2000"},
          {"fast_convergence", "1"},
          {"beta", "717"},
          {"initial_ssthresh", "0"},
          {"bic_scale", "41"},
          {"tcp_friendliness", "1"}};
      auto it = linux_defaults.find(m[2]);
      if (it != linux_defaults.end() && it->second == m[1]) {
        plan.ignored.push_back(line + " (Linux's default, which sendpath's CUBIC has built in)");
      } else {
        plan.unsupported =
            "shell command `" + line + "` (tcp_cubic parameter other than Linux's default)";
      }
      return;
    }
  }
  std::vector<std::string> w;
  if (!shell_words(line, &w)) {
    plan.unsupported = "shell command `" + line + "`";
    return;
  }
  if (w.empty()) return;
  const std::string& cmd = w[0];
  if (ends_with(cmd, "defaults.sh")) {
    if (depth > 4) {
      plan.unsupported = "shell command `" + line + "` (nested too deeply)";
      return;
    }
    std::filesystem::path p = std::filesystem::path(dir) / cmd;
    std::ifstream in(p);
    if (!in) {
      plan.unsupported = "shell command `" + line + "` (cannot read " + p.string() + ")";
      return;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string body = ss.str();
    // A script starting with "#!" is read; the first line is a comment.
    plan_text(body, p.parent_path().string(), true, depth + 1, plan);
    return;
  }
  if (cmd == "sysctl") {
    bool any = false;
    for (size_t k = 1; k < w.size(); ++k) {
      const std::string& a = w[k];
      if (a == "-q" || a == "-e" || a == "-w" || a == "-qw" || a == "-eq" || a == "-qe") continue;
      size_t eq = a.find('=');
      if (a[0] == '-' || eq == std::string::npos) {
        plan.unsupported = "shell command `" + line + "` (sysctl without name=value)";
        return;
      }
      std::string name = a.substr(0, eq);
      for (char& c : name)
        if (c == '/') c = '.';
      plan.sysctls.push_back({name, a.substr(eq + 1), in_defaults});
      any = true;
    }
    if (!any) plan.unsupported = "shell command `" + line + "` (sysctl without name=value)";
    return;
  }
  if (ends_with(cmd, "set_sysctls.py")) {
    for (size_t k = 1; k < w.size(); ++k) {
      const std::string& a = w[k];
      size_t eq = a.find('=');
      const std::string prefix = "/proc/sys/";
      if (eq == std::string::npos || a.rfind(prefix, 0) != 0) {
        plan.unsupported = "shell command `" + line + "` (set_sysctls.py argument '" + a + "')";
        return;
      }
      std::string name = a.substr(prefix.size(), eq - prefix.size());
      for (char& c : name)
        if (c == '/') c = '.';
      plan.sysctls.push_back({name, a.substr(eq + 1), in_defaults});
    }
    return;
  }
  if (cmd == "ip" && w.size() >= 3 && w[1] == "route" && w[2] == "change") {
    if (auto rc = parse_route_change(w)) {
      plan.routes.push_back(*rc);
    } else {
      plan.unsupported = "shell command `" + line + "`";
    }
    return;
  }
  // Segmentation offloads off on the script device: the stack segments in
  // software and the script sees every segment (with --strict_segments).
  if (cmd == "ethtool" && w.size() >= 5 && w.size() % 2 == 1 && w[1] == "-K" && w[2] == "tun0") {
    bool ok = true;
    for (size_t k = 3; k + 1 < w.size(); k += 2)
      ok = ok && (w[k] == "gso" || w[k] == "tso") && w[k + 1] == "off";
    if (ok) {
      plan.offloads_off = true;
      return;
    }
  }
  // No-ops on a stack created for this script alone.
  if (cmd == "ip" && w.size() >= 3 && w[1] == "tcp_metrics" && w[2] == "flush") {
    plan.ignored.push_back(line + " (a fresh stack has no TCP metrics)");
    return;
  }
  // The root qdisc of the script device: a FIFO (the default, what
  // defaults.sh installs) or "pfifo limit 0", which refuses every packet so
  // that transmits fail locally (NET_XMIT_DROP), as scripts use to emulate
  // qdisc congestion, or "fq" with its default parameters (pacing).
  if (cmd == "tc" && w.size() >= 6 && w[1] == "qdisc" && w[3] == "dev" && w[4] == "tun0" &&
      w[5] == "root") {
    const std::string& op = w[2];
    std::vector<std::string> rest(w.begin() + 6, w.end());
    if (op == "delete" || op == "del") {
      if (rest.empty()) {
        plan.device.push_back(DeviceAction::kQdiscFifo);
        return;
      }
    } else if (op == "add" || op == "replace" || op == "change") {
      if (rest == std::vector<std::string>{"pfifo"}) {
        plan.device.push_back(DeviceAction::kQdiscFifo);
        return;
      }
      if (rest == std::vector<std::string>{"pfifo", "limit", "0"}) {
        plan.device.push_back(DeviceAction::kQdiscDropAll);
        return;
      }
      if (rest == std::vector<std::string>{"fq"}) {
        plan.device.push_back(DeviceAction::kQdiscFq);
        return;
      }
    }
  }
  plan.unsupported = "shell command `" + line + "`";
}

void plan_text(std::string_view text, const std::string& dir, bool in_defaults, int depth,
               CommandPlan& plan) {
  // Join backslash-continued lines, drop comments, split on ';'.
  std::string joined;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
      joined += ' ';
      ++i;
      continue;
    }
    joined += text[i];
  }
  std::istringstream in(joined);
  std::string line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    // Split on ';' outside quotes.
    std::vector<std::string> parts;
    std::string cur;
    char q = 0;
    for (char c : t) {
      if (q) {
        if (c == q) q = 0;
      } else if (c == '"' || c == '\'') {
        q = c;
      } else if (c == ';') {
        parts.push_back(trim(cur));
        cur.clear();
        continue;
      }
      cur += c;
    }
    parts.push_back(trim(cur));
    for (const std::string& p : parts) {
      if (p.empty()) continue;
      plan_line(p, dir, in_defaults, depth, plan);
      if (plan.unsupported) return;
    }
  }
}

}  // namespace

CommandPlan plan_command(std::string_view command, const std::string& script_dir) {
  CommandPlan plan;
  plan_text(command, script_dir, false, 0, plan);
  return plan;
}

}  // namespace sp::drill
