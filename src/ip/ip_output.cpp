// IPv4 output (net/ipv4/ip_output.c): ip_queue_xmit -> ip_finish_output ->
// neighbour -> dev_queue_xmit, with validate_xmit_skb's software GSO and
// checksum fallback (net/core/dev.c) on the way into the device.
#include <arpa/inet.h>

#include <cerrno>

#include "core/stack_impl.hpp"
#include "ip/gso.hpp"
#include "ip/ip.hpp"
#include "ip/neighbour.hpp"
#include "sock/sock_errqueue.hpp"
#include "trace/events.hpp"
#include "wire/ipv4.hpp"

namespace sp {

namespace {

// Segments a GSO skb will become on the wire (skb_shinfo()->gso_segs, or
// computed when the sender left it 0).
std::uint16_t gso_segs_of(const SkBuff* skb, std::uint32_t hdr_len) {
  const SkbSharedInfo* sh = skb_shinfo(skb);
  if (!sh->gso_size) return 1;
  if (sh->gso_segs) return sh->gso_segs;
  const std::uint32_t payload = skb->len > hdr_len ? skb->len - hdr_len : 0;
  return static_cast<std::uint16_t>(
      std::max<std::uint32_t>(1, (payload + sh->gso_size - 1) / sh->gso_size));
}

// The device can finish a CHECKSUM_PARTIAL packet itself.
bool dev_can_checksum(const NetDevice& dev) {
  return dev.features & (NETIF_F_HW_CSUM | NETIF_F_IP_CSUM);
}

int xmit_one(NetDevice& dev, SkbPtr skb) {
  // A refused frame was consumed (dropped) by the device; there is no qdisc
  // to requeue into, so the caller hears NET_XMIT_DROP as -ENOBUFS.
  const SkBuff* id = skb.get();  // identity only: the device owns it after xmit
  const std::uint32_t len = skb->len;
  const NetdevTx rc = dev.xmit(std::move(skb));
  trace_net_dev_xmit(id, &dev, static_cast<int>(rc), len);
  return rc == NETDEV_TX_OK ? 0 : -ENOBUFS;
}

}  // namespace

int dev_hard_header(SkBuff* skb, const NetDevice& dev, std::uint16_t ethertype,
                    const MacAddr& daddr) {
  if (skb_headroom(skb) < ETH_HLEN && skb_cow_head(skb, ETH_HLEN) != 0) return -ENOMEM;
  EthernetRepr eth;
  eth.dst = daddr;
  eth.src = dev.dev_addr;
  eth.ethertype = ethertype;
  eth.emit(skb_push(skb, ETH_HLEN));
  skb_reset_mac_header(skb);
  return 0;
}

int dev_queue_xmit(NetDevice& dev, SkbPtr skb) {
  // SO_TIMESTAMPING: entering the device queue, then (sendpath's devices
  // take the frame synchronously) the driver's software stamp, both on the
  // whole skb before any software segmentation.
  if (skb_shinfo(skb.get())->tx_flags & SKBTX_ANY_TSTAMP) {
    skb_tstamp_sched(skb.get());
    skb_tx_timestamp(skb.get());
  }
  trace_dev_queue_xmit(dev.stack, skb.get());
  // validate_xmit_skb: what the device cannot do is done here, in software.
  if (skb_needs_gso(skb.get(), dev.features)) {
    if (trace::enabled(trace::Ev::skb_gso_segment))
      trace_skb_gso_segment(dev.stack, skb.get(), skb_shinfo(skb.get())->gso_segs);
    std::vector<SkbPtr> segs = skb_gso_segment(skb.get(), dev.features);
    if (segs.empty()) {
      dev.stats.tx_dropped++;
      return -ENOMEM;
    }
    skb.reset();  // its socket charge moved to the last segment
    int err = 0;
    for (auto& s : segs) {
      const int e = xmit_one(dev, std::move(s));
      if (e && !err) err = e;
    }
    return err;
  }
  if (skb->ip_summed == IpSummed::CHECKSUM_PARTIAL && !dev_can_checksum(dev)) {
    if (skb_checksum_help(skb.get()) != 0) {
      dev.stats.tx_dropped++;
      return -EINVAL;
    }
  }
  return xmit_one(dev, std::move(skb));
}

int ip_neigh_output(Stack& stack, NetDevice& dev, be32 nexthop, SkbPtr skb) {
  if (dev.type != LinkType::kEthernet || dev.hard_header_len == 0)
    return dev_queue_xmit(dev, std::move(skb));
  return stack.neigh().output(dev, nexthop, std::move(skb));
}

int Stack::ip_queue_xmit(SkbPtr skb, const IpXmitParams& p) {
  RouteResult rt = ip_route_output(p.daddr);
  if (!rt.dev) {
    mib_.inc(MibId::IpOutNoRoutes);
    return -EHOSTUNREACH;
  }
  NetDevice& dev = *rt.dev;
  const be32 saddr = p.saddr ? p.saddr : rt.saddr;

  // TCP reserves MAX_TCP_HEADER of headroom; a caller that did not gets a
  // bigger head here rather than a panic.
  const std::uint32_t need = Ipv4Repr::header_len() + dev.hard_header_len;
  if (skb_headroom(skb.get()) < need && skb_cow_head(skb.get(), need) != 0) {
    mib_.inc(MibId::IpOutDiscards);
    return -ENOBUFS;
  }

  const std::uint32_t l4len = skb->len;
  std::uint8_t* iph = skb_push(skb.get(), Ipv4Repr::header_len());
  skb_reset_network_header(skb.get());
  if (skb->transport_header == 0xffff)
    skb->transport_header =
        static_cast<std::uint16_t>(skb->network_header + Ipv4Repr::header_len());

  const SkbSharedInfo* sh = skb_shinfo(skb.get());
  // The TCP header length, to count the segments of a GSO skb.
  std::uint32_t thlen = 0;
  if (sh->gso_size && skb_headlen(skb.get()) >= Ipv4Repr::header_len() + 13u)
    thlen = static_cast<std::uint32_t>(skb->data[Ipv4Repr::header_len() + 12] >> 4) * 4u;
  const std::uint16_t segs = gso_segs_of(skb.get(), Ipv4Repr::header_len() + thlen);

  // ip_select_ident_segs: with DF a connected socket numbers its packets
  // from its own counter (RFC 6864 leaves ID meaningless for atomic
  // datagrams); socketless DF packets carry 0; others take the
  // per-destination counter.
  std::uint16_t id = 0;
  if (p.df && p.ip_id) {
    id = *p.ip_id;
    *p.ip_id = static_cast<std::uint16_t>(*p.ip_id + segs);
  } else if (!p.df) {
    std::uint16_t& ctr = impl_->ip_ids[p.daddr];
    id = ctr;
    ctr = static_cast<std::uint16_t>(ctr + segs);
  }

  Ipv4Repr ip;
  ip.tos = p.tos;
  ip.id = id;
  ip.frag_off = p.df ? IP_DF : 0;
  ip.ttl = p.ttl;
  ip.protocol = p.protocol;
  ip.saddr = ntohl(saddr);
  ip.daddr = ntohl(p.daddr);
  ip.payload_len = static_cast<std::uint16_t>(l4len);
  if (l4len + Ipv4Repr::header_len() > 0xffff) {
    mib_.inc(MibId::IpOutDiscards);
    return -EMSGSIZE;
  }
  ip.emit(iph);
  skb->protocol = ETH_P_IP;
  skb->ifindex = dev.ifindex;
  trace_ip_queue_xmit(this, skb.get(), Ipv4Repr::header_len());
  mib_.inc(MibId::IpOutRequests);

  // ip_finish_output: no fragmentation here. A packet (or a GSO segment)
  // larger than the path MTU is refused with EMSGSIZE, as DF demands; TCP
  // sizes its segments from the same MTU so this only catches a PMTU drop
  // that raced with a send.
  const std::uint32_t wire_len =
      sh->gso_size ? Ipv4Repr::header_len() + thlen + sh->gso_size : skb->len;
  if (wire_len > rt.mtu) {
    mib_.inc(MibId::IpFragFails);
    return -EMSGSIZE;
  }
  return ip_neigh_output(*this, dev, rt.nexthop, std::move(skb));
}

}  // namespace sp
