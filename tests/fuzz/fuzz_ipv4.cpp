// IPv4: parse any bytes; what parses is re-emitted from its values and must
// parse back to the same values. A header without options and with a good
// checksum must re-emit byte for byte.
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto v = sp::Ipv4View::parse(in);
  if (!v) return 0;
  FUZZ_CHECK(v->header_len() >= sp::kIpv4MinHeaderLen && v->header_len() <= size);
  FUZZ_CHECK(v->header_len() + v->payload().size() == v->tot_len());
  bool good_csum = v->verify_checksum();

  sp::Ipv4Repr r;
  r.tos = v->tos();
  r.id = v->id();
  r.frag_off = v->frag_off();
  r.ttl = v->ttl();
  r.protocol = v->protocol();
  r.saddr = v->saddr();
  r.daddr = v->daddr();
  r.payload_len = static_cast<std::uint16_t>(v->payload().size());
  // A header of 20 + payload must still fit tot_len's 16 bits.
  if (sp::kIpv4MinHeaderLen + r.payload_len > 0xffff) return 0;

  std::vector<std::uint8_t> out(sp::kIpv4MinHeaderLen + r.payload_len);
  r.emit(out.data());
  auto back = sp::Ipv4Repr::parse(out);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == r);
  // Without options every byte is carried, except that the checksum 0xffff
  // and 0x0000 are the same number in ones' complement (both verify).
  FUZZ_CHECK(sp::Ipv4View::parse(out)->verify_checksum());
  if (good_csum && v->ihl() == 5) {
    FUZZ_CHECK(std::memcmp(out.data(), data, sp::kIpv4CheckOffset) == 0);
    FUZZ_CHECK(std::memcmp(out.data() + 12, data + 12, 8) == 0);
    std::uint16_t in_check = sp::load_be16(data + sp::kIpv4CheckOffset);
    std::uint16_t out_check = sp::load_be16(out.data() + sp::kIpv4CheckOffset);
    FUZZ_CHECK(in_check == out_check || (in_check | out_check) == 0xffff);
  }
  return 0;
}
