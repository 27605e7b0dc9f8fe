// Named constants a script may use (SOCK_STREAM, MSG_ZEROCOPY, EPOLLET,
// SIOCINQ, ...) and errno names, with Linux's values, as packetdrill's
// symbols_linux.c provides them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sp::drill {

std::optional<std::int64_t> lookup_symbol(std::string_view name);
// "EAGAIN" -> 11; nullopt for an unknown name.
std::optional<int> errno_from_name(std::string_view name);
// 11 -> "EAGAIN"; "E?" when unknown.
std::string errno_name(int err);
// strerror() text for an errno.
std::string errno_text(int err);

}  // namespace sp::drill
