// ICMP for IPv4 (RFC 792, net/ipv4/icmp.c reduced): echo requests get
// replies, so ping works; destination-unreachable, time-exceeded and
// parameter-problem errors reach the err handler of the protocol whose packet
// they quote (Stack::register_protocol), and fragmentation-needed (RFC 1191)
// also lowers the path MTU towards the quoted destination, so TCP shrinks its
// MSS for that path.
#pragma once
#include <cstdint>

#include "core/stack.hpp"

namespace sp {

// Registers IPPROTO_ICMP with the stack. Called once by the Stack's
// constructor.
void icmp_init(Stack& stack);

// icmp_rcv: skb->data at the ICMP header, network_header at the IPv4 header.
void icmp_rcv(Stack& stack, SkbPtr skb);

}  // namespace sp
