// The whole input path: arbitrary packets arrive on a stack that has a TCP
// listener (or has opened a connection), through netif_receive_skb ->
// ip_rcv -> tcp_v4_rcv / icmp / arp, while the application writes. Nothing
// may crash, hang, leak or trip a sanitizer.
//
// Input: one config byte, then up to 16 records of [len_hi, len_lo, mode] +
// len bytes of an IPv4 packet, each wrapped in an Ethernet header to the
// stack's MAC. Config bits:
//   0  active open: the application connects to 10.0.0.1:9000 (the send
//      path's usual side) instead of listening on port 8080
//   1  sysctl tcp_timestamps = 0;  2  tcp_sack = 0;  3  tcp_window_scaling = 0
//   4  every tracepoint on, each event formatted as text and JSON (the
//      fillers read inbound headers and skbs the fuzzer shaped)
// Mode bits:
//   0  fix the IPv4 and TCP checksums (else most packets stop at the drop)
//   1  send the bytes as ARP instead of IPv4
//   2  TCP: ack_seq := the stack's next sequence number as last seen on the
//      wire, and the ports mirror its last segment's, so the fuzzer can
//      complete handshakes (its ephemeral port included) and ACK data
//   3  TCP: seq := the stack's last ack_seq, so segments land in the window
//   4  then the application (accepting first when passive) writes
//      1000 * (1 + (mode >> 5)) bytes with MSG_DONTWAIT
// Virtual time advances 10 ms and the stack polls after each record. A fresh
// stack per input keeps every finding reproducible from its file alone.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/stack.hpp"
#include "sendpath/api.hpp"
#include "trace/sinks.hpp"
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

// Frees what the stack sends, remembering the sequence numbers of its last
// TCP segment so the next input can answer it.
class SinkDevice final : public sp::NetDevice {
 public:
  SinkDevice() {
    name = "fuzz0";
    dev_addr = kOurMac;
  }
  sp::NetdevTx xmit(sp::SkbPtr skb) override {
    frame_.resize(skb->len);
    if (sp::skb_copy_bits(skb.get(), 0, frame_.data(), skb->len) == 0) observe(frame_);
    sp::consume_skb(std::move(skb));
    return sp::NETDEV_TX_OK;
  }
  int poll(int) override { return 0; }

  std::uint32_t snd_nxt = 0;  // seq + length (+SYN, +FIN) of its last segment
  std::uint32_t ack = 0;      // its last ack_seq
  std::uint16_t sport = 0, dport = 0;

 private:
  void observe(const std::vector<std::uint8_t>& f) {
    auto eth = sp::EthernetView::parse(f);
    if (!eth || eth->ethertype() != sp::ETH_P_IP) return;
    auto ip = sp::Ipv4View::parse(eth->payload());
    if (!ip || ip->protocol() != sp::IPPROTO_TCP_) return;
    auto tcp = sp::TcpView::parse(ip->payload());
    if (!tcp) return;
    snd_nxt = tcp->seq() + static_cast<std::uint32_t>(tcp->payload().size()) +
              (tcp->syn() ? 1 : 0) + (tcp->fin() ? 1 : 0);
    if (tcp->ack()) ack = tcp->ack_seq();
    sport = tcp->source();
    dport = tcp->dest();
  }
  std::vector<std::uint8_t> frame_;
};

// The TCP header of pkt when it is a whole, unfragmented IPv4/TCP packet.
std::uint8_t* tcp_header(std::vector<std::uint8_t>& pkt, std::size_t* tcp_len) {
  auto v = sp::Ipv4View::parse(pkt);
  if (!v || v->protocol() != sp::IPPROTO_TCP_ || v->is_fragment()) return nullptr;
  std::size_t hl = v->header_len(), tot = v->tot_len();
  if (tot - hl < sp::kTcpMinHeaderLen) return nullptr;
  *tcp_len = tot - hl;
  return pkt.data() + hl;
}

