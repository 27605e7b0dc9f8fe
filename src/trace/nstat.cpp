// nstat's text and JSON forms of the MIB (see nstat.hpp).
#include "trace/nstat.hpp"

#include <fmt/format.h>

#include <cstddef>

namespace sp {

namespace {

// nstat drops these from every dump: configuration values and the one
// gauge, whose "increase" would be meaningless (nstat.c useless_numbers).
bool nstat_useless_number(MibId id) {
  return id == MibId::TcpCurrEstab;
}

}  // namespace

std::vector<NstatRow> nstat_rows(const Mib& now, const Mib* prev, const NstatOptions& opt) {
  std::vector<NstatRow> rows;
  for (std::size_t i = 0; i < static_cast<std::size_t>(MibId::kCount); ++i) {
    const auto id = static_cast<MibId>(i);
    if (nstat_useless_number(id)) continue;
    std::uint64_t v = now.get(id);
    // A counter below its history value went backwards; nstat shows 0
    // for it (with "(overflow)", which counters that only grow never need).
    if (prev) v = v >= prev->get(id) ? v - prev->get(id) : 0;
    const double rate = opt.interval_s > 0 ? static_cast<double>(v) / opt.interval_s : 0.0;
    if (!opt.zeros && v == 0 && rate == 0) continue;
    rows.push_back({Mib::name(id), v, rate});
  }
  return rows;
}

std::string nstat_text(const std::vector<NstatRow>& rows) {
  std::string out = "#kernel\n";
  for (const NstatRow& r : rows)
    out += fmt::format("{:<32}{:<16}{:6.1f}\n", r.name, r.value, r.rate);
  return out;
}

std::string nstat_json(const std::vector<NstatRow>& rows) {
  std::string out = "{\"kernel\":{";
  bool first = true;
  for (const NstatRow& r : rows) {
    out += fmt::format("{}\"{}\":{}", first ? "" : ",", r.name, r.value);
    first = false;
  }
  out += "}}";
  return out;
}

}  // namespace sp
