// SimLink and SimWorld: timing, impairments, repeatability, TSO handling.
#include <gtest/gtest.h>

#include "harness/sim_world.hpp"
#include "unit/ip/ip_helpers.hpp"

namespace sp {
namespace {

using test::ip;
using test::make_tcp_skb;
using test::TcpSkbSpec;

constexpr std::uint8_t kProto = 253;  // a fake transport: the link is what is tested

struct Arrival {
  Nanos at;
  std::uint32_t len;
  std::uint32_t seq;
  IpSummed summed;
  std::uint16_t gso_size;
};

struct SimTest : ::testing::Test {
  SimWorld world;
  Stack* a = nullptr;
  Stack* b = nullptr;
  SimLink* link = nullptr;
  be32 addr_a = ip("10.0.0.1"), addr_b = ip("10.0.0.2");
  std::vector<Arrival> arrivals;
  std::vector<std::vector<std::uint8_t>> payloads;

  void build(const SimLinkConfig& cfg) {
    a = &world.add_stack();
    b = &world.add_stack();
    link = world.connect(*a, addr_a, *b, addr_b, 24, cfg).link;
    b->register_protocol(kProto, [this](SkbPtr skb) {
      arrivals.push_back({world.now(), skb->len, load_be32(skb->data + 4), skb->ip_summed,
                          skb_shinfo(skb.get())->gso_size});
      payloads.push_back(test::frame_bytes(skb.get()));
    });
  }
  static SimLinkConfig config(std::uint64_t rate = 1'000'000'000, Nanos delay = 10 * kNsPerMs) {
    SimLinkConfig c;
    c.a_to_b.rate_bps = c.b_to_a.rate_bps = rate;
    c.a_to_b.delay = c.b_to_a.delay = delay;
    return c;
  }
  // Send one TCP-shaped packet of `len` payload bytes from a to b.
  void send(std::uint32_t len, std::uint32_t seq = 1, std::uint16_t gso = 0,
            SkbDestructor d = nullptr) {
    TcpSkbSpec s;
    s.len = len;
    s.seq = seq;
    s.gso_size = gso;
    s.saddr = addr_a;
    s.daddr = addr_b;
    s.paged = gso != 0;
    SkbPtr skb = make_tcp_skb(s);
    if (d) {
      skb->sk = this;
      skb->destructor = d;
    }
    IpXmitParams p;
    p.saddr = addr_a;
    p.daddr = addr_b;
    p.protocol = kProto;
    ASSERT_EQ(a->ip_queue_xmit(std::move(skb), p), 0);
  }
  void run() {
    world.run_until([] { return false; }, world.now() + 10 * kNsPerSec);
  }
};

// (payload + TCP 32 + IP 20 + Ethernet 14 + preamble/FCS/IFG 24) bytes at 1 Gbit/s.
constexpr Nanos ser_1g(std::uint32_t payload) {
  return (payload + 32 + 20 + 14 + 24) * 8;
}

TEST_F(SimTest, frame_arrives_after_serialisation_plus_propagation) {
  build(config());
  send(1448);
  run();
  ASSERT_EQ(arrivals.size(), 1u);
  EXPECT_EQ(arrivals[0].at, ser_1g(1448) + 10 * kNsPerMs);
  EXPECT_EQ(arrivals[0].len, 32u + 1448);
}

TEST_F(SimTest, back_to_back_frames_are_spaced_by_their_serialisation) {
  build(config());
  send(1448, 1);
  send(1448, 2);
  send(100, 3);
  run();
  ASSERT_EQ(arrivals.size(), 3u);
  EXPECT_EQ(arrivals[1].at - arrivals[0].at, ser_1g(1448));
  EXPECT_EQ(arrivals[2].at - arrivals[1].at, ser_1g(100));
}

TEST_F(SimTest, minimum_frame_size_is_charged_for_tiny_frames) {
  build(config(1'000'000'000, 0));
  send(0);  // 66-byte frame: above the 60-byte minimum
  run();
  ASSERT_EQ(arrivals.size(), 1u);
  EXPECT_EQ(arrivals[0].at, ser_1g(0));
}

TEST_F(SimTest, rate_zero_means_no_serialisation_delay) {
  build(config(0, 5 * kNsPerMs));
  send(1448);
  send(1448);
  run();
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_EQ(arrivals[0].at, 5 * kNsPerMs);
  EXPECT_EQ(arrivals[1].at, 5 * kNsPerMs);
}

int g_freed = 0;
Nanos g_freed_at = 0;
SimWorld* g_world = nullptr;
void on_free(SkBuff*) {
  ++g_freed;
  g_freed_at = g_world->now();
}

TEST_F(SimTest, sender_skb_is_freed_when_serialised_not_when_delivered) {
  build(config());
  g_world = &world;
  g_freed = 0;
  send(1448, 1, 0, on_free);
  EXPECT_EQ(g_freed, 0);
  run();
  EXPECT_EQ(g_freed, 1);
  EXPECT_EQ(g_freed_at, ser_1g(1448));
  EXPECT_GT(arrivals[0].at, g_freed_at);
}

SimTest* g_test = nullptr;
void send_another(SkBuff*) {
  g_test->send(1448, 2);
}

TEST_F(SimTest, destructor_that_sends_at_once_does_not_disturb_the_wire_schedule) {
  build(config());
  g_test = this;
  send(1448, 1, 0, send_another);  // freed at serialisation end -> sends frame 2
  run();
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_EQ(arrivals[0].at, ser_1g(1448) + 10 * kNsPerMs);
  EXPECT_EQ(arrivals[1].at, 2 * ser_1g(1448) + 10 * kNsPerMs);
}

TEST_F(SimTest, full_queue_drops_the_tail) {
  SimLinkConfig c = config();
  c.a_to_b.queue_limit = 2;
  build(c);
  for (std::uint32_t i = 0; i < 5; ++i) send(1000, i);
  run();
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_EQ(arrivals[0].seq, 0u);
  EXPECT_EQ(arrivals[1].seq, 1u);
  EXPECT_EQ(link->stats(0).queue_drops, 3u);
}

TEST_F(SimTest, loss_one_loses_everything) {
  SimLinkConfig c = config();
  c.a_to_b.loss = 1.0;
  build(c);
  for (std::uint32_t i = 0; i < 10; ++i) send(100, i);
  run();
  EXPECT_TRUE(arrivals.empty());
  EXPECT_EQ(link->stats(0).loss_drops, 10u);
}

TEST_F(SimTest, partial_loss_loses_about_that_fraction) {
  SimLinkConfig c = config(0, kNsPerMs);
  c.a_to_b.loss = 0.25;
  c.a_to_b.queue_limit = 4000;
  build(c);
  for (std::uint32_t i = 0; i < 2000; ++i) send(10, i);
  run();
  EXPECT_EQ(arrivals.size() + link->stats(0).loss_drops, 2000u);
  EXPECT_NEAR(static_cast<double>(link->stats(0).loss_drops), 500.0, 80.0);
}

TEST_F(SimTest, duplication_delivers_a_frame_twice) {
  SimLinkConfig c = config();
  c.a_to_b.dup = 1.0;
  build(c);
  send(100, 7);
  run();
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_EQ(arrivals[0].seq, 7u);
  EXPECT_EQ(arrivals[1].seq, 7u);
  EXPECT_EQ(payloads[0], payloads[1]);
}

TEST_F(SimTest, reordering_lets_later_frames_overtake) {
  SimLinkConfig c = config();
  c.a_to_b.reorder = 0.3;
  c.a_to_b.reorder_delay = 1 * kNsPerMs;
  build(c);
  for (std::uint32_t i = 0; i < 200; ++i) send(1000, i);
  run();
  ASSERT_EQ(arrivals.size(), 200u);
  int inversions = 0;
  for (std::size_t i = 1; i < arrivals.size(); ++i)
    if (arrivals[i].seq < arrivals[i - 1].seq) ++inversions;
  EXPECT_GT(inversions, 0);
  EXPECT_GT(link->stats(0).reordered, 0u);
}

TEST_F(SimTest, jitter_delays_but_never_reorders) {
  SimLinkConfig c = config();
  c.a_to_b.jitter = 2 * kNsPerMs;
  build(c);
  for (std::uint32_t i = 0; i < 200; ++i) send(500, i);
  run();
  ASSERT_EQ(arrivals.size(), 200u);
  bool some_late = false;
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    EXPECT_EQ(arrivals[i].seq, i);
    if (arrivals[i].at > (i + 1) * ser_1g(500) + 10 * kNsPerMs) some_late = true;
  }
  EXPECT_TRUE(some_late);
}

TEST_F(SimTest, tso_skb_is_segmented_at_the_link_by_default) {
  build(config());
  send(10000, 100, 1448);
  run();
  ASSERT_EQ(arrivals.size(), 7u);
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(arrivals[i].seq, 100 + i * 1448);
    EXPECT_EQ(arrivals[i].len, 32u + (i < 6 ? 1448 : 10000 - 6 * 1448));
  }
  EXPECT_EQ(link->stats(0).gso_segmented, 1u);
}

TEST_F(SimTest, tso_passthrough_delivers_one_super_packet) {
  SimLinkConfig c = config();
  c.tso_passthrough = true;
  build(c);
  send(10000, 100, 1448);
  run();
  ASSERT_EQ(arrivals.size(), 1u);
  EXPECT_EQ(arrivals[0].len, 32u + 10000);
  EXPECT_EQ(arrivals[0].gso_size, 1448);
  // It occupies the wire as its seven segments would.
  EXPECT_EQ(arrivals[0].at, 6 * ser_1g(1448) + ser_1g(10000 - 6 * 1448) + 10 * kNsPerMs);
}

// Interrupt moderation: the receiving end polls rx_coalesce after the first
// frame reaches its empty ring, and that one poll takes every frame that
// arrived meanwhile.
TEST_F(SimTest, rx_coalesce_delays_the_poll_to_the_moderated_interrupt) {
  SimLinkConfig c = config();
  c.rx_coalesce = 50 * kNsPerUs;
  build(c);
  send(3000, 1, 1000);
  run();
  ASSERT_EQ(arrivals.size(), 3u);
  const Nanos irq = ser_1g(1000) + 10 * kNsPerMs + 50 * kNsPerUs;
  for (const Arrival& a : arrivals) EXPECT_EQ(a.at, irq);
  EXPECT_EQ(link->end(1)->napi_polls(), 1u);
}

TEST_F(SimTest, without_tso_the_sending_stack_segments_in_software) {
  SimLinkConfig c = config();
  c.tso = false;
  build(c);
  send(5000, 1, 1448);
  run();
  EXPECT_EQ(arrivals.size(), 4u);
  EXPECT_EQ(link->stats(0).gso_segmented, 0u);
}

TEST_F(SimTest, frames_arrive_with_complete_tcp_checksums) {
  SimLinkConfig c = config();
  c.rx_csum_verified = false;
  build(c);
  send(3000, 1, 1000);
  run();
  ASSERT_EQ(arrivals.size(), 3u);
  for (auto& p : payloads) {
    auto t = TcpView::parse(p);
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t->verify_checksum(ntohl(addr_a), ntohl(addr_b)));
  }
  EXPECT_EQ(arrivals[0].summed, IpSummed::CHECKSUM_NONE);
}

TEST_F(SimTest, verified_rx_checksum_is_marked_unnecessary) {
  build(config());
  send(10);
  run();
  ASSERT_EQ(arrivals.size(), 1u);
  EXPECT_EQ(arrivals[0].summed, IpSummed::CHECKSUM_UNNECESSARY);
}

TEST_F(SimTest, idle_world_is_reported_as_stalled) {
  build(config());
  EXPECT_FALSE(world.run_until([] { return false; }, 100 * kNsPerSec));
  EXPECT_TRUE(world.stalled());
}

TEST_F(SimTest, run_until_stops_at_the_deadline) {
  build(config());
  Timer t([] {});
  a->mod_timer(t, 50 * kNsPerSec);
  EXPECT_FALSE(world.run_until([] { return false; }, 2 * kNsPerSec));
  EXPECT_FALSE(world.stalled());
  EXPECT_EQ(world.now(), 2 * kNsPerSec);
}

TEST_F(SimTest, blocking_wait_on_one_stack_runs_the_whole_world) {
  build(config());
  send(100);
  // As a blocking call would: wait on stack a for something stack b sees.
  EXPECT_TRUE(a->wait_until([&] { return !arrivals.empty(); }, 5 * kNsPerSec));
  EXPECT_EQ(arrivals.size(), 1u);
}

TEST_F(SimTest, blocking_wait_with_nothing_pending_returns_false) {
  build(config());
  EXPECT_FALSE(a->wait_until([] { return false; }, Stack::kNoTimer));
}

int g_teardown_freed = 0;
void count_teardown(SkBuff*) {
  ++g_teardown_freed;
}

TEST(SimTeardown, destroying_the_world_frees_queued_frames_and_runs_their_destructors) {
  g_teardown_freed = 0;
  {
    SimWorld world;
    Stack& a = world.add_stack();
    Stack& b = world.add_stack();
    SimLinkConfig c;
    c.a_to_b.rate_bps = 1'000'000;  // slow: frames stay queued
    world.connect(a, ip("10.0.0.1"), b, ip("10.0.0.2"), 24, c);
    for (std::uint32_t i = 0; i < 5; ++i) {
      TcpSkbSpec s;
      s.len = 1000;
      SkbPtr skb = make_tcp_skb(s);
      skb->destructor = count_teardown;
      IpXmitParams p;
      p.saddr = ip("10.0.0.1");
      p.daddr = ip("10.0.0.2");
      p.protocol = kProto;
      ASSERT_EQ(a.ip_queue_xmit(std::move(skb), p), 0);
    }
    world.run_for(9 * kNsPerMs);  // the first frame (8.6 ms) has left, four wait
    EXPECT_EQ(g_teardown_freed, 1);
  }
  EXPECT_EQ(g_teardown_freed, 5);
}

// The full log of a run with every impairment on.
std::vector<std::pair<Nanos, std::uint32_t>> impaired_run(std::uint64_t seed) {
  SimWorld world;
  Stack& a = world.add_stack();
  Stack& b = world.add_stack();
  SimLinkConfig c;
  c.seed = seed;
  c.a_to_b.loss = 0.05;
  c.a_to_b.dup = 0.05;
  c.a_to_b.reorder = 0.05;
  c.a_to_b.jitter = 300 * kNsPerUs;
  world.connect(a, ip("10.0.0.1"), b, ip("10.0.0.2"), 24, c);
  std::vector<std::pair<Nanos, std::uint32_t>> log;
  b.register_protocol(kProto,
                      [&](SkbPtr skb) { log.emplace_back(world.now(), load_be32(skb->data + 4)); });
  for (std::uint32_t i = 0; i < 300; ++i) {
    TcpSkbSpec s;
    s.len = 1000;
    s.seq = i;
    IpXmitParams p;
    p.saddr = ip("10.0.0.1");
    p.daddr = ip("10.0.0.2");
    p.protocol = kProto;
    a.ip_queue_xmit(make_tcp_skb(s), p);
  }
  world.run_until([] { return false; }, 10 * kNsPerSec);
  return log;
}

TEST(SimRepeatability, same_seed_repeats_bit_for_bit) {
  EXPECT_EQ(impaired_run(42), impaired_run(42));
}

TEST(SimRepeatability, different_seeds_differ) {
  EXPECT_NE(impaired_run(42), impaired_run(43));
}

TEST(SimRng, known_sequence_for_a_seed) {
  // mt19937_64's 10000th output for the default seed is fixed by the C++
  // standard; our distributions are built only on its raw output.
  std::mt19937_64 g;
  g.discard(9999);
  EXPECT_EQ(g(), 9981545732273789042ull);
  SimRng r(7);
  for (int i = 0; i < 1000; ++i) {
    const double u = r.uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_LE(r.uniform_int(9), 9u);
  }
}

}  // namespace
}  // namespace sp
