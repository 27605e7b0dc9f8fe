// MIB counter names, from the X-macro list in mib.hpp.
#include "core/mib.hpp"

namespace sp {

std::string_view Mib::name(MibId id) {
  static constexpr std::string_view kNames[] = {
#define SP_MIB_NAME(n) #n,
      SP_MIB_LIST(SP_MIB_NAME)
#undef SP_MIB_NAME
  };
  const auto i = static_cast<std::size_t>(id);
  if (i >= sizeof(kNames) / sizeof(kNames[0])) return "unknown";
  return kNames[i];
}

}  // namespace sp
