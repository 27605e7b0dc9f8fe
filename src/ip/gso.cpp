// Software GSO for TCPv4 and software checksum completion.
#include "ip/gso.hpp"

#include <cerrno>
#include <cstring>

#include "dev/net_device.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace sp {

namespace {

// Walk the bytes [offset, offset + len) of skb (offset from skb->data) piece
// by contiguous piece, the linear part first and then the frags in order:
// visit(data, n, frag, frag_off) gets each piece, frag == nullptr for the
// linear part, and stops the walk by returning false. Returns the bytes the
// walk did not reach (the skb is shorter, or visit stopped it).
template <typename Visit>
std::uint32_t skb_walk_range(const SkBuff* skb, std::uint32_t offset, std::uint32_t len,
                             Visit&& visit) {
  const std::uint32_t headlen = skb_headlen(skb);
  if (offset < headlen) {
    const std::uint32_t n = std::min(len, headlen - offset);
    if (!visit(skb->data + offset, n, nullptr, 0u)) return len;
    len -= n;
    offset = 0;
  } else {
    offset -= headlen;
  }
  const SkbSharedInfo* sh = skb_shinfo(skb);
  for (int i = 0; i < sh->nr_frags && len; ++i) {
    const SkbFrag& f = sh->frags[i];
    if (offset >= f.size) {
      offset -= f.size;
      continue;
    }
    const std::uint32_t n = std::min(len, f.size - offset);
    if (!visit(skb_frag_address(&f) + offset, n, &f, offset)) return len;
    len -= n;
    offset = 0;
  }
  return len;
}

}  // namespace

Wsum skb_checksum(const SkBuff* skb, std::uint32_t offset, std::uint32_t len, Wsum sum) {
  // `pos` is the offset of the next byte within the summed range: a block
  // starting at an odd position is rotated back onto the word grid.
  std::uint32_t pos = 0;
  skb_walk_range(skb, offset, len,
                 [&](const std::uint8_t* p, std::uint32_t n, const SkbFrag* frag, std::uint32_t) {
                   sum = frag ? csum_block_add(sum, csum_partial(p, n, 0), pos)
                              : csum_partial(p, n, sum);
                   pos += n;
                   return true;
                 });
  return sum;
}

int skb_checksum_help(SkBuff* skb) {
  if (skb->ip_summed != IpSummed::CHECKSUM_PARTIAL) return 0;
  const std::uint32_t data_off = skb_headroom(skb);
  if (skb->csum_start < data_off) return -EINVAL;
  const std::uint32_t start = skb->csum_start - data_off;  // from skb->data
  if (start > skb->len || start + skb->csum_offset + 2u > skb_headlen(skb)) return -EINVAL;
  // The field is written into the header area; a clone shares it.
  if (skb_header_cloned(skb)) {
    const std::uint16_t cs = skb->csum_start, co = skb->csum_offset;
    if (pskb_expand_head(skb, 0, 0) != 0) return -ENOMEM;
    // Offsets are from head; the new head keeps the same headroom.
    skb->csum_start = cs;
    skb->csum_offset = co;
  }
  std::uint8_t* field = skb->data + start + skb->csum_offset;
  // The field holds the pseudo-header sum; summing over it folds it in.
  const Wsum sum = skb_checksum(skb, start, skb->len - start, 0);
  std::uint16_t check = csum_fold(sum);
  // RFC 768/9293: a computed zero is sent as all ones only for UDP; TCP
  // sends 0 as is, so no CSUM_MANGLED_0 fix-up here.
  store_be16(field, check);
  skb->ip_summed = IpSummed::CHECKSUM_NONE;
  return 0;
}

bool skb_needs_gso(const SkBuff* skb, std::uint64_t features) {
  const SkbSharedInfo* sh = skb_shinfo(skb);
  if (!sh->gso_size || !(sh->gso_type & SKB_GSO_TCPV4)) return false;
  // netif_needs_gso: TSO needs SG and checksum offload too (netdev_fix_features).
  const bool can_tso = (features & NETIF_F_TSO) && (features & NETIF_F_SG) &&
                       (features & (NETIF_F_HW_CSUM | NETIF_F_IP_CSUM));
  return !can_tso;
}

