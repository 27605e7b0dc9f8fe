// Packets on the script's wire: built, parsed and verified the way
// packetdrill's run_packet.c does, against hand-built packets and skbs.
#include "packet.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "parser.hpp"
#include "script_device.hpp"

namespace sp::drill {
namespace {

PacketSpec spec(const std::string& line) {
  auto r = parse_script("0 " + line + "\n", "t.pkt");
  EXPECT_TRUE(std::holds_alternative<Script>(r)) << std::get<ParseError>(r).message;
  return std::get<Script>(r).events.at(0).packet;
}

// What a stack with ISN 1000000 would send for the script packet.
WirePacket live_from(const PacketSpec& p, std::uint32_t isn, std::uint32_t remote_isn) {
  WirePacket w;
  w.saddr = 0xC0A80001;
  w.daddr = 0xC0000201;
  w.ttl = 64;
  w.sport = 8080;
  w.dport = 48123;
  w.flags = tcp_flags_from_script(p.flags);
  w.seq = p.start_seq + isn;
  w.ack_seq = (w.flags & TH_ACK) ? p.ack + remote_isn : 0;
  w.window = static_cast<std::uint16_t>(p.window >= 0 ? p.window : 502);
  w.options = encode_tcp_options(p.options);
  w.options.resize((w.options.size() + 3) & ~std::size_t{3}, 0);
  w.doff = static_cast<std::uint8_t>(5 + w.options.size() / 4);
  w.payload_len = p.payload_len;
  return w;
}

WirePacket round_trip(const WirePacket& w) {
  std::vector<std::uint8_t> b = build_ipv4_tcp(w);
  std::string err;
  auto p = parse_ipv4_tcp(b.data(), b.size(), &err);
  EXPECT_TRUE(p) << err;
  return *p;
}

TEST(DrillPacket, BuiltPacketParsesBackWithValidChecksum) {
  PacketSpec s = spec("< S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>");
  WirePacket w = live_from(s, 0, 0);
  WirePacket back = round_trip(w);
  EXPECT_TRUE(back.ip_csum_ok);
  EXPECT_EQ(back.flags, TH_SYN);
  EXPECT_EQ(back.window, 32792);
  EXPECT_EQ(back.doff, 8);  // 12 bytes of options
  EXPECT_EQ(back.options, w.options);
  EXPECT_EQ(back.saddr, 0xC0A80001u);
}

TEST(DrillPacket, MatchingOutboundPacketVerifies) {
  PacketSpec s = spec("> S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>");
  SeqMap m;
  m.local_isn = 1000000;
  m.local_isn_known = true;
  EXPECT_FALSE(verify_outbound(s, round_trip(live_from(s, 1000000, 0)), m, Tolerances{}));
}

TEST(DrillPacket, WrongSequenceIsReportedInPacketdrillWords) {
  PacketSpec s = spec("> P. 1:1001(1000) ack 1");
  SeqMap m;
  m.local_isn = 5000;
  WirePacket live = live_from(s, 5000, 0);
  live.seq += 1000;  // the stack sent the next segment instead
  auto err = verify_outbound(s, round_trip(live), m, Tolerances{});
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "live packet field tcp_seq: expected: 1 (0x1) vs actual: 1001 (0x3e9)");
}

TEST(DrillPacket, WrongPayloadLengthShowsAsIpTotalLength) {
  PacketSpec s = spec("> P. 1:1001(1000) ack 1");
  SeqMap m;
  WirePacket live = live_from(s, 0, 0);
  live.payload_len = 2000;
  auto err = verify_outbound(s, round_trip(live), m, Tolerances{});
  ASSERT_TRUE(err);
  EXPECT_EQ(*err,
            "live packet field ipv4_total_length: expected: 1040 (0x410) vs actual: 2040 (0x7f8)");
}

TEST(DrillPacket, MissingPushFlagIsReported) {
  PacketSpec s = spec("> P. 1:1001(1000) ack 1");
  SeqMap m;
  WirePacket live = live_from(s, 0, 0);
  live.flags = TH_ACK;
  auto err = verify_outbound(s, round_trip(live), m, Tolerances{});
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "live packet field tcp_psh: expected: 1 (0x1) vs actual: 0 (0x0)");
}

