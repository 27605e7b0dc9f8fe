// Per-thread pools for sk_buff structs, heads and pages (see pool.hpp).
#include "skb/pool.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "skb/fail_alloc.hpp"

namespace sp {
namespace skb_pool {
namespace {

constexpr std::align_val_t kAlign{SMP_CACHE_BYTES};
constexpr std::uint32_t kShinfoRoom = SKB_DATA_ALIGN(sizeof(SkbSharedInfo));
// Page orders kept on free lists; others go straight to and from the heap.
constexpr std::uint32_t kMaxPooledOrder = SKB_FRAG_PAGE_ORDER;
// What one free list may keep for reuse; beyond it, frees go back to the heap,
// so that a burst (a 64 MiB send buffer draining at once) does not stay
// cached by the thread for ever. Enough for a busy connection's steady state.
constexpr std::uint64_t kMaxCachedBytesPerList = 16ull << 20;
constexpr std::size_t kMinCachedPerList = 16;

bool keep_on_list(std::size_t listed, std::uint64_t object_bytes) {
  return listed < kMinCachedPerList || (listed + 1) * object_bytes <= kMaxCachedBytesPerList;
}

std::uint64_t block_bytes(std::uint32_t capacity) {
  return std::uint64_t{capacity} + kShinfoRoom;
}

int head_class(std::uint32_t capacity) {
  for (int i = 0; i < kNumHeadClasses; ++i) {
    if (kHeadClasses[i] == capacity) return i;
  }
  return -1;
}

// The process-wide counts the limits are checked against (struct sk_buff
// structs, head bytes, 4 KiB page units), kept as Linux keeps
// tcp_memory_allocated and its other percpu_counters: each thread adds to
// its own pending delta and moves it to the shared total only when it
// passes a batch. A locked add per allocation and per free was the most of
// skb_pool::free_head's time (perf annotate: 77% on the lock sub) and the
// largest single cost of e2e/no_tso_gro. A total read near a limit, and
// skb_pool_process_usage(), add every thread's pending delta under
// g_counters_mu (percpu_counter_sum), so limits stay exact.
enum Counter { kSkbs, kHeadBytes, kPages4k, kNumCounters };
constexpr std::int64_t kCounterBatch[kNumCounters] = {64, 512 << 10, 64};

struct Pools {
  SkbPoolStats stats;
  SkbPoolLimits limits;
  std::vector<void*> skb_free;
  std::vector<void*> fclone_free;
  std::vector<std::uint8_t*> head_free[kNumHeadClasses];
  std::vector<Page*> page_free[kMaxPooledOrder + 1];
  // This thread's deltas not yet in g_counter_total. Written by this thread
  // only (a plain load and store, no locked instruction); read by others
  // under g_counters_mu. |pending| < kCounterBatch.
  std::atomic<std::int64_t> pending[kNumCounters] = {};
  Pools* prev = nullptr;  // on g_all_pools, under g_counters_mu
  Pools* next = nullptr;

