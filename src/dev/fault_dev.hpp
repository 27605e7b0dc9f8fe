// FaultDevice: wraps a device and loses, duplicates and reorders frames on
// their way through it, in either direction, from a seeded generator -- the
// faults a lossy path would cause, brought to a real device (a tap to Linux)
// where no netem exists. Reordering swaps a frame with the next one that
// crosses in the same direction: on receive within one poll() batch, on
// transmit within one burst of xmit() calls; a frame held back is let go at
// the next poll() if nothing passed it. Nothing is held longer than that,
// so a fault never turns into a stall.
#pragma once
#include <cstdint>
#include <memory>

#include "dev/net_device.hpp"
#include "dev/sim_rng.hpp"

namespace sp {

struct FaultConfig {
  double loss = 0;     // probability a frame is dropped
  double dup = 0;      // probability a frame is delivered twice
  double reorder = 0;  // probability a frame is held back behind the next one
};

struct FaultStats {
  std::uint64_t frames = 0, lost = 0, duplicated = 0, reordered = 0;
};

class FaultDevice final : public NetDevice {
 public:
  FaultDevice(std::unique_ptr<NetDevice> lower, const FaultConfig& rx, const FaultConfig& tx,
              std::uint64_t seed);
  ~FaultDevice() override;

  NetdevTx xmit(SkbPtr skb) override;
  int poll(int budget) override;
  int wait_fd() const override { return lower_->wait_fd(); }
  bool carrier_ok() const override { return lower_->carrier_ok(); }
  bool gone() const override { return lower_->gone(); }

  NetDevice* lower() const { return lower_.get(); }
  const FaultStats& rx_stats() const { return rx_stats_; }
  const FaultStats& tx_stats() const { return tx_stats_; }

 private:
  void receive(SkbPtr skb);
  void deliver(SkbPtr skb);
  NetdevTx send(SkbPtr skb);

  std::unique_ptr<NetDevice> lower_;
  FaultConfig rx_, tx_;
  SimRng rng_;
  FaultStats rx_stats_, tx_stats_;
  SkbPtr rx_held_, tx_held_;
};

}  // namespace sp
