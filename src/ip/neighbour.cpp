// Neighbour resolution (net/core/neighbour.c, reduced to what an IPv4 host
// on Ethernet needs): __neigh_event_send's queue-and-solicit, the retransmit
// timer, neigh_update's confirmation, and REACHABLE -> STALE ageing.
#include "ip/neighbour.hpp"

#include <cerrno>

#include "core/stack.hpp"
#include "ip/ip.hpp"
#include "trace/events.hpp"

namespace sp {

const char* to_string(NudState s) {
  switch (s) {
    case NudState::kNone:
      return "NONE";
    case NudState::kIncomplete:
      return "INCOMPLETE";
    case NudState::kReachable:
      return "REACHABLE";
    case NudState::kStale:
      return "STALE";
    case NudState::kFailed:
      return "FAILED";
    case NudState::kPermanent:
      return "PERMANENT";
  }
  return "?";
}

Neighbour* NeighTable::lookup(int ifindex, be32 addr) {
  auto it = tbl_.find(key(ifindex, addr));
  return it == tbl_.end() ? nullptr : it->second.get();
}

Neighbour& NeighTable::create(int ifindex, be32 addr) {
  auto& slot = tbl_[key(ifindex, addr)];
  if (!slot) {
    slot = std::make_unique<Neighbour>();
    slot->ifindex = ifindex;
    slot->addr = addr;
    Neighbour* n = slot.get();
    n->timer.set_function([this, n] { timer_handler(*n); });
  }
  return *slot;
}

void NeighTable::add_static(int ifindex, be32 addr, const MacAddr& mac) {
  Neighbour& n = create(ifindex, addr);
  stack_.del_timer(n.timer);
  n.nud_state = NudState::kPermanent;
  n.ha = mac;
  n.confirmed = stack_.now();
  n.probes = 0;
  connected(n, mac);
}

void NeighTable::neigh_update(int ifindex, be32 addr, const MacAddr& mac, bool create_entry) {
  if (ifindex == 0) {
    for (auto& [k, n] : tbl_)
      if (n->addr == addr) neigh_update(n->ifindex, addr, mac, false);
    return;
  }
  Neighbour* n = lookup(ifindex, addr);
  if (!n) {
    if (!create_entry) return;
    n = &create(ifindex, addr);
  }
  if (n->nud_state == NudState::kPermanent) return;  // admin entries win
  n->ha = mac;
  n->nud_state = NudState::kReachable;
  n->confirmed = stack_.now();
  n->probes = 0;
  // Age to STALE after reachable_time unless confirmed again.
  stack_.mod_timer(n->timer, stack_.now() + parms_.reachable_time);
  connected(*n, mac);
}

// The address is known: send what waited for it, oldest first.
void NeighTable::connected(Neighbour& n, const MacAddr& mac) {
  NetDevice* dev = stack_.dev_get_by_index(n.ifindex);
  std::deque<SkbPtr> q;
  q.swap(n.arp_queue);
  n.arp_queue_len_bytes = 0;
  for (auto& skb : q) {
    if (!dev || dev_hard_header(skb.get(), *dev, ETH_P_IP, mac) != 0) {
      stack_.mib().inc(MibId::IpOutDiscards);
      continue;  // freed by SkbPtr
    }
    trace_neigh_output(&stack_, skb.get(), dev->hard_header_len);
    dev_queue_xmit(*dev, std::move(skb));
  }
}

void NeighTable::enqueue(Neighbour& n, SkbPtr skb) {
  // QUEUE_LEN_BYTES bounds what waits; the oldest packets make room, as
  // __neigh_event_send drops from the head of arp_queue.
  const std::uint32_t sz = skb->truesize ? skb->truesize : skb->len;
  while (!n.arp_queue.empty() && n.arp_queue_len_bytes + sz > parms_.queue_len_bytes) {
    SkbPtr old = std::move(n.arp_queue.front());
    n.arp_queue.pop_front();
    n.arp_queue_len_bytes -= old->truesize ? old->truesize : old->len;
    stats_.unres_discards++;
    stack_.mib().inc(MibId::IpOutDiscards);
  }
  if (sz > parms_.queue_len_bytes) {
    stats_.unres_discards++;
    stack_.mib().inc(MibId::IpOutDiscards);
    return;
  }
  n.arp_queue_len_bytes += sz;
  n.arp_queue.push_back(std::move(skb));
}

void NeighTable::send_solicit(Neighbour& n, const SkBuff* skb) {
  n.probes++;
  stats_.solicits++;
  NetDevice* dev = stack_.dev_get_by_index(n.ifindex);
  if (solicit_ && dev) solicit_(*dev, n.addr, skb);
}

void NeighTable::timer_handler(Neighbour& n) {
  switch (n.nud_state) {
    case NudState::kIncomplete:
      if (n.probes >= parms_.max_probes) {
        // neigh_invalidate: nobody answers; what waited is dropped.
        n.nud_state = NudState::kFailed;
        stats_.res_failed++;
        for (std::size_t i = 0; i < n.arp_queue.size(); ++i) stack_.mib().inc(MibId::IpOutDiscards);
        n.arp_queue.clear();
        n.arp_queue_len_bytes = 0;
        return;
      }
      send_solicit(n, n.arp_queue.empty() ? nullptr : n.arp_queue.back().get());
      stack_.mod_timer(n.timer, stack_.now() + parms_.retrans_time);
      return;
    case NudState::kReachable:
      n.nud_state = NudState::kStale;
      return;
    case NudState::kStale:
      // A background re-probe of a stale entry went unanswered: keep using
      // the old address (the peer may just be quiet) until it is refreshed.
      if (n.probes < parms_.max_probes) {
        send_solicit(n, nullptr);
        stack_.mod_timer(n.timer, stack_.now() + parms_.retrans_time);
      }
      return;
    default:
      return;
  }
}

int NeighTable::output(NetDevice& dev, be32 nexthop, SkbPtr skb) {
  stats_.lookups++;
  Neighbour& n = create(dev.ifindex, nexthop);
  switch (n.nud_state) {
    case NudState::kPermanent:
    case NudState::kReachable:
      stats_.hits++;
      break;
    case NudState::kStale:
      stats_.hits++;
      // Use it, and ask again in the background (DELAY/PROBE folded in).
      if (!n.timer.pending()) {
        n.probes = 0;
        send_solicit(n, skb.get());
        stack_.mod_timer(n.timer, stack_.now() + parms_.retrans_time);
      }
      break;
    case NudState::kIncomplete:
      enqueue(n, std::move(skb));
      return 0;
    case NudState::kNone:
    case NudState::kFailed: {
      n.nud_state = NudState::kIncomplete;
      n.probes = 0;
      enqueue(n, std::move(skb));
      send_solicit(n, n.arp_queue.empty() ? nullptr : n.arp_queue.back().get());
      stack_.mod_timer(n.timer, stack_.now() + parms_.retrans_time);
      return 0;
    }
  }
  if (dev_hard_header(skb.get(), dev, ETH_P_IP, n.ha) != 0) {
    stack_.mib().inc(MibId::IpOutDiscards);
    return -ENOMEM;
  }
  trace_neigh_output(&stack_, skb.get(), dev.hard_header_len);
  return dev_queue_xmit(dev, std::move(skb));
}

void NeighTable::flush() {
  for (auto& [k, n] : tbl_) {
    stack_.del_timer(n->timer);
    n->arp_queue.clear();
    n->arp_queue_len_bytes = 0;
  }
}

}  // namespace sp
