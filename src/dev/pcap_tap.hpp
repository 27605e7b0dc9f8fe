// Capture with libpcap: PcapWriter writes frames to a pcap file (nanosecond
// timestamps from the stack's clock); PcapTap is a device that wraps another
// and writes every frame crossing it, in both directions, then passes it on
// (what tcpdump on the interface would have shown, at dev_queue_xmit and
// netif_receive_skb).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "dev/net_device.hpp"
#include "skb/skbuff.hpp"

struct pcap;
struct pcap_dumper;

namespace sp {

class PcapWriter {
 public:
  static constexpr std::uint32_t kSnapLen = 65535;

  PcapWriter() = default;
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  ~PcapWriter();  // close()

  // Open path for writing: DLT_EN10MB for Ethernet links, DLT_RAW for raw IP.
  // Returns "" or what went wrong.
  std::string open(const std::string& path, LinkType type, std::uint32_t snaplen = kSnapLen);
  bool is_open() const { return dumper_ != nullptr; }

  // One record of the first min(len, snaplen) bytes; the record keeps the
  // frame's full length.
  void write(std::span<const std::uint8_t> frame, Nanos ts);
  // One record of the skb's bytes from data: linear part then frags
  // (skb_copy_bits), so a paged or TSO skb is captured whole.
  void write_skb(const SkBuff* skb, Nanos ts);
  void flush();
  // Flush and close; later writes are ignored.
  void close();
  std::uint64_t packets() const { return packets_; }

 private:
  pcap* pcap_ = nullptr;
  pcap_dumper* dumper_ = nullptr;
  std::uint32_t snaplen_ = kSnapLen;
  std::uint64_t packets_ = 0;
  std::vector<std::uint8_t> scratch_;
};

class PcapTap final : public NetDevice {
 public:
  // Wraps lower (not owned; it must outlive the tap) or takes ownership of
  // it. The tap copies the lower device's name, type, MTU, features, GSO
  // limits and address, and takes over its rx_handler.
  PcapTap(NetDevice* lower, const Clock& clock);
  PcapTap(std::unique_ptr<NetDevice> lower, const Clock& clock);
  ~PcapTap() override;

  // snaplen below the frame size captures headers only (tcpdump -s): a long
  // run's capture then stays small.
  std::string open(const std::string& path, std::uint32_t snaplen = PcapWriter::kSnapLen) {
    return writer_.open(path, type, snaplen);
  }
  void close() { writer_.close(); }

  // Writes the frame, then hands it to the lower device.
  NetdevTx xmit(SkbPtr skb) override;
  // The lower device delivers through the tap's capture to rx_handler.
  int poll(int budget) override { return lower_->poll(budget); }
  int wait_fd() const override { return lower_->wait_fd(); }
  bool carrier_ok() const override { return lower_->carrier_ok(); }
  bool gone() const override { return lower_->gone(); }

  NetDevice* lower() const { return lower_; }
  const PcapWriter& writer() const { return writer_; }

 private:
  void attach();

  std::unique_ptr<NetDevice> owned_;
  NetDevice* lower_;
  const Clock& clock_;
  PcapWriter writer_;
};

}  // namespace sp
