// SimLink: an in-memory point-to-point Ethernet link between two devices
// (usually in two Stacks), on virtual time. Each direction has a rate
// (serialisation delay of the bytes on the wire, Ethernet preamble, FCS and
// inter-frame gap included), a propagation delay, jitter, random loss,
// reordering, duplication and a drop-tail queue in front of the wire. Every
// random choice comes from a seeded SimRng, so a run repeats bit for bit.
//
// The ends advertise NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO as
// virtio-net does, so 64 KiB TSO skbs reach the link. By default the link
// segments them before queuing (loss, queueing and serialisation then act
// per MSS segment, as on a real wire); with `tso_passthrough` a TSO skb
// crosses as one unit and arrives whole (no wire segmentation at all: not
// what GRO does, which is the receiver's job, below).
//
// The receive side of each end models a NIC with interrupt moderation and
// NAPI: with `rx_coalesce` > 0 the "interrupt" is raised that long after the
// first frame reaches an empty ring (ethtool -C rx-usecs), and one poll then
// takes up to the NAPI budget (64) of the frames waiting; with 0 a poll
// takes the frames that arrived at the same instant. With `gro` each poll
// runs the frames through GroList (ip/gro.hpp) and flushes it when the poll
// ends (napi_complete_done), so in-order segments of a flow that arrive in
// one poll reach the stack as one skb.
//
// The sender's skb is freed -- running its destructor, which is how TCP
// small queues learn the bytes left the host -- when its last bit has been
// serialised, not when it arrives. What propagates is a private linear copy
// of the frame with its checksum filled in (the device's checksum offload).
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/clock.hpp"
#include "dev/net_device.hpp"
#include "dev/sim_rng.hpp"
#include "ip/gro.hpp"

namespace sp {

// One direction of the link.
struct SimPathConfig {
  std::uint64_t rate_bps = 1'000'000'000;  // 0: no serialisation delay
  Nanos delay = 10 * kNsPerMs;             // one-way propagation
  Nanos jitter = 0;                        // extra delay uniform in [0, jitter]; never reorders
  double loss = 0;                         // probability a frame is lost on the wire
  double reorder = 0;                      // probability a frame is held back...
  Nanos reorder_delay = 1 * kNsPerMs;      // ...by this much, letting later ones pass
  double dup = 0;                          // probability a frame arrives twice
  std::uint32_t queue_limit = 1000;        // frames waiting for the wire (drop-tail)
};

struct SimLinkConfig {
  SimPathConfig a_to_b;
  SimPathConfig b_to_a;
  std::uint32_t mtu = 1500;
  bool tso = true;               // advertise NETIF_F_TSO
  bool sg = true;                // advertise NETIF_F_SG
  bool csum_offload = true;      // advertise NETIF_F_HW_CSUM
  bool tso_passthrough = false;  // a TSO skb crosses whole, unsegmented
  bool gro = false;              // receive side: GRO per NAPI poll (GroList)
  Nanos rx_coalesce = 0;         // receive interrupt delay after the first frame (rx-usecs)
  bool rx_csum_verified = true;  // arriving frames are CHECKSUM_UNNECESSARY (NETIF_F_RXCSUM)
  std::uint64_t seed = 1;
};

struct SimPathStats {
  std::uint64_t frames_in = 0;    // frames handed to the link (after segmentation)
  std::uint64_t frames_sent = 0;  // serialised onto the wire
  std::uint64_t bytes_sent = 0;   // frame bytes serialised (without wire overhead)
  std::uint64_t queue_drops = 0;  // tail drops: queue full
  std::uint64_t loss_drops = 0;   // lost on the wire
  std::uint64_t reordered = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t delivered = 0;      // frames handed to the receiving device
  std::uint64_t gso_segmented = 0;  // TSO skbs the link segmented
  std::uint32_t max_queue = 0;      // deepest queue seen
};

class SimLink;

// One end of the link: a NetDevice registered with a Stack.
class SimLinkEnd final : public NetDevice {
 public:
  ~SimLinkEnd() override;
  NetdevTx xmit(SkbPtr skb) override;
  int poll(int budget) override;
  std::size_t rx_pending() const { return rxq_.size(); }
  // The end's GRO stage, when the link has `gro` (else nullptr).
  const GroList* gro() const { return gro_.get(); }
  std::uint64_t napi_polls() const { return napi_polls_; }  // polls that delivered frames

