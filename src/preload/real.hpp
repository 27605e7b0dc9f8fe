// The C library's own functions behind the ones the preload shim replaces,
// found with dlsym(RTLD_NEXT) the first time each is called.
#pragma once
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace sp::preload {

// The next definition of `name` after this library, as a pointer of type F.
// A missing one is fatal: the shim cannot pass the call on.
template <typename F>
F next_symbol(const char* name) {
  void* p = ::dlsym(RTLD_NEXT, name);
  if (!p) {
    std::fprintf(stderr, "sendpath-preload: %s not found in the C library\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(p);
}

}  // namespace sp::preload

// REAL(read)(fd, buf, n): the C library's read, resolved once per call site
// (a function-local static, so the first calls from two threads are safe).
#define REAL(name)                                                               \
  ([]() {                                                                        \
    static const auto fn = ::sp::preload::next_symbol<decltype(&::name)>(#name); \
    return fn;                                                                   \
  }())
