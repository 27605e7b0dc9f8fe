// AckSink: consume frames, answer each with an ACK.
#include "harness/ack_sink.hpp"

#include <cstring>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace sp {

namespace {
constexpr std::uint32_t kHeadroom = 64;    // NET_SKB_PAD-ish, as SimLink leaves
constexpr std::uint8_t kWscale = 14;       // the largest (RFC 7323 section 2.3)
constexpr std::uint16_t kWindow = 0xffff;  // << 14: a window that never limits

// The TCP checksum of a segment whose header+payload is seg[0..len), over
// the pseudo header of saddr/daddr as they sit on the wire.
std::uint16_t tcp_checksum(const std::uint8_t* saddr, const std::uint8_t* daddr,
                           const std::uint8_t* seg, std::uint32_t len) {
  std::uint8_t pseudo[12];
  std::memcpy(pseudo, saddr, 4);
  std::memcpy(pseudo + 4, daddr, 4);
  pseudo[8] = 0;
  pseudo[9] = 6;  // IPPROTO_TCP
  store_be16(pseudo + 10, static_cast<std::uint16_t>(len));
  return csum_fold(csum_partial(seg, len, csum_partial(pseudo, sizeof pseudo, 0)));
}
}  // namespace

AckSink::AckSink(std::uint64_t feats) {
  name = "sink0";
  features = feats;
  dev_addr = {0x02, 0x00, 0x00, 0x00, 0x5e, 0x01};
}

NetdevTx AckSink::xmit(SkbPtr skb) {
  st_.frames++;
  stats.tx_packets++;
  stats.tx_bytes += skb->len;
  // Headers are linear: tcp_transmit_skb and ip_queue_xmit pushed them.
  const std::uint8_t* f = skb->data;
  if (skb_headlen(skb.get()) < ETH_HLEN + kIpv4MinHeaderLen + kTcpMinHeaderLen ||
      load_be16(f + 12) != 0x0800 || f[ETH_HLEN + 9] != 6)
    return NETDEV_TX_OK;  // not TCP/IPv4: consumed, unanswered
  const std::uint32_t ihl = (f[ETH_HLEN] & 15u) * 4;
  const std::uint8_t* th = f + ETH_HLEN + ihl;
  const std::uint32_t thl = (th[12] >> 4) * 4u;
  const std::uint32_t payload = skb->len - ETH_HLEN - ihl - thl;
  const std::uint8_t flags = th[kTcpFlagsOffset];
  if (flags & TCPHDR_RST) return NETDEV_TX_OK;
  const std::uint32_t seq = load_be32(th + kTcpSeqOffset);
  const bool syn = flags & TCPHDR_SYN;
  if (syn) {
    std::memcpy(syn_hdr_.data(), f, ETH_HLEN + kIpv4MinHeaderLen);
    std::memcpy(syn_hdr_.data() + ETH_HLEN + kIpv4MinHeaderLen, th, 4);
    have_syn_ = true;
  }
  if (!have_syn_) return NETDEV_TX_OK;
  TcpOptions in{};
  tcp_parse_options({th + kTcpMinHeaderLen, thl - kTcpMinHeaderLen}, &in);
  st_.payload_bytes += payload;
  last_ts_val_ = in.ts_val;
  if (!auto_ack_ && !syn) {
    sent_.push_back({seq, seq + payload + ((flags & TCPHDR_FIN) ? 1u : 0u)});
    return NETDEV_TX_OK;
  }
  owed_.push_back({seq + payload + (syn ? 1u : 0u) + ((flags & TCPHDR_FIN) ? 1u : 0u), in.ts_val,
                   in.saw_tstamp, syn});
  return NETDEV_TX_OK;  // skb freed here: its destructor runs (TSQ)
}

SkbPtr AckSink::build_reply(const Owed& o) {
  // Cumulative: never move the ACK backwards (a retransmission). acked_
  // counts in 64 bits: sequence numbers wrap every 4 GiB.
  if (o.syn) {
    ack_seq_ = o.end_seq;
  } else if (static_cast<std::int32_t>(o.end_seq - ack_seq_) > 0) {
    acked_ += o.end_seq - ack_seq_;
    ack_seq_ = o.end_seq;
  }

  TcpOptions out{};
  if (o.saw_tstamp) {
    out.saw_tstamp = true;
    out.ts_val = ts_val_++;
    out.ts_ecr = o.ts_val;
  }
  if (o.sack_start != o.sack_end) {
    out.num_sacks = 1;
    out.sacks[0] = {o.sack_start, o.sack_end};
  }
  if (o.syn) {
    out.mss = 1460;
    out.sack_ok = true;
    out.wscale_ok = true;
    out.wscale = kWscale;
  }
  const std::uint32_t optlen = tcp_options_size(out);
  const std::uint32_t tcplen = kTcpMinHeaderLen + optlen;
  const std::uint32_t len = ETH_HLEN + kIpv4MinHeaderLen + tcplen;
  SkbPtr r = alloc_skb_with_headroom(kHeadroom, len);
  if (!r) return r;  // pools exhausted: the sender retransmits, as after a loss
  std::uint8_t* p = skb_put(r.get(), len);
  const std::uint8_t* f = syn_hdr_.data();
  EthernetRepr eth;
  std::memcpy(eth.dst.data(), f + 6, 6);
  std::memcpy(eth.src.data(), f, 6);
  eth.ethertype = 0x0800;
  eth.emit(p);
  Ipv4Repr ip;
  ip.protocol = 6;
  ip.saddr = load_be32(f + ETH_HLEN + 16);
  ip.daddr = load_be32(f + ETH_HLEN + 12);
  ip.payload_len = static_cast<std::uint16_t>(tcplen);
  std::uint8_t* iph = p + ETH_HLEN;
  ip.emit(iph);
  const std::uint8_t* ports = f + ETH_HLEN + kIpv4MinHeaderLen;
  TcpHeader h;
  h.source = load_be16(ports + 2);
  h.dest = load_be16(ports);
  h.seq = o.syn ? kIss : kIss + 1;
  h.ack_seq = ack_seq_;
  h.flags = static_cast<std::uint8_t>(TCPHDR_ACK | (o.syn ? TCPHDR_SYN : 0));
  h.window = o.syn ? 0xffff : kWindow;  // a SYN's window is never scaled
  std::uint8_t* oth = iph + kIpv4MinHeaderLen;
  tcp_header_write(oth, h, static_cast<std::uint8_t>(tcplen / 4));
  tcp_options_write(oth + kTcpMinHeaderLen, out);
  store_be16(oth + kTcpCheckOffset, tcp_checksum(iph + 12, iph + 16, oth, tcplen));
  r->ip_summed =
      (features & NETIF_F_RXCSUM) ? IpSummed::CHECKSUM_UNNECESSARY : IpSummed::CHECKSUM_NONE;
  st_.acks++;
  return r;
}

void AckSink::inject_ack(std::uint32_t ack_seq, std::uint32_t sack_start, std::uint32_t sack_end) {
  Owed o{ack_seq, last_ts_val_, true, false};
  o.sack_start = sack_start;
  o.sack_end = sack_end;
  owed_.push_back(o);
}

int AckSink::poll(int budget) {
  int n = 0;
  while (n < budget && !owed_.empty()) {
    const Owed o = owed_.front();
    owed_.pop_front();
    ++n;
    SkbPtr skb = build_reply(o);
    if (!skb) continue;
    stats.rx_packets++;
    stats.rx_bytes += skb->len;
    if (rx_handler) rx_handler(std::move(skb));
  }
  return n;
}

}  // namespace sp
