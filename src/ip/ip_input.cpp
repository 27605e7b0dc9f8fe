// Receive: netif_receive_skb's ethertype demux (net/core/dev.c) and ip_rcv
// (net/ipv4/ip_input.c): validate, trim, deliver to the protocol.
#include <arpa/inet.h>

#include "core/stack_impl.hpp"
#include "ip/ip.hpp"
#include "trace/events.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace sp {

namespace {

bool is_multicast_mac(const MacAddr& m) {
  return m[0] & 1;
}

// ip_rcv_core + ip_rcv_finish + ip_local_deliver for one packet whose
// skb->data is at the IPv4 header.
void ip_rcv(Stack& stack, Stack::Impl& impl, SkbPtr skb) {
  Mib& mib = stack.mib();
  mib.inc(MibId::IpInReceives);
  // Frames from our devices are linear; a paged one is made linear so the
  // header checks below see every byte they bound.
  if (skb_is_nonlinear(skb.get())) {
    SkbPtr lin = skb_copy(skb.get());
    if (!lin) {
      mib.inc(MibId::IpInDiscards);
      trace_kfree_skb(stack, skb.get(), "NOMEM");
      return;
    }
    skb = std::move(lin);
  }
  auto view = Ipv4View::parse({skb->data, skb->len});
  if (!view && view.error() == WireError::kIpTotLenPastBuffer &&
      ip_fast_csum(skb->data, skb->data[0] & 0xfu) == 0) {
    // ip_rcv_core: a sound header announcing more than arrived (a frame
    // cut short on the way) is counted apart from a bad header.
    mib.inc(MibId::IpExtInTruncatedPkts);
    trace_kfree_skb(stack, skb.get(), "PKT_TOO_SMALL");
    return;
  }
  if (!view) {
    mib.inc(MibId::IpInHdrErrors);
    trace_kfree_skb(stack, skb.get(), "IP_INHDR");
    return;
  }
  // The header checksum is always checked in software, as ip_rcv_core does:
  // CHECKSUM_UNNECESSARY vouches for the transport checksum only.
  if (!view->verify_checksum()) {
    mib.inc(MibId::IpInHdrErrors);
    trace_kfree_skb(stack, skb.get(), "IP_CSUM");
    return;
  }
  const be32 daddr = htonl(view->daddr());
  if (!stack.is_local_address(daddr)) {
    mib.inc(MibId::IpInAddrErrors);
    trace_kfree_skb(stack, skb.get(), "IP_INADDRERRORS");
    return;
  }
  if (view->is_fragment()) {
    // No reassembly: a fragment can never become a whole packet here.
    mib.inc(MibId::IpReasmFails);
    trace_kfree_skb(stack, skb.get(), "NOT_SPECIFIED");
    return;
  }
  const std::uint8_t proto = view->protocol();
  const std::uint32_t ihl = static_cast<std::uint32_t>(view->header_len());
  const std::uint32_t tot_len = view->tot_len();
  // Ethernet pads short frames: the packet ends at tot_len.
  if (skb->len > tot_len && pskb_trim(skb.get(), tot_len) != 0) {
    mib.inc(MibId::IpInDiscards);
    trace_kfree_skb(stack, skb.get(), "NOT_SPECIFIED");
    return;
  }
  skb_reset_network_header(skb.get());
  skb_pull(skb.get(), ihl);
  skb_reset_transport_header(skb.get());
  const ProtoHandler& h = impl.protos[proto];
  if (!h) {
    mib.inc(MibId::IpInUnknownProtos);
    trace_kfree_skb(stack, skb.get(), "IP_NOPROTO");
    return;
  }
  mib.inc(MibId::IpInDelivers);
  h(std::move(skb));
}

}  // namespace

void Stack::netif_receive_skb(SkbPtr skb) {
  impl_->progress++;
  NetDevice* dev = dev_get_by_index(skb->ifindex);
  if (dev && dev->type == LinkType::kEthernet && dev->hard_header_len) {
    auto eth = EthernetView::parse({skb->data, skb_headlen(skb.get())});
    if (!eth) {
      // A runt: a driver would not pass it up (no net:netif_receive_skb).
      dev->stats.rx_errors++;
      trace_kfree_skb(*this, skb.get(), "PKT_TOO_SMALL");
      return;
    }
    // net:netif_receive_skb as __netif_receive_skb_core fires it: after
    // eth_type_trans, so len counts from the network header.
    trace_netif_receive_skb(skb.get(), dev, skb->len - ETH_HLEN);
    // eth_type_trans: frames for another host are not ours (PACKET_OTHERHOST
    // is dropped by ip_rcv); broadcast and multicast are.
    const MacAddr dst = eth->dst();
    if (dst != dev->dev_addr && !is_multicast_mac(dst)) {
      dev->stats.rx_dropped++;
      trace_kfree_skb(*this, skb.get(), "OTHERHOST");
      return;
    }
    const std::uint16_t type = eth->ethertype();
    skb_reset_mac_header(skb.get());
    skb_pull(skb.get(), ETH_HLEN);
    skb_reset_network_header(skb.get());
    skb->protocol = type;
    if (type == ETH_P_IP) {
      ip_rcv(*this, *impl_, std::move(skb));
      return;
    }
    auto it = impl_->ptypes.find(type);
    if (it == impl_->ptypes.end() || !it->second) {
      dev->stats.rx_dropped++;  // rx_nohandler
      trace_kfree_skb(*this, skb.get(), "UNHANDLED_PROTO");
      return;
    }
    it->second(std::move(skb));
    return;
  }
  // Raw IP (tun, script device): the version nibble says what it is.
  trace_netif_receive_skb(skb.get(), dev, skb->len);
  skb_reset_network_header(skb.get());
  if (skb->len >= 1 && (skb->data[0] >> 4) == 4) {
    skb->protocol = ETH_P_IP;
    ip_rcv(*this, *impl_, std::move(skb));
    return;
  }
  mib_.inc(MibId::IpInHdrErrors);
  trace_kfree_skb(*this, skb.get(), "IP_INHDR");
}

}  // namespace sp