  Pools();
  ~Pools();
};

// This thread's pools, once created; null again after thread-local teardown.
// Constant-initialised, so the hot path reads it without a TLS init guard.
thread_local Pools* t_pools = nullptr;
// Set once this thread's Pools has been destroyed (thread exit), so that a
// late free (a static queue purged after thread-local teardown) goes to the
// heap instead of a dead pool.
thread_local bool t_pools_gone = false;

Pools* create_pools() {
  if (t_pools_gone) return nullptr;
  thread_local Pools p;
  t_pools = &p;
  return t_pools;
}

inline Pools* pools() {
  if (t_pools) [[likely]]
    return t_pools;
  return create_pools();
}

void release_page_memory(Page* pg) {
  ::operator delete(pg->addr, kAlign);
  delete pg;
}

// --- the process-wide counters ------------------------------------------------
// What the limits are checked against: the process's objects in use, whichever
// thread allocated or freed them. A program thread that sends (allocates) on a
// stack whose own thread frees (Host::run_in_thread, the preload shim) would
// otherwise see its thread's count only ever grow, and hit the limit after
// max_head_bytes of traffic. The per-thread stats stay what they were.
// Signed: a thread that frees what others allocated flushes negative deltas.
std::atomic<std::int64_t> g_counter_total[kNumCounters] = {};
std::mutex g_counters_mu;
Pools* g_all_pools = nullptr;  // the threads' pools alive, under g_counters_mu
std::atomic<std::int64_t> g_pools_alive{0};

Pools::Pools() {
  std::lock_guard<std::mutex> g(g_counters_mu);
  next = g_all_pools;
  if (next) next->prev = this;
  g_all_pools = this;
  g_pools_alive.fetch_add(1, std::memory_order_relaxed);
}

// Moves a thread's delta v (this call's included) to the shared total;
// under the lock, so that a precise sum never counts a delta twice.
[[gnu::noinline]] void counter_flush(Pools* p, Counter c, std::int64_t v) {
  if (!p) {
    g_counter_total[c].fetch_add(v, std::memory_order_relaxed);
    return;
  }
  std::lock_guard<std::mutex> g(g_counters_mu);
  g_counter_total[c].fetch_add(v, std::memory_order_relaxed);
  p->pending[c].store(0, std::memory_order_relaxed);
}

// Inline: on the hot path it is a load, an add, two compares and a store.
inline void counter_add(Pools* p, Counter c, std::int64_t n) {
  if (p) [[likely]] {
    const std::int64_t v = p->pending[c].load(std::memory_order_relaxed) + n;
    if (v < kCounterBatch[c] && v > -kCounterBatch[c]) [[likely]] {
      p->pending[c].store(v, std::memory_order_relaxed);
      return;
    }
    counter_flush(p, c, v);
    return;
  }
  counter_flush(nullptr, c, n);
}

// The total with every thread's pending delta (percpu_counter_sum).
std::uint64_t counter_sum(Counter c) {
  std::lock_guard<std::mutex> g(g_counters_mu);
  std::int64_t s = g_counter_total[c].load(std::memory_order_relaxed);
  for (Pools* q = g_all_pools; q; q = q->next) s += q->pending[c].load(std::memory_order_relaxed);
  return s > 0 ? static_cast<std::uint64_t>(s) : 0;
}

[[gnu::noinline]] bool over_limit_precise(Counter c, std::uint64_t n, std::uint64_t limit) {
  return counter_sum(c) + n > limit;
}

// Whether n more would take the process past limit. The shared total and
// this thread's delta are off by less than a batch per other thread; only
// when that much could matter is the precise sum taken
// (__percpu_counter_compare).
inline bool over_limit(Pools* p, Counter c, std::uint64_t n, std::uint64_t limit) {
  const std::int64_t approx = g_counter_total[c].load(std::memory_order_relaxed) +
                              p->pending[c].load(std::memory_order_relaxed);
  const auto slack = static_cast<std::uint64_t>(
      kCounterBatch[c] * std::max<std::int64_t>(1, g_pools_alive.load(std::memory_order_relaxed)));
  const std::uint64_t upper = (approx > 0 ? static_cast<std::uint64_t>(approx) : 0) + slack;
  if (upper + n <= limit) [[likely]]
    return false;
  return over_limit_precise(c, n, limit);
}

// --- the depot: free lists the threads share ----------------------------------
// A thread's lists serve it alone, but a program thread that sends on a stack
// run by another thread allocates every skb there and the stack thread frees
// it: the freeing thread's lists fill up while the allocating thread's stay
// empty and it allocates fresh memory from the heap for ever (and the heap
// churns pages). So a full list hands a batch to a process-wide depot of its
// class, and an empty one takes a batch from there before going to the heap,
// as slab allocators move objects between per-CPU caches and shared lists.
constexpr std::size_t kDepotBatch = 32;
constexpr std::uint64_t kMaxDepotBytesPerList = 64ull << 20;

template <typename T>
struct Depot {
  std::mutex mu;
  std::vector<T> items;
  std::atomic<std::size_t> size{0};     // items.size(), read without the lock
  std::atomic<std::uint64_t> bytes{0};  // what the items hold
};

struct Depots {
  Depot<void*> skb, fclone;
  Depot<std::uint8_t*> head[kNumHeadClasses];
  Depot<Page*> page[kMaxPooledOrder + 1];
};

// Never destroyed: frees from threads that outlive static destruction still
// find it.
Depots& depots() {
  static Depots* d = new Depots;
  return *d;
}

// A free that finds the thread's list full: moves a batch of the list to the
// depot when the depot has room, so the object can join the list. false: no
// room, the object goes back to the heap.
template <typename T>
bool spill_to_depot(std::vector<T>& list, Depot<T>& d, std::uint64_t object_bytes,
                    SkbPoolStats& st) {
  const std::size_t n = std::min(kDepotBatch, list.size());
  if (n == 0) return false;
  std::lock_guard<std::mutex> g(d.mu);
  if ((d.items.size() + n) * object_bytes > kMaxDepotBytesPerList) return false;
  d.items.insert(d.items.end(), list.end() - static_cast<std::ptrdiff_t>(n), list.end());
  d.size.store(d.items.size(), std::memory_order_relaxed);
  d.bytes.fetch_add(n * object_bytes, std::memory_order_relaxed);
  list.resize(list.size() - n);
  st.cached_bytes -= n * object_bytes;
  return true;
}

// An allocation that finds the thread's list empty: takes a batch from the
// depot. false: the depot is empty too.
template <typename T>
bool refill_from_depot(std::vector<T>& list, Depot<T>& d, std::uint64_t object_bytes,
                       SkbPoolStats& st) {
  if (d.size.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> g(d.mu);
  const std::size_t n = std::min(kDepotBatch, d.items.size());
  if (n == 0) return false;
  list.insert(list.end(), d.items.end() - static_cast<std::ptrdiff_t>(n), d.items.end());
  d.items.resize(d.items.size() - n);
  d.size.store(d.items.size(), std::memory_order_relaxed);
  d.bytes.fetch_sub(n * object_bytes, std::memory_order_relaxed);
  st.cached_bytes += n * object_bytes;
  return true;
}

}  // namespace

std::uint64_t depot_cached_bytes() {
  Depots& d = depots();
  std::uint64_t sum =
      d.skb.bytes.load(std::memory_order_relaxed) + d.fclone.bytes.load(std::memory_order_relaxed);
  for (const auto& h : d.head) sum += h.bytes.load(std::memory_order_relaxed);
  for (const auto& pg : d.page) sum += pg.bytes.load(std::memory_order_relaxed);
  return sum;
}

namespace {

Pools::~Pools() {
  // What this thread cached goes to the depot for the threads that go on
  // (a short-lived thread that freed what another allocated), as far as the
  // depot takes it; the rest back to the heap.
  auto hand_over = [this](auto& list, auto& depot, std::uint64_t bytes) {
    while (!list.empty() && spill_to_depot(list, depot, bytes, stats)) {
    }
  };
  Depots& d = depots();
  hand_over(skb_free, d.skb, sizeof(SkBuff));
  hand_over(fclone_free, d.fclone, kFcloneBlockSize);
  for (int i = 0; i < kNumHeadClasses; ++i)
    hand_over(head_free[i], d.head[i], block_bytes(kHeadClasses[i]));
  for (std::uint32_t o = 0; o <= kMaxPooledOrder; ++o)
    hand_over(page_free[o], d.page[o], std::uint64_t{PAGE_SIZE} << o);
  for (void* s : skb_free) ::operator delete (s, std::align_val_t{alignof(SkBuff)});
  for (void* b : fclone_free) ::operator delete (b, std::align_val_t{alignof(SkBuff)});
  for (int i = 0; i < kNumHeadClasses; ++i) {
    for (std::uint8_t* h : head_free[i]) ::operator delete(h, kAlign);
  }
  for (auto& list : page_free) {
    for (Page* pg : list) release_page_memory(pg);
  }
  {
    std::lock_guard<std::mutex> g(g_counters_mu);
    for (int c = 0; c < kNumCounters; ++c) {
      g_counter_total[c].fetch_add(pending[c].load(std::memory_order_relaxed),
                                   std::memory_order_relaxed);
      pending[c].store(0, std::memory_order_relaxed);
    }
    if (prev)
      prev->next = next;
    else
      g_all_pools = next;
    if (next) next->prev = prev;
    g_pools_alive.fetch_sub(1, std::memory_order_relaxed);
  }
  t_pools = nullptr;
  t_pools_gone = true;
}

SkbPoolStats g_orphan_stats;  // stats() after this thread's pools are gone

}  // namespace

SkbPoolStats& stats() {
  Pools* p = pools();
  return p ? p->stats : g_orphan_stats;
}

std::uint32_t head_capacity(std::uint32_t size) {
  for (std::uint32_t c : kHeadClasses) {
    if (size <= c) return c;
  }
  return SKB_DATA_ALIGN(size);
}

std::uint8_t* alloc_head(std::uint32_t capacity) {
  Pools* p = pools();
  const std::uint64_t bytes = block_bytes(capacity);
  if (!p) {
    auto* h = static_cast<std::uint8_t*>(::operator new(bytes, kAlign, std::nothrow));
    if (h) counter_add(nullptr, kHeadBytes, static_cast<std::int64_t>(bytes));
    return h;
  }
  if (fail_alloc_should_fail(kFailSkb) ||
      over_limit(p, kHeadBytes, bytes, p->limits.max_head_bytes)) {
    ++p->stats.alloc_failures;
    return nullptr;
  }
  std::uint8_t* h = nullptr;
  const int cls = head_class(capacity);
  if (cls >= 0 && (!p->head_free[cls].empty() ||
                   refill_from_depot(p->head_free[cls], depots().head[cls], bytes, p->stats))) {
    h = p->head_free[cls].back();
    p->head_free[cls].pop_back();
    p->stats.cached_bytes -= bytes;
  } else {
    h = static_cast<std::uint8_t*>(::operator new(bytes, kAlign, std::nothrow));
    if (!h) {
      ++p->stats.alloc_failures;
      return nullptr;
    }
    ++p->stats.head_fresh;
  }
  p->stats.head_bytes_in_use += bytes;
  counter_add(p, kHeadBytes, static_cast<std::int64_t>(bytes));
  ++p->stats.head_allocs;
  ++p->stats.head_in_use;
  return h;
}

void free_head(std::uint8_t* head, std::uint32_t capacity) {
  Pools* p = pools();
  const std::uint64_t bytes = block_bytes(capacity);
  counter_add(p, kHeadBytes, -static_cast<std::int64_t>(bytes));
  if (!p) {
    ::operator delete(head, kAlign);
    return;
  }
  p->stats.head_bytes_in_use =
      p->stats.head_bytes_in_use > bytes ? p->stats.head_bytes_in_use - bytes : 0;
  ++p->stats.head_frees;
  if (p->stats.head_in_use) --p->stats.head_in_use;
  const int cls = head_class(capacity);
  if (cls >= 0 && (keep_on_list(p->head_free[cls].size(), bytes) ||
                   spill_to_depot(p->head_free[cls], depots().head[cls], bytes, p->stats))) {
    p->head_free[cls].push_back(head);
    p->stats.cached_bytes += bytes;
  } else {
    ::operator delete(head, kAlign);
  }
}

void* alloc_skb_struct() {
  Pools* p = pools();
  if (!p) {
    void* s = ::operator new (sizeof(SkBuff), std::align_val_t{alignof(SkBuff)}, std::nothrow);
    if (s) counter_add(nullptr, kSkbs, 1);
    return s;
  }
  if (fail_alloc_should_fail(kFailSkb) || over_limit(p, kSkbs, 1, p->limits.max_skbs)) {
    ++p->stats.alloc_failures;
    return nullptr;
  }
  void* s = nullptr;
  if (!p->skb_free.empty() ||
      refill_from_depot(p->skb_free, depots().skb, sizeof(SkBuff), p->stats)) {
    s = p->skb_free.back();
    p->skb_free.pop_back();
    p->stats.cached_bytes -= sizeof(SkBuff);
  } else {
    s = ::operator new (sizeof(SkBuff), std::align_val_t{alignof(SkBuff)}, std::nothrow);
    if (!s) {
      ++p->stats.alloc_failures;
      return nullptr;
    }
  }
  ++p->stats.skb_allocs;
  ++p->stats.skb_in_use;
  counter_add(p, kSkbs, 1);
  return s;
}

void free_skb_struct(void* s) {
  Pools* p = pools();
  counter_add(p, kSkbs, -1);
  if (!p) {
    ::operator delete (s, std::align_val_t{alignof(SkBuff)});
    return;
  }
  ++p->stats.skb_frees;
  if (p->stats.skb_in_use) --p->stats.skb_in_use;
  if (keep_on_list(p->skb_free.size(), sizeof(SkBuff)) ||
      spill_to_depot(p->skb_free, depots().skb, sizeof(SkBuff), p->stats)) {
    p->skb_free.push_back(s);
    p->stats.cached_bytes += sizeof(SkBuff);
  } else {
    ::operator delete (s, std::align_val_t{alignof(SkBuff)});
  }
}

void* alloc_fclone_block() {
  Pools* p = pools();
  if (!p) {
    void* b = ::operator new (kFcloneBlockSize, std::align_val_t{alignof(SkBuff)}, std::nothrow);
    if (b) counter_add(nullptr, kSkbs, 2);
    return b;
  }
  if (fail_alloc_should_fail(kFailSkb) || over_limit(p, kSkbs, 2, p->limits.max_skbs)) {
    ++p->stats.alloc_failures;
    return nullptr;
  }
  void* b = nullptr;
  if (!p->fclone_free.empty() ||
      refill_from_depot(p->fclone_free, depots().fclone, kFcloneBlockSize, p->stats)) {
    b = p->fclone_free.back();
    p->fclone_free.pop_back();
    p->stats.cached_bytes -= kFcloneBlockSize;
  } else {
    b = ::operator new (kFcloneBlockSize, std::align_val_t{alignof(SkBuff)}, std::nothrow);
    if (!b) {
      ++p->stats.alloc_failures;
      return nullptr;
    }
  }
  ++p->stats.skb_allocs;
  p->stats.skb_in_use += 2;
  counter_add(p, kSkbs, 2);
  return b;
}

void free_fclone_block(void* b) {
  Pools* p = pools();
  counter_add(p, kSkbs, -2);
  if (!p) {
    ::operator delete (b, std::align_val_t{alignof(SkBuff)});
    return;
  }
  p->stats.skb_in_use = p->stats.skb_in_use > 2 ? p->stats.skb_in_use - 2 : 0;
  if (keep_on_list(p->fclone_free.size(), kFcloneBlockSize) ||
      spill_to_depot(p->fclone_free, depots().fclone, kFcloneBlockSize, p->stats)) {
    p->fclone_free.push_back(b);
    p->stats.cached_bytes += kFcloneBlockSize;
  } else {
    ::operator delete (b, std::align_val_t{alignof(SkBuff)});
  }
}

void note_skb_alloc() {
  ++stats().skb_allocs;
}
void note_skb_free() {
  ++stats().skb_frees;
}

}  // namespace skb_pool

// --- pages -------------------------------------------------------------------

Page* alloc_pages(std::uint32_t order) {
  using namespace skb_pool;
  Pools* p = pools();
  const std::uint32_t bytes = PAGE_SIZE << order;
  if (fail_alloc_should_fail(kFailPage)) {
    if (p) ++p->stats.alloc_failures;
    return nullptr;
  }
  if (p && over_limit(p, kPages4k, 1u << order, p->limits.max_pages)) {
    ++p->stats.alloc_failures;
    return nullptr;
  }
  Page* pg = nullptr;
  if (p && order <= kMaxPooledOrder &&
      (!p->page_free[order].empty() ||
       refill_from_depot(p->page_free[order], depots().page[order], bytes, p->stats))) {
    pg = p->page_free[order].back();
    p->page_free[order].pop_back();
    p->stats.cached_bytes -= bytes;
  } else {
    auto* addr = static_cast<std::uint8_t*>(::operator new(bytes, kAlign, std::nothrow));
    pg = addr ? new (std::nothrow) Page : nullptr;
    if (!pg) {
      ::operator delete(addr, kAlign);
      if (p) ++p->stats.alloc_failures;
      return nullptr;
    }
    pg->addr = addr;
    pg->size = bytes;
    pg->order = order;
    if (p) ++p->stats.page_fresh;
  }
  pg->refcount = 1;
  counter_add(p, kPages4k, std::int64_t{1} << order);
  if (p) {
    ++p->stats.page_allocs;
    ++p->stats.page_in_use;
    p->stats.page_4k_in_use += 1u << order;
  }
  return pg;
}

void get_page(Page* pg) {
  ++pg->refcount;
}

void put_page(Page* pg) {
  using namespace skb_pool;
  if (pg->refcount == 0) {
    std::fprintf(stderr, "put_page: page %p already free (refcount 0)\n", static_cast<void*>(pg));
    std::abort();
  }
  if (--pg->refcount != 0) return;
  if (UbufInfo* uarg = pg->user_ubuf) {
    // A user page: the memory is the caller's; unpin it.
    delete pg;
    net_zcopy_put(uarg);
    return;
  }
  Pools* p = pools();
  counter_add(p, kPages4k, -(std::int64_t{1} << pg->order));
  if (!p) {
    release_page_memory(pg);
    return;
  }
  ++p->stats.page_frees;
  if (p->stats.page_in_use) --p->stats.page_in_use;
  const std::uint64_t units = 1u << pg->order;
  p->stats.page_4k_in_use = p->stats.page_4k_in_use > units ? p->stats.page_4k_in_use - units : 0;
  if (pg->order <= kMaxPooledOrder &&
      (keep_on_list(p->page_free[pg->order].size(), pg->size) ||
       spill_to_depot(p->page_free[pg->order], depots().page[pg->order], pg->size, p->stats))) {
    p->page_free[pg->order].push_back(pg);
    p->stats.cached_bytes += pg->size;
  } else {
    release_page_memory(pg);
  }
}

// --- stats and limits --------------------------------------------------------

const SkbPoolStats& skb_pool_stats() {
  return skb_pool::stats();
}

SkbPoolUsage skb_pool_process_usage() {
  using namespace skb_pool;
  return {counter_sum(kSkbs), counter_sum(kHeadBytes), counter_sum(kPages4k)};
}

void skb_pool_set_limits(const SkbPoolLimits& limits) {
  if (skb_pool::Pools* p = skb_pool::pools()) p->limits = limits;
}

SkbPoolLimits skb_pool_limits() {
  skb_pool::Pools* p = skb_pool::pools();
  return p ? p->limits : SkbPoolLimits{};
}

// --- allocation failure injection ---------------------------------------------

namespace {

struct FailAllocState {
  FailAlloc cfg;
  FailAllocStats stats;
  std::uint64_t armed_calls = 0;  // allocations of the chosen kinds so far
  std::uint64_t rng = 0;
};
// Constant-initialised and trivially destructible: a free during thread exit
// may still ask.
thread_local FailAllocState t_fail;

int kind_index(FailAllocKind k) {
  return k == kFailSkb ? 0 : k == kFailPage ? 1 : 2;
}

// splitmix64: a full-period sequence from any seed, zero included.
std::uint64_t next_random(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

void fail_alloc_set(const FailAlloc& f) {
  t_fail.cfg = f;
  t_fail.stats = {};
  t_fail.armed_calls = 0;
  t_fail.rng = f.seed;
}

FailAlloc fail_alloc_get() {
  return t_fail.cfg;
}

const FailAllocStats& fail_alloc_stats() {
  return t_fail.stats;
}

bool fail_alloc_should_fail(FailAllocKind kind) {
  FailAllocState& f = t_fail;
  if (!(f.cfg.kinds & kind)) [[likely]]
    return false;
  const int i = kind_index(kind);
  ++f.stats.calls[i];
  ++f.armed_calls;
  bool fail = f.cfg.nth && f.armed_calls == f.cfg.nth;
  if (f.cfg.every_n && next_random(f.rng) % f.cfg.every_n == 0) fail = true;
  if (fail) ++f.stats.failed[i];
  return fail;
}

bool parse_fail_alloc(std::string_view spec, FailAlloc* out, std::string* err) {
  FailAlloc f;
  const std::size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    *err = "expected KINDS:1/N[@SEED] or KINDS:#N";
    return false;
  }
  std::string_view kinds = spec.substr(0, colon), rule = spec.substr(colon + 1);
  while (!kinds.empty()) {
    const std::size_t plus = kinds.find('+');
    const std::string_view k = kinds.substr(0, plus);
    if (k == "skb") {
      f.kinds |= kFailSkb;
    } else if (k == "page") {
      f.kinds |= kFailPage;
    } else if (k == "sock") {
      f.kinds |= kFailSock;
    } else if (k == "all") {
      f.kinds |= kFailAll;
    } else {
      *err = "unknown allocation kind '" + std::string(k) + "' (skb, page, sock, all)";
      return false;
    }
    kinds = plus == std::string_view::npos ? std::string_view{} : kinds.substr(plus + 1);
  }
  if (!f.kinds) {
    *err = "no allocation kind";
    return false;
  }
  auto number = [](std::string_view t, std::uint64_t* v) {
    const char* end = t.data() + t.size();
    auto [ptr, ec] = std::from_chars(t.data(), end, *v);
    return ec == std::errc{} && ptr == end && !t.empty();
  };
  std::uint64_t v = 0;
  if (!rule.empty() && rule[0] == '#') {
    if (!number(rule.substr(1), &v) || v == 0) {
      *err = "#N wants a count from 1";
      return false;
    }
    f.nth = v;
  } else if (rule.substr(0, 2) == "1/") {
    std::string_view n = rule.substr(2), seed;
    if (const std::size_t at = n.find('@'); at != std::string_view::npos) {
      seed = n.substr(at + 1);
      n = n.substr(0, at);
    }
    if (!number(n, &v) || v == 0 || v > UINT32_MAX) {
      *err = "1/N wants N from 1";
      return false;
    }
    f.every_n = static_cast<std::uint32_t>(v);
    if (!seed.empty() && !number(seed, &f.seed)) {
      *err = "@SEED wants a number";
      return false;
    }
  } else {
    *err = "expected 1/N[@SEED] or #N after the kinds";
    return false;
  }
  *out = f;
  return true;
}

}  // namespace sp
