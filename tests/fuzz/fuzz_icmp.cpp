// ICMP: parse any bytes; re-emit from the values (which recomputes the
// checksum) and parse back to the same values; errors' quotes parse safely.
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "wire/icmp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto v = sp::IcmpView::parse(in);
  if (!v) return 0;
  bool good = v->verify_checksum();
  if (sp::icmp_is_error(v->type())) {
    auto q = sp::icmp_parse_quote(v->payload());
    (void)q;
  }
  sp::IcmpRepr r{v->type(), v->code(), v->rest(), v->payload()};
  std::vector<std::uint8_t> out(r.len());
  r.emit(out.data());
  auto back = sp::IcmpRepr::parse(out);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->type == r.type && back->code == r.code && back->rest == r.rest);
  FUZZ_CHECK(back->payload.size() == r.payload.size());
  FUZZ_CHECK(std::memcmp(back->payload.data(), data + sp::kIcmpHeaderLen, r.payload.size()) == 0);
  // A message whose checksum was good is rebuilt byte for byte, except that
  // 0x0000 and 0xffff are the same checksum in ones' complement.
  if (good && sp::load_be16(data + 2) != 0xffff && sp::load_be16(data + 2) != 0) {
    FUZZ_CHECK(std::memcmp(out.data(), data, size) == 0);
  }
  return 0;
}
