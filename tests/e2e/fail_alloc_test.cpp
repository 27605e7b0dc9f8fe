// Allocation failure injection (FailAlloc) under whole transfers over a
// lossy SimLink: whatever fails, each run either completes with the digest
// intact or ends with the errno Linux would give, frees every skb, head and
// page it took, and never stalls past its bounded virtual time. Run under
// ASan+UBSan in CI, where LeakSanitizer also sees the socks.
#include "skb/fail_alloc.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <string>

#include "core/stack.hpp"
#include "harness/sim_transfer.hpp"
#include "skb/skbuff.hpp"

namespace sp {
namespace {

TransferOptions lossy_transfer(std::uint64_t size, std::uint64_t seed, double loss) {
  TransferOptions o;
  o.size = size;
  o.seed = seed;
  o.write_size = 16 * 1024;
  o.stall_timeout = 200 * kNsPerSec;  // above connect's 127 s of SYN retries
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->rate_bps = 100'000'000;
    p->delay = 1 * kNsPerMs;
    p->loss = loss;
  }
  return o;
}

// The errnos a socket call may end with when memory is short, or when the
// connection died of the losses that failed allocations add up to.
bool linux_errno(int e) {
  return e == ENOMEM || e == ENOBUFS || e == ETIMEDOUT || e == ECONNRESET || e == EPIPE;
}

void expect_clean_outcome(const TransferResult& r, const std::string& what) {
  EXPECT_FALSE(r.stalled) << what << ": stalled";
  if (r.ok) {
    EXPECT_TRUE(r.digest_ok) << what;
    return;
  }
  EXPECT_TRUE(linux_errno(r.error_errno)) << what << ": " << r.error;
  // Whatever arrived is a prefix of what was sent: never a wrong byte.
  for (const FlowResult& f : r.flows) {
    EXPECT_LE(f.received, f.sent) << what;
    if (f.received == f.sent) {
      EXPECT_EQ(f.sha_received, f.sha_sent) << what;
    }
  }
}

bool same_usage(const SkbPoolUsage& a, const SkbPoolUsage& b) {
  return a.skbs == b.skbs && a.head_bytes == b.head_bytes && a.pages_4k == b.pages_4k;
}

struct OneInN {
  const char* spec;
  std::uint64_t seed;
};

class FailAllocTransfer : public ::testing::TestWithParam<OneInN> {};

TEST_P(FailAllocTransfer, completes_or_fails_with_linux_errno_and_frees_everything) {
  const OneInN c = GetParam();
  TransferOptions o = lossy_transfer(1ull << 20, c.seed, 0.01);
  std::string err;
  ASSERT_TRUE(parse_fail_alloc(c.spec, &o.fail_alloc, &err)) << err;
  o.fail_alloc.seed = c.seed;
  const SkbPoolUsage before = skb_pool_process_usage();
  const TransferResult r = run_transfer(o);
  const std::string what = std::string(c.spec) + " seed " + std::to_string(c.seed);
  expect_clean_outcome(r, what);
  EXPECT_GT(r.fail_alloc.total_failed(), 0u) << what << ": nothing failed, nothing tested";
  EXPECT_GT(r.to_server.loss_drops + r.to_client.loss_drops, 0u) << what;
  EXPECT_TRUE(same_usage(before, skb_pool_process_usage()))
      << what << ": skbs, heads or pages leaked past the stacks' teardown";
  EXPECT_EQ(fail_alloc_get().kinds, 0u) << "disarmed after the run";
}

INSTANTIATE_TEST_SUITE_P(Seeded, FailAllocTransfer,
                         ::testing::Values(OneInN{"skb:1/50", 1}, OneInN{"skb:1/50", 2},
                                           OneInN{"skb:1/20", 3}, OneInN{"page:1/10", 1},
                                           OneInN{"page:1/10", 2}, OneInN{"page:1/3", 3},
                                           OneInN{"sock:1/3", 1}, OneInN{"sock:1/3", 2},
                                           OneInN{"sock:1/3", 6}, OneInN{"all:1/50", 1},
                                           OneInN{"all:1/50", 2}, OneInN{"all:1/30", 3}),
                         [](const ::testing::TestParamInfo<OneInN>& i) {
                           std::string n = i.param.spec;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n + "_seed" + std::to_string(i.param.seed);
                         });

// Fails the Nth allocation of a short transfer, for every N up to past the
// last allocation the transfer makes: each allocation site's failure path
// runs once, the rare ones (a SYN-ACK, a FIN, a clone in a retransmission)
// included.
TEST(FailAllocSweep, every_one_of_the_first_allocations_fails_in_turn) {
  TransferOptions base = lossy_transfer(48 * 1024, 1, 0);
  base.link.a_to_b.loss = 0.02;
  constexpr std::uint64_t kMaxN = 400;
  std::uint64_t last_calls = 0;
  int failed_runs = 0, hit = 0;
  for (std::uint64_t n = 1; n <= kMaxN; ++n) {
    TransferOptions o = base;
    o.fail_alloc.kinds = kFailAll;
    o.fail_alloc.nth = n;
    const SkbPoolUsage before = skb_pool_process_usage();
    const TransferResult r = run_transfer(o);
    const std::string what = "failing allocation #" + std::to_string(n);
    expect_clean_outcome(r, what);
    EXPECT_TRUE(same_usage(before, skb_pool_process_usage())) << what << ": leak";
    const FailAllocStats& f = r.fail_alloc;
    last_calls = f.calls[0] + f.calls[1] + f.calls[2];
    if (f.total_failed() == 1) ++hit;
    if (!r.ok) ++failed_runs;
    if (::testing::Test::HasFailure()) break;
    if (last_calls < n) break;  // past the transfer's last allocation
  }
  EXPECT_GT(hit, 100) << "the sweep reached " << hit << " allocations (" << last_calls << " made)";
  // socket() for the listener and the client are among them: those runs end
  // with ENOMEM, the others recover.
  EXPECT_GE(failed_runs, 1);
}

// The listener's child cannot be made (tcp_v4_syn_recv_sock failing): a
// ListenDrops, the request stays (acked) and the handshake completes on
// the client's next try, as Linux's tcp_check_req does on listen_overflow.
TEST(FailAllocListener, child_creation_failure_is_a_listen_drop_and_the_connection_recovers) {
  // Sock allocations in order: the listener, the client socket, the
  // request sock, the child.
  TransferOptions o = lossy_transfer(64 * 1024, 1, 0);
  o.fail_alloc.kinds = kFailSock;
  o.fail_alloc.nth = 4;
  std::uint64_t listen_drops = 0;
  o.stats = [&](StatsPoint p, Stack&, Stack& server, Nanos) {
    if (p == StatsPoint::kLastByte) listen_drops = server.mib().get(MibId::TcpExtListenDrops);
  };
  const TransferResult r = run_transfer(o);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.fail_alloc.failed[2], 1u);
  EXPECT_EQ(r.fail_alloc.calls[2], 5u) << "the child was made on the second try";
  EXPECT_EQ(listen_drops, 1u);
}