TEST(DrillPacket, DifferentOptionWithSameLengthIsBadOptions) {
  PacketSpec s = spec("> S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>");
  PacketSpec other = spec("> S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>");
  SeqMap m;
  auto err = verify_outbound(s, round_trip(live_from(other, 0, 0)), m, Tolerances{});
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "bad outbound TCP options");
}

TEST(DrillPacket, OptionsEllipsisAcceptsAnyOptions) {
  PacketSpec s = spec("> S. 0:0(0) ack 1 <...>");
  PacketSpec other = spec("> S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>");
  SeqMap m;
  EXPECT_FALSE(verify_outbound(s, round_trip(live_from(other, 0, 0)), m, Tolerances{}));
}

TEST(DrillPacket, WindowIsCheckedOnlyWhenTheScriptGivesIt) {
  PacketSpec no_win = spec("> . 1:1(0) ack 1");
  PacketSpec win = spec("> . 1:1(0) ack 1 win 65535");
  SeqMap m;
  WirePacket live = live_from(no_win, 0, 0);
  live.window = 1234;
  EXPECT_FALSE(verify_outbound(no_win, round_trip(live), m, Tolerances{}));
  auto err = verify_outbound(win, round_trip(live), m, Tolerances{});
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "live packet field tcp_window: expected: 65535 (0xffff) vs actual: 1234 (0x4d2)");
}

TEST(DrillPacket, TimestampValueIsMappedFromTheFirstOneAndCheckedWithTick) {
  PacketSpec syn = spec("> S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 100>");
  PacketSpec fin = spec("> F. 1:1(0) ack 1 <nop,nop,TS val 1200 ecr 200>");
  Tolerances tol;
  tol.tcp_ts_tick_usecs = 1000;
  tol.tolerance_usecs = 7000;
  SeqMap m;
  WirePacket l1 = live_from(syn, 0, 0);
  // The stack's clock is at 777000 ms when it sends the SYN-ACK.
  std::uint32_t base = 777000;
  l1.options[8] = static_cast<std::uint8_t>(base >> 24);
  l1.options[9] = static_cast<std::uint8_t>(base >> 16);
  l1.options[10] = static_cast<std::uint8_t>(base >> 8);
  l1.options[11] = static_cast<std::uint8_t>(base);
  EXPECT_FALSE(verify_outbound(syn, round_trip(l1), m, tol));
  EXPECT_EQ(m.ts_script_to_live[100], base);
  // 1.1 s later at 1 ms per tick: script says 1200, stack sends base + 1100.
  auto with_val = [&](std::uint32_t v) {
    WirePacket l = live_from(fin, 0, 0);
    l.options[4] = static_cast<std::uint8_t>(v >> 24);
    l.options[5] = static_cast<std::uint8_t>(v >> 16);
    l.options[6] = static_cast<std::uint8_t>(v >> 8);
    l.options[7] = static_cast<std::uint8_t>(v);
    return round_trip(l);
  };
  EXPECT_FALSE(verify_outbound(fin, with_val(base + 1100), m, tol));
  auto err = verify_outbound(fin, with_val(base + 1050), m, tol);  // 50 ticks = 50 ms off
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "bad outbound TCP timestamp value");
}

TEST(DrillPacket, SackBlocksAreMappedFromTheRemoteIsn) {
  PacketSpec s = spec("> . 1:1(0) ack 1001 <nop,nop,sack 2001:3001>");
  SeqMap m;
  m.remote_isn = 7;
  WirePacket live = live_from(s, 0, 7);
  // Live SACK blocks are in the remote's sequence space.
  PacketSpec live_spec = s;
  live_spec.options[2].sack[0] = {2001 + 7, 3001 + 7};
  live.options = encode_tcp_options(live_spec.options);
  EXPECT_FALSE(verify_outbound(s, round_trip(live), m, Tolerances{}));
}

