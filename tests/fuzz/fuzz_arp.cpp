// ARP: a packet that parses emits to the same 28 bytes (every field of an
// Ethernet/IPv4 ARP packet is either checked or carried).
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "wire/arp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = sp::ArpRepr::parse(std::span<const std::uint8_t>(data, size));
  if (!r) return 0;
  std::vector<std::uint8_t> out(sp::kArpEthIpv4Len);
  r->emit(out.data());
  FUZZ_CHECK(std::memcmp(out.data(), data, sp::kArpEthIpv4Len) == 0);
  auto again = sp::ArpRepr::parse(out);
  FUZZ_CHECK(again.ok() && *again == *r);
  return 0;
}
