// The IP layer's internal entry points (net/ipv4/ip_output.c, ip_input.c,
// net/core/dev.c), shared by ip/ and dev/. TCP never includes this: it talks
// to Stack.
#pragma once
#include <cstdint>

#include "core/stack.hpp"
#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"

namespace sp {

// Bytes a frame occupies on an Ethernet wire beyond its header and payload:
// preamble + SFD (8), FCS (4), inter-frame gap (12); minimum frame 64 with FCS.
constexpr std::uint32_t kEthWireOverhead = 8 + 4 + 12;
constexpr std::uint32_t kEthMinFrame = 60;  // without FCS

// dev_hard_header / eth_header: push the Ethernet header for dev (source is
// dev->dev_addr). Returns 0 or -ENOMEM when no headroom can be made.
int dev_hard_header(SkBuff* skb, const NetDevice& dev, std::uint16_t ethertype,
                    const MacAddr& daddr);
// dev_queue_xmit: hand a finished frame to the device. The skb is consumed.
// Returns 0 or -ENOBUFS when the device refused it.
int dev_queue_xmit(NetDevice& dev, SkbPtr skb);

// ip_finish_output2's tail: Ethernet devices resolve the next hop through
// the neighbour table; raw-IP devices take the packet as it is.
int ip_neigh_output(Stack& stack, NetDevice& dev, be32 nexthop, SkbPtr skb);

}  // namespace sp
