// What end-to-end tests share: how much smaller a sanitizer or unoptimised
// build makes their runs, and the sockaddr for an address and port.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#define SP_E2E_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SP_E2E_ASAN 1
#endif
#endif

namespace sp::test {

// ASan makes the stack ~10x slower: a sanitizer build moves 1/16 of what a
// Release build moves, an unoptimised one 1/4; what is checked is the same.
#if defined(SP_E2E_ASAN)
inline constexpr std::uint64_t kScaleDiv = 16;
#elif !defined(NDEBUG)
inline constexpr std::uint64_t kScaleDiv = 4;
#else
inline constexpr std::uint64_t kScaleDiv = 1;
#endif

// addr in network order, port in host order.
inline sockaddr_in inet_sockaddr(std::uint32_t addr, std::uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  s.sin_addr.s_addr = addr;
  return s;
}

}  // namespace sp::test
