// PcapTap writes what crosses a device; tshark (when installed) must read
// the file and see the fields we sent, with good checksums.
#include "dev/pcap_tap.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "trace.hpp"
#include "wire/ethernet.hpp"

namespace sp {
namespace {

using test::Bytes;

constexpr MacAddr kMacClient = {0x02, 0, 0, 0, 0, 0x01};
constexpr MacAddr kMacServer = {0x02, 0, 0, 0, 0, 0x02};

// A device that keeps what it is given and delivers what a test queues.
class RecordingDevice final : public NetDevice {
 public:
  NetdevTx xmit(SkbPtr skb) override {
    stats.tx_packets++;
    sent.push_back(std::move(skb));
    return NETDEV_TX_OK;
  }
  int poll(int budget) override {
    int n = 0;
    while (n < budget && !incoming.empty()) {
      SkbPtr skb = std::move(incoming.front());
      incoming.pop_front();
      stats.rx_packets++;
      if (rx_handler) rx_handler(std::move(skb));
      ++n;
    }
    return n;
  }
  std::vector<SkbPtr> sent;
  std::deque<SkbPtr> incoming;
};

// An Ethernet frame in one linear skb.
SkbPtr linear_skb(const Bytes& frame) {
  SkbPtr skb = alloc_skb(static_cast<std::uint32_t>(frame.size()));
  std::memcpy(skb_put(skb.get(), static_cast<std::uint32_t>(frame.size())), frame.data(),
              frame.size());
  return skb;
}

Bytes eth_ipv4(const MacAddr& dst, const MacAddr& src, const Bytes& ip_packet) {
  Bytes b(ETH_HLEN);
  EthernetRepr{dst, src, ETH_P_IP}.emit(b.data());
  return test::cat(b, ip_packet);
}

std::string temp_pcap(const char* name) {
  auto p = std::filesystem::temp_directory_path() /
           (std::string("sp_") + name + "_" + std::to_string(::getpid()) + ".pcap");
  return p.string();
}

bool have_tshark() {
  return std::system("tshark -v >/dev/null 2>&1") == 0;
}

// tshark's fields, one line per frame, comma separated.
std::vector<std::string> tshark_fields(const std::string& file, const std::string& fields) {
  std::string cmd = "tshark -r '" + file +
                    "' -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE"  // status 1 = good
                    " -T fields -E separator=, " +
                    fields + " 2>/dev/null";
  std::vector<std::string> lines;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return lines;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f)) {
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    lines.push_back(s);
  }
  ::pclose(f);
  return lines;
}

class PcapTapTest : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove(path_, ec);
  }
  std::string path_;
};

TEST_F(PcapTapTest, frames_in_both_directions_pass_through_and_are_recorded) {
  path_ = temp_pcap("both");
  VirtualClock clock(5 * kNsPerSec);
  RecordingDevice lower;
  lower.name = "rec0";
  lower.mtu = 1500;
  PcapTap tap(&lower, clock);
  EXPECT_EQ(tap.name, "rec0");
  EXPECT_EQ(tap.mtu, 1500u);
  ASSERT_EQ(tap.open(path_), "");
  int received = 0;
  tap.rx_handler = [&](SkbPtr) { ++received; };

  Bytes syn = test::ipv4(IPPROTO_TCP_, test::tcp("S", 1000, 0, 65535, test::opts().mss(1460)));
  EXPECT_EQ(tap.xmit(linear_skb(eth_ipv4(kMacServer, kMacClient, syn))), NETDEV_TX_OK);
  clock.advance_by(250 * kNsPerUs);
  Bytes synack =
      test::ipv4(IPPROTO_TCP_, test::tcp("S.", 5000, 1001, 65535), test::kServer, test::kClient);
  lower.incoming.push_back(linear_skb(eth_ipv4(kMacClient, kMacServer, synack)));
  EXPECT_EQ(tap.poll(8), 1);
  tap.close();

  EXPECT_EQ(lower.sent.size(), 1u);
  EXPECT_EQ(received, 1);
  EXPECT_EQ(tap.writer().packets(), 2u);
  EXPECT_EQ(tap.stats.tx_packets, 1u);
  EXPECT_EQ(tap.stats.rx_packets, 1u);
}

