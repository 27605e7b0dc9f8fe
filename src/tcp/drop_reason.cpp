#include "tcp/drop_reason.hpp"

namespace sp {

std::string_view skb_drop_reason_name(SkbDropReason r) {
  static constexpr std::string_view kNames[] = {
#define SP_DROP_NAME(n) #n,
      SP_SKB_DROP_REASONS(SP_DROP_NAME)
#undef SP_DROP_NAME
  };
  auto i = static_cast<std::size_t>(r);
  return i < kSkbDropReasonCount ? kNames[i] : std::string_view("UNKNOWN");
}

}  // namespace sp
