// A bulk transfer over a SimLink, proven by digest: the engine behind
// `sendpath sim` and the end-to-end tests. A client stack opens N
// connections to a server stack through the public socket API and sends a
// seeded pseudo-random stream on each (and the server sends one back when
// bidirectional); both ends hash what the API accepted and what it returned
// with SHA-256, and the run reports whether they match.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/mib.hpp"
#include "dev/sim_link.hpp"
#include "skb/fail_alloc.hpp"

namespace sp {

class Stack;

// When TransferOptions::stats sees the two stacks.
enum class StatsPoint {
  kInterval,  // every stats_every of virtual time while the transfer runs
  kLastByte,  // every byte sent is read and acknowledged; sockets still open
  kClosed,    // the sockets closed and their FINs exchanged (or the stall timeout)
};
// elapsed: virtual time since the first connect.
using StatsHook = std::function<void(StatsPoint, Stack& client, Stack& server, Nanos elapsed)>;

struct TransferOptions {
  std::uint64_t size = 256ull << 20;  // bytes per connection and direction
  int connections = 1;
  bool bidirectional = false;  // the server sends `size` bytes back at the same time
  SimLinkConfig link;          // link.a_to_b carries client -> server
  std::string cc = "cubic";    // net.ipv4.tcp_congestion_control on both stacks
  // name=value pairs set on both stacks after cc (e.g. net.ipv4.tcp_sack=0).
  std::vector<std::pair<std::string, std::string>> sysctls;
  std::uint64_t seed = 1;                // payload and link randomness
  std::uint32_t write_size = 64 * 1024;  // bytes per send() call
  // The transfer has stalled when no byte moves for this much virtual time.
  Nanos stall_timeout = 120 * kNsPerSec;
  // Called now and then (every `progress_every` of virtual time).
  std::function<void(std::uint64_t delivered, std::uint64_t total, Nanos now)> progress;
  Nanos progress_every = 100 * kNsPerMs;
  std::string pcap_path;               // capture the client's device here (PcapTap)
  std::uint32_t pcap_snaplen = 65535;  // bytes kept of each frame (headers only if small)
  // Send with MSG_ZEROCOPY (SO_ZEROCOPY on): the stack reads the sender's
  // buffers until each send completes on the error queue, so the sender
  // refills a buffer only after the completions for it came back.
  bool zerocopy = false;
  // Counters and sockets for `--stats`. With a hook, each sender holds its
  // FIN back until all its data is acknowledged, so that kLastByte finds
  // the connections ESTABLISHED with their final byte counts (an
  // application that waits for its data to be acknowledged before closing;
  // the FIN leaves about one round trip later than without the hook).
  StatsHook stats;
  Nanos stats_every = 0;  // > 0: also kInterval on this grid of virtual time
  // Write trace events as JSON lines here (the stacks are named "client"
  // and "server"); trace_events as parse_event_list takes it, empty for
  // trace::kDefaultTraceEvents.
  std::string trace_path;
  std::string trace_events;
  std::string trace_format = "json";  // or "text" (ftrace-like lines)
  // Allocation failure injection for the run (both stacks: they share the
  // thread), armed before the first socket and disarmed at the end.
  FailAlloc fail_alloc;
};

struct FlowResult {
  std::uint64_t sent = 0;      // bytes accepted by send()
  std::uint64_t received = 0;  // bytes returned by recv() at the other end
  bool eof = false;            // the receiver saw the orderly end of the stream
  bool digest_ok = false;
  std::string sha_sent, sha_received;  // hex
};

struct TransferResult {
  bool ok = false;  // every flow complete and every digest equal
  bool digest_ok = false;
  bool stalled = false;  // no progress within stall_timeout, or nothing left to happen
  std::string error;     // the first API error, if any
  int error_errno = 0;   // its errno (0: none, or not an API call's)
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  Nanos virtual_ns = 0;            // from the first connect to the last byte (and FIN)
  std::uint64_t retransmits = 0;   // TcpRetransSegs, both stacks
  std::uint64_t segments_out = 0;  // TcpOutSegs, both stacks
  Mib client_mib, server_mib;      // each stack's counters at the end
  std::uint64_t world_steps = 0;
  SimPathStats to_server, to_client;    // the link's two directions
  GroStats gro_server;                  // the server end's GRO (link.gro)
  std::uint64_t server_napi_polls = 0;  // polls of the server end that took frames
  std::uint32_t last_cwnd = 0;          // TCP_INFO of the first client connection at the end
  std::uint32_t last_srtt_us = 0;
  std::vector<FlowResult> flows;  // client->server flows, then server->client
  // With TransferOptions::zerocopy: sends made, completions reported, and
  // how many of those said SO_EE_CODE_ZEROCOPY_COPIED.
  std::uint64_t zerocopy_sends = 0;
  std::uint64_t zerocopy_completed = 0;
  std::uint64_t zerocopy_copied = 0;
  FailAllocStats fail_alloc;  // what TransferOptions::fail_alloc made fail
};

TransferResult run_transfer(const TransferOptions& opt);

// The payload: a deterministic pseudo-random byte stream per (seed, stream),
// generated block by block so no transfer needs it all in memory.
void payload_fill(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::uint8_t* out,
                  std::size_t len);

}  // namespace sp
