// sk_buff costs: pooled alloc+free against operator new/delete of the same
// memory in the same run, clone+free, and the header pushes of one send.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <new>

#include "skb/skbuff.hpp"

namespace {

using namespace sp;

constexpr std::uint32_t kHeadroom = 320;  // MAX_TCP_HEADER

// alloc_skb_with_headroom + consume_skb: struct and head from the pools.
void BM_skb_alloc_free(benchmark::State& state) {
  const auto size = static_cast<std::uint32_t>(state.range(0));
  consume_skb(alloc_skb_with_headroom(kHeadroom, size));  // warm the classes
  for (auto _ : state) {
    SkbPtr skb = alloc_skb_with_headroom(kHeadroom, size);
    benchmark::DoNotOptimize(skb->data);
    consume_skb(std::move(skb));
  }
  state.counters["head_fresh"] = static_cast<double>(skb_pool_stats().head_fresh);
}
BENCHMARK(BM_skb_alloc_free)->Arg(1500)->Arg(65536);

// What an skb without pools would cost: the struct and a head of the same
// capacity (shared info included) from operator new, then delete.
void BM_new_delete_same_size(benchmark::State& state) {
  const auto size = static_cast<std::uint32_t>(state.range(0));
  SkbPtr probe = alloc_skb_with_headroom(kHeadroom, size);
  const std::size_t head_bytes =
      skb_end_offset(probe.get()) + SKB_DATA_ALIGN(sizeof(SkbSharedInfo));
  probe.reset();
  for (auto _ : state) {
    auto* s = new SkBuff;
    auto* head =
        static_cast<std::uint8_t*>(::operator new (head_bytes, std::align_val_t{SMP_CACHE_BYTES}));
    s->head = s->data = head;
    benchmark::DoNotOptimize(s->data);
    benchmark::ClobberMemory();
    ::operator delete (head, std::align_val_t{SMP_CACHE_BYTES});
    delete s;
  }
}
BENCHMARK(BM_new_delete_same_size)->Arg(1500)->Arg(65536);

// tcp_transmit_skb's clone of a queued skb, and its free after xmit.
void BM_skb_clone_free(benchmark::State& state) {
  SkbPtr skb = alloc_skb_with_headroom(kHeadroom, 1500);
  skb_put(skb.get(), 1448);
  for (auto _ : state) {
    SkbPtr c = skb_clone(skb.get());
    benchmark::DoNotOptimize(c->data);
    consume_skb(std::move(c));
  }
}
BENCHMARK(BM_skb_clone_free);

// The same on an fclone skb: the clone is the reserved companion struct.
void BM_skb_fclone_clone_free(benchmark::State& state) {
  SkbPtr skb = alloc_skb_fclone(kHeadroom + 1500);
  skb_reserve(skb.get(), kHeadroom);
  skb_put(skb.get(), 1448);
  __skb_header_release(skb.get());
  for (auto _ : state) {
    SkbPtr c = skb_clone(skb.get());
    benchmark::DoNotOptimize(c->data);
    consume_skb(std::move(c));
  }
}
BENCHMARK(BM_skb_fclone_clone_free);

// Payload skb_put and the TCP (32), IPv4 (20) and Ethernet (14) pushes of
// one segment; undone with pull + trim so every iteration starts alike.
void BM_skb_put_push_headers(benchmark::State& state) {
  SkbPtr skb = alloc_skb_with_headroom(kHeadroom, 1500);
  for (auto _ : state) {
    std::uint8_t* p = skb_put(skb.get(), 1448);
    benchmark::DoNotOptimize(p);
    benchmark::DoNotOptimize(skb_push(skb.get(), 32));
    benchmark::DoNotOptimize(skb_push(skb.get(), 20));
    benchmark::DoNotOptimize(skb_push(skb.get(), 14));
    skb_pull(skb.get(), 66);
    skb_trim(skb.get(), 0);
  }
}
BENCHMARK(BM_skb_put_push_headers);

// A 32 KiB page for sk_page_frag, pooled, against operator new/delete.
void BM_page_alloc_free(benchmark::State& state) {
  put_page(alloc_pages(SKB_FRAG_PAGE_ORDER));
  for (auto _ : state) {
    Page* p = alloc_pages(SKB_FRAG_PAGE_ORDER);
    benchmark::DoNotOptimize(p->addr);
    put_page(p);
  }
}
BENCHMARK(BM_page_alloc_free);

void BM_new_delete_32k(benchmark::State& state) {
  for (auto _ : state) {
    void* p = ::operator new (32768, std::align_val_t{SMP_CACHE_BYTES});
    benchmark::DoNotOptimize(p);
    benchmark::ClobberMemory();
    ::operator delete (p, std::align_val_t{SMP_CACHE_BYTES});
  }
}
BENCHMARK(BM_new_delete_32k);

}  // namespace

BENCHMARK_MAIN();
