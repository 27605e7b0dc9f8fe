// End to end: two stacks, a SimLink, the public socket API, and a SHA-256
// of every byte on both ends. These are the acceptance runs.
//
// Sizes: the figures in the test names are what a Release build moves. A
// sanitizer build (ASan makes the stack ~10x slower) moves 1/16 of them and
// an unoptimised build 1/4, so `make test` stays well inside its budget;
// the behaviour checked -- every byte arrives, in order, digest equal -- is
// the same at any size.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/e2e_support.hpp"
#include "harness/sim_transfer.hpp"

namespace sp {
namespace {

using test::kScaleDiv;

constexpr std::uint64_t MiB = 1ull << 20;

std::uint64_t scaled(std::uint64_t bytes) {
  return std::max<std::uint64_t>(bytes / kScaleDiv, 64 * 1024);
}

TransferOptions base(std::uint64_t size) {
  TransferOptions o;
  o.size = size;
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->rate_bps = 1'000'000'000;
    p->delay = 10 * kNsPerMs;
  }
  return o;
}

void expect_complete(const TransferResult& r, std::uint64_t expected_bytes) {
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_FALSE(r.stalled);
  EXPECT_TRUE(r.digest_ok);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.bytes_sent, expected_bytes);
  EXPECT_EQ(r.bytes_received, expected_bytes);
  for (const auto& f : r.flows) {
    EXPECT_TRUE(f.eof);
    EXPECT_EQ(f.sha_sent, f.sha_received);
  }
}

TEST(EndToEnd, one_gib_arrives_intact_without_loss) {
  const std::uint64_t size = scaled(1024 * MiB);
  TransferResult r = run_transfer(base(size));
  expect_complete(r, size);
  EXPECT_EQ(r.to_server.loss_drops, 0u);
  EXPECT_GT(r.virtual_ns, 0u);
}

TEST(EndToEnd, sixty_four_mib_arrive_intact_through_one_percent_loss) {
  const std::uint64_t size = scaled(64 * MiB);
  TransferOptions o = base(size);
  o.link.a_to_b.loss = 0.01;
  o.link.b_to_a.loss = 0.01;
  TransferResult r = run_transfer(o);
  expect_complete(r, size);
  EXPECT_GT(r.to_server.loss_drops, 0u);  // the link really lost frames...
  EXPECT_GT(r.retransmits, 0u);           // ...and TCP repaired them
}

TEST(EndToEnd, both_directions_at_once_arrive_intact) {
  const std::uint64_t size = scaled(32 * MiB);
  TransferOptions o = base(size);
  o.bidirectional = true;
  TransferResult r = run_transfer(o);
  expect_complete(r, 2 * size);
  ASSERT_EQ(r.flows.size(), 2u);
  EXPECT_NE(r.flows[0].sha_received, r.flows[1].sha_received);  // two different streams
}

TEST(EndToEnd, hundred_concurrent_connections_all_arrive_intact) {
  const std::uint64_t size = scaled(1 * MiB);
  TransferOptions o = base(size);
  o.connections = 100;
  TransferResult r = run_transfer(o);
  expect_complete(r, 100 * size);
  EXPECT_EQ(r.flows.size(), 100u);
}

TEST(EndToEnd, software_gso_path_without_tso_arrives_intact) {
  const std::uint64_t size = scaled(16 * MiB);
  TransferOptions o = base(size);
  o.link.tso = false;
  o.link.csum_offload = false;
  TransferResult r = run_transfer(o);
  expect_complete(r, size);
}

TEST(EndToEnd, tso_passthrough_super_packets_are_received_intact) {
  const std::uint64_t size = scaled(16 * MiB);
  TransferOptions o = base(size);
  o.link.tso_passthrough = true;
  TransferResult r = run_transfer(o);
  expect_complete(r, size);
}

