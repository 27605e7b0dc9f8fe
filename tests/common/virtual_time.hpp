// One stack alone on a virtual clock, as the single-stack fixtures run it:
// poll, then jump from timer to timer in time order up to a target time.
#pragma once
#include "core/clock.hpp"
#include "core/stack.hpp"

namespace sp::test {

// Run st's timers and deferred work up to `target`, in time order (at most
// 100000 timer jumps), and leave the clock at target.
inline void run_stack_until(Stack& st, VirtualClock& clock, Nanos target) {
  for (int i = 0; i < 100000; i++) {
    st.poll();
    const Nanos next = st.next_timer_expiry();
    if (next == Stack::kNoTimer || next > target) break;
    clock.advance_to(next);
  }
  clock.advance_to(target);
  st.poll();
}

}  // namespace sp::test
