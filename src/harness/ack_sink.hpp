// AckSink: a device that is the far end of TCP connections reduced to what
// the sender needs -- the send path measured alone (`sendpath bench`, figure
// send_path). xmit() consumes each frame at once (the skb is freed, so TCP
// small queues see it leave) and queues one pure ACK covering it, which
// poll() hands to the stack's receive path. There is no link model, no
// payload copy and no receiver: what costs CPU is the sender's stack.
//
// It answers a SYN with a SYN-ACK (MSS 1460, SACK-permitted, timestamps,
// window scale 14, so the offered window never limits), and every later
// segment with an ACK of its end_seq carrying the echoed timestamp. The
// ACK's checksums are correct; with NETIF_F_RXCSUM it is marked
// CHECKSUM_UNNECESSARY as a NIC would, otherwise the stack verifies it.
#pragma once
#include <array>
#include <cstdint>
#include <deque>

#include "dev/net_device.hpp"

namespace sp {

struct AckSinkStats {
  std::uint64_t frames = 0;         // frames xmit() consumed
  std::uint64_t payload_bytes = 0;  // TCP payload in them
  std::uint64_t acks = 0;           // ACKs (and SYN-ACKs) queued
};

class AckSink final : public NetDevice {
 public:
  // features: the NETIF_F_* bits to advertise (tso, csum offload).
  explicit AckSink(std::uint64_t features);
  NetdevTx xmit(SkbPtr skb) override;
  int poll(int budget) override;

  const AckSinkStats& sink_stats() const { return st_; }
  // Highest sequence number acknowledged so far, relative to the peer's ISN
  // plus one (the bytes of payload acknowledged, FIN counted).
  std::uint64_t acked() const { return acked_; }

 private:
  void queue_reply(const std::uint8_t* frame, std::uint32_t seq_end, bool syn);

  static constexpr std::uint32_t kIss = 0x10000000;
  std::deque<SkbPtr> rxq_;
  AckSinkStats st_;
  std::uint32_t their_isn_ = 0;
  std::uint32_t ack_seq_ = 0;
  std::uint64_t acked_ = 0;
  std::uint32_t ts_val_ = 1;
};

}  // namespace sp
