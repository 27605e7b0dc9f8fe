#include "dev/pcap_tap.hpp"

#include <pcap/pcap.h>

#include <algorithm>

namespace sp {

PcapWriter::~PcapWriter() {
  close();
}

std::string PcapWriter::open(const std::string& path, LinkType type, std::uint32_t snaplen) {
  close();
  snaplen_ = snaplen;
  int dlt = type == LinkType::kEthernet ? DLT_EN10MB : DLT_RAW;
  // Nanosecond records: virtual-time runs have events closer than 1 us.
  pcap_ = pcap_open_dead_with_tstamp_precision(dlt, static_cast<int>(snaplen),
                                               PCAP_TSTAMP_PRECISION_NANO);
  if (!pcap_) return "pcap_open_dead failed";
  dumper_ = pcap_dump_open(pcap_, path.c_str());
  if (!dumper_) {
    std::string err = pcap_geterr(pcap_);
    pcap_close(pcap_);
    pcap_ = nullptr;
    return err;
  }
  packets_ = 0;
  return "";
}

void PcapWriter::write(std::span<const std::uint8_t> frame, Nanos ts) {
  if (!dumper_) return;
  pcap_pkthdr h{};
  h.ts.tv_sec = static_cast<time_t>(ts / kNsPerSec);
  h.ts.tv_usec = static_cast<suseconds_t>(ts % kNsPerSec);  // ns with nano precision
  h.len = static_cast<bpf_u_int32>(frame.size());
  h.caplen = static_cast<bpf_u_int32>(std::min<std::size_t>(frame.size(), snaplen_));
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, frame.data());
  ++packets_;
}

void PcapWriter::write_skb(const SkBuff* skb, Nanos ts) {
  if (!dumper_) return;
  std::uint32_t caplen = std::min(skb->len, snaplen_);
  scratch_.resize(caplen);
  if (skb_copy_bits(skb, 0, scratch_.data(), caplen) != 0) return;
  pcap_pkthdr h{};
  h.ts.tv_sec = static_cast<time_t>(ts / kNsPerSec);
  h.ts.tv_usec = static_cast<suseconds_t>(ts % kNsPerSec);
  h.len = skb->len;
  h.caplen = caplen;
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, scratch_.data());
  ++packets_;
}

void PcapWriter::flush() {
  if (dumper_) pcap_dump_flush(dumper_);
}

void PcapWriter::close() {
  if (dumper_) {
    pcap_dump_flush(dumper_);
    pcap_dump_close(dumper_);
    dumper_ = nullptr;
  }
  if (pcap_) {
    pcap_close(pcap_);
    pcap_ = nullptr;
  }
}

PcapTap::PcapTap(NetDevice* lower, const Clock& clock) : lower_(lower), clock_(clock) {
  attach();
}

PcapTap::PcapTap(std::unique_ptr<NetDevice> lower, const Clock& clock)
    : owned_(std::move(lower)), lower_(owned_.get()), clock_(clock) {
  attach();
}

PcapTap::~PcapTap() {
  // The lower device may outlive the tap: it must not call back into it.
  if (lower_) lower_->rx_handler = nullptr;
}

void PcapTap::attach() {
  copy_identity(*lower_);
  lower_->rx_handler = [this](SkbPtr skb) {
    writer_.write_skb(skb.get(), clock_.now_ns());
    stats = lower_->stats;
    if (rx_handler) rx_handler(std::move(skb));
  };
}

NetdevTx PcapTap::xmit(SkbPtr skb) {
  writer_.write_skb(skb.get(), clock_.now_ns());
  NetdevTx rc = lower_->xmit(std::move(skb));
  stats = lower_->stats;
  return rc;
}

}  // namespace sp
