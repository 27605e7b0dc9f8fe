// ScriptDevice (see script_device.hpp).
#include "script_device.hpp"

#include <cstring>
#include <utility>

#include "core/stack.hpp"
#include "sock/sock.hpp"

namespace sp::drill {

ScriptDevice::ScriptDevice(const Clock& clock, const Config& cfg) : clock_(clock), cfg_(cfg) {
  name = "tun0";
  type = LinkType::kRawIp;
  hard_header_len = 0;
  mtu = cfg.mtu;
  features = NETIF_F_SG | NETIF_F_IP_CSUM | NETIF_F_HW_CSUM | NETIF_F_RXCSUM;
  if (cfg.tso) features |= NETIF_F_TSO;
}

NetdevTx ScriptDevice::xmit(SkbPtr skb) {
  // Like Linux's tun_net_xmit: the frame is handed to a reader that gets a
  // copy, so a zerocopy send is reported as copied.
  skb_orphan_frags_rx(skb.get());
  if (drop_all_) {
    ++refused_;
    stats.tx_dropped++;
    kfree_skb(std::move(skb));
    return NETDEV_TX_BUSY;
  }
  if (fq_) {
    // sch_fq marks the socket on its first packet; from then on TCP gives
    // each skb its earliest departure time in skb->tstamp.
    auto* sk = static_cast<Sock*>(skb->sk);
    if (sk && sk->sk_pacing_status == SK_PACING_NONE) sk->sk_pacing_status = SK_PACING_FQ;
    const Nanos now = clock_.now_ns();
    if (!held_.empty() || skb->tstamp > now) {
      const Nanos due = std::max<Nanos>(skb->tstamp, held_.empty() ? now : held_.back().due);
      held_.push_back({std::move(skb), due});
      return NETDEV_TX_OK;
    }
  }
  emit(std::move(skb));
  return NETDEV_TX_OK;
}

void ScriptDevice::set_offloads(bool on) {
  if (on)
    features |= NETIF_F_TSO;
  else
    features &= ~NETIF_F_TSO;
}

void ScriptDevice::set_fq(bool on) {
  fq_ = on;
  if (!on) {
    while (!held_.empty()) {
      SkbPtr skb = std::move(held_.front().skb);
      held_.pop_front();
      emit(std::move(skb));
    }
  }
}

Nanos ScriptDevice::next_release() const {
  return held_.empty() ? Stack::kNoTimer : held_.front().due;
}

void ScriptDevice::emit(SkbPtr skb) {
  std::vector<std::uint8_t> bytes(skb->len);
  if (skb->len && skb_copy_bits(skb.get(), 0, bytes.data(), skb->len) != 0) {
    bad_.push_back("skb_copy_bits failed on an outbound skb");
    stats.tx_errors++;
    consume_skb(std::move(skb));
    return;
  }
  std::string err;
  auto p = parse_ipv4_tcp(bytes.data(), bytes.size(), &err);
  if (!p) {
    bad_.push_back(err);
    stats.tx_errors++;
  } else {
    p->time_ns = clock_.now_ns();
    p->gso_size = skb_shinfo(skb.get())->gso_size;
    sent_.push_back(std::move(*p));
    stats.tx_packets++;
    stats.tx_bytes += skb->len;
  }
  // The frame has left the host: freeing it runs the socket's destructor
  // (TCP small queues learn the bytes are gone), as a real NIC completion.
  consume_skb(std::move(skb));
}

int ScriptDevice::poll(int budget) {
  int n = 0;
  while (!held_.empty() && held_.front().due <= clock_.now_ns()) {
    SkbPtr skb = std::move(held_.front().skb);
    held_.pop_front();
    emit(std::move(skb));
    ++n;
  }
  while (n < budget && !rx_.empty()) {
    SkbPtr skb = std::move(rx_.front());
    rx_.pop_front();
    stats.rx_packets++;
    stats.rx_bytes += skb->len;
    ++n;
    if (rx_handler) rx_handler(std::move(skb));
  }
  return n;
}

void ScriptDevice::inject(const std::vector<std::uint8_t>& ip_packet) {
  const std::uint32_t headroom = 64;
  SkbPtr skb = alloc_skb_with_headroom(headroom, static_cast<std::uint32_t>(ip_packet.size()));
  if (!skb) {
    bad_.push_back("alloc_skb failed for an inbound packet");
    return;
  }
  std::memcpy(skb_put(skb.get(), static_cast<std::uint32_t>(ip_packet.size())), ip_packet.data(),
              ip_packet.size());
  skb->ifindex = ifindex;
  skb->tstamp = clock_.now_ns();
  skb->ip_summed = IpSummed::CHECKSUM_UNNECESSARY;
  // --mss: packetdrill cooks inbound packets larger than one segment as GRO
  // packets with this gso_size (what a receiver sees after GRO).
  if (cfg_.rx_gso_size && ip_packet.size() >= 40) {
    const std::uint32_t ihl = (ip_packet[0] & 0xf) * 4u;
    const std::uint32_t thl = (ip_packet[ihl + 12] >> 4) * 4u;
    const std::uint32_t payload = static_cast<std::uint32_t>(ip_packet.size()) - ihl - thl;
    if (payload > cfg_.rx_gso_size) {
      SkbSharedInfo* sh = skb_shinfo(skb.get());
      sh->gso_size = cfg_.rx_gso_size;
      sh->gso_segs =
          static_cast<std::uint16_t>((payload + cfg_.rx_gso_size - 1) / cfg_.rx_gso_size);
      sh->gso_type = SKB_GSO_TCPV4;
    }
  }
  rx_.push_back(std::move(skb));
}

}  // namespace sp::drill
