// --stats views (see stats_view.hpp).
#include "stats_view.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "cli_parse.hpp"
#include "core/stack.hpp"
#include "trace/nstat.hpp"
#include "trace/ss.hpp"

namespace sp::tools {

void add_stats_options(CLI::App& app, StatsOptions& o) {
  app.add_flag("--stats", o.enabled,
               "print MIB counters like `nstat -a` and sockets like `ss -tina` at the end");
  app.add_option("--stats-interval", o.interval,
                 "also every DURATION while running (counter increases, like `nstat`); "
                 "implies --stats");
}

std::optional<Nanos> stats_interval(const StatsOptions& o) {
  if (o.interval.empty()) return Nanos{0};
  auto d = parse_duration(o.interval);
  if (!d || *d == 0) return std::nullopt;
  return d;
}

namespace {

std::string when_line(const std::string& label, Nanos t) {
  return fmt::format("t={:.3f}s{}{}", static_cast<double>(t) / 1e9, label.empty() ? "" : " ",
                     label);
}

}  // namespace

void StatsReporter::emit(const std::string& label, Nanos t, const std::string& when,
                         const std::string& title, const std::string& nstat_title,
                         const std::string* nstat_text, const std::string* nstat_json,
                         Stack* sockets_of) {
  std::vector<SsEntry> socks;
  if (sockets_of) socks = ss_collect(*sockets_of);
  SsOptions ss_opt;
  ss_opt.numeric = true;  // ss -n: rates in whole bit/s, as `ss -tina` prints them
  if (!json_) {
    const std::string head = when_line(label, t);
    if (nstat_text)
      std::printf("--- %s: %s ---\n%s", head.c_str(), nstat_title.c_str(), nstat_text->c_str());
    if (sockets_of)
      std::printf("--- %s: ss -tina (%s) ---\n%s", head.c_str(), title.c_str(),
                  ss_text(socks, ss_opt).c_str());
    std::fflush(stdout);
    return;
  }
  std::string s = fmt::format("{{\"t\":{:.6f},\"stack\":\"{}\",\"when\":\"{}\"",
                              static_cast<double>(t) / 1e9, label, when);
  if (nstat_json) s += ",\"nstat\":" + *nstat_json;
  if (sockets_of) s += ",\"sockets\":" + ss_json(socks);
  s += "}";
  if (sink_)
    sink_(s);
  else
    samples_.push_back(std::move(s));
}

void StatsReporter::interval(const std::string& label, Stack& st, Nanos t) {
  auto it = last_.try_emplace(label, Mib{}, Nanos{0}).first;
  const Mib now = st.mib();
  NstatOptions opt;
  const Nanos span = t - it->second.second;
  opt.interval_s = static_cast<double>(span) / 1e9;
  const auto rows = nstat_rows(now, &it->second.first, opt);
  it->second = {now, t};
  const std::string text = nstat_text(rows), json = nstat_json(rows);
  emit(label, t, "interval", "interval",
       fmt::format("nstat (increase over {:.3f}s, rate per second)", opt.interval_s), &text, &json,
       &st);
}

void StatsReporter::sockets(const std::string& label, Stack& st, Nanos t, const std::string& when,
                            const std::string& title) {
  emit(label, t, when, title, "", nullptr, nullptr, &st);
}

void StatsReporter::totals(const std::string& label, Stack& st, Nanos t, const std::string& when,
                           const std::string& title) {
  const auto rows = nstat_rows(st.mib(), nullptr);
  const std::string text = nstat_text(rows), json = nstat_json(rows);
  emit(label, t, when, title, "nstat -a (" + title + ")", &text, &json, &st);
}

std::string StatsReporter::json() const {
  std::string out = "[";
  for (std::size_t i = 0; i < samples_.size(); ++i) out += (i ? "," : "") + samples_[i];
  return out + "]";
}

}  // namespace sp::tools
