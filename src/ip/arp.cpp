#include "ip/arp.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "ip/ip.hpp"
#include "ip/neighbour.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"

namespace sp {

namespace {

// Per-stack counters, keyed by the stack; arp_init resets them, so a stack
// built where an old one was starts from zero. Stacks on different threads
// (sendpath/stack.hpp's run_in_thread) share the table: the lock covers the
// lookup, and an entry's address never moves once made.
std::unordered_map<const Stack*, ArpStats>& arp_stats_table() {
  static std::unordered_map<const Stack*, ArpStats> t;
  return t;
}
std::mutex& arp_stats_mu() {
  static std::mutex mu;
  return mu;
}
ArpStats& stats_of(const Stack& s) {
  std::lock_guard lk(arp_stats_mu());
  return arp_stats_table()[&s];
}

bool is_our_address_on(const Stack& stack, int ifindex, be32 addr) {
  for (be32 a : stack.dev_addresses(ifindex))
    if (a == addr) return true;
  return false;
}

}  // namespace

const ArpStats& arp_stats(const Stack& stack) {
  return stats_of(stack);
}

void arp_init(Stack& stack) {
  stats_of(stack) = ArpStats{};
  stack.register_packet_type(ETH_P_ARP, [&stack](SkbPtr skb) { arp_rcv(stack, std::move(skb)); });
  stack.neigh().set_solicit([&stack](NetDevice& dev, be32 target, const SkBuff* skb) {
    arp_solicit(stack, dev, target, skb);
  });
}

int arp_send(Stack& stack, NetDevice& dev, std::uint16_t op, be32 dest_ip, const MacAddr& dest_hw,
             be32 src_ip, const MacAddr& target_hw) {
  if (dev.type != LinkType::kEthernet) return -EINVAL;  // no ARP on raw-IP links
  SkbPtr skb = alloc_skb_with_headroom(ETH_HLEN + 2, ArpRepr::packet_len());
  if (!skb) return -ENOBUFS;
  ArpRepr arp;
  arp.op = op;
  arp.sha = dev.dev_addr;
  arp.sip = ntohl(src_ip);
  arp.tha = target_hw;
  arp.tip = ntohl(dest_ip);
  skb_reset_network_header(skb.get());
  arp.emit(skb_put(skb.get(), ArpRepr::packet_len()));
  skb->protocol = ETH_P_ARP;
  const int err = dev_hard_header(skb.get(), dev, ETH_P_ARP, dest_hw);
  if (err) return err;
  ArpStats& st = stats_of(stack);
  if (op == ARPOP_REPLY) {
    st.tx_replies++;
  } else if (src_ip == dest_ip) {
    st.tx_announces++;
  } else {
    st.tx_requests++;
  }
  return dev_queue_xmit(dev, std::move(skb));
}

void arp_solicit(Stack& stack, NetDevice& dev, be32 target, const SkBuff* skb) {
  // Source address: the one the waiting packet carries when it is ours on
  // this device (what arp_announce=0 does), else the device's best match.
  be32 saddr = 0;
  if (skb && skb->network_header != 0xffff) {
    const std::uint8_t* iph = skb_network_header(skb);
    if (static_cast<std::uint32_t>(iph - skb->head) + 20 <= skb_end_offset(skb)) {
      be32 s;
      std::memcpy(&s, iph + 12, 4);
      if (is_our_address_on(stack, dev.ifindex, s)) saddr = s;
    }
  }
  if (!saddr) saddr = stack.inet_select_addr(dev.ifindex, target);
  MacAddr dest = kBroadcastMac;
  if (Neighbour* n = stack.neigh().lookup(dev.ifindex, target)) {
    // Re-confirming a stale entry: ask the host we believe has it directly.
    if (n->nud_state == NudState::kStale || n->nud_state == NudState::kReachable) dest = n->ha;
  }
  arp_send(stack, dev, ARPOP_REQUEST, target, dest, saddr, kZeroMac);
}

void arp_rcv(Stack& stack, SkbPtr skb) {
  ArpStats& st = stats_of(stack);
  st.rx++;
  NetDevice* dev = stack.dev_get_by_index(skb->ifindex);
  auto parsed = ArpRepr::parse({skb->data, skb_headlen(skb.get())});
  if (!dev || !parsed) {
    st.rx_malformed++;
    return;
  }
  const ArpRepr& arp = *parsed;
  const be32 sip = htonl(arp.sip);
  const be32 tip = htonl(arp.tip);
  // A sender claiming a multicast/broadcast MAC or the limited broadcast
  // address is nonsense we must not cache (arp_process's sanity checks).
  if ((arp.sha[0] & 1) || arp.tip == 0xffffffffu || (arp.tip >> 28) == 0xe) {
    st.rx_malformed++;
    return;
  }
  const bool for_us = is_our_address_on(stack, dev->ifindex, tip);

  if (arp.op == ARPOP_REQUEST && for_us) {
    st.rx_requests_for_us++;
    // RFC 826: the requester will talk to us next, so learn it now (an
    // address-conflict probe with sender 0.0.0.0 teaches nothing).
    if (sip != 0) stack.neigh().neigh_update(dev->ifindex, sip, arp.sha, /*create=*/true);
    // RFC 5227 probes (sip 0) are answered too, which is how a prober learns
    // the address is taken; the reply goes to the asker's MAC either way.
    arp_send(stack, *dev, ARPOP_REPLY, sip, arp.sha, tip, arp.sha);
    return;
  }
  if (arp.op == ARPOP_REPLY) st.rx_replies++;
  // Replies and other requests (including gratuitous ones) refresh what we
  // already have, but create nothing: Linux's arp_accept=0.
  if (sip != 0) stack.neigh().neigh_update(dev->ifindex, sip, arp.sha, /*create=*/false);
}

int arp_announce(Stack& stack, int ifindex) {
  NetDevice* dev = stack.dev_get_by_index(ifindex);
  if (!dev || dev->type != LinkType::kEthernet) return 0;
  int n = 0;
  for (be32 a : stack.dev_addresses(ifindex)) {
    if (arp_send(stack, *dev, ARPOP_REQUEST, a, kBroadcastMac, a, kZeroMac) == 0) ++n;
  }
  return n;
}

}  // namespace sp
