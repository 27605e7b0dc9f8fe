// WireSpy: what a stack sends, and forged frames into it (tests only).
#pragma once
#include <algorithm>
#include <memory>
#include <vector>

#include "common/tcp_packets.hpp"
#include "dev/net_device.hpp"

namespace sp::test {

// A device between a stack and its real device (a SimLink end, a tap): it
// keeps every TCP segment the stack sends, can keep them off the wire, and
// delivers forged frames to the stack as the wire would.
class WireSpy final : public NetDevice {
 public:
  explicit WireSpy(std::unique_ptr<NetDevice> lower) : lower_(std::move(lower)) {
    copy_identity(*lower_);
    lower_->rx_handler = [this](SkbPtr skb) {
      if (rx_handler) rx_handler(std::move(skb));
    };
  }
  ~WireSpy() override { lower_->rx_handler = nullptr; }

  NetdevTx xmit(SkbPtr skb) override {
    const std::vector<std::uint8_t> b = skb_bytes(skb.get());
    if (b.size() > 14) {
      if (auto s = parse_ip_tcp(std::span<const std::uint8_t>(b).subspan(14))) sent.push_back(*s);
    }
    if (swallow) return NETDEV_TX_OK;  // freed here: it never reaches the wire
    NetdevTx rc = lower_->xmit(std::move(skb));
    stats = lower_->stats;
    return rc;
  }
  int poll(int budget) override { return lower_->poll(budget); }
  // A real device's fd, so an event loop wakes for what arrives on it.
  int wait_fd() const override { return lower_->wait_fd(); }

  // An IPv4 packet arriving from the wire.
  void inject(const std::vector<std::uint8_t>& ip) {
    const auto len = static_cast<std::uint32_t>(14 + ip.size());
    SkbPtr skb = alloc_skb_with_headroom(64, len);
    std::uint8_t* p = skb_put(skb.get(), len);
    std::copy(dev_addr.begin(), dev_addr.end(), p);
    const std::uint8_t src[6] = {0x02, 0, 0, 0, 0x59, 0x61};
    std::copy(src, src + 6, p + 6);
    p[12] = 0x08;
    p[13] = 0x00;
    std::copy(ip.begin(), ip.end(), p + 14);
    if (rx_handler) rx_handler(std::move(skb));
  }

  std::vector<ParsedSeg> sent;
  // Keep the victim's frames off the wire (its replies to a forged client
  // must not reach the peer stack, whose RST would end the test early).
  bool swallow = false;

 private:
  std::unique_ptr<NetDevice> lower_;
};

}  // namespace sp::test
