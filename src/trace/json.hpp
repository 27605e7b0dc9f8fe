// JSON string escaping shared by the trace sinks and the command's JSON
// outputs (sim, bench): quotes, backslashes and control characters.
#pragma once
#include <string>
#include <string_view>

namespace sp::trace {

// The body of a JSON string for s (without the surrounding quotes).
std::string json_escape(std::string_view s);

}  // namespace sp::trace
