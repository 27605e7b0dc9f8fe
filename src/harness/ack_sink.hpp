// AckSink: a device that is the far end of TCP connections reduced to what
// the sender needs -- the send path measured alone (`sendpath bench`, figure
// send_path). xmit() consumes each frame at once (the skb is freed, so TCP
// small queues see it leave) and queues one pure ACK covering it, which
// poll() hands to the stack's receive path. There is no link model, no
// payload copy and no receiver: what costs CPU is the sender's stack.
//
// The ACK is built when poll() delivers it, not when the frame is consumed:
// xmit() notes the frame's end_seq and timestamp in a small ring, so a
// window's worth of ACKs waiting for the next poll is a few kilobytes, not
// thousands of cold skbs. One connection per sink (the addresses of the
// ACKs are the SYN's).
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
#include <vector>

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

  // Off: data frames are recorded (sent()) and left unanswered; ACKs come
  // only from inject_ack(). The SYN is answered either way.
  void set_auto_ack(bool on) { auto_ack_ = on; }
  struct Segment {
    std::uint32_t seq, end_seq;
  };
  const std::vector<Segment>& sent() const { return sent_; }
  // Queue an ACK of ack_seq carrying one SACK block [sack_start, sack_end)
  // (none when they are equal), delivered by the next poll().
  void inject_ack(std::uint32_t ack_seq, std::uint32_t sack_start, std::uint32_t sack_end);
  // Bytes acknowledged after the SYN (payload, and the FIN if one came).
  std::uint64_t acked() const { return acked_; }

 private:
  // What an ACK needs of the frame it answers.
  struct Owed {
    std::uint32_t end_seq;
    std::uint32_t ts_val;  // to echo
    bool saw_tstamp;
    bool syn;
    std::uint32_t sack_start = 0, sack_end = 0;  // one SACK block when they differ
  };
  SkbPtr build_reply(const Owed& o);

  static constexpr std::uint32_t kIss = 0x10000000;
  std::deque<Owed> owed_;
  // The SYN's Ethernet, IPv4 and port bytes: the ACKs' addresses, reversed.
  std::array<std::uint8_t, 38> syn_hdr_{};
  bool have_syn_ = false;
  bool auto_ack_ = true;
  std::vector<Segment> sent_;
  std::uint32_t last_ts_val_ = 0;
  AckSinkStats st_;
  std::uint32_t ack_seq_ = 0;
  std::uint64_t acked_ = 0;
  std::uint32_t ts_val_ = 1;
};

}  // namespace sp
