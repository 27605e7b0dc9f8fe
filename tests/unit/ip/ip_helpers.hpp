// Test helpers for the IP layer: a device that records what it is given,
// and builders for TCP packets as tcp_transmit_skb leaves them.
#pragma once
#include <arpa/inet.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/stack.hpp"
#include "dev/net_device.hpp"
#include "skb/skbuff.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace sp::test {

inline be32 ip(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

class RecordingDevice : public NetDevice {
 public:
  explicit RecordingDevice(std::uint64_t feats, LinkType t = LinkType::kEthernet) {
    features = feats;
    type = t;
    hard_header_len = t == LinkType::kEthernet ? 14 : 0;
    dev_addr = {0x02, 0, 0, 0, 0, 0x01};
  }
  NetdevTx xmit(SkbPtr skb) override {
    sent.push_back(std::move(skb));
    return NETDEV_TX_OK;
  }
  int poll(int budget) override {
    int n = 0;
    while (n < budget && !rx.empty()) {
      SkbPtr s = std::move(rx.front());
      rx.erase(rx.begin());
      rx_handler(std::move(s));
      ++n;
    }
    return n;
  }
  std::vector<SkbPtr> sent;
  std::vector<SkbPtr> rx;
};

constexpr std::uint32_t kHeadroom = 128;  // MAX_TCP_HEADER-like

// A byte pattern that makes misplaced payload visible.
inline std::uint8_t pattern(std::uint32_t i) {
  return static_cast<std::uint8_t>(i * 7 + 3);
}

// A TCP segment with data at the transport header, as TCP hands it to
// ip_queue_xmit: header + `len` payload bytes, payload linear or in page
// frags, CHECKSUM_PARTIAL with the pseudo-header sum (offload) or a
// complete checksum.
struct TcpSkbSpec {
  std::uint32_t len = 100;
  std::uint32_t seq = 1000;
  std::uint8_t flags = TCPHDR_ACK;
  std::uint16_t gso_size = 0;
  bool paged = false;
  bool partial = true;
  be32 saddr = 0;
  be32 daddr = 0;
};

inline SkbPtr make_tcp_skb(const TcpSkbSpec& s) {
  const std::uint32_t hlen = 32;  // 20 + NOP NOP TS
  SkbPtr skb = alloc_skb_with_headroom(kHeadroom, hlen + (s.paged ? 0 : s.len));
  if (!skb) return nullptr;
  if (s.paged) {
    std::uint32_t left = s.len, idx = 0, i = 0;
    while (left) {
      Page* p = alloc_pages(0);
      const std::uint32_t n = std::min(left, p->size);
      for (std::uint32_t k = 0; k < n; ++k) p->addr[k] = pattern(idx + k);
      skb_fill_page_desc(skb.get(), static_cast<int>(i++), p, 0, n);
      skb->len += n;
      skb->data_len += n;
      skb->truesize += p->size;
      idx += n;
      left -= n;
    }
  } else {
    std::uint8_t* d = skb_put(skb.get(), s.len);
    for (std::uint32_t k = 0; k < s.len; ++k) d[k] = pattern(k);
  }
  std::uint8_t* th = skb_push(skb.get(), hlen);
  skb_reset_transport_header(skb.get());
  TcpHeader h;
  h.source = 40000;
  h.dest = 80;
  h.seq = s.seq;
  h.ack_seq = 1;
  h.flags = s.flags;
  h.window = 1000;
  tcp_header_write(th, h, hlen / 4);
  th[20] = TCPOPT_NOP;
  th[21] = TCPOPT_NOP;
  th[22] = TCPOPT_TIMESTAMP;
  th[23] = TCPOLEN_TIMESTAMP;
  std::memset(th + 24, 0x11, 8);
  const std::uint32_t tcp_len = skb->len;
  if (s.partial) {
    store_be16(th + kTcpCheckOffset, tcp_v4_pseudo_check(tcp_len, ntohl(s.saddr), ntohl(s.daddr)));
    skb->ip_summed = IpSummed::CHECKSUM_PARTIAL;
    skb->csum_start = skb->transport_header;
    skb->csum_offset = kTcpCheckOffset;
  }
  if (s.gso_size) {
    SkbSharedInfo* sh = skb_shinfo(skb.get());
    sh->gso_size = s.gso_size;
    sh->gso_segs = static_cast<std::uint16_t>((s.len + s.gso_size - 1) / s.gso_size);
    sh->gso_type = SKB_GSO_TCPV4;
  }
  return skb;
}

// The whole frame (linear + frags) as bytes.
inline std::vector<std::uint8_t> frame_bytes(const SkBuff* skb) {
  std::vector<std::uint8_t> v(skb->len);
  if (skb_copy_bits(skb, 0, v.data(), skb->len) != 0) v.clear();
  return v;
}

}  // namespace sp::test
