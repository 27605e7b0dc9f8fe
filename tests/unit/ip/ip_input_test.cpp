// netif_receive_skb -> ip_rcv -> protocol handler, and every drop counted.
#include <gtest/gtest.h>

#include "ip_helpers.hpp"

namespace sp {
namespace {

using test::ip;
using test::RecordingDevice;

constexpr std::uint8_t kProto = 253;  // RFC 3692 experimental: a fake protocol
const MacAddr kPeerMac{0x02, 0, 0, 0, 0, 0x02};

struct IpInputTest : ::testing::Test {
  VirtualClock clock;
  Stack stack{clock};
  RecordingDevice* dev = nullptr;
  be32 local = ip("10.0.0.1"), peer = ip("10.0.0.2");
  std::vector<SkbPtr> got;
  std::vector<std::uint16_t> got_net_offsets;

  void SetUp() override {
    auto d = std::make_unique<RecordingDevice>(0);
    dev = d.get();
    const int ifindex = stack.register_netdev(std::move(d));
    stack.add_address(ifindex, local, 24);
    stack.register_protocol(kProto, [this](SkbPtr skb) { got.push_back(std::move(skb)); });
  }

  // Ethernet + IPv4 + payload, as a wire frame.
  std::vector<std::uint8_t> frame(std::uint32_t payload, std::uint8_t proto = kProto) {
    std::vector<std::uint8_t> f(14 + 20 + payload);
    EthernetRepr e;
    e.dst = dev->dev_addr;
    e.src = kPeerMac;
    e.ethertype = ETH_P_IP;
    e.emit(f.data());
    Ipv4Repr r;
    r.protocol = proto;
    r.saddr = ntohl(peer);
    r.daddr = ntohl(local);
    r.payload_len = static_cast<std::uint16_t>(payload);
    r.emit(f.data() + 14);
    for (std::uint32_t i = 0; i < payload; ++i) f[34 + i] = test::pattern(i);
    return f;
  }
  void receive(const std::vector<std::uint8_t>& f) {
    SkbPtr skb = alloc_skb_with_headroom(64, static_cast<std::uint32_t>(f.size()));
    std::uint8_t* p = skb_put(skb.get(), static_cast<std::uint32_t>(f.size()));
    if (!f.empty()) std::memcpy(p, f.data(), f.size());
    dev->rx.push_back(std::move(skb));
    stack.poll();
  }
  void reseal(std::vector<std::uint8_t>& f) {  // fix the IP checksum after an edit
    store_be16(f.data() + 14 + 10, 0);
    ip_send_check(f.data() + 14);
  }
  std::uint64_t mib(MibId id) { return stack.mib().get(id); }
};

TEST_F(IpInputTest, valid_packet_reaches_its_protocol_at_the_transport_header) {
  receive(frame(40));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->len, 40u);
  EXPECT_EQ(got[0]->data[0], test::pattern(0));
  EXPECT_EQ(skb_transport_header(got[0].get()), got[0]->data);
  EXPECT_EQ(skb_network_header(got[0].get())[0], 0x45);
  EXPECT_EQ(mib(MibId::IpInReceives), 1u);
  EXPECT_EQ(mib(MibId::IpInDelivers), 1u);
}

TEST_F(IpInputTest, ethernet_padding_is_trimmed_to_tot_len) {
  auto f = frame(6);
  f.resize(60, 0);  // minimum Ethernet frame
  receive(f);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->len, 6u);
}

TEST_F(IpInputTest, bad_header_checksum_is_a_header_error) {
  auto f = frame(10);
  f[14 + 10] ^= 0xff;
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpInHdrErrors), 1u);
}

TEST_F(IpInputTest, wrong_version_is_a_header_error) {
  auto f = frame(10);
  f[14] = 0x65;
  reseal(f);
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpInHdrErrors), 1u);
}

TEST_F(IpInputTest, ihl_below_five_is_a_header_error) {
  auto f = frame(10);
  f[14] = 0x44;
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpInHdrErrors), 1u);
}

// ip_rcv_core: a sound header whose tot_len runs past the frame is a
// truncated packet (InTruncatedPkts), not a header error.
TEST_F(IpInputTest, tot_len_past_the_frame_is_a_truncated_packet) {
  auto f = frame(10);
  store_be16(f.data() + 14 + 2, 200);
  reseal(f);
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpExtInTruncatedPkts), 1u);
  EXPECT_EQ(mib(MibId::IpInHdrErrors), 0u);
}