// GRO on the receiving end, through loss and reordering: the coalesced
// packets arrive intact, and GRO did coalesce (its counters say so).
TEST(EndToEnd, gro_coalesced_packets_are_received_intact_through_loss) {
  const std::uint64_t size = scaled(8 * MiB);
  TransferOptions o = base(size);
  o.link.gro = true;
  o.link.rx_coalesce = 50 * kNsPerUs;
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->loss = 0.01;
    p->reorder = 0.01;
  }
  TransferResult r = run_transfer(o);
  expect_complete(r, size);
  EXPECT_GT(r.gro_server.coalesced, 0u);
  EXPECT_GT(r.gro_server.merged, r.gro_server.coalesced);
  // ...and the loss was real and repaired.
  EXPECT_GT(r.to_server.loss_drops, 0u);
  EXPECT_GT(r.retransmits, 0u);
}

// Behind GRO the receiver ACKs coalesced packets, not frames: at most one
// ACK per packet GRO handed up (plus the handshake and FIN), and far fewer
// ACKs per data frame than without GRO, where every frame is a packet.
TEST(EndToEnd, behind_gro_the_receiver_acks_coalesced_packets_not_frames) {
  const std::uint64_t size = scaled(8 * MiB);
  TransferOptions plain = base(size);
  TransferResult p = run_transfer(plain);
  expect_complete(p, size);
  TransferOptions o = base(size);
  o.link.gro = true;
  o.link.rx_coalesce = 50 * kNsPerUs;
  TransferResult g = run_transfer(o);
  expect_complete(g, size);
  const GroStats& st = g.gro_server;
  ASSERT_GT(st.coalesced, 0u);
  // Packets the stack saw: held ones flushed plus frames passed through.
  const std::uint64_t packets = st.flushed + st.passed;
  EXPECT_EQ(st.frames, st.merged + packets);
  EXPECT_LE(g.to_client.frames_sent, packets + 4) << "one ACK per packet at most";
  const double per_frame_plain =
      static_cast<double>(p.to_client.frames_sent) / static_cast<double>(p.to_server.frames_sent);
  const double per_frame_gro =
      static_cast<double>(g.to_client.frames_sent) / static_cast<double>(g.to_server.frames_sent);
  EXPECT_LT(per_frame_gro, per_frame_plain / 2) << per_frame_gro << " vs " << per_frame_plain;
}

TEST(EndToEnd, reno_arrives_intact_through_loss) {
  const std::uint64_t size = scaled(8 * MiB);
  TransferOptions o = base(size);
  o.cc = "reno";
  o.link.a_to_b.loss = 0.005;
  TransferResult r = run_transfer(o);
  expect_complete(r, size);
  EXPECT_GT(r.to_server.loss_drops, 0u);
  EXPECT_GT(r.client_mib.get(MibId::TcpExtTCPFastRetrans), 0u);
}

TEST(EndToEnd, reordering_duplication_and_jitter_do_not_corrupt_the_stream) {
  const std::uint64_t size = scaled(8 * MiB);
  TransferOptions o = base(size);
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->reorder = 0.01;
    p->dup = 0.01;
    p->jitter = 200 * kNsPerUs;
  }
  TransferResult r = run_transfer(o);
  expect_complete(r, size);
  EXPECT_GT(r.to_server.reordered, 0u);
  EXPECT_GT(r.to_server.duplicated, 0u);
  // The receiver saw both: data out of order (queued, then delivered in
  // order) and data it already had (answered with a D-SACK).
  EXPECT_GT(r.server_mib.get(MibId::TcpExtTCPOFOQueue), 0u);
  EXPECT_GT(r.server_mib.get(MibId::TcpExtTCPDSACKOldSent), 0u);
}

TEST(EndToEnd, small_queue_tail_drops_are_recovered) {
  const std::uint64_t size = scaled(8 * MiB);
  TransferOptions o = base(size);
  o.link.a_to_b.queue_limit = 20;
  o.link.a_to_b.rate_bps = 100'000'000;
  TransferResult r = run_transfer(o);
  expect_complete(r, size);
  EXPECT_GT(r.to_server.queue_drops, 0u) << "the queue must have overflowed";
  EXPECT_GT(r.retransmits, 0u);
}

