// SimWorld: discrete-event time for stacks and links.
#include "harness/sim_world.hpp"

#include <algorithm>

namespace sp {

namespace {
// Rounds of polling at one instant before time must move on: a bound on
// ping-pong between stacks over zero-delay links, far above what a real
// exchange needs.
constexpr int kMaxSettleRounds = 10000;
}  // namespace

SimWorld::SimWorld(Nanos start) : clock_(start) {}

SimWorld::~SimWorld() {
  // Frames queued on links carry socket destructors: free them while the
  // sockets exist; then the stacks (and their link ends) go; links last.
  for (auto& l : links_) l->flush();
  stacks_.clear();
  links_.clear();
}

Stack& SimWorld::add_stack() {
  stacks_.push_back(std::make_unique<Stack>(clock_));
  Stack& s = *stacks_.back();
  s.set_wait_driver([this, &s](Nanos deadline) {
    if (step(deadline)) s.note_progress();
  });
  return s;
}

SimWorld::Connection SimWorld::connect(Stack& a, be32 addr_a, Stack& b, be32 addr_b, int prefix_len,
                                       const SimLinkConfig& cfg, const Wrap& wrap_a) {
  links_.push_back(std::make_unique<SimLink>(clock_, cfg));
  SimLink& link = *links_.back();
  // Locally administered MACs, unique per link end.
  const auto n = static_cast<std::uint8_t>(links_.size());
  const std::array<std::uint8_t, 6> mac_a{0x02, 0x00, 0x00, 0x00, n, 0x0a};
  const std::array<std::uint8_t, 6> mac_b{0x02, 0x00, 0x00, 0x00, n, 0x0b};
  Connection c;
  c.link = &link;
  std::unique_ptr<NetDevice> end_a = link.take_end_a(mac_a);
  if (wrap_a) end_a = wrap_a(std::move(end_a));
  c.ifindex_a = a.register_netdev(std::move(end_a));
  c.ifindex_b = b.register_netdev(link.take_end_b(mac_b));
  a.add_address(c.ifindex_a, addr_a, prefix_len);
  b.add_address(c.ifindex_b, addr_b, prefix_len);
  a.neigh_add(c.ifindex_a, addr_b, mac_b);
  b.neigh_add(c.ifindex_b, addr_a, mac_a);
  return c;
}

int SimWorld::settle() {
  int total = 0;
  for (int round = 0; round < kMaxSettleRounds; ++round) {
    int work = 0;
    for (auto& l : links_) work += l->advance();
    for (auto& s : stacks_) work += s->poll();
    total += work;
    if (!work) break;
  }
  return total;
}

Nanos SimWorld::next_event() const {
  Nanos t = Stack::kNoTimer;
  for (const auto& l : links_) t = std::min(t, l->next_event());
  for (const auto& s : stacks_) t = std::min(t, s->next_timer_expiry());
  return t;
}

bool SimWorld::step(Nanos deadline) {
  ++steps_;
  const int work = settle();
  const Nanos next = next_event();
  if (next == Stack::kNoTimer) return work > 0;
  const Nanos now = clock_.now_ns();
  if (next > deadline) {
    if (deadline > now && deadline != Stack::kNoTimer) {
      clock_.advance_to(deadline);
      return true;
    }
    return work > 0;
  }
  clock_.advance_to(next);
  settle();
  return true;
}

bool SimWorld::run_until(const std::function<bool()>& cond, Nanos deadline) {
  stalled_ = false;
  for (;;) {
    if (cond()) return true;
    if (clock_.now_ns() >= deadline) return false;
    if (!step(deadline)) {
      if (cond()) return true;
      stalled_ = true;
      return false;
    }
  }
}

void SimWorld::run_for(Nanos d) {
  const Nanos end = clock_.now_ns() + d;
  run_until([] { return false; }, end);
}

}  // namespace sp
