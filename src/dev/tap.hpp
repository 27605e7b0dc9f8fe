// IFF_TAP: an Ethernet device whose wire is /dev/net/tun. Frames carry an
// Ethernet header; the stack resolves next hops with ARP (ip/arp.hpp). The
// fd work (virtio_net_hdr, TSO writes, batched GSO reads) is TunFdDevice's.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "dev/tun.hpp"

namespace sp {

class TapDevice : public TunFdDevice {
 public:
  // mac: our station address; nullopt picks a random locally administered
  // unicast address (the kernel side of the tap has its own, different one).
  TapDevice(int fd, const TunConfig& cfg, std::string ifname,
            std::optional<std::array<std::uint8_t, 6>> mac = std::nullopt);
  static std::unique_ptr<TapDevice> open(const TunConfig& cfg, std::string* err,
                                         std::optional<std::array<std::uint8_t, 6>> mac = {});
};

// A random locally administered, unicast MAC (02:xx:xx:xx:xx:xx family).
std::array<std::uint8_t, 6> random_local_mac();
// "aa:bb:cc:dd:ee:ff" -> bytes; nullopt if malformed.
std::optional<std::array<std::uint8_t, 6>> parse_mac(const std::string& s);

}  // namespace sp
