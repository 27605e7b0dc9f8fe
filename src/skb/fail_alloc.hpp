// Allocation failure injection: Linux's failslab / fail_page_alloc for the
// stack. Allocations of the chosen kinds fail on purpose, so that every
// caller's failure path runs.
//
// Per thread, like the skb pools: it covers every stack the thread runs (the
// simulator runs both of its stacks on one thread, so both fail). Kinds:
//   skb   sk_buff structs, fclone pairs and heads: alloc_skb, skb_clone,
//         pskb_copy, skb_copy, pskb_expand_head...
//   page  alloc_pages: the socket page frag, device receive pages
//   sock  sk_alloc: socket(), the listener's child, request socks
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace sp {

enum FailAllocKind : unsigned { kFailSkb = 1, kFailPage = 2, kFailSock = 4, kFailAll = 7 };
struct FailAlloc {
  unsigned kinds = 0;         // FailAllocKind bits; 0: nothing fails
  std::uint64_t nth = 0;      // the nth allocation of those kinds fails (1-based); 0: none
  std::uint32_t every_n = 0;  // besides, one in every_n fails, pseudo-randomly; 0: none
  std::uint64_t seed = 1;     // of the pseudo-random draw, so a run repeats
};
struct FailAllocStats {
  // Indexed by kind: 0 skb, 1 page, 2 sock.
  std::uint64_t calls[3] = {};   // allocations of that kind seen while armed
  std::uint64_t failed[3] = {};  // of them, failed on purpose
  std::uint64_t total_failed() const { return failed[0] + failed[1] + failed[2]; }
};
// Arms (or, with kinds == 0, disarms) injection on this thread; the
// statistics start again from zero.
void fail_alloc_set(const FailAlloc& f);
FailAlloc fail_alloc_get();
const FailAllocStats& fail_alloc_stats();
// The allocators' hook: whether this allocation of `kind` is to fail.
bool fail_alloc_should_fail(FailAllocKind kind);
// "KINDS:1/N[@SEED]" (one in N) or "KINDS:#N" (the Nth), KINDS being skb,
// page, sock or all, joined by '+'; e.g. "skb:1/100", "skb+page:1/50@7",
// "all:#120". false, with *err set, on a malformed spec.
bool parse_fail_alloc(std::string_view spec, FailAlloc* out, std::string* err);

}  // namespace sp
