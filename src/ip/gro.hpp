// Generic receive offload for TCP over IPv4 on Ethernet frames, as Linux
// 6.12's dev_gro_receive / inet_gro_receive / tcp_gro_receive and the flush
// at the end of a NAPI poll (napi_complete_done -> napi_gro_flush with
// gro_flush_timeout 0): consecutive in-order segments of one flow that
// arrive in one poll leave as one skb whose gso_size is the segment size and
// gso_segs the count, so the stack sees (and ACKs) one packet for them.
//
// A held packet is flushed -- handed up -- when a segment of its flow does
// not continue it (a sequence gap, a different ACK, window, flags other than
// PSH/FIN/CWR or TCP options, a different TTL/TOS/DF, an IP ID that is
// neither incrementing nor fixed, a segment longer than the first one), when
// a segment carries PSH, URG, RST, SYN or FIN or is shorter than the first
// (the "last segment smaller than mss" rule), when 64 KiB would be reached
// (gro_max_size), when more than MAX_GRO_SKBS flows are held (the oldest
// goes), or when the poll ends. Frames that are not TCP/IPv4, carry IP
// options or fragments, or whose checksum was not verified by the device
// pass through unmerged; pure ACKs are never held.
//
// The merged skb is linear: the first frame's headers followed by every
// segment's payload, with the IPv4 total length and header checksum
// rewritten (inet_gro_complete), PSH/FIN ORed in, CHECKSUM_UNNECESSARY, and
// a truesize that is the sum of the merged frames' (as Linux's frag chaining
// gives), not the size of the copy's buffer.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "skb/skbuff.hpp"

namespace sp {

struct GroStats {
  std::uint64_t frames = 0;     // frames offered (napi_gro_receive calls)
  std::uint64_t merged = 0;     // frames appended to a held packet
  std::uint64_t held = 0;       // frames that started a held packet
  std::uint64_t passed = 0;     // frames handed up at once (not for GRO, or flush)
  std::uint64_t flushed = 0;    // held packets handed up
  std::uint64_t coalesced = 0;  // of those, packets of more than one segment
};

class GroList {
 public:
  using Deliver = std::function<void(SkbPtr)>;
  static constexpr std::size_t kMaxGroSkbs = 8;        // MAX_GRO_SKBS
  static constexpr std::uint32_t kGroMaxSize = 65536;  // GRO_LEGACY_MAX_SIZE

  explicit GroList(Deliver deliver) : deliver_(std::move(deliver)) {}
  ~GroList();
  GroList(const GroList&) = delete;
  GroList& operator=(const GroList&) = delete;

  // napi_gro_receive: merge the frame (data at the Ethernet header) into a
  // held packet of its flow, hold it, or hand it (and what it ends) up.
  void receive(SkbPtr skb);
  // napi_gro_flush: hand up every held packet, oldest first.
  void flush();
  std::size_t held() const { return held_.size(); }
  const GroStats& stats() const { return stats_; }

 private:
  struct Held {
    SkbPtr skb;                 // linear: headers of the first frame, then payloads
    std::uint32_t count = 0;    // segments in it (NAPI_GRO_CB(p)->count)
    std::uint32_t mss = 0;      // payload of the first segment (gso_size)
    std::uint32_t payload = 0;  // TCP payload bytes held
    bool fixed_id = false;      // the flow uses one IP ID with DF (ip_fixedid)
  };
  void complete(Held& h);  // inet_gro_complete + tcp_gro_complete, then deliver
  Deliver deliver_;
  std::vector<Held> held_;  // oldest first
  GroStats stats_;
};

}  // namespace sp