TEST(EndToEnd, same_seed_repeats_the_run_exactly) {
  const std::uint64_t size = scaled(4 * MiB);
  TransferOptions o = base(size);
  o.link.a_to_b.loss = 0.01;
  o.link.a_to_b.jitter = 100 * kNsPerUs;
  o.seed = 7;
  TransferResult a = run_transfer(o);
  TransferResult b = run_transfer(o);
  expect_complete(a, size);
  EXPECT_EQ(a.virtual_ns, b.virtual_ns);
  EXPECT_EQ(a.segments_out, b.segments_out);
  EXPECT_EQ(a.retransmits, b.retransmits);
  EXPECT_EQ(a.to_server.loss_drops, b.to_server.loss_drops);
  EXPECT_EQ(a.flows[0].sha_received, b.flows[0].sha_received);
}

TEST(EndToEnd, pcap_of_the_client_device_records_the_connection) {
  TransferOptions o = base(256 * 1024);
  // One name per process: other worktrees' test runs share /tmp.
  o.pcap_path =
      ::testing::TempDir() + "sendpath_e2e_client." + std::to_string(::getpid()) + ".pcap";
  TransferResult r = run_transfer(o);
  expect_complete(r, o.size);
  std::FILE* f = std::fopen(o.pcap_path.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 0, SEEK_END);
  const long bytes = std::ftell(f);
  std::fclose(f);
  std::remove(o.pcap_path.c_str());
  // The global header (24 bytes) plus at least the payload that was sent.
  EXPECT_GT(bytes, static_cast<long>(24 + o.size));
}

TEST(EndToEnd, first_data_leaves_with_the_handshake_ack) {
  // The sender writes as soon as connect() completes: SYN at 0, SYN-ACK back
  // at 20 ms, the data (and FIN) right behind the ACK, at the server by
  // 30 ms -- not a round trip later.
  TransferOptions o = base(1000);
  TransferResult r = run_transfer(o);
  expect_complete(r, o.size);
  EXPECT_LT(r.virtual_ns, 35 * kNsPerMs);
}

TEST(EndToEnd, clean_fast_link_is_mostly_filled) {
  // 32 MiB over 1 Gbit/s, 20 ms RTT: slow start and the window growth have
  // to get well past half the link rate (the wire's ceiling is ~940 Mbit/s
  // of payload). Virtual time, so the figure is the same in every build.
  TransferOptions o = base(32 * MiB);
  TransferResult r = run_transfer(o);
  expect_complete(r, o.size);
  const double goodput =
      static_cast<double>(r.bytes_received) * 8 * 1e9 / static_cast<double>(r.virtual_ns);
  EXPECT_GT(goodput, 400e6);
  EXPECT_LT(goodput, 1e9);
}

TEST(EndToEnd, dead_link_is_reported_not_hung) {
  TransferOptions o = base(64 * 1024);
  o.link.a_to_b.loss = 1.0;
  o.link.b_to_a.loss = 1.0;
  TransferResult r = run_transfer(o);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.digest_ok);
  EXPECT_TRUE(r.stalled || !r.error.empty());
  EXPECT_EQ(r.bytes_received, 0u);
}

TEST(EndToEnd, payload_stream_depends_on_the_seed) {
  std::uint8_t a[64], b[64], c[64];
  payload_fill(1, 0, 1000, a, 64);
  payload_fill(1, 0, 1000, b, 64);
  payload_fill(2, 0, 1000, c, 64);
  EXPECT_EQ(std::memcmp(a, b, 64), 0);
  EXPECT_NE(std::memcmp(a, c, 64), 0);
}

TEST(EndToEnd, payload_stream_is_seekable) {
  std::vector<std::uint8_t> whole(200000), part(1000);
  payload_fill(3, 1, 0, whole.data(), whole.size());
  payload_fill(3, 1, 131000, part.data(), part.size());
  EXPECT_EQ(std::memcmp(whole.data() + 131000, part.data(), part.size()), 0);
}

}  // namespace
}  // namespace sp