TEST_F(PcapTapTest, file_holds_nanosecond_timestamps_and_the_exact_bytes) {
  path_ = temp_pcap("ns");
  VirtualClock clock(kNsPerSec + 123);
  RecordingDevice lower;
  PcapTap tap(&lower, clock);
  ASSERT_EQ(tap.open(path_), "");
  Bytes frame = eth_ipv4(kMacServer, kMacClient, test::ipv4(IPPROTO_TCP_, test::tcp(".", 1, 2, 3)));
  tap.xmit(linear_skb(frame));
  tap.close();

  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path_.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  ASSERT_EQ(pcap_next_ex(p, &h, &data), 1);
  EXPECT_EQ(h->ts.tv_sec, 1);
  EXPECT_EQ(h->ts.tv_usec, 123);  // nanoseconds in a nanosecond file
  ASSERT_EQ(h->caplen, frame.size());
  EXPECT_EQ(Bytes(data, data + h->caplen), frame);
  EXPECT_EQ(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
  pcap_close(p);
}

TEST_F(PcapTapTest, raw_ip_link_writes_dlt_raw) {
  path_ = temp_pcap("raw");
  PcapWriter w;
  ASSERT_EQ(w.open(path_, LinkType::kRawIp), "");
  w.write(test::ipv4(IPPROTO_TCP_, test::tcp(".", 1, 2, 3)), 0);
  w.close();
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path_.c_str(), err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(pcap_datalink(p), DLT_RAW);
  pcap_close(p);
}

TEST_F(PcapTapTest, frame_longer_than_snaplen_keeps_its_length_in_the_record) {
  path_ = temp_pcap("snap");
  PcapWriter w;
  ASSERT_EQ(w.open(path_, LinkType::kEthernet, 100), "");
  w.write(Bytes(1514, 0xab), 0);
  w.close();
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path_.c_str(), err);
  ASSERT_NE(p, nullptr) << err;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  ASSERT_EQ(pcap_next_ex(p, &h, &data), 1);
  EXPECT_EQ(h->caplen, 100u);
  EXPECT_EQ(h->len, 1514u);
  pcap_close(p);
}

TEST_F(PcapTapTest, open_on_a_missing_directory_reports_the_error) {
  PcapWriter w;
  EXPECT_NE(w.open((std::filesystem::temp_directory_path() / "sp_no_such_dir" / "x.pcap").string(),
                   LinkType::kEthernet),
            "");
  EXPECT_FALSE(w.is_open());
}

TEST_F(PcapTapTest, tshark_reads_the_fields_we_sent_with_good_checksums) {
  if (!have_tshark()) GTEST_SKIP() << "tshark is not installed (scripts/setup installs it)";
  path_ = temp_pcap("tshark");
  VirtualClock clock(3 * kNsPerSec);
  RecordingDevice lower;
  PcapTap tap(&lower, clock);
  ASSERT_EQ(tap.open(path_), "");
  Bytes syn = test::ipv4(
      IPPROTO_TCP_,
      test::tcp("S", 1000, 0, 65535, test::opts().mss(1460).sack_ok().ts(7, 0).wscale(7)));
  tap.xmit(linear_skb(eth_ipv4(kMacServer, kMacClient, syn)));
  clock.advance_by(kNsPerMs);
  Bytes data =
      test::ipv4(IPPROTO_TCP_, test::tcp("P.", 1001, 5001, 502, test::opts().ts(8, 9), 100));
  tap.xmit(linear_skb(eth_ipv4(kMacServer, kMacClient, data)));
  tap.close();

  auto lines = tshark_fields(
      path_,
      "-e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport -e tcp.seq_raw "
      "-e tcp.options.mss_val -e tcp.options.wscale.shift -e tcp.options.timestamp.tsval "
      "-e tcp.len -e ip.checksum.status -e tcp.checksum.status -e frame.time_relative");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("192.168.0.1,192.0.2.1,40000,8080,1000,", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(",1460,7,7,0,1,1,"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("192.168.0.1,192.0.2.1,40000,8080,1001,", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(",,,8,100,1,1,"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(",0.001000000"), std::string::npos) << lines[1];
}

TEST_F(PcapTapTest, tshark_sees_a_paged_skb_whole) {
  if (!have_tshark()) GTEST_SKIP() << "tshark is not installed (scripts/setup installs it)";
  path_ = temp_pcap("paged");
  VirtualClock clock;
  RecordingDevice lower;
  PcapTap tap(&lower, clock);
  ASSERT_EQ(tap.open(path_), "");

  // Headers in the linear part, 1000 payload bytes in a page fragment, as
  // tcp_sendmsg builds them; the checksum covers both.
  Bytes whole = test::ipv4(IPPROTO_TCP_, test::tcp(".", 1, 2, 3, {}, 1000));
  Bytes frame = eth_ipv4(kMacServer, kMacClient, whole);
  const std::uint32_t headers = ETH_HLEN + 20 + 20;
  SkbPtr skb = alloc_skb(headers);
  std::memcpy(skb_put(skb.get(), headers), frame.data(), headers);
  Page* page = alloc_pages(0);
  ASSERT_NE(page, nullptr);
  std::memcpy(page->addr + 64, frame.data() + headers, 1000);
  skb_fill_page_desc(skb.get(), 0, page, 64, 1000);
  skb->len += 1000;
  skb->data_len += 1000;
  skb->truesize += 1000;
  tap.xmit(std::move(skb));
  tap.close();

  auto lines = tshark_fields(path_, "-e frame.len -e tcp.len -e tcp.checksum.status");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "1054,1000,1");
}

}  // namespace
}  // namespace sp
