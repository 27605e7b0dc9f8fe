// Ethernet II: parse, emit, and the emitted header is the parsed one.
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "wire/ethernet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto v = sp::EthernetView::parse(in);
  if (!v) return 0;
  FUZZ_CHECK(v->payload().size() == size - sp::ETH_HLEN);
  auto r = sp::EthernetRepr::parse(in);
  FUZZ_CHECK(r.ok());
  std::vector<std::uint8_t> out(sp::ETH_HLEN);
  r->emit(out.data());
  FUZZ_CHECK(std::memcmp(out.data(), data, sp::ETH_HLEN) == 0);
  return 0;
}