TEST_F(IpInputTest, tot_len_past_the_frame_with_a_bad_checksum_is_a_header_error) {
  auto f = frame(10);
  store_be16(f.data() + 14 + 2, 200);
  reseal(f);
  f[14 + 10] ^= 0x55;
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpInHdrErrors), 1u);
  EXPECT_EQ(mib(MibId::IpExtInTruncatedPkts), 0u);
}

TEST_F(IpInputTest, truncated_header_is_a_header_error) {
  auto f = frame(0);
  f.resize(14 + 12);
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpInHdrErrors), 1u);
}

TEST_F(IpInputTest, packet_for_another_address_is_an_address_error) {
  auto f = frame(10);
  store_be32(f.data() + 14 + 16, ntohl(ip("10.0.0.99")));
  reseal(f);
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpInAddrErrors), 1u);
}

TEST_F(IpInputTest, fragments_are_not_reassembled) {
  auto f = frame(16);
  store_be16(f.data() + 14 + 6, IP_MF);
  reseal(f);
  receive(f);
  auto g = frame(16);
  store_be16(g.data() + 14 + 6, 2);  // offset 16, last fragment
  reseal(g);
  receive(g);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpReasmFails), 2u);
}

TEST_F(IpInputTest, unknown_protocol_is_counted) {
  receive(frame(10, 254));
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpInUnknownProtos), 1u);
  EXPECT_EQ(mib(MibId::IpInDelivers), 0u);
}

TEST_F(IpInputTest, frame_for_another_mac_is_dropped) {
  auto f = frame(10);
  f[5] ^= 0x40;
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(mib(MibId::IpInReceives), 0u);
  EXPECT_EQ(dev->stats.rx_dropped, 1u);
}

TEST_F(IpInputTest, other_ethertypes_go_to_their_registered_handler) {
  std::vector<SkbPtr> arp;
  stack.register_packet_type(ETH_P_ARP, [&](SkbPtr skb) { arp.push_back(std::move(skb)); });
  auto f = frame(10);
  for (int i = 0; i < 6; ++i) f[i] = 0xff;  // broadcast
  store_be16(f.data() + 12, ETH_P_ARP);
  receive(f);
  ASSERT_EQ(arp.size(), 1u);
  EXPECT_EQ(arp[0]->protocol, ETH_P_ARP);
  EXPECT_EQ(arp[0]->len, 30u);  // the Ethernet header is pulled
  EXPECT_EQ(skb_mac_header(arp[0].get())[12], 0x08);
}

TEST_F(IpInputTest, ethertype_without_handler_is_dropped) {
  auto f = frame(10);
  store_be16(f.data() + 12, 0x86dd);
  receive(f);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(dev->stats.rx_dropped, 1u);
}

TEST_F(IpInputTest, runt_frame_is_a_device_error) {
  receive(std::vector<std::uint8_t>(10, 0));
  EXPECT_EQ(dev->stats.rx_errors, 1u);
  EXPECT_TRUE(got.empty());
}

TEST_F(IpInputTest, icmp_errors_reach_the_protocol_err_handler) {
  int seen_type = -1;
  std::uint32_t seen_info = 0;
  stack.register_protocol(
      kProto, [](SkbPtr) {},
      [&](const SkBuff*, int type, int, std::uint32_t info) {
        seen_type = type;
        seen_info = info;
      });
  EXPECT_TRUE(stack.deliver_icmp_error(kProto, nullptr, 3, 4, 1400));
  EXPECT_EQ(seen_type, 3);
  EXPECT_EQ(seen_info, 1400u);
  EXPECT_FALSE(stack.deliver_icmp_error(254, nullptr, 3, 4, 1400));
}

TEST_F(IpInputTest, mutated_frames_never_crash_the_input_path) {
  // Every single-byte corruption of a valid frame, and every truncation: the
  // stack drops or delivers, and delivers only what fits in the frame.
  const auto base = frame(24);
  for (std::size_t i = 0; i < base.size(); ++i) {
    for (std::uint8_t x : {0x01, 0x80, 0xff}) {
      auto f = base;
      f[i] ^= x;
      receive(f);
    }
  }
  for (std::size_t n = 0; n < base.size(); ++n) receive({base.begin(), base.begin() + n});
  for (auto& s : got) EXPECT_LE(s->len, 24u);
}

}  // namespace
}  // namespace sp
