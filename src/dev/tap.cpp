#include "dev/tap.hpp"

#include <linux/if_tun.h>

#include <cstdio>
#include <random>

namespace sp {

std::array<std::uint8_t, 6> random_local_mac() {
  std::random_device rd;
  std::array<std::uint8_t, 6> m{};
  for (auto& b : m) b = static_cast<std::uint8_t>(rd());
  // IEEE 802: bit 1 of the first octet = locally administered, bit 0 = group.
  m[0] = static_cast<std::uint8_t>((m[0] & 0xfc) | 0x02);
  return m;
}

std::optional<std::array<std::uint8_t, 6>> parse_mac(const std::string& s) {
  std::array<unsigned, 6> v{};
  char tail = 0;
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                  &tail) != 6) {
    return std::nullopt;
  }
  std::array<std::uint8_t, 6> m{};
  for (int i = 0; i < 6; ++i) m[i] = static_cast<std::uint8_t>(v[i]);
  return m;
}

TapDevice::TapDevice(int fd, const TunConfig& cfg, std::string ifname,
                     std::optional<std::array<std::uint8_t, 6>> mac)
    : TunFdDevice(fd, LinkType::kEthernet, cfg.vnet_hdr, tun_features(cfg)) {
  name = std::move(ifname);
  mtu = cfg.mtu;
  dev_addr = mac ? *mac : random_local_mac();
}

std::unique_ptr<TapDevice> TapDevice::open(const TunConfig& cfg, std::string* err,
                                           std::optional<std::array<std::uint8_t, 6>> mac) {
  std::string ifname;
  const int fd = tun_open_fd(cfg, IFF_TAP, &ifname, err);
  if (fd < 0) return nullptr;
  return std::make_unique<TapDevice>(fd, cfg, std::move(ifname), mac);
}

}  // namespace sp