namespace {

// Append `len` bytes of `src` from `offset` (relative to src->data) to the
// end of `dst`: bytes in the linear part are copied into dst's tailroom;
// bytes in frags become frag references when `share` (and a frag slot is
// free), copies otherwise. false when dst runs out of room. With `csum`,
// the bytes appended are also summed into *csum (from its first byte, on
// the word grid of the appended range): while copying, in the same pass
// (skb_segment's skb_copy_and_csum_bits when the device can neither
// scatter nor checksum), so the payload is read once.
bool append_payload(SkBuff* dst, const SkBuff* src, std::uint32_t offset, std::uint32_t len,
                    bool share, Wsum* csum = nullptr) {
  bool ok = true;
  std::uint32_t pos = 0;
  const std::uint32_t left = skb_walk_range(
      src, offset, len,
      [&](const std::uint8_t* p, std::uint32_t n, const SkbFrag* frag, std::uint32_t frag_off) {
        SkbSharedInfo* dsh = skb_shinfo(dst);
        if (frag && share && dsh->nr_frags < MAX_SKB_FRAGS) {
          get_page(frag->page);
          skb_fill_page_desc(dst, dsh->nr_frags, frag->page, frag->offset + frag_off, n);
          dst->len += n;
          dst->data_len += n;
          if (csum) *csum = csum_block_add(*csum, csum_partial(p, n, 0), pos);
          pos += n;
          return true;
        }
        if (skb_is_nonlinear(dst) || skb_tailroom(dst) < n) return ok = false;
        if (csum)
          *csum = csum_block_add(*csum, csum_partial_copy(skb_put(dst, n), p, n, 0), pos);
        else
          std::memcpy(skb_put(dst, n), p, n);
        pos += n;
        return true;
      });
  return ok && left == 0;
}

}  // namespace

