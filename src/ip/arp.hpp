// ARP for IPv4 over Ethernet (RFC 826, net/ipv4/arp.c reduced): answers
// requests for our addresses, feeds answers into the neighbour table (which
// owns the cache, its timeouts and the packets queued while resolving), sends
// the requests the neighbour table asks for through its solicit hook, and
// announces our addresses with gratuitous ARP (RFC 5227 section 3) when a
// device comes up.
#pragma once
#include <cstdint>

#include "core/stack.hpp"
#include "wire/bytes.hpp"

namespace sp {

struct ArpStats {
  std::uint64_t rx = 0;            // ARP packets received
  std::uint64_t rx_malformed = 0;  // dropped: not Ethernet/IPv4 ARP, too short
  std::uint64_t rx_requests_for_us = 0;
  std::uint64_t rx_replies = 0;
  std::uint64_t tx_requests = 0;  // solicitations
  std::uint64_t tx_replies = 0;
  std::uint64_t tx_announces = 0;  // gratuitous ARP
};

// Registers ETH_P_ARP with the stack and plugs arp_solicit into the
// neighbour table. Called once by the Stack's constructor.
void arp_init(Stack& stack);

// arp_rcv + arp_process: skb->data at the ARP header.
void arp_rcv(Stack& stack, SkbPtr skb);

// arp_send: one ARP packet out of dev. dest_hw is the Ethernet destination
// (kBroadcastMac for requests), target_hw goes in the ARP body. Addresses in
// network byte order. Returns 0 or a negative errno.
int arp_send(Stack& stack, NetDevice& dev, std::uint16_t op, be32 dest_ip, const MacAddr& dest_hw,
             be32 src_ip, const MacAddr& target_hw);

// The neighbour table's solicit hook: who-has target, tell us. A probe for
// an entry whose address we still hold goes unicast (the kernel's unicast
// re-probe of a stale entry); otherwise broadcast.
void arp_solicit(Stack& stack, NetDevice& dev, be32 target, const SkBuff* skb);

// Gratuitous ARP for every address on the device: a request with sender and
// target both our address, so peers refresh caches that hold an old MAC.
// Call when a device is up and addressed. Returns how many were sent.
int arp_announce(Stack& stack, int ifindex);

// Counters of one stack (zero for a stack that has seen no ARP).
const ArpStats& arp_stats(const Stack& stack);

}  // namespace sp
