// The whole input path: arbitrary packets arrive on a stack that has a TCP
// listener, through netif_receive_skb -> ip_rcv -> tcp_v4_rcv / icmp / arp.
// Nothing may crash, hang, leak or trip a sanitizer.
//
// Input: records of [len_hi, len_lo, mode] + len bytes of an IPv4 packet
// (mode bit 0: fix the IPv4 and TCP checksums first, so the fuzzer reaches
// TCP instead of stopping at checksum drops; bit 1: send it as ARP instead).
// Each record is wrapped in an Ethernet header to the stack's MAC; virtual
// time advances 10 ms and the stack polls between records. A fresh stack per
// input keeps every finding reproducible from its file alone.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/stack.hpp"
#include "sendpath/api.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace {

constexpr sp::MacAddr kOurMac = {0x02, 0, 0, 0, 0, 0x02};
constexpr sp::MacAddr kPeerMac = {0x02, 0, 0, 0, 0, 0x01};
constexpr sp::Ipv4Addr kOurIp = sp::ipv4_addr(10, 0, 0, 2);
constexpr sp::Ipv4Addr kPeerIp = sp::ipv4_addr(10, 0, 0, 1);
constexpr std::size_t kMaxRecords = 16;

class SinkDevice final : public sp::NetDevice {
 public:
  SinkDevice() {
    name = "fuzz0";
    dev_addr = kOurMac;
  }
  sp::NetdevTx xmit(sp::SkbPtr skb) override {
    sp::consume_skb(std::move(skb));
    return sp::NETDEV_TX_OK;
  }
  int poll(int) override { return 0; }
};

void fix_checksums(std::vector<std::uint8_t>& pkt) {
  auto v = sp::Ipv4View::parse(pkt);
  if (!v) return;
  std::uint8_t* iph = pkt.data();
  sp::ip_send_check(iph);
  if (v->protocol() != sp::IPPROTO_TCP_ || v->is_fragment()) return;
  std::size_t hl = v->header_len(), tot = v->tot_len();
  if (tot - hl < sp::kTcpMinHeaderLen) return;
  std::uint8_t* th = iph + hl;
  sp::store_be16(th + sp::kTcpCheckOffset, 0);
  sp::Wsum s = sp::csum_partial(th, tot - hl, 0);
  sp::store_be16(th + sp::kTcpCheckOffset,
                 sp::tcp_v4_check(static_cast<std::uint32_t>(tot - hl), v->saddr(), v->daddr(), s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sp::VirtualClock clock(sp::kNsPerSec);
  auto stack = std::make_unique<sp::Stack>(clock);
  int ifindex = stack->register_netdev(std::make_unique<SinkDevice>());
  stack->add_address(ifindex, htonl(kOurIp), 24);
  stack->neigh_add(ifindex, htonl(kPeerIp), kPeerMac);

  int lfd = sp::socket(*stack, AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(8080);
  sin.sin_addr.s_addr = htonl(kOurIp);
  if (lfd >= 0) {
    sp::bind(lfd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
    sp::listen(lfd, 8);
  }

  std::size_t off = 0;
  for (std::size_t rec = 0; rec < kMaxRecords && size - off >= 3; ++rec) {
    std::size_t len = (std::size_t{data[off]} << 8) | data[off + 1];
    std::uint8_t mode = data[off + 2];
    off += 3;
    len = std::min(len, size - off);
    std::vector<std::uint8_t> pkt(data + off, data + off + len);
    off += len;
    if (mode & 1) fix_checksums(pkt);

    sp::SkbPtr skb =
        sp::alloc_skb_with_headroom(64, static_cast<std::uint32_t>(sp::ETH_HLEN + len));
    if (!skb) break;
    std::uint8_t* p = sp::skb_put(skb.get(), static_cast<std::uint32_t>(sp::ETH_HLEN + len));
    sp::EthernetRepr{kOurMac, kPeerMac, (mode & 2) ? sp::ETH_P_ARP : sp::ETH_P_IP}.emit(p);
    if (len) std::memcpy(p + sp::ETH_HLEN, pkt.data(), len);
    skb->ifindex = ifindex;
    stack->netif_receive_skb(std::move(skb));
    clock.advance_by(10 * sp::kNsPerMs);
    stack->poll();
  }

  if (lfd >= 0) sp::close(lfd);
  // Let close-time timers and deferred work run out before the stack goes.
  for (int i = 0; i < 4; ++i) {
    clock.advance_by(sp::kNsPerSec);
    stack->poll();
  }
  return 0;
}
