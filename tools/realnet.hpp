// Shared by `sendpath send` and `sendpath serve`: a Stack on the monotonic
// clock, one tap (or tun) device, its address, routes and the real-time
// event loop, configured from the command line.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/stack.hpp"
#include "dev/realtime_loop.hpp"
#include "dev/tun.hpp"
#include "trace/trace_file.hpp"

namespace sp::tools {

struct RealNetOptions {
  std::string dev = "sptap0";
  bool tun = false;   // IFF_TUN (raw IP) instead of IFF_TAP
  std::string netns;  // open the device in this named namespace
  std::string addr = "10.77.0.2/24";
  std::string gw;         // default route via this gateway
  std::string mac;        // our MAC (tap); random when empty
  std::string pcap;       // capture what crosses the device
  bool no_tso = false;    // no TUN_F_TSO4: the IP layer segments
  bool no_csum = false;   // no TUN_F_CSUM: checksums in software
  bool bring_up = false;  // set the kernel end up (if the lab did not)
  std::uint32_t mtu = 1500;
  std::string cc;                     // TCP_CONGESTION for our sockets
  std::vector<std::string> sysctls;   // name=value for the stack's table
  std::string trace;                  // JSON-lines trace file (--trace)
  std::string trace_events;           // --trace-events; empty: the default set
  std::string trace_format = "json";  // --trace-format: json or text
  std::string name = "stack";         // the stack's name in trace events
};

void add_realnet_options(CLI::App& app, RealNetOptions& o);

class RealNet {
 public:
  explicit RealNet(const RealNetOptions& o);
  ~RealNet();
  RealNet(const RealNet&) = delete;
  RealNet& operator=(const RealNet&) = delete;

  const std::string& error() const { return error_; }
  Stack& stack() { return *stack_; }
  RealtimeLoop& loop() { return *loop_; }
  TunFdDevice& dev() { return *dev_; }
  be32 local_addr() const { return local_; }

 private:
  MonotonicClock clock_;
  trace::TraceFile trace_;  // before stack_: it outlives the stack
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<RealtimeLoop> loop_;
  TunFdDevice* dev_ = nullptr;
  be32 local_ = 0;
  std::string error_;
};

// "10.77.0.2/24" -> address (network order) and prefix.
bool parse_prefix(const std::string& s, be32* addr, int* prefix);
// "10.77.0.1:5001" -> address (network order) and port (host order).
bool parse_host_port(const std::string& s, be32* addr, std::uint16_t* port);

// A seeded pseudo-random byte stream (splitmix64): both ends of a test can
// regenerate it, so nothing of the size of the transfer is held in memory.
class PayloadStream {
 public:
  explicit PayloadStream(std::uint64_t seed) : state_(seed) {}
  void fill(std::uint8_t* p, std::size_t n);

 private:
  std::uint64_t next();
  std::uint64_t state_;
  std::uint64_t word_ = 0;
  int left_ = 0;  // bytes of word_ not yet used
};

// SHA-256 over a stream (OpenSSL EVP), hex digest at the end.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* p, std::size_t n);
  std::string hex();

 private:
  void* ctx_;
};

double cpu_seconds();  // user + system time of this process

}  // namespace sp::tools