void fix_checksums(std::vector<std::uint8_t>& pkt) {
  if (!sp::Ipv4View::parse(pkt)) return;
  sp::ip_send_check(pkt.data());
  std::size_t len = 0;
  std::uint8_t* th = tcp_header(pkt, &len);
  if (!th) return;
  auto v = *sp::Ipv4View::parse(pkt);
  sp::store_be16(th + sp::kTcpCheckOffset, 0);
  sp::Wsum s = sp::csum_partial(th, len, 0);
  sp::store_be16(th + sp::kTcpCheckOffset,
                 sp::tcp_v4_check(static_cast<std::uint32_t>(len), v.saddr(), v.daddr(), s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sp::VirtualClock clock(sp::kNsPerSec);
  auto stack = std::make_unique<sp::Stack>(clock);
  auto owned = std::make_unique<SinkDevice>();
  SinkDevice* dev = owned.get();
  int ifindex = stack->register_netdev(std::move(owned));
  stack->add_address(ifindex, htonl(kOurIp), 24);
  stack->neigh_add(ifindex, htonl(kPeerIp), kPeerMac);

  if (size < 1) return 0;
  const std::uint8_t config = data[0];
  if (config & 2) stack->sysctl().tcp_timestamps = 0;
  if (config & 4) stack->sysctl().tcp_sack = 0;
  if (config & 8) stack->sysctl().tcp_window_scaling = 0;
  std::size_t traced = 0;
  std::unique_ptr<sp::trace::CallbackSink> tracer;
  if (config & 16)
    tracer = std::make_unique<sp::trace::CallbackSink>(
        sp::trace::kAllEvents, [&traced](const sp::trace::AnyEvent& e) {
          traced += sp::trace::format_json(e).size() + sp::trace::format_text(e).size();
        });

  int lfd = -1, cfd = -1;
  if (config & 1) {
    cfd = sp::socket(*stack, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(9000);
    peer.sin_addr.s_addr = htonl(kPeerIp);
    if (cfd >= 0) sp::connect(cfd, reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
  } else {
    lfd = sp::socket(*stack, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(8080);
    sin.sin_addr.s_addr = htonl(kOurIp);
    if (lfd >= 0) {
      sp::bind(lfd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
      sp::listen(lfd, 8);
    }
  }
  static std::vector<std::uint8_t> app_bytes(8000, 0x5a);

  std::size_t off = 1;
  for (std::size_t rec = 0; rec < kMaxRecords && size - off >= 3; ++rec) {
    std::size_t len = (std::size_t{data[off]} << 8) | data[off + 1];
    std::uint8_t mode = data[off + 2];
    off += 3;
    len = std::min(len, size - off);
    std::vector<std::uint8_t> pkt(data + off, data + off + len);
    off += len;

    std::size_t tcp_len = 0;
    if (std::uint8_t* th = tcp_header(pkt, &tcp_len)) {
      if (mode & 4) {
        sp::store_be32(th + sp::kTcpAckOffset, dev->snd_nxt);
        if (dev->sport) {
          sp::store_be16(th, dev->dport);
          sp::store_be16(th + 2, dev->sport);
        }
      }
      if (mode & 8) sp::store_be32(th + sp::kTcpSeqOffset, dev->ack);
    }
    if (mode & 1) fix_checksums(pkt);

    auto frame_len = static_cast<std::uint32_t>(sp::ETH_HLEN + len);
    sp::SkbPtr skb = sp::alloc_skb_with_headroom(64, frame_len);
    if (!skb) break;
    std::uint8_t* p = sp::skb_put(skb.get(), frame_len);
    sp::EthernetRepr{kOurMac, kPeerMac, (mode & 2) ? sp::ETH_P_ARP : sp::ETH_P_IP}.emit(p);
    if (len) std::memcpy(p + sp::ETH_HLEN, pkt.data(), len);
    skb->ifindex = ifindex;
    stack->netif_receive_skb(std::move(skb));

    if (mode & 16) {
      if (cfd < 0 && lfd >= 0) cfd = sp::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
      if (cfd >= 0) {
        std::size_t n = std::min<std::size_t>(1000 * (1 + (mode >> 5)), app_bytes.size());
        sp::send(cfd, app_bytes.data(), n, MSG_DONTWAIT);
      }
    }
    clock.advance_by(10 * sp::kNsPerMs);
    stack->poll();
  }

  if (cfd >= 0) sp::close(cfd);
  if (lfd >= 0) sp::close(lfd);
  // Let close-time timers and deferred work run out before the stack goes.
  for (int i = 0; i < 4; ++i) {
    clock.advance_by(sp::kNsPerSec);
    stack->poll();
  }
  (void)traced;
  return 0;
}
