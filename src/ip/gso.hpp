// Software segmentation and checksumming for devices that cannot do them
// (net/core/gso.c skb_gso_segment + net/ipv4/tcp_offload.c tcp_gso_segment,
// net/core/dev.c skb_checksum_help).
#pragma once
#include <cstdint>
#include <vector>

#include "skb/skbuff.hpp"
#include "wire/checksum.hpp"

namespace sp {

// Sum of len bytes of skb starting at offset from skb->data, linear part
// then frags (skb_checksum). Bytes outside the skb are not read: the caller
// keeps offset + len <= skb->len.
Wsum skb_checksum(const SkBuff* skb, std::uint32_t offset, std::uint32_t len, Wsum sum);

// skb_checksum_help: resolve CHECKSUM_PARTIAL in software. Sums from
// csum_start to the end, stores the folded result at csum_start +
// csum_offset and leaves ip_summed = CHECKSUM_NONE. Unshares a cloned
// header first. 0, or -ENOMEM / -EINVAL (offsets outside the skb).
int skb_checksum_help(SkBuff* skb);

// Does this skb need segmenting before a device with `features` can take it?
bool skb_needs_gso(const SkBuff* skb, std::uint64_t features);

// skb_gso_segment for TCPv4: splits a GSO skb (data at the MAC or network
// header, network_header and transport_header set, gso_size = MSS) into
// segments of gso_size payload bytes, each a complete packet: headers
// copied, IPv4 tot_len/id/check and TCP seq/flags/check fixed up (PSH and
// FIN only on the last, CWR only on the first). Payload in frags is shared
// (page references) when `features` has NETIF_F_SG, copied otherwise. The
// TCP checksum is left CHECKSUM_PARTIAL when `features` offloads it,
// computed otherwise. The original's socket and destructor move to the last
// segment (with its truesize), so TCP small queues release the bytes when
// the last of them leaves the device. Empty on failure (bad headers, no
// memory); the input is left untouched then.
std::vector<SkbPtr> skb_gso_segment(SkBuff* skb, std::uint64_t features);

}  // namespace sp
