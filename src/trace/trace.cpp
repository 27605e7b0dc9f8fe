// The tracepoint registry: event names, the sink list and the enabled mask.
#include "trace/trace.hpp"

#include <algorithm>
#include <deque>
#include <mutex>
#include <vector>

namespace sp::trace {
namespace {

struct Names {
  std::string_view full, system, name;
};

constexpr Names kNames[] = {
#define SP_TRACE_NAME(sys, name) {#sys ":" #name, #sys, #name},
    SP_TRACE_EVENTS(SP_TRACE_NAME)
#undef SP_TRACE_NAME
};
static_assert(std::size(kNames) == static_cast<std::size_t>(Ev::kCount));

struct SinkEntry {
  Sink* sink;
  std::uint64_t mask;
};

std::vector<SinkEntry>& sinks() {
  static std::vector<SinkEntry> s;
  return s;
}

void recompute_mask() {
  std::uint64_t m = 0;
  for (const auto& e : sinks()) m |= e.mask;
  g_enabled.store(m, std::memory_order_relaxed);
}

// Stack names live as long as the process: events recorded from a stack
// outlive it (a report is written after the run's stacks are gone).
std::mutex g_names_mu;
std::deque<std::string>& stack_names() {
  static std::deque<std::string> n{"-"};
  return n;
}

}  // namespace

std::string_view event_full_name(Ev e) {
  return kNames[static_cast<std::size_t>(e)].full;
}
std::string_view event_name(Ev e) {
  return kNames[static_cast<std::size_t>(e)].name;
}
std::string_view event_system(Ev e) {
  return kNames[static_cast<std::size_t>(e)].system;
}

bool parse_event_list(std::string_view list, std::uint64_t* mask, std::string* bad) {
  std::uint64_t m = 0;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    if (item == "all" || item == "*" || item == "*:*") {
      m |= kAllEvents;
      continue;
    }
    std::string_view sys_part, name_part = item;
    if (const auto colon = item.find(':'); colon != std::string_view::npos) {
      sys_part = item.substr(0, colon);
      name_part = item.substr(colon + 1);
    }
    bool found = false;
    for (std::size_t i = 0; i < std::size(kNames); ++i) {
      const Names& n = kNames[i];
      const bool whole_system =
          (sys_part.empty() && name_part == n.system) || (sys_part == n.system && name_part == "*");
      const bool one = (sys_part.empty() || sys_part == n.system) && name_part == n.name;
      if (whole_system || one) {
        m |= std::uint64_t{1} << i;
        found = true;
      }
    }
    if (!found) {
      if (bad) *bad = std::string(item);
      return false;
    }
  }
  *mask = m;
  return true;
}

void attach(Sink* sink, std::uint64_t mask) {
  auto& s = sinks();
  auto it = std::find_if(s.begin(), s.end(), [&](const SinkEntry& e) { return e.sink == sink; });
  if (it != s.end()) {
    it->mask = mask;
  } else {
    s.push_back({sink, mask});
  }
  recompute_mask();
}

void detach(Sink* sink) {
  auto& s = sinks();
  s.erase(std::remove_if(s.begin(), s.end(), [&](const SinkEntry& e) { return e.sink == sink; }),
          s.end());
  recompute_mask();
}

void emit(const AnyEvent& e) {
  const std::uint64_t bit = ev_bit(header_of(e).id);
  for (const auto& entry : sinks()) {
    if (entry.mask & bit) entry.sink->event(e);
  }
}

std::uint16_t register_stack_name(std::string_view name) {
  std::lock_guard<std::mutex> g(g_names_mu);
  auto& n = stack_names();
  n.emplace_back(name);
  return static_cast<std::uint16_t>(std::min<std::size_t>(n.size() - 1, 0xffff));
}

void rename_stack(std::uint16_t id, std::string_view name) {
  std::lock_guard<std::mutex> g(g_names_mu);
  auto& n = stack_names();
  if (id < n.size()) n[id] = std::string(name);
}

std::string_view stack_name(std::uint16_t id) {
  std::lock_guard<std::mutex> g(g_names_mu);
  auto& n = stack_names();
  return id < n.size() ? std::string_view(n[id]) : std::string_view("?");
}

}  // namespace sp::trace
