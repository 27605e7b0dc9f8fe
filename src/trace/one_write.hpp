// One write, traced: the engine of `sendpath trace` and `sendpath skb`.
// Opens a small connection between two stacks over a SimLink, makes one
// send() on the client and records, from the real tracepoints, everything
// the client's stack does from that call until the data is acknowledged.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trace/trace.hpp"

namespace sp::trace {

struct OneWriteOptions {
  std::uint32_t size = 3000;  // bytes in the one send()
  std::uint32_t mss = 1000;   // the link MTU is mss + 40
  bool sg = true;             // device scatter-gather: payload in page frags
  bool tso = true;            // device TSO: one skb leaves as one super-frame
  bool csum_offload = true;   // device completes the TCP checksum
  bool nodelay = false;       // TCP_NODELAY on the sender
  std::uint32_t flags = 0;    // send() flags (MSG_MORE, MSG_EOR, ...)
  std::uint64_t mask = kAllEvents;
  std::uint64_t rtt_us = 10000;
};

struct OneWrite {
  bool ok = false;
  std::string error;
  long sent = 0;                 // send()'s return
  std::uint64_t write_t_ns = 0;  // when send() was called
  std::uint64_t acked_t_ns = 0;  // when the last byte was acknowledged
  std::vector<AnyEvent> events;  // the client stack's, in order
  std::string client, server;    // "10.0.0.1:40000", "10.0.0.2:5001"
  std::uint32_t frames = 0;      // frames the client's device sent for the write
};

OneWrite trace_one_write(const OneWriteOptions& o);

}  // namespace sp::trace
