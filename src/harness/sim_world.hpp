// SimWorld: a virtual clock, the stacks that live on it and the SimLinks
// between them, run in time order. It is every stack's wait driver, so a
// blocking call made on one stack (a send waiting for memory) runs the whole
// world until the call can go on.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/stack.hpp"
#include "dev/sim_link.hpp"

namespace sp {

class SimWorld {
 public:
  explicit SimWorld(Nanos start = 0);
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  VirtualClock& clock() { return clock_; }
  Nanos now() const { return clock_.now_ns(); }

  // A new stack on this world's clock, with the world as its wait driver.
  Stack& add_stack();
  const std::vector<std::unique_ptr<Stack>>& stacks() const { return stacks_; }

  struct Connection {
    SimLink* link = nullptr;
    int ifindex_a = 0;  // the link's device in stack a
    int ifindex_b = 0;
  };
  // Links stack a (address addr_a) and stack b (addr_b) on one /prefix_len
  // subnet: registers the two ends, adds the addresses and static neighbour
  // entries (no ARP on a simulated wire). Addresses in network byte order.
  // wrap_a, when given, wraps stack a's end before it is registered (a
  // PcapTap capturing what a sends and receives).
  using Wrap = std::function<std::unique_ptr<NetDevice>(std::unique_ptr<NetDevice>)>;
  Connection connect(Stack& a, be32 addr_a, Stack& b, be32 addr_b, int prefix_len,
                     const SimLinkConfig& cfg, const Wrap& wrap_a = {});

  // One step of the world: settle (poll stacks and links until nothing more
  // happens at this instant), then move the clock to the next event --
  // timer or link -- but not past `deadline`, and run what is due there.
  // Returns false when nothing is pending anywhere (the world is idle).
  bool step(Nanos deadline = ~Nanos{0});
  // Step until cond() holds (true), the deadline passes or the world goes
  // idle (false; stalled() tells which).
  bool run_until(const std::function<bool()>& cond, Nanos deadline);
  // Run for d of virtual time (or until idle).
  void run_for(Nanos d);
  // The last run_until ended because nothing was pending.
  bool stalled() const { return stalled_; }

  std::uint64_t steps() const { return steps_; }

 private:
  int settle();
  Nanos next_event() const;

  VirtualClock clock_;
  std::vector<std::unique_ptr<SimLink>> links_;
  std::vector<std::unique_ptr<Stack>> stacks_;
  bool stalled_ = false;
  std::uint64_t steps_ = 0;
};

}  // namespace sp
