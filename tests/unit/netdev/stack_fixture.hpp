// A Stack on a VirtualClock with one Ethernet device that records what it
// transmits, for ARP and ICMP tests: frames in with inject(), frames out in
// sent(). Builders make packets the way a trace reads.
#pragma once
#include <arpa/inet.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/stack.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"

namespace sp::test {

using Frame = std::vector<std::uint8_t>;

class RecordingDevice : public NetDevice {
 public:
  explicit RecordingDevice(LinkType t = LinkType::kEthernet) {
    type = t;
    hard_header_len = t == LinkType::kEthernet ? 14 : 0;
    dev_addr = {0x02, 0x5e, 0x00, 0x00, 0x00, 0x02};
    name = "rec0";
  }
  NetdevTx xmit(SkbPtr skb) override {
    Frame f(skb->len);
    skb_copy_bits(skb.get(), 0, f.data(), skb->len);
    frames.push_back(std::move(f));
    consume_skb(std::move(skb));
    return NETDEV_TX_OK;
  }
  int poll(int) override { return 0; }
  std::vector<Frame> frames;
};

inline be32 be(Ipv4Addr host) {
  return htonl(host);
}

constexpr Ipv4Addr kOurIp = ipv4_addr(10, 77, 0, 2);
constexpr Ipv4Addr kPeerIp = ipv4_addr(10, 77, 0, 1);
constexpr MacAddr kPeerMac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

struct StackFixture {
  VirtualClock clock{1 * kNsPerSec};
  Stack stack{clock};
  RecordingDevice* dev = nullptr;
  int ifindex = 0;

  explicit StackFixture(LinkType t = LinkType::kEthernet) {
    auto d = std::make_unique<RecordingDevice>(t);
    dev = d.get();
    ifindex = stack.register_netdev(std::move(d));
    stack.add_address(ifindex, be(kOurIp), 24);
  }

  void inject(const Frame& f) {
    SkbPtr skb = alloc_skb_with_headroom(64, static_cast<std::uint32_t>(f.size()));
    std::memcpy(skb_put(skb.get(), static_cast<std::uint32_t>(f.size())), f.data(), f.size());
    skb->ifindex = ifindex;
    stack.netif_receive_skb(std::move(skb));
  }
  std::vector<Frame>& sent() { return dev->frames; }
};

inline Frame eth(const MacAddr& dst, const MacAddr& src, std::uint16_t type, const Frame& body) {
  Frame f(ETH_HLEN + body.size());
  EthernetRepr{dst, src, type}.emit(f.data());
  std::memcpy(f.data() + ETH_HLEN, body.data(), body.size());
  return f;
}

inline Frame arp(std::uint16_t op, const MacAddr& sha, Ipv4Addr sip, const MacAddr& tha,
                 Ipv4Addr tip) {
  ArpRepr a;
  a.op = op;
  a.sha = sha;
  a.sip = sip;
  a.tha = tha;
  a.tip = tip;
  Frame f(ArpRepr::packet_len());
  a.emit(f.data());
  return f;
}

inline Frame ipv4(Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto, const Frame& payload) {
  Ipv4Repr ip;
  ip.saddr = src;
  ip.daddr = dst;
  ip.protocol = proto;
  ip.frag_off = 0;
  ip.payload_len = static_cast<std::uint16_t>(payload.size());
  Frame f(Ipv4Repr::header_len() + payload.size());
  ip.emit(f.data());
  std::memcpy(f.data() + Ipv4Repr::header_len(), payload.data(), payload.size());
  return f;
}

inline Frame icmp(std::uint8_t type, std::uint8_t code, std::uint32_t rest, const Frame& payload) {
  IcmpRepr r;
  r.type = type;
  r.code = code;
  r.rest = rest;
  r.payload = payload;
  Frame f(r.len());
  r.emit(f.data());
  return f;
}

}  // namespace sp::test
