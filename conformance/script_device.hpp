// ScriptDevice: the runner's end of the wire, a raw-IP device like the tun
// device packetdrill uses. The stack transmits into it (each skb, TSO skbs
// whole, is decoded and queued with the virtual time it left); the runner
// injects the script's inbound packets, which the stack receives on its
// next poll.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

#include "core/clock.hpp"
#include "dev/net_device.hpp"
#include "packet.hpp"

namespace sp::drill {

class ScriptDevice final : public NetDevice {
 public:
  struct Config {
    std::uint32_t mtu = 1500;
    bool tso = true;                // off with --strict_segments: segments are checked one by one
    std::uint16_t rx_gso_size = 0;  // --mss: inbound packets above this are GRO skbs
  };
  ScriptDevice(const Clock& clock, const Config& cfg);

  NetdevTx xmit(SkbPtr skb) override;
  int poll(int budget) override;

  // Queues raw IPv4 bytes for the stack to receive.
  void inject(const std::vector<std::uint8_t>& ip_packet);

  // "pfifo limit 0": refuse (drop) every transmit, so the stack sees a
  // local drop (NET_XMIT_DROP) instead of a sent packet.
  void set_drop_all(bool on) { drop_all_ = on; }
  // "fq": a pacing qdisc in the EDT model (sch_fq with TCP's skb->tstamp):
  // each packet leaves at its earliest departure time, in order, and the
  // first packet of a socket switches the socket to SK_PACING_FQ so TCP
  // stamps departure times. Turning it off releases what is held.
  void set_fq(bool on);
  // `ethtool -K tun0 tso off`: the stack segments in software before xmit.
  void set_offloads(bool on);
  // When the next held packet is due (Stack::kNoTimer if none).
  Nanos next_release() const;
  std::uint64_t refused() const { return refused_; }

  // Packets the stack sent, oldest first, with their departure times.
  std::deque<WirePacket>& sent() { return sent_; }
  // Frames the device could not decode (counted, described in `bad_`).
  const std::vector<std::string>& undecodable() const { return bad_; }

 private:
  const Clock& clock_;
  Config cfg_;
  std::deque<SkbPtr> rx_;
  std::deque<WirePacket> sent_;
  std::vector<std::string> bad_;
  bool drop_all_ = false;
  bool fq_ = false;
  struct Held {
    SkbPtr skb;
    Nanos due;
  };
  std::deque<Held> held_;
  void emit(SkbPtr skb);
  std::uint64_t refused_ = 0;
};

}  // namespace sp::drill
