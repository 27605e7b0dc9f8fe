// TCP header and options: parse any bytes; the options Linux would take are
// re-emitted in Linux's layout and must parse back to the same values; the
// fixed header re-emits byte for byte (apart from doff and check).
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto v = sp::TcpView::parse(in);
  if (!v) return 0;
  FUZZ_CHECK(v->header_len() + v->payload().size() == size);
  (void)v->verify_checksum(0x0a000001, 0x0a000002);

  sp::TcpOptions o;
  sp::WireError err = sp::tcp_parse_options(v->options(), &o);
  (void)sp::to_string(err);
  FUZZ_CHECK(o.num_sacks <= sp::TCP_NUM_SACKS);
  FUZZ_CHECK(o.fastopen_len <= sp::TCP_FASTOPEN_COOKIE_MAX);

  // What is not emitted (MD5 has no key here, unknown kinds are dropped).
  sp::TcpOptions want = o;
  want.saw_md5 = false;
  want.saw_unknown = false;

  sp::TcpRepr r;
  r.hdr = sp::TcpHeader{v->source(), v->dest(),   v->seq(),    v->ack_seq(),
                        v->flags(),  v->window(), v->urg_ptr()};
  r.opts = want;
  // The canonical layout may be longer than the input (it pads each
  // option to a word); beyond 40 bytes it is not a header.
  if (sp::tcp_options_size(want) > sp::MAX_TCP_OPTION_SPACE) return 0;
  std::vector<std::uint8_t> out(r.header_len());
  r.emit(out.data());
  FUZZ_CHECK(out.size() % 4 == 0);
  FUZZ_CHECK(std::memcmp(out.data(), data, 12) == 0);
  FUZZ_CHECK(out[13] == data[13]);
  FUZZ_CHECK(std::memcmp(out.data() + 14, data + 14, 2) == 0);
  FUZZ_CHECK(std::memcmp(out.data() + 18, data + 18, 2) == 0);
  auto back = sp::TcpRepr::parse(out);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->hdr == r.hdr);
  FUZZ_CHECK(back->opts == want);
  return 0;
}
