#include "dev/fault_dev.hpp"

#include <utility>

namespace sp {

FaultDevice::FaultDevice(std::unique_ptr<NetDevice> lower, const FaultConfig& rx,
                         const FaultConfig& tx, std::uint64_t seed)
    : lower_(std::move(lower)), rx_(rx), tx_(tx), rng_(seed) {
  copy_identity(*lower_);
  lower_->rx_handler = [this](SkbPtr skb) { receive(std::move(skb)); };
}

FaultDevice::~FaultDevice() {
  lower_->rx_handler = nullptr;
}

void FaultDevice::deliver(SkbPtr skb) {
  if (rx_handler) {
    rx_handler(std::move(skb));
  } else {
    kfree_skb(std::move(skb));
  }
}

void FaultDevice::receive(SkbPtr skb) {
  rx_stats_.frames++;
  if (rng_.bernoulli(rx_.loss)) {
    rx_stats_.lost++;
    stats.rx_dropped++;
    kfree_skb(std::move(skb));
    return;
  }
  SkbPtr twin;
  if (rng_.bernoulli(rx_.dup)) {
    twin = skb_copy(skb.get());
    if (twin) rx_stats_.duplicated++;
  }
  if (!rx_held_ && rng_.bernoulli(rx_.reorder)) {
    rx_stats_.reordered++;
    rx_held_ = std::move(skb);
  } else {
    deliver(std::move(skb));
    if (rx_held_) deliver(std::move(rx_held_));
  }
  if (twin) deliver(std::move(twin));
}

int FaultDevice::poll(int budget) {
  int work = 0;
  // A transmit held back and not passed by a later one goes now.
  if (tx_held_) {
    send(std::move(tx_held_));
    ++work;
  }
  work += lower_->poll(budget);
  // Nor does a received frame wait for the next batch.
  if (rx_held_) {
    deliver(std::move(rx_held_));
    ++work;
  }
  stats.rx_packets = lower_->stats.rx_packets;
  stats.rx_bytes = lower_->stats.rx_bytes;
  stats.rx_errors = lower_->stats.rx_errors;
  return work;
}

NetdevTx FaultDevice::send(SkbPtr skb) {
  const NetdevTx rc = lower_->xmit(std::move(skb));
  stats.tx_packets = lower_->stats.tx_packets;
  stats.tx_bytes = lower_->stats.tx_bytes;
  stats.tx_errors = lower_->stats.tx_errors;
  return rc;
}

NetdevTx FaultDevice::xmit(SkbPtr skb) {
  tx_stats_.frames++;
  if (rng_.bernoulli(tx_.loss)) {
    // Lost on the wire, after the host let it go: the frame counts as sent
    // (its destructor runs now, as when a NIC has transmitted it).
    tx_stats_.lost++;
    consume_skb(std::move(skb));
    return NETDEV_TX_OK;
  }
  SkbPtr twin;
  if (rng_.bernoulli(tx_.dup)) {
    twin = skb_copy(skb.get());
    if (twin) tx_stats_.duplicated++;
  }
  NetdevTx rc = NETDEV_TX_OK;
  if (!tx_held_ && rng_.bernoulli(tx_.reorder)) {
    tx_stats_.reordered++;
    tx_held_ = std::move(skb);
  } else {
    rc = send(std::move(skb));
    if (tx_held_) send(std::move(tx_held_));
  }
  if (twin) send(std::move(twin));
  return rc;
}

}  // namespace sp