// The request sock cannot be made: the SYN goes unanswered (a listen drop)
// and the client's SYN retransmission one RTO later gets through.
TEST(FailAllocListener, request_sock_failure_drops_the_syn_and_the_client_retries) {
  TransferOptions o = lossy_transfer(64 * 1024, 1, 0);
  o.fail_alloc.kinds = kFailSock;
  o.fail_alloc.nth = 3;
  std::uint64_t listen_drops = 0, syn_retrans = 0;
  o.stats = [&](StatsPoint p, Stack& client, Stack& server, Nanos) {
    if (p != StatsPoint::kLastByte) return;
    listen_drops = server.mib().get(MibId::TcpExtListenDrops);
    syn_retrans = client.mib().get(MibId::TcpRetransSegs);
  };
  const TransferResult r = run_transfer(o);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.fail_alloc.failed[2], 1u);
  EXPECT_EQ(listen_drops, 1u);
  EXPECT_GE(syn_retrans, 1u);
  EXPECT_GE(r.virtual_ns, 1 * kNsPerSec) << "the SYN went again after the initial RTO";
}

// socket() itself: sk_alloc failing is ENOMEM (inet_create).
TEST(FailAllocSocket, socket_fails_with_enomem) {
  TransferOptions o = lossy_transfer(4096, 1, 0);
  o.fail_alloc.kinds = kFailSock;
  o.fail_alloc.nth = 1;
  const TransferResult r = run_transfer(o);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_errno, ENOMEM) << r.error;
  EXPECT_EQ(r.fail_alloc.failed[2], 1u);
}

TEST(FailAllocSpec, parses_kinds_rates_seeds_and_counts) {
  FailAlloc f;
  std::string err;
  ASSERT_TRUE(parse_fail_alloc("skb:1/100", &f, &err)) << err;
  EXPECT_EQ(f.kinds, static_cast<unsigned>(kFailSkb));
  EXPECT_EQ(f.every_n, 100u);
  EXPECT_EQ(f.nth, 0u);
  ASSERT_TRUE(parse_fail_alloc("skb+page:1/7@42", &f, &err)) << err;
  EXPECT_EQ(f.kinds, static_cast<unsigned>(kFailSkb | kFailPage));
  EXPECT_EQ(f.every_n, 7u);
  EXPECT_EQ(f.seed, 42u);
  ASSERT_TRUE(parse_fail_alloc("all:#120", &f, &err)) << err;
  EXPECT_EQ(f.kinds, static_cast<unsigned>(kFailAll));
  EXPECT_EQ(f.nth, 120u);
  for (const char* bad : {"skb", "disk:1/2", "skb:1/0", "skb:#0", "skb:2/3", "skb:1/5@x", ":#1"})
    EXPECT_FALSE(parse_fail_alloc(bad, &f, &err)) << bad;
}

// The Nth rule fails exactly one allocation; one in N fails about 1/N of
// them, the same ones for the same seed.
TEST(FailAllocSpec, nth_fails_once_and_one_in_n_repeats_per_seed) {
  FailAlloc f;
  f.kinds = kFailSkb;
  f.nth = 3;
  fail_alloc_set(f);
  int failed_at = 0;
  for (int i = 1; i <= 10; ++i)
    if (fail_alloc_should_fail(kFailSkb)) failed_at = failed_at ? -1 : i;
  EXPECT_FALSE(fail_alloc_should_fail(kFailPage)) << "pages are not armed";
  EXPECT_EQ(failed_at, 3);
  EXPECT_EQ(fail_alloc_stats().calls[0], 10u);
  EXPECT_EQ(fail_alloc_stats().calls[1], 0u);
  auto pattern = [](std::uint64_t seed) {
    FailAlloc g;
    g.kinds = kFailAll;
    g.every_n = 10;
    g.seed = seed;
    fail_alloc_set(g);
    std::string s;
    for (int i = 0; i < 1000; ++i) s += fail_alloc_should_fail(kFailPage) ? '1' : '0';
    return s;
  };
  const std::string a = pattern(5), b = pattern(5), c = pattern(6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const auto ones = std::count(a.begin(), a.end(), '1');
  EXPECT_GT(ones, 60);
  EXPECT_LT(ones, 140);
  fail_alloc_set({});
  EXPECT_FALSE(fail_alloc_should_fail(kFailSkb));
}

}  // namespace
}  // namespace sp