std::vector<SkbPtr> skb_gso_segment(SkBuff* skb, std::uint64_t features) {
  std::vector<SkbPtr> segs;
  const SkbSharedInfo* sh = skb_shinfo(skb);
  const std::uint32_t mss = sh->gso_size;
  const std::uint32_t data_off = skb_headroom(skb);
  if (!mss || skb->network_header == 0xffff || skb->transport_header == 0xffff ||
      skb->network_header < data_off || skb->transport_header < skb->network_header)
    return segs;
  const std::uint32_t nh = skb->network_header - data_off;    // from data
  const std::uint32_t th = skb->transport_header - data_off;  // from data
  if (th + kTcpMinHeaderLen > skb_headlen(skb)) return segs;
  const std::uint32_t thlen = static_cast<std::uint32_t>(skb->data[th + 12] >> 4) * 4u;
  const std::uint32_t hdr_len = th + thlen;  // link + IP + TCP headers
  if (thlen < kTcpMinHeaderLen || hdr_len > skb_headlen(skb) || skb->len <= hdr_len ||
      th - nh < kIpv4MinHeaderLen)
    return segs;

  const bool sg = features & NETIF_F_SG;
  const bool hw_csum = features & (NETIF_F_HW_CSUM | NETIF_F_IP_CSUM);
  const std::uint8_t* ip0 = skb->data + nh;
  const std::uint16_t id0 = load_be16(ip0 + kIpv4IdOffset);
  const Ipv4Addr saddr = load_be32(ip0 + 12);
  const Ipv4Addr daddr = load_be32(ip0 + 16);
  const std::uint32_t seq0 = load_be32(skb->data + th + kTcpSeqOffset);
  const std::uint8_t flags0 = skb->data[th + kTcpFlagsOffset];
  const std::uint32_t payload = skb->len - hdr_len;
  const std::uint32_t nsegs = (payload + mss - 1) / mss;
  const std::uint32_t headroom = skb_headroom(skb);

  segs.reserve(nsegs);
  for (std::uint32_t i = 0; i < nsegs; ++i) {
    const std::uint32_t off = i * mss;
    const std::uint32_t seglen = std::min(mss, payload - off);
    // With SG, payload in the source's frags is shared and only what sits
    // in its linear part is copied; without SG everything is copied. A
    // segment whose slices would not fit in MAX_SKB_FRAGS is copied too.
    const std::uint32_t start = hdr_len + off;
    const std::uint32_t in_head =
        start < skb_headlen(skb) ? std::min(seglen, skb_headlen(skb) - start) : 0;
    SkbPtr seg = alloc_skb_with_headroom(headroom, hdr_len + (sg ? in_head : seglen));
    if (!seg) {
      segs.clear();
      return segs;
    }
    std::memcpy(skb_put(seg.get(), hdr_len), skb->data, hdr_len);
    // Without checksum offload the payload's sum is taken as it is copied.
    Wsum payload_csum = 0;
    Wsum* want_csum = hw_csum ? nullptr : &payload_csum;
    if (!append_payload(seg.get(), skb, start, seglen, sg, want_csum)) {
      seg = alloc_skb_with_headroom(headroom, hdr_len + seglen);
      if (!seg) {
        segs.clear();
        return segs;
      }
      std::memcpy(skb_put(seg.get(), hdr_len), skb->data, hdr_len);
      payload_csum = 0;
      if (!append_payload(seg.get(), skb, start, seglen, false, want_csum)) {
        segs.clear();
        return segs;
      }
    }
    const std::uint32_t seg_off = skb_headroom(seg.get());
    seg->mac_header = skb->mac_header == 0xffff || skb->mac_header < data_off
                          ? 0xffff
                          : static_cast<std::uint16_t>(skb->mac_header - data_off + seg_off);
    seg->network_header = static_cast<std::uint16_t>(nh + seg_off);
    seg->transport_header = static_cast<std::uint16_t>(th + seg_off);
    seg->protocol = skb->protocol;
    seg->mark = skb->mark;
    seg->tstamp = skb->tstamp;
    seg->ifindex = skb->ifindex;
    if (skb_is_nonlinear(seg.get())) skb_zerocopy_clone(seg.get(), skb);

    std::uint8_t* iph = seg->data + nh;
    store_be16(iph + kIpv4TotLenOffset, static_cast<std::uint16_t>(hdr_len - nh + seglen));
    store_be16(iph + kIpv4IdOffset, static_cast<std::uint16_t>(id0 + i));
    ip_send_check(iph);

    std::uint8_t* tcph = seg->data + th;
    store_be32(tcph + kTcpSeqOffset, seq0 + off);
    std::uint8_t flags = flags0;
    if (i != 0) flags &= static_cast<std::uint8_t>(~TCPHDR_CWR);
    if (i != nsegs - 1) flags &= static_cast<std::uint8_t>(~(TCPHDR_PSH | TCPHDR_FIN));
    tcph[kTcpFlagsOffset] = flags;

    const std::uint32_t tcp_len = thlen + seglen;
    if (hw_csum) {
      store_be16(tcph + kTcpCheckOffset, tcp_v4_pseudo_check(tcp_len, saddr, daddr));
      seg->ip_summed = IpSummed::CHECKSUM_PARTIAL;
      seg->csum_start = static_cast<std::uint16_t>(seg->transport_header);
      seg->csum_offset = kTcpCheckOffset;
    } else {
      // gso_make_checksum: the header's sum plus the payload's, taken
      // while copying it; thlen is a whole number of words, so the payload
      // sum needs no rotation.
      store_be16(tcph + kTcpCheckOffset, 0);
      const Wsum s = csum_block_add(csum_partial(tcph, thlen, 0), payload_csum, thlen);
      store_be16(tcph + kTcpCheckOffset, tcp_v4_check(tcp_len, saddr, daddr, s));
      seg->ip_summed = IpSummed::CHECKSUM_NONE;
    }
    segs.push_back(std::move(seg));
  }
  // The socket's memory charge travels with the last segment.
  SkBuff* last = segs.back().get();
  last->sk = skb->sk;
  last->destructor = skb->destructor;
  last->truesize = skb->truesize;
  skb->sk = nullptr;
  skb->destructor = nullptr;
  return segs;
}

}  // namespace sp
