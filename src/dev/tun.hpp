// Devices backed by /dev/net/tun: the kernel end is a Linux network interface,
// our end is a file descriptor that carries one frame per read or write.
//
// With IFF_VNET_HDR every frame is preceded by a struct virtio_net_hdr, the
// same metadata a virtio-net NIC exchanges with its host: on transmit it says
// "this is a 64 KiB TSO skb, cut it at gso_size" and "fill the checksum at
// csum_start + csum_offset"; on receive it says the same of what the kernel
// hands us (GSO super-frames, partial or already validated checksums). That
// is what lets one writev carry a whole TSO skb (linear part and page frags,
// no copy) across the user/kernel boundary, as drivers/net/tun.c does for
// vhost and QEMU.
//
// Batching: receive reads up to the NAPI budget of frames per poll, until
// the fd runs dry. On transmit a plain tun fd takes one frame per write (the
// kernel's multi-frame path, TUN_MSG_PTR, is only open to vhost); TSO is the
// batching there: one writev carries up to 64 KiB, i.e. ~45 segments.
//
// TunFdDevice does the fd work for both flavours; TunDevice (IFF_TUN, raw
// IPv4, below) and TapDevice (IFF_TAP, Ethernet, dev/tap.hpp) only differ in
// how they open the fd and in the link type.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dev/net_device.hpp"
#include "skb/skbuff.hpp"

struct pcap;
struct pcap_dumper;

namespace sp {

// struct virtio_net_hdr (include/uapi/linux/virtio_net.h), little-endian on
// every host we build for (tun uses the host's order unless told otherwise).
// We use the 10-byte legacy header, not the 12-byte one with num_buffers:
// num_buffers only matters to a virtio driver that merges receive buffers,
// tun writes 0 or 1 there, and we read each frame into one skb anyway. The
// kernel's default vnet_hdr_sz is also 10, so TUNSETVNETHDRSZ only confirms it.
struct VirtioNetHdr {
  std::uint8_t flags = 0;
  std::uint8_t gso_type = 0;
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
};
static_assert(sizeof(VirtioNetHdr) == 10);

constexpr std::uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr std::uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

// What a tun/tap device asks of the kernel when it is opened.
struct TunConfig {
  std::string name;       // interface name ("" lets the kernel pick tapN/tunN)
  bool vnet_hdr = true;   // IFF_VNET_HDR: needed for any offload
  bool csum = true;       // TUN_F_CSUM: frames may carry partial checksums
  bool tso = true;        // TUN_F_TSO4: 64 KiB TCPv4 GSO frames both ways
  bool bring_up = false;  // set IFF_UP on the kernel side (needs its netns)
  // Named network namespace (/var/run/netns/<netns>) the device lives in:
  // the fd is opened there, so the kernel end belongs to that namespace,
  // while this process stays where it is. "" = the caller's namespace.
  std::string netns;
  std::uint32_t mtu = 1500;
};

// Counters a user can read to see the offloads and the batching at work.
struct TunFdStats {
  std::uint64_t tx_gso_frames = 0;      // frames written with a GSO header
  std::uint64_t tx_csum_partial = 0;    // frames written with NEEDS_CSUM
  std::uint64_t tx_write_errors = 0;    // every failed or short write, whatever the cause
  std::uint64_t tx_busy = 0;            // EAGAIN/ENOBUFS/ENOMEM: refused, TCP sends it later
  std::uint64_t tx_short_writes = 0;    // the kernel took less than the frame: lost
  std::uint64_t tx_carrier_errors = 0;  // EIO: the kernel side is down, frame lost
  std::uint64_t carrier_changes = 0;    // link down/up transitions seen (carrier_changes)
  std::uint64_t rx_gso_frames = 0;      // GSO super-frames the kernel sent us
  std::uint64_t rx_csum_partial = 0;    // NEEDS_CSUM in: accepted as verified
  std::uint64_t rx_csum_valid = 0;      // DATA_VALID in: CHECKSUM_UNNECESSARY
  std::uint64_t rx_bad_header = 0;      // a vnet header we refuse
  std::uint64_t rx_polls = 0;           // poll() calls that found frames
  std::uint64_t rx_max_batch = 0;       // most frames read in one poll()
};

class TunFdDevice : public NetDevice {
 public:
  // Largest frame the kernel may hand us: a 64 KiB GSO IPv4 packet plus an
  // Ethernet header (tun never sends more than IP_MAX_MTU + link header).
  static constexpr std::uint32_t kMaxFrame = 65535 + 14;
  // Bytes read into the skb's linear buffer; the rest lands in page frags,
  // as tun_alloc_skb does, so small frames do not pin 64 KiB each.
  static constexpr std::uint32_t kRxLinear = 2048;
  static constexpr std::uint32_t kRxHeadroom = 64;

