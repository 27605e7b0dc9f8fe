// HzGuard<hz, wheel>: a first base class for a fixture that must run its
// stack at another HZ. Bases are built in order, so HZ is set before the
// fixture's Stack exists and restored to 1000 after it is gone.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "core/jiffies.hpp"

namespace sp::test {

template <std::uint32_t Hz, bool Wheel>
struct HzGuard {
  HzGuard() {
    std::string err;
    if (!set_hz(Hz, Wheel, &err)) ADD_FAILURE() << "set_hz(" << Hz << "): " << err;
  }
  ~HzGuard() { set_hz(1000, false, nullptr); }
};

}  // namespace sp::test
