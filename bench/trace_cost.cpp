// What tracing costs the data path: one bulk transfer between two stacks on
// a lossless SimLink (virtual time, no payload generation or hashing in the
// timed loop: the sender sends from one fixed buffer, the receiver reads into
// one and discards), in three builds of the stack:
//   bench_trace_cost          tracepoints compiled in, nobody listening ("off"),
//                             and with a sink counting every event ("on")
//   bench_trace_cost_notrace  the same source against a stack built with
//                             SP_TRACE=0: every call site compiled out
// scripts/bench-trace-cost runs the two programs interleaved and prints the
// ratios: "off" against "compiled out" is the price of having tracepoints.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "trace/sinks.hpp"

namespace {

using namespace sp;

be32 ip(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

// Moves `bytes` from a client stack to a server stack; returns the bytes
// the server read (the check that the run did what it says).
std::uint64_t transfer(std::uint64_t bytes) {
  SimWorld world;
  Stack& client = world.add_stack();
  Stack& server = world.add_stack();
  SimLinkConfig cfg;
  for (SimPathConfig* p : {&cfg.a_to_b, &cfg.b_to_a}) {
    p->rate_bps = 10'000'000'000ull;
    p->delay = 50 * kNsPerUs;
  }
  const be32 ca = ip("10.0.0.1"), sa = ip("10.0.0.2");
  world.connect(client, ca, server, sa, 24, cfg);
  const int l = sp::socket(server, AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(5001);
  sin.sin_addr.s_addr = sa;
  sp::bind(l, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  sp::listen(l, 4);
  const int c = sp::socket(client, AF_INET, SOCK_STREAM, 0);
  sp::connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  const int s = sp::accept(l, nullptr, nullptr);

  static std::vector<std::uint8_t> out(64 * 1024, 0x5a), in(256 * 1024);
  std::uint64_t sent = 0, got = 0;
  // Bounded: a stalled world ends the loop (run_until returns false).
  while (got < bytes) {
    while (sent < bytes) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), bytes - sent));
      const ssize_t k = sp::send(c, out.data(), n, MSG_DONTWAIT);
      if (k <= 0) break;
      sent += static_cast<std::uint64_t>(k);
    }
    ssize_t k;
    while ((k = sp::recv(s, in.data(), in.size(), MSG_DONTWAIT)) > 0)
      got += static_cast<std::uint64_t>(k);
    if (got >= bytes) break;
    if (!world.step()) break;
  }
  sp::close(c);
  sp::close(s);
  sp::close(l);
  return got;
}

constexpr std::uint64_t kBytes = 64ull << 20;

void run(benchmark::State& state) {
  std::uint64_t moved = 0;
  for (auto _ : state) {
    moved = transfer(kBytes);
    benchmark::DoNotOptimize(moved);
  }
  if (moved != kBytes) state.SkipWithError("the transfer did not complete");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBytes));
}

#if SP_TRACE
void BM_transfer_trace_off(benchmark::State& state) {
  run(state);
}
BENCHMARK(BM_transfer_trace_off)->Unit(benchmark::kMillisecond);

// Every event to a sink that only counts: the cost of producing events.
void BM_transfer_trace_on(benchmark::State& state) {
  std::uint64_t n = 0;
  trace::CallbackSink sink(trace::kAllEvents, [&](const trace::AnyEvent&) { ++n; });
  run(state);
  state.counters["events_per_iter"] =
      static_cast<double>(n) / static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
}
BENCHMARK(BM_transfer_trace_on)->Unit(benchmark::kMillisecond);
#else
void BM_transfer_compiled_out(benchmark::State& state) {
  run(state);
}
BENCHMARK(BM_transfer_compiled_out)->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();