  // Adopts fd (non-blocking mode is set here). vnet_hdr says whether frames
  // on fd carry a VirtioNetHdr; features are the NETIF_F_* the fd's peer can
  // honour (checksum offload needs vnet_hdr).
  TunFdDevice(int fd, LinkType type, bool vnet_hdr, std::uint64_t features);
  ~TunFdDevice() override;
  TunFdDevice(const TunFdDevice&) = delete;
  TunFdDevice& operator=(const TunFdDevice&) = delete;

  // ndo_start_xmit: one writev of [vnet header, linear part, frags]. The
  // kernel copies the frame during the call, so the skb is consumed (and
  // its destructor run) before we return.
  NetdevTx xmit(SkbPtr skb) override;
  // Reads frames until the fd is drained (EAGAIN) or budget frames were
  // delivered to rx_handler.
  int poll(int budget) override;
  // -1 once the device is gone: its fd only reports errors then, and a
  // loop waiting on it would spin.
  int wait_fd() const override { return gone_ ? -1 : fd_; }
  bool carrier_ok() const override { return carrier_; }
  bool gone() const override { return gone_; }

  // The system calls the device makes on its fd, replaceable so that tests
  // can make them fail as the kernel may (short writes, EAGAIN, ENOBUFS,
  // EIO when the interface is down, EBADFD once it is deleted). A function
  // returns what the system call would, with errno set.
  struct FdOps {
    std::function<ssize_t(int fd, const iovec* iov, int n)> writev;
    std::function<ssize_t(int fd, const iovec* iov, int n)> readv;
  };
  void set_fd_ops(FdOps ops) { ops_ = std::move(ops); }

  bool vnet_hdr() const { return vnet_hdr_; }
  const TunFdStats& tun_stats() const { return tun_stats_; }

  // Write every frame that crosses this device to a pcap file (DLT_EN10MB
  // for tap, DLT_RAW for tun). Partial checksums are completed in the copy
  // written to the file, so a capture reads as the wire would carry it.
  // Returns an error message, or empty.
  std::string open_pcap(const std::string& path);
  void close_pcap();

 private:
  void capture(const SkBuff* skb, const VirtioNetHdr* vh);
  bool refill_rx_pages();
  SkbPtr read_one(bool* again);
  ssize_t do_writev(const iovec* iov, int n);
  ssize_t do_readv(const iovec* iov, int n);
  void set_carrier(bool on);
  void lost_device();

  int fd_ = -1;
  bool vnet_hdr_ = false;
  bool carrier_ = true;
  bool gone_ = false;
  FdOps ops_;
  TunFdStats tun_stats_;
  // Spare pages for the paged part of the next read (32 KiB each).
  static constexpr int kRxPages = 2;
  Page* rx_pages_[kRxPages] = {};
  pcap* pcap_ = nullptr;
  pcap_dumper* dumper_ = nullptr;
};

// Opens /dev/net/tun and attaches to (or creates) interface cfg.name with
// the given IFF_* type bits plus IFF_NO_PI (and IFF_VNET_HDR, TUNSETVNETHDRSZ,
// TUNSETOFFLOAD as cfg asks). Returns the fd, or -errno with *err set.
// *actual_name receives the interface name the kernel chose.
int tun_open_fd(const TunConfig& cfg, short type_flags, std::string* actual_name, std::string* err);

// The NETIF_F_* a tun/tap fd configured by cfg can take.
std::uint64_t tun_features(const TunConfig& cfg);

// Sets the kernel side's MTU and IFF_UP (an AF_INET ioctl in the caller's
// network namespace). Returns an error message, or empty.
std::string tun_bring_up(const std::string& ifname, std::uint32_t mtu);

// IFF_TUN: raw IPv4 frames, no Ethernet and no ARP.
class TunDevice : public TunFdDevice {
 public:
  TunDevice(int fd, const TunConfig& cfg, std::string ifname);
  // nullptr with *err set when the device cannot be opened (no
  // /dev/net/tun, not permitted, a name clash with another device type).
  static std::unique_ptr<TunDevice> open(const TunConfig& cfg, std::string* err);
};

}  // namespace sp
