// struct net_device, reduced to what the send and receive paths use.
// A device owns nothing of the stack: the stack sets rx_handler and calls
// xmit(); the device calls rx_handler() from poll() for each received frame.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "skb/skbuff.hpp"

namespace sp {

class Stack;

// netdev_features_t bits (include/linux/netdev_features.h names).
enum : std::uint64_t {
  NETIF_F_SG = 1u << 0,       // scatter-gather: paged skbs accepted
  NETIF_F_IP_CSUM = 1u << 1,  // TCP/UDP over IPv4 checksum offload
  NETIF_F_HW_CSUM = 1u << 2,  // generic checksum offload (csum_start/offset)
  NETIF_F_TSO = 1u << 3,      // TCPv4 segmentation offload
  NETIF_F_RXCSUM = 1u << 4,   // received checksums are verified by the device
};

// dev->type: whether frames carry an Ethernet header.
enum class LinkType : std::uint8_t { kEthernet, kRawIp };

// Return values of ndo_start_xmit.
enum NetdevTx : int { NETDEV_TX_OK = 0, NETDEV_TX_BUSY = 1 };

struct NetDeviceStats {
  std::uint64_t rx_packets = 0, rx_bytes = 0, rx_dropped = 0, rx_errors = 0;
  std::uint64_t tx_packets = 0, tx_bytes = 0, tx_dropped = 0, tx_errors = 0;
};

class NetDevice {
 public:
  virtual ~NetDevice() = default;

  // ndo_start_xmit: takes the skb. With NETDEV_TX_OK the device owns it and
  // frees it (running skb->destructor, which is how TCP small queues learn the
  // bytes left the host) when the frame has left; a dropped frame is freed too.
  virtual NetdevTx xmit(SkbPtr skb) = 0;

  // NAPI-style poll: deliver up to `budget` received frames to rx_handler,
  // return how many were delivered.
  virtual int poll(int budget) = 0;

  // Real devices: an fd to wait on for readability, or -1 (simulated links
  // and devices that are gone).
  virtual int wait_fd() const { return -1; }

  // netif_carrier_ok: false while the link is down (a tap whose kernel side
  // is down); frames sent meanwhile are lost, as on a NIC without link.
  virtual bool carrier_ok() const { return true; }
  // The device vanished under the stack (a tap whose interface was deleted,
  // with its namespace say). As after unregister_netdevice, routes through
  // it no longer resolve, so connections using it retransmit into "no
  // route" until they time out with the routing error (ENETUNREACH).
  virtual bool gone() const { return false; }

  // A device stacked on another (a capture, a fault injector) presents the
  // lower one's name, index, link type, MTU, features, GSO limits and
  // address as its own.
  void copy_identity(const NetDevice& lower) {
    name = lower.name;
    ifindex = lower.ifindex;
    type = lower.type;
    mtu = lower.mtu;
    features = lower.features;
    gso_max_size = lower.gso_max_size;
    gso_max_segs = lower.gso_max_segs;
    hard_header_len = lower.hard_header_len;
    dev_addr = lower.dev_addr;
  }

  std::string name;
  int ifindex = 0;
  LinkType type = LinkType::kEthernet;
  std::uint32_t mtu = 1500;
  std::uint64_t features = 0;
  std::uint32_t gso_max_size = 65536;  // GSO_MAX_SIZE
  std::uint16_t gso_max_segs = 65535;  // GSO_MAX_SEGS
  std::uint16_t hard_header_len = 14;  // ETH_HLEN; 0 for raw IP
  std::array<std::uint8_t, 6> dev_addr{};
  NetDeviceStats stats;

  // Set by the stack when the device is registered (netif_receive_skb).
  std::function<void(SkbPtr)> rx_handler;
  // The stack the device is registered with (dev_net(dev)), for tracepoints.
  Stack* stack = nullptr;
};

}  // namespace sp
