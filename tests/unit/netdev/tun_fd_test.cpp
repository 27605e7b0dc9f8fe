// TunFdDevice over a SOCK_SEQPACKET socketpair: the peer end plays the
// kernel's side of /dev/net/tun (one message = one frame, each preceded by a
// virtio_net_hdr), so the vnet framing, TSO writes, GSO reads, checksum
// flags and batching are checked without root.
#include <linux/if_tun.h>
#include <pcap/pcap.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "dev/tap.hpp"
#include "dev/tun.hpp"
#include "gtest/gtest.h"
#include "netdev_helpers.hpp"

namespace sp {
namespace {

using test::Bytes;
using test::FdPair;

// A TCP/IPv4 frame in an skb: headers in the linear part, payload in page
// frags of up to 4 KiB (as tcp_sendmsg builds them), checksum partial.
struct TsoSkb {
  SkbPtr skb;
  Bytes wire;  // the frame as it must appear on the fd
};

TsoSkb make_tso_skb(std::uint32_t payload, std::uint16_t mss, bool with_eth = true) {
  TsoSkb t;
  t.skb = alloc_skb_with_headroom(128, 256);
  SkBuff* skb = t.skb.get();
  const Bytes hdr = test::eth_ipv4_tcp_headers(payload, with_eth);
  std::memcpy(skb_put(skb, hdr.size()), hdr.data(), hdr.size());
  const std::uint32_t l2 = with_eth ? 14 : 0;
  skb->transport_header = static_cast<std::uint16_t>(skb_headroom(skb) + l2 + 20);
  skb->ip_summed = IpSummed::CHECKSUM_PARTIAL;
  skb->csum_start = skb->transport_header;
  skb->csum_offset = 16;
  t.wire = hdr;
  std::uint32_t left = payload;
  int i = 0;
  while (left > 0) {
    Page* p = alloc_pages(0);
    const std::uint32_t n = std::min<std::uint32_t>(left, PAGE_SIZE);
    for (std::uint32_t k = 0; k < n; ++k) {
      p->addr[k] = static_cast<std::uint8_t>((payload - left + k) * 7 + 3);
      t.wire.push_back(p->addr[k]);
    }
    skb_fill_page_desc(skb, i++, p, 0, n);
    skb->len += n;
    skb->data_len += n;
    skb->truesize += PAGE_SIZE;
    left -= n;
  }
  skb_shinfo(skb)->gso_size = mss;
  skb_shinfo(skb)->gso_type = SKB_GSO_TCPV4;
  skb_shinfo(skb)->gso_segs = static_cast<std::uint16_t>((payload + mss - 1) / mss);
  return t;
}

constexpr std::uint64_t kAllOffloads = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO | NETIF_F_RXCSUM;

TEST(TunFdXmit, GsoSkbGoesOutAsOneWriteWithTcpv4HeaderAndWholeFrame) {
  FdPair fds;
  TunFdDevice dev(fds.dev, LinkType::kEthernet, true, kAllOffloads);
  fds.dev = -1;
  TsoSkb t = make_tso_skb(20000, 1448);
  ASSERT_EQ(dev.xmit(std::move(t.skb)), NETDEV_TX_OK);

  VirtioNetHdr vh;
  Bytes frame;
  ASSERT_TRUE(test::read_frame(fds.peer, &vh, &frame));
  EXPECT_EQ(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
  EXPECT_EQ(vh.gso_size, 1448);
  EXPECT_EQ(vh.hdr_len, 14 + 20 + 20);
  EXPECT_EQ(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  EXPECT_EQ(vh.csum_start, 14 + 20);
  EXPECT_EQ(vh.csum_offset, 16);
  EXPECT_EQ(frame, t.wire);
  EXPECT_EQ(dev.tun_stats().tx_gso_frames, 1u);
  EXPECT_EQ(dev.stats.tx_packets, 1u);
  EXPECT_EQ(dev.stats.tx_bytes, t.wire.size());
  EXPECT_FALSE(test::readable(fds.peer)) << "a TSO skb must be one frame, not several";
}

TEST(TunFdXmit, SkbThatFitsOneSegmentIsSentWithoutGso) {
  FdPair fds;
  TunFdDevice dev(fds.dev, LinkType::kEthernet, true, kAllOffloads);
  fds.dev = -1;
  TsoSkb t = make_tso_skb(1000, 1448);
  dev.xmit(std::move(t.skb));
  VirtioNetHdr vh;
  Bytes frame;
  ASSERT_TRUE(test::read_frame(fds.peer, &vh, &frame));
  EXPECT_EQ(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
  EXPECT_EQ(vh.gso_size, 0);
  EXPECT_EQ(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  EXPECT_EQ(frame, t.wire);
}

TEST(TunFdXmit, DestructorRunsOnceTheFrameIsWritten) {
  FdPair fds;
  TunFdDevice dev(fds.dev, LinkType::kEthernet, true, kAllOffloads);
  fds.dev = -1;
  static int freed;
  freed = 0;
  TsoSkb t = make_tso_skb(3000, 1448);
  t.skb->destructor = [](SkBuff*) { ++freed; };
  dev.xmit(std::move(t.skb));
  EXPECT_EQ(freed, 1) << "TCP small queues learn from the destructor that bytes left the host";
}

TEST(TunFdXmit, GsoSkbOnDeviceWithoutTsoIsDroppedAndCounted) {
  FdPair fds;
  TunFdDevice dev(fds.dev, LinkType::kEthernet, true, NETIF_F_SG | NETIF_F_HW_CSUM);
  fds.dev = -1;
  TsoSkb t = make_tso_skb(20000, 1448);
  dev.xmit(std::move(t.skb));
  EXPECT_EQ(dev.stats.tx_dropped, 1u);
  EXPECT_FALSE(test::readable(fds.peer));
}

TEST(TunFdXmit, WithoutVnetHeaderFrameIsWrittenBare) {
  FdPair fds;
  TunFdDevice dev(fds.dev, LinkType::kEthernet, false, kAllOffloads);
  fds.dev = -1;
  EXPECT_EQ(dev.features, 0u) << "no vnet header, no offloads";
  SkbPtr skb = alloc_skb_with_headroom(64, 128);
  const Bytes f = test::eth_ipv4_tcp_headers(0, true);
  std::memcpy(skb_put(skb.get(), f.size()), f.data(), f.size());
  dev.xmit(std::move(skb));
  Bytes got(4096);
  const ssize_t n = ::read(fds.peer, got.data(), got.size());
  ASSERT_EQ(n, static_cast<ssize_t>(f.size()));
  got.resize(n);
  EXPECT_EQ(got, f);
}

// --- receive -------------------------------------------------------------------

struct RxFixture : ::testing::Test {
  FdPair fds;
  std::unique_ptr<TunFdDevice> dev;
  std::vector<SkbPtr> got;
  void make(LinkType type = LinkType::kEthernet) {
    dev = std::make_unique<TunFdDevice>(fds.dev, type, true, kAllOffloads);
    fds.dev = -1;
    dev->rx_handler = [this](SkbPtr s) { got.push_back(std::move(s)); };
  }
  void send(const VirtioNetHdr& vh, const Bytes& frame) {
    ASSERT_TRUE(test::write_frame(fds.peer, vh, frame));
  }
};

TEST_F(RxFixture, NeedsCsumFrameIsDeliveredAsChecksumVerified) {
  make();
  VirtioNetHdr vh;
  vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh.csum_start = 34;
  vh.csum_offset = 16;
  const Bytes f = test::eth_ipv4_tcp_headers(100, true, 100);
  send(vh, f);
  EXPECT_EQ(dev->poll(64), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->ip_summed, IpSummed::CHECKSUM_UNNECESSARY);
  EXPECT_EQ(got[0]->len, f.size());
  EXPECT_EQ(dev->tun_stats().rx_csum_partial, 1u);
}

TEST_F(RxFixture, DataValidFrameIsChecksumUnnecessary) {
  make();
  VirtioNetHdr vh;
  vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
  send(vh, test::eth_ipv4_tcp_headers(10, true, 10));
  dev->poll(64);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->ip_summed, IpSummed::CHECKSUM_UNNECESSARY);
}

TEST_F(RxFixture, FrameWithoutFlagsMustStillBeVerifiedByTheStack) {
  make();
  send(VirtioNetHdr{}, test::eth_ipv4_tcp_headers(10, true, 10));
  dev->poll(64);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->ip_summed, IpSummed::CHECKSUM_NONE);
}

TEST_F(RxFixture, GsoSuperFrameArrivesAsOnePagedSkbWithItsBytesIntact) {
  make();
  VirtioNetHdr vh;
  vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  vh.gso_size = 1448;
  vh.hdr_len = 54;
  vh.csum_start = 34;
  vh.csum_offset = 16;
  const std::uint32_t payload = 60000;
  const Bytes f = test::eth_ipv4_tcp_headers(payload, true, payload);
  send(vh, f);
  EXPECT_EQ(dev->poll(64), 1);
  ASSERT_EQ(got.size(), 1u);
  SkBuff* skb = got[0].get();
  EXPECT_EQ(skb->len, f.size());
  EXPECT_GT(skb->data_len, 0u) << "the tail of a 64 KiB frame belongs in page frags";
  EXPECT_EQ(skb_shinfo(skb)->gso_size, 1448);
  EXPECT_EQ(skb_shinfo(skb)->gso_type, SKB_GSO_TCPV4);
  EXPECT_EQ(skb_shinfo(skb)->gso_segs, (payload + 1447) / 1448);
  Bytes back(skb->len);
  ASSERT_EQ(skb_copy_bits(skb, 0, back.data(), skb->len), 0);
  EXPECT_EQ(back, f);
  EXPECT_EQ(dev->tun_stats().rx_gso_frames, 1u);
}

TEST_F(RxFixture, PollStopsAtBudgetAndLeavesTheRestQueued) {
  make();
  for (int i = 0; i < 5; ++i) send(VirtioNetHdr{}, test::eth_ipv4_tcp_headers(10, true, 10));
  EXPECT_EQ(dev->poll(3), 3);
  EXPECT_EQ(dev->poll(64), 2);
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(dev->tun_stats().rx_max_batch, 3u);
}

TEST_F(RxFixture, PollOnAnEmptyFdReturnsZeroWithoutBlocking) {
  make();
  EXPECT_EQ(dev->poll(64), 0);
  EXPECT_EQ(dev->stats.rx_errors, 0u);
}

TEST_F(RxFixture, UnsupportedGsoTypeIsDroppedAndTheNextFrameStillArrives) {
  make();
  VirtioNetHdr udp;
  udp.gso_type = 3;  // VIRTIO_NET_HDR_GSO_UDP: never negotiated
  udp.gso_size = 1400;
  send(udp, test::eth_ipv4_tcp_headers(3000, true, 3000));
  send(VirtioNetHdr{}, test::eth_ipv4_tcp_headers(10, true, 10));
  EXPECT_EQ(dev->poll(64), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->len, 54u + 10u);
  EXPECT_EQ(dev->tun_stats().rx_bad_header, 1u);
}

TEST_F(RxFixture, ChecksumOffsetPastTheFrameIsRejected) {
  make();
  VirtioNetHdr vh;
  vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh.csum_start = 60;
  vh.csum_offset = 16;
  send(vh, test::eth_ipv4_tcp_headers(0, true, 0));
  EXPECT_EQ(dev->poll(64), 0);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(dev->tun_stats().rx_bad_header, 1u);
}

TEST_F(RxFixture, TunFrameIsMarkedIpv4WithNetworkHeaderAtStart) {
  make(LinkType::kRawIp);
  send(VirtioNetHdr{}, test::eth_ipv4_tcp_headers(10, false, 10));
  dev->poll(64);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->protocol, 0x0800);
  EXPECT_EQ(skb_network_header(got[0].get()), got[0]->data);
  EXPECT_EQ(got[0]->data[0] >> 4, 4);
}

TEST_F(RxFixture, ReceivedFrameCarriesTheDeviceIfindex) {
  make();
  dev->ifindex = 7;
  send(VirtioNetHdr{}, test::eth_ipv4_tcp_headers(10, true, 10));
  dev->poll(64);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->ifindex, 7);
}

// --- capture -------------------------------------------------------------------

TEST(TunFdCapture, PcapHoldsTsoFrameWithItsChecksumCompleted) {
  FdPair fds;
  TunFdDevice dev(fds.dev, LinkType::kEthernet, true, kAllOffloads);
  fds.dev = -1;
  const auto path =
      std::filesystem::temp_directory_path() / ("sp_tunfd_" + std::to_string(::getpid()) + ".pcap");
  ASSERT_EQ(dev.open_pcap(path.string()), "");
  TsoSkb t = make_tso_skb(9000, 1448);
  dev.xmit(std::move(t.skb));
  dev.close_pcap();

  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  ASSERT_NE(p, nullptr) << err;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  ASSERT_EQ(pcap_next_ex(p, &h, &data), 1);
  ASSERT_EQ(h->caplen, t.wire.size());
  Bytes frame(data, data + h->caplen);
  pcap_close(p);
  std::filesystem::remove(path);
  EXPECT_TRUE(test::tcp_checksum_ok(frame, 14)) << "the capture must read as the wire carries it";
  // Everything but the checksum field is the frame as sent.
  frame[14 + 20 + 16] = t.wire[14 + 20 + 16];
  frame[14 + 20 + 17] = t.wire[14 + 20 + 17];
  EXPECT_EQ(frame, t.wire);
}

// --- the real thing (root) -------------------------------------------------------

TEST(TapDevice, OpensWithVnetHeaderOfTenBytes) {
  if (const char* why = test::no_tun_reason()) {
    GTEST_SKIP() << why;
  }
  TunConfig cfg;
  cfg.name = "sptu" + std::to_string(::getpid() % 100000);
  std::string err;
  auto dev = TapDevice::open(cfg, &err);
  ASSERT_NE(dev, nullptr) << err;
  EXPECT_EQ(dev->name, cfg.name);
  int sz = 0;
  ASSERT_EQ(::ioctl(dev->wait_fd(), TUNGETVNETHDRSZ, &sz), 0);
  EXPECT_EQ(sz, 10);
  EXPECT_TRUE(dev->features & NETIF_F_TSO);
  EXPECT_EQ(dev->dev_addr[0] & 0x03, 0x02) << "locally administered unicast";
}

TEST(TunDevice, OpensAsRawIpWithoutLinkHeader) {
  if (const char* why = test::no_tun_reason()) {
    GTEST_SKIP() << why;
  }
  TunConfig cfg;
  cfg.name = "sptn" + std::to_string(::getpid() % 100000);
  std::string err;
  auto dev = TunDevice::open(cfg, &err);
  ASSERT_NE(dev, nullptr) << err;
  EXPECT_EQ(dev->type, LinkType::kRawIp);
  EXPECT_EQ(dev->hard_header_len, 0);
}

TEST(TapDevice, UnknownNamespaceIsAnErrorAndTheProcessStaysPut) {
  if (const char* why = test::no_tun_reason()) {
    GTEST_SKIP() << why;
  }
  TunConfig cfg;
  cfg.name = "sptx" + std::to_string(::getpid() % 100000);
  cfg.netns = "sp-no-such-namespace";
  std::string err;
  EXPECT_EQ(TapDevice::open(cfg, &err), nullptr);
  EXPECT_NE(err.find("sp-no-such-namespace"), std::string::npos) << err;
}

TEST(MacAddress, ParsesColonFormAndRejectsGarbage) {
  auto m = parse_mac("02:00:5e:10:00:01");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ((*m)[2], 0x5e);
  EXPECT_FALSE(parse_mac("02:00:5e:10:00").has_value());
  EXPECT_FALSE(parse_mac("02:00:5e:10:00:01:07").has_value());
}

}  // namespace
}  // namespace sp
