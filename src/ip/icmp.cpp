#include "ip/icmp.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"

namespace sp {

namespace {

constexpr std::uint8_t IPPROTO_ICMP_ = 1;
// Room for the IPv4 and link headers the reply will get pushed in front.
constexpr std::uint32_t kReplyHeadroom = 128;
// RFC 791's minimum MTU: a frag-needed claiming less is a forgery or a bug.
constexpr std::uint32_t kMinIpv4Mtu = 68;

// icmp_reply for an echo: same id, sequence and data, addresses swapped.
void icmp_echo(Stack& stack, const SkBuff* req, const IcmpView& echo) {
  const std::uint8_t* iph = skb_network_header(req);
  be32 req_saddr, req_daddr;
  std::memcpy(&req_saddr, iph + 12, 4);
  std::memcpy(&req_daddr, iph + 16, 4);
  // icmp_echo_ignore_broadcasts = 1: only echoes to one of our unicast
  // addresses are answered.
  if (!stack.is_local_address(req_daddr)) return;

  IcmpRepr rep;
  rep.type = ICMP_ECHOREPLY;
  rep.code = 0;
  rep.rest = echo.rest();
  rep.payload = echo.payload();
  SkbPtr skb = alloc_skb_with_headroom(kReplyHeadroom, static_cast<std::uint32_t>(rep.len()));
  if (!skb) return;
  skb_reset_transport_header(skb.get());
  rep.emit(skb_put(skb.get(), static_cast<std::uint32_t>(rep.len())));

  IpXmitParams p;
  p.saddr = req_daddr;
  p.daddr = req_saddr;
  p.protocol = IPPROTO_ICMP_;
  p.ttl = static_cast<std::uint8_t>(stack.sysctl().ip_default_ttl);
  p.tos = iph[1];
  p.df = false;
  stack.mib().inc(MibId::IcmpOutMsgs);
  stack.mib().inc(MibId::IcmpOutEchoReps);
  stack.ip_queue_xmit(std::move(skb), p);
}

// icmp_unreach and friends: hand the error to the protocol that sent the
// quoted packet.
void icmp_error(Stack& stack, const IcmpView& icmp) {
  auto quote = icmp_parse_quote(icmp.payload());
  if (!quote) {
    stack.mib().inc(MibId::IcmpInErrors);
    return;
  }
  // Only packets we sent can be quoted back to us.
  if (!stack.is_local_address(htonl(quote->saddr))) return;

  std::uint32_t info = 0;
  if (icmp.type() == ICMP_DEST_UNREACH && icmp.code() == ICMP_FRAG_NEEDED) {
    info = icmp.next_hop_mtu();
    // ip_no_pmtu_disc: the administrator asked not to believe these.
    if (stack.sysctl().ip_no_pmtu_disc) return;
    if (info < kMinIpv4Mtu) return;
    stack.update_pmtu(htonl(quote->daddr), info);
  } else if (icmp.type() == ICMP_PARAMETERPROB) {
    info = icmp.rest() >> 24;  // pointer to the offending octet
  }

  // The err handler's contract: skb->data at the quoted IPv4 header,
  // followed by at least 8 bytes of the transport header.
  const auto q = icmp.payload();
  SkbPtr qskb = alloc_skb(static_cast<std::uint32_t>(q.size()));
  if (!qskb) return;
  std::memcpy(skb_put(qskb.get(), static_cast<std::uint32_t>(q.size())), q.data(), q.size());
  skb_reset_network_header(qskb.get());
  const std::uint32_t ihl = (q[0] & 0x0f) * 4u;
  qskb->transport_header = static_cast<std::uint16_t>(qskb->network_header + ihl);
  stack.deliver_icmp_error(quote->protocol, qskb.get(), icmp.type(), icmp.code(), info);
}

}  // namespace

void icmp_init(Stack& stack) {
  stack.register_protocol(IPPROTO_ICMP_, [&stack](SkbPtr skb) { icmp_rcv(stack, std::move(skb)); });
}

void icmp_rcv(Stack& stack, SkbPtr skb) {
  Mib& mib = stack.mib();
  mib.inc(MibId::IcmpInMsgs);
  // ICMP is not the hot path: work on a flat copy when the skb is paged.
  std::vector<std::uint8_t> flat;
  const std::uint8_t* p = skb->data;
  if (skb_is_nonlinear(skb.get())) {
    flat.resize(skb->len);
    if (skb_copy_bits(skb.get(), 0, flat.data(), skb->len) != 0) {
      mib.inc(MibId::IcmpInErrors);
      return;
    }
    p = flat.data();
  }
  auto icmp = IcmpView::parse({p, skb->len});
  if (!icmp) {
    mib.inc(MibId::IcmpInErrors);
    return;
  }
  if (skb->ip_summed != IpSummed::CHECKSUM_UNNECESSARY && !icmp->verify_checksum()) {
    mib.inc(MibId::IcmpInErrors);
    return;
  }
  switch (icmp->type()) {
    case ICMP_ECHO:
      mib.inc(MibId::IcmpInEchos);
      icmp_echo(stack, skb.get(), *icmp);
      break;
    case ICMP_DEST_UNREACH:
      mib.inc(MibId::IcmpInDestUnreachs);
      icmp_error(stack, *icmp);
      break;
    case ICMP_TIME_EXCEEDED:
    case ICMP_PARAMETERPROB:
      icmp_error(stack, *icmp);
      break;
    default:
      // Echo replies (we send no pings), redirects (we are a host with one
      // route per link), source quench (RFC 6633 deprecates it): ignored.
      break;
  }
}

}  // namespace sp