 private:
  friend class SimLink;
  SimLinkEnd(SimLink* link, int side);
  SimLink* link_;
  int side_;  // 0 = a, 1 = b
  std::deque<SkbPtr> rxq_;
  std::unique_ptr<GroList> gro_;
  Nanos irq_at_ = ~Nanos{0};  // when a poll may take the frames in rxq_
  std::uint64_t napi_polls_ = 0;
};

class SimLink {
 public:
  SimLink(Clock& clock, const SimLinkConfig& cfg);
  ~SimLink();
  SimLink(const SimLink&) = delete;
  SimLink& operator=(const SimLink&) = delete;

  // The two devices, to be registered with stacks (ownership passes to the
  // caller; each may be taken once). MAC addresses are set from `mac_a`/`mac_b`.
  std::unique_ptr<SimLinkEnd> take_end_a(const std::array<std::uint8_t, 6>& mac);
  std::unique_ptr<SimLinkEnd> take_end_b(const std::array<std::uint8_t, 6>& mac);

  // Earliest time something happens on the link (a frame finishes
  // serialising or arrives), or ~0 when it is idle.
  Nanos next_event() const;
  // Process every event due at or before now(); returns how many.
  int advance();
  // Free every queued and in-flight frame (their destructors run).
  void flush();

  const SimLinkConfig& config() const { return cfg_; }
  SimPathConfig& path(int dir) { return dirs_[dir].cfg; }  // 0: a->b, 1: b->a
  const SimPathStats& stats(int dir) const { return dirs_[dir].stats; }
  // An end while its device exists (0: a, 1: b), else nullptr.
  const SimLinkEnd* end(int side) const { return ends_[side]; }
  // Serialisation time of a frame of len bytes (plus wire overhead) at the
  // direction's rate, exact to the nanosecond over many frames.
  static Nanos serialisation_ns(std::uint64_t wire_bytes, std::uint64_t rate_bps,
                                std::uint64_t* remainder);

 private:
  friend class SimLinkEnd;
  struct InFlight {
    Nanos at;
    std::uint64_t order;
    SkBuff* skb;  // owned: freed through SkbPtr on pop
  };
  struct Later {
    bool operator()(const InFlight& x, const InFlight& y) const {
      return x.at != y.at ? x.at > y.at : x.order > y.order;
    }
  };
  struct Dir {
    SimPathConfig cfg;
    SimRng rng;
    std::deque<SkbPtr> txq;  // front is on the wire while busy
    bool busy = false;
    Nanos tx_done = 0;
    std::uint64_t ser_rem = 0;       // fractional ns carried between frames
    Nanos last_arrival = 0;          // jitter keeps arrivals in order
    std::vector<InFlight> inflight;  // min-heap on (at, order)
    SimPathStats stats;
  };

  NetdevTx xmit(int side, SkbPtr skb);
  void enqueue(Dir& d, SkbPtr skb);
  void start_next(Dir& d, Nanos start);
  void complete_head(int dir);
  void launch(Dir& d, SkbPtr wire, Nanos now);
  std::uint64_t wire_bytes(const SkBuff* skb) const;
  std::unique_ptr<SimLinkEnd> take_end(int side, const std::array<std::uint8_t, 6>& mac);

  Clock& clock_;
  SimLinkConfig cfg_;
  Dir dirs_[2];
  SimLinkEnd* ends_[2] = {nullptr, nullptr};
  bool taken_[2] = {false, false};
  std::uint64_t order_ = 0;
};

}  // namespace sp
