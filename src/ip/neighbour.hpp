// The neighbour table (net/core/neighbour.c, reduced): next-hop IPv4 address
// -> link-layer address for Ethernet devices, with the NUD states a reader of
// `ip neigh` knows, a bounded queue of packets waiting for resolution, and a
// `solicit` hook through which ARP (ip/arp.*) asks who has an address.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/timer.hpp"
#include "skb/skbuff.hpp"
#include "wire/bytes.hpp"

namespace sp {

class Stack;
class NetDevice;
using be32 = std::uint32_t;

// NUD_* states (include/uapi/linux/neighbour.h). DELAY and PROBE are folded
// into STALE: a stale entry is used at once and re-probed in the background.
enum class NudState : std::uint8_t {
  kNone,        // NUD_NONE: just created
  kIncomplete,  // NUD_INCOMPLETE: solicitations sent, packets queued
  kReachable,   // NUD_REACHABLE: confirmed within reachable_time
  kStale,       // NUD_STALE: usable, but confirmation is old
  kFailed,      // NUD_FAILED: no answer after max_probes solicitations
  kPermanent,   // NUD_PERMANENT: a static entry (Stack::neigh_add)
};
const char* to_string(NudState s);

struct Neighbour {
  int ifindex = 0;
  be32 addr = 0;  // network byte order
  MacAddr ha{};   // valid in REACHABLE, STALE, PERMANENT
  NudState nud_state = NudState::kNone;
  Nanos confirmed = 0;           // last time the mapping was confirmed
  int probes = 0;                // solicitations sent in the current round
  std::deque<SkbPtr> arp_queue;  // packets waiting for resolution
  std::uint32_t arp_queue_len_bytes = 0;
  Timer timer;  // retransmits solicitations / ages REACHABLE to STALE
};

struct NeighParms {
  Nanos retrans_time = 1 * kNsPerSec;      // between solicitations (RETRANS_TIME)
  Nanos reachable_time = 30 * kNsPerSec;   // BASE_REACHABLE_TIME
  int max_probes = 3;                      // MCAST_PROBES
  std::uint32_t queue_len_bytes = 212992;  // QUEUE_LEN_BYTES (SK_WMEM_MAX)
};

struct NeighStats {
  std::uint64_t lookups = 0, hits = 0, res_failed = 0, unres_discards = 0, solicits = 0;
};

class NeighTable {
 public:
  // solicit(dev, target, skb that triggered it or nullptr): ARP sends a request.
  using SolicitFn = std::function<void(NetDevice& dev, be32 target, const SkBuff* skb)>;

  explicit NeighTable(Stack& stack) : stack_(stack) {}
  NeighTable(const NeighTable&) = delete;
  NeighTable& operator=(const NeighTable&) = delete;

  void set_solicit(SolicitFn fn) { solicit_ = std::move(fn); }
  NeighParms& parms() { return parms_; }
  const NeighStats& stats() const { return stats_; }

  Neighbour* lookup(int ifindex, be32 addr);
  // A static (PERMANENT) entry: never aged, never overwritten by neigh_update.
  void add_static(int ifindex, be32 addr, const MacAddr& mac);
  // An answer (ARP reply/request from addr): the entry becomes REACHABLE and
  // its queued packets leave. ifindex 0 updates the entry on every device.
  // Creates no entry when none exists unless `create` (ARP creates on a
  // request addressed to us, as arp_process does).
  void neigh_update(int ifindex, be32 addr, const MacAddr& mac, bool create = false);
  void neigh_update(be32 addr, const MacAddr& mac) { neigh_update(0, addr, mac); }
  // neigh_output/neigh_resolve_output: skb->data at the network header. Adds
  // the Ethernet header and transmits when the address is known, else queues
  // and solicits. Returns 0 (sent or queued) or a negative errno.
  int output(NetDevice& dev, be32 nexthop, SkbPtr skb);
  // Drop every queued packet (stack teardown).
  void flush();
  std::size_t size() const { return tbl_.size(); }

 private:
  static std::uint64_t key(int ifindex, be32 addr) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(ifindex)) << 32) | addr;
  }
  Neighbour& create(int ifindex, be32 addr);
  void enqueue(Neighbour& n, SkbPtr skb);
  void send_solicit(Neighbour& n, const SkBuff* skb);
  void timer_handler(Neighbour& n);
  void connected(Neighbour& n, const MacAddr& mac);

  Stack& stack_;
  SolicitFn solicit_;
  NeighParms parms_;
  NeighStats stats_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Neighbour>> tbl_;
};

}  // namespace sp
