// GRO for TCP/IPv4: which frames coalesce and when a held packet goes up.
#include "ip/gro.hpp"

#include <algorithm>
#include <cstring>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"

namespace sp {

namespace {

constexpr std::uint32_t kIpHlen = 20;  // only option-less headers coalesce
constexpr std::uint32_t kTcpMinHlen = 20;
constexpr std::uint8_t kTcpCwr = 0x80, kTcpUrg = 0x20, kTcpPsh = 0x08, kTcpRst = 0x04,
                       kTcpSyn = 0x02, kTcpFin = 0x01;
constexpr std::uint16_t kIpDf = 0x4000;
constexpr std::uint32_t kWorkHeadroom = 64;

// Where a frame's headers are, if it is a TCP/IPv4 segment GRO may merge.
struct Parsed {
  const std::uint8_t* eth = nullptr;
  const std::uint8_t* ip = nullptr;
  const std::uint8_t* th = nullptr;
  std::uint32_t thlen = 0;
  std::uint32_t payload = 0;  // TCP payload bytes (skb_gro_len)
  std::uint32_t frame = 0;    // Ethernet header + IP total length (no padding)
  bool ok = false;
};

Parsed parse(const SkBuff* skb) {
  Parsed p;
  const std::uint32_t len = skb_headlen(skb);
  if (len < ETH_HLEN + kIpHlen + kTcpMinHlen) return p;
  p.eth = skb->data;
  if (load_be16(p.eth + 12) != ETH_P_IP) return p;
  p.ip = p.eth + ETH_HLEN;
  // inet_gro_receive: version 4, no options, TCP, not a fragment.
  if (p.ip[0] != 0x45 || p.ip[9] != 6) return p;
  if (load_be16(p.ip + 6) & ~kIpDf) return p;
  const std::uint32_t tot_len = load_be16(p.ip + 2);
  if (tot_len < kIpHlen + kTcpMinHlen || ETH_HLEN + tot_len > len) return p;
  p.th = p.ip + kIpHlen;
  p.thlen = static_cast<std::uint32_t>(p.th[12] >> 4) * 4u;
  if (p.thlen < kTcpMinHlen || kIpHlen + p.thlen > tot_len) return p;
  p.payload = tot_len - kIpHlen - p.thlen;
  p.frame = ETH_HLEN + tot_len;
  // tcp4_gro_receive validates the checksum first; a frame the device did
  // not verify is left to the stack, which drops it if it is bad.
  p.ok = skb->ip_summed == IpSummed::CHECKSUM_UNNECESSARY;
  return p;
}

bool same_flow(const Parsed& a, const Parsed& b) {
  return std::memcmp(a.eth, b.eth, ETH_HLEN) == 0 &&   // dev_gro_receive: MAC header
         std::memcmp(a.ip + 12, b.ip + 12, 8) == 0 &&  // inet_gro_receive: addresses
         std::memcmp(a.th, b.th, 4) == 0;              // tcp_gro_lookup: ports
}

}  // namespace

GroList::~GroList() = default;

void GroList::receive(SkbPtr skb) {
  stats_.frames++;
  const Parsed n = parse(skb.get());
  if (!n.ok) {
    // Not for GRO. A held packet of the same flow goes first, so the
    // stack still sees the flow's segments in arrival order.
    if (n.th) {
      for (auto it = held_.begin(); it != held_.end(); ++it) {
        if (same_flow(parse(it->skb.get()), n)) {
          Held h = std::move(*it);
          held_.erase(it);
          complete(h);
          break;
        }
      }
    }
    stats_.passed++;
    deliver_(std::move(skb));
    return;
  }
  const std::uint8_t flags = n.th[13];
  std::uint32_t mss = 1;
  bool merged = false;
  auto hit = held_.end();
  for (auto it = held_.begin(); it != held_.end(); ++it) {
    if (same_flow(parse(it->skb.get()), n)) {
      hit = it;
      break;
    }
  }
  if (hit != held_.end()) {
    Held& h = *hit;
    const Parsed p = parse(h.skb.get());
    // tcp_gro_receive: everything but PSH/FIN/CWR in the flag word (data
    // offset, flags, window) equal, no CWR, the same ACK and options.
    bool flush = flags & kTcpCwr;
    flush |= ((flags ^ p.th[13]) & ~(kTcpCwr | kTcpPsh | kTcpFin)) != 0;
    flush |= n.th[12] != p.th[12] || std::memcmp(n.th + 14, p.th + 14, 2) != 0;
    flush |= std::memcmp(n.th + 8, p.th + 8, 4) != 0;
    flush |= std::memcmp(n.th + kTcpMinHlen, p.th + kTcpMinHlen, n.thlen - kTcpMinHlen) != 0;
    // inet_gro_flush: TTL, TOS and DF equal; the IP ID increments by one
    // per segment, or stays fixed for a DF flow (decided on the 2nd frame).
    flush |= n.ip[8] != p.ip[8] || n.ip[1] != p.ip[1];
    const std::uint16_t df = load_be16(n.ip + 6) & kIpDf;
    flush |= df != (load_be16(p.ip + 6) & kIpDf);
    if (!flush) {
      const auto id_off = static_cast<std::uint16_t>(load_be16(n.ip + 4) - load_be16(p.ip + 4));
      if (h.count == 1 && df && id_off == 0) h.fixed_id = true;
      flush |= id_off != static_cast<std::uint16_t>(h.fixed_id ? 0 : h.count);
    }
    mss = h.mss;
    flush |= n.payload - 1 >= mss;  // longer than the first, or no payload
    flush |= load_be32(p.th + 4) + h.payload != load_be32(n.th + 4);
    // skb_gro_receive: -E2BIG at gro_max_size (the length from the IP header).
    flush |= kIpHlen + p.thlen + h.payload + n.payload >= kGroMaxSize;
    if (!flush) {
      if (h.count == 1) {
        // The first merge: a private linear buffer big enough for 64 KiB.
        SkbPtr big = alloc_skb_with_headroom(kWorkHeadroom, ETH_HLEN + kGroMaxSize);
        if (big) {
          std::memcpy(skb_put(big.get(), p.frame), p.eth, p.frame);
          big->tstamp = h.skb->tstamp;
          big->ip_summed = h.skb->ip_summed;
          // Linux's skb_gro_receive chains the frames' buffers as frags and
          // sums their truesize; the copy here is sendpath's convenience, so
          // the memory charged is what the frames themselves occupied (a
          // 64 KiB truesize would shrink the receive window it advertises).
          big->truesize = h.skb->truesize;
          h.skb = std::move(big);
        } else {
          flush = true;
        }
      }
    }
    if (!flush) {
      std::memcpy(skb_put(h.skb.get(), n.payload), n.th + n.thlen, n.payload);
      h.skb->truesize += skb->truesize;
      h.skb->data[ETH_HLEN + kIpHlen + 13] |= flags & (kTcpPsh | kTcpFin);
      h.count++;
      h.payload += n.payload;
      merged = true;
      stats_.merged++;
    } else {
      mss = 1;
    }
  }
  // Force a flush if this segment is shorter than the flow's segments, or
  // carries a flag that must reach the stack at once.
  const bool flush_now =
      n.payload < mss || (flags & (kTcpUrg | kTcpPsh | kTcpRst | kTcpSyn | kTcpFin));
  if (hit != held_.end() && (!merged || flush_now)) {
    Held h = std::move(*hit);
    held_.erase(hit);
    complete(h);
  }
  if (merged) return;
  if (flush_now) {
    stats_.passed++;
    deliver_(std::move(skb));
    return;
  }
  if (held_.size() >= kMaxGroSkbs) {
    // gro_flush_oldest: too many flows held.
    Held h = std::move(held_.front());
    held_.erase(held_.begin());
    complete(h);
  }
  stats_.held++;
  held_.push_back(Held{std::move(skb), 1, n.payload, n.payload, false});
}

void GroList::flush() {
  std::vector<Held> all;
  all.swap(held_);
  for (Held& h : all) complete(h);
}

void GroList::complete(Held& h) {
  stats_.flushed++;
  if (h.count > 1) {
    stats_.coalesced++;
    std::uint8_t* iph = h.skb->data + ETH_HLEN;
    store_be16(iph + 2, static_cast<std::uint16_t>(h.skb->len - ETH_HLEN));
    store_be16(iph + 10, 0);
    store_be16(iph + 10, ip_fast_csum(iph, 5));
    SkbSharedInfo* sh = skb_shinfo(h.skb.get());
    sh->gso_size = static_cast<std::uint16_t>(h.mss);
    sh->gso_segs = static_cast<std::uint16_t>(h.count);
    sh->gso_type = SKB_GSO_TCPV4;
    h.skb->ip_summed = IpSummed::CHECKSUM_UNNECESSARY;
  }
  deliver_(std::move(h.skb));
}

}  // namespace sp
