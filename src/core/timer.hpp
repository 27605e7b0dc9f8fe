// struct timer_list: a callback armed for an absolute time on one Stack's
// timer queue (Stack::mod_timer / del_timer). A Timer unlinks itself when
// destroyed, so an object owning timers can be freed while they are armed.
#pragma once
#include <boost/intrusive/set_hook.hpp>
#include <functional>
#include <utility>

#include "core/clock.hpp"

namespace sp {

class Timer {
 public:
  using Fn = std::function<void()>;
  Timer() = default;
  explicit Timer(Fn fn) : fn_(std::move(fn)) {}
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void set_function(Fn fn) { fn_ = std::move(fn); }
  bool pending() const { return hook_.is_linked(); }  // timer_pending()
  Nanos expires() const { return expires_; }

  // Internal to the Stack's timer queue.
  boost::intrusive::set_member_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>
      hook_;
  Nanos expires_ = 0;
  std::uint64_t order_ = 0;  // FIFO among equal expiries
  Fn fn_;
};

}  // namespace sp
