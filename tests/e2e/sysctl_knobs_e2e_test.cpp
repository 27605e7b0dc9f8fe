// Sysctls whose effect shows over a whole transfer (issue 19: every knob the
// stack reads is exercised by a test).
//
// net.ipv4.tcp_moderate_rcvbuf: with it (the default) the receiver's buffer follows the
// sender's rate (tcp_rcv_space_adjust, dynamic right-sizing) and the window
// it offers grows past the initial 64 KiB; with it off the buffer stays at
// tcp_rmem[1] and so does the window, and on a long fat path the transfer
// is window-limited.
#include <gtest/gtest.h>

#include <cstdint>

#include "harness/sim_transfer.hpp"
#include "trace/ss.hpp"

namespace sp {
namespace {

struct Outcome {
  std::uint32_t server_rcv_wnd = 0;  // the receiver's offered window at the last byte
  Nanos time = 0;
  bool ok = false;
};

Outcome run(bool moderate) {
  TransferOptions o;
  o.size = 32ull << 20;
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->rate_bps = 1'000'000'000;
    p->delay = 10 * kNsPerMs;
  }
  o.sysctls = {{"net.ipv4.tcp_moderate_rcvbuf", moderate ? "1" : "0"}};
  Outcome r;
  o.stats = [&](StatsPoint at, Stack&, Stack& server, Nanos) {
    if (at != StatsPoint::kLastByte) return;
    for (const SsEntry& e : ss_collect(server))
      if (e.state == 1 && e.has_info) r.server_rcv_wnd = e.info.tcpi_rcv_wnd;
  };
  const TransferResult t = run_transfer(o);
  r.ok = t.ok;
  r.time = t.virtual_ns;
  return r;
}

TEST(SysctlKnobsE2e, tcp_moderate_rcvbuf_grows_the_receive_window_and_off_keeps_it) {
  const Outcome on = run(true);
  const Outcome off = run(false);
  ASSERT_TRUE(on.ok);
  ASSERT_TRUE(off.ok);
  std::printf("moderate_rcvbuf=1: window %u B, %.3f s; =0: window %u B, %.3f s\n",
              on.server_rcv_wnd, static_cast<double>(on.time) / 1e9, off.server_rcv_wnd,
              static_cast<double>(off.time) / 1e9);
  // tcp_rmem[1] is 131072: without autotuning the window stays near half of it.
  EXPECT_LE(off.server_rcv_wnd, 131072u);
  EXPECT_GT(on.server_rcv_wnd, 4 * off.server_rcv_wnd);
  // 64 KiB per 20 ms is ~26 Mbit/s: the run without autotuning is far slower.
  EXPECT_GT(off.time, 3 * on.time);
}

// net.ipv4.tcp_max_reordering caps how far the sender's reordering estimate
// (tcpi_reordering, the dupthresh RACK and SACK use) may grow when the path
// reorders: frames overtaken by up to 5 ms push it well past 4 by default
// (cap 300), and no further than 4 with the cap at 4.
std::uint32_t reordering_after(const char* max_reordering) {
  TransferOptions o;
  o.size = 8ull << 20;
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->rate_bps = 1'000'000'000;
    p->delay = 10 * kNsPerMs;
  }
  o.link.a_to_b.reorder = 0.02;
  o.link.a_to_b.reorder_delay = 5 * kNsPerMs;
  o.sysctls = {{"net.ipv4.tcp_max_reordering", max_reordering}};
  std::uint32_t reordering = 0;
  o.stats = [&](StatsPoint at, Stack& client, Stack&, Nanos) {
    if (at != StatsPoint::kLastByte) return;
    for (const SsEntry& e : ss_collect(client))
      if (e.state == 1 && e.has_info) reordering = e.info.v.tcpi_reordering;
  };
  const TransferResult t = run_transfer(o);
  EXPECT_TRUE(t.ok);
  EXPECT_GT(t.to_server.reordered, 0u);
  return reordering;
}

TEST(SysctlKnobsE2e, tcp_max_reordering_caps_the_reordering_estimate) {
  const std::uint32_t by_default = reordering_after("300");
  const std::uint32_t capped = reordering_after("4");
  std::printf("tcpi_reordering: %u with the default cap, %u with the cap at 4\n", by_default,
              capped);
  EXPECT_GT(by_default, 4u);
  EXPECT_LE(capped, 4u);
}

}  // namespace
}  // namespace sp
