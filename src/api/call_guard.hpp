// Holds a stack's CallLock (core/stack.hpp) for the length of one
// BSD-shaped call when the stack runs on its own thread. Re-entrant per
// thread: a call made inside another (accept inside accept4, an epoll
// wake-up inside close) does not take it twice.
#pragma once
#include "core/stack.hpp"

namespace sp {

class CallGuard {
 public:
  explicit CallGuard(Stack* st) {
    CallLock* l = st ? st->call_lock() : nullptr;
    if (!l || held() == l) return;
    l->lock();
    held() = l;
    lock_ = l;
  }
  ~CallGuard() {
    if (!lock_) return;
    held() = nullptr;
    lock_->unlock();
  }
  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;

 private:
  static CallLock*& held() {
    thread_local CallLock* h = nullptr;
    return h;
  }
  CallLock* lock_ = nullptr;
};

}  // namespace sp