TEST(DrillPacket, ScriptDeviceRecordsTsoSkbAsOnePacketWithItsTime) {
  VirtualClock clock(5 * kNsPerSec);
  ScriptDevice dev(clock, ScriptDevice::Config{});
  EXPECT_TRUE(dev.features & NETIF_F_TSO);
  PacketSpec s = spec("> P. 1:10001(10000) ack 1");
  std::vector<std::uint8_t> bytes = build_ipv4_tcp(live_from(s, 0, 0));
  SkbPtr skb = alloc_skb(static_cast<std::uint32_t>(bytes.size()));
  ASSERT_TRUE(skb);
  std::memcpy(skb_put(skb.get(), static_cast<std::uint32_t>(bytes.size())), bytes.data(),
              bytes.size());
  skb_shinfo(skb.get())->gso_size = 1000;
  clock.advance_by(3 * kNsPerMs);
  EXPECT_EQ(dev.xmit(std::move(skb)), NETDEV_TX_OK);
  ASSERT_EQ(dev.sent().size(), 1u);
  EXPECT_EQ(dev.sent().front().payload_len, 10000u);
  EXPECT_EQ(dev.sent().front().gso_size, 1000);
  EXPECT_EQ(dev.sent().front().time_ns, 5 * kNsPerSec + 3 * kNsPerMs);
}

TEST(DrillPacket, ScriptDeviceWithZeroLengthFifoRefusesTransmits) {
  VirtualClock clock;
  ScriptDevice dev(clock, ScriptDevice::Config{});
  dev.set_drop_all(true);
  SkbPtr skb = alloc_skb(64);
  ASSERT_TRUE(skb);
  skb_put(skb.get(), 40);
  EXPECT_EQ(dev.xmit(std::move(skb)), NETDEV_TX_BUSY);
  EXPECT_TRUE(dev.sent().empty());
  EXPECT_EQ(dev.refused(), 1u);
}

TEST(DrillPacket, FqHoldsEachPacketUntilItsDepartureTime) {
  VirtualClock clock(kNsPerSec);
  ScriptDevice dev(clock, ScriptDevice::Config{});
  dev.set_fq(true);
  PacketSpec s = spec("> P. 1:1001(1000) ack 1");
  std::vector<std::uint8_t> bytes = build_ipv4_tcp(live_from(s, 0, 0));
  auto make = [&](Nanos tstamp) {
    SkbPtr skb = alloc_skb(static_cast<std::uint32_t>(bytes.size()));
    std::memcpy(skb_put(skb.get(), static_cast<std::uint32_t>(bytes.size())), bytes.data(),
                bytes.size());
    skb->tstamp = tstamp;
    return skb;
  };
  EXPECT_EQ(dev.xmit(make(kNsPerSec)), NETDEV_TX_OK);                 // due now: leaves
  EXPECT_EQ(dev.xmit(make(kNsPerSec + 5 * kNsPerMs)), NETDEV_TX_OK);  // paced 5 ms out
  ASSERT_EQ(dev.sent().size(), 1u);
  EXPECT_EQ(dev.next_release(), kNsPerSec + 5 * kNsPerMs);
  clock.advance_to(kNsPerSec + 5 * kNsPerMs);
  dev.poll(64);
  ASSERT_EQ(dev.sent().size(), 2u);
  EXPECT_EQ(dev.sent().back().time_ns, kNsPerSec + 5 * kNsPerMs);
}

TEST(DrillPacket, ScriptDeviceDeliversInjectedPacketsOnPoll) {
  VirtualClock clock;
  ScriptDevice::Config cfg;
  cfg.rx_gso_size = 1000;
  ScriptDevice dev(clock, cfg);
  std::vector<std::uint32_t> lens;
  std::vector<std::uint16_t> gso;
  dev.rx_handler = [&](SkbPtr skb) {
    lens.push_back(skb->len);
    gso.push_back(skb_shinfo(skb.get())->gso_size);
  };
  PacketSpec s = spec("< . 1:10001(10000) win 320");
  dev.inject(build_ipv4_tcp(live_from(s, 0, 0)));
  PacketSpec small = spec("< . 1:101(100) ack 1 win 320");
  dev.inject(build_ipv4_tcp(live_from(small, 0, 0)));
  EXPECT_EQ(dev.poll(64), 2);
  ASSERT_EQ(lens.size(), 2u);
  EXPECT_EQ(lens[0], 10040u);
  EXPECT_EQ(gso[0], 1000);  // --mss: a GRO packet of 10 segments
  EXPECT_EQ(gso[1], 0);
}

}  // namespace
}  // namespace sp::drill
