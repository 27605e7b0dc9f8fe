// Per-thread pools behind the sk_buff: sk_buff structs, head buffers in size
// classes, and pages. Internal to src/skb; other layers use skbuff.hpp.
//
// Every object is its own heap allocation the first time it is needed
// ("fresh"), then goes back to a free list of its class when freed and is
// handed out again from there. A pool is a cache, not an arena, so an object
// freed on another thread, or after its thread's pool is gone, is still
// freed correctly (it simply joins that thread's lists, or the heap).
#pragma once
#include <cstddef>
#include <cstdint>

#include "skb/skbuff.hpp"

namespace sp::skb_pool {

// Linear buffer capacities (head..end) of the head pool's size classes. A
// class's block also holds skb_shared_info at end, cache-line aligned, as
// kmalloc's buckets plus SKB_WITH_OVERHEAD do in Linux. The 64 KiB + 1 KiB
// class takes a full GSO skb with MAX_TCP_HEADER of headroom. A request
// above the last class is served exactly (rounded to a cache line) and not
// pooled.
inline constexpr std::uint32_t kHeadClasses[] = {
    256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 65536 + 1024, 131072, 262144,
};
inline constexpr int kNumHeadClasses = sizeof(kHeadClasses) / sizeof(kHeadClasses[0]);

// The head capacity alloc_skb gives for a request of `size` bytes: the
// smallest class that fits, or the size rounded to a cache line.
std::uint32_t head_capacity(std::uint32_t size);

// A head of head_capacity(size) bytes plus room for skb_shared_info at its
// end; nullptr on exhaustion (counted as an allocation failure).
std::uint8_t* alloc_head(std::uint32_t capacity);
// Return a head of the given capacity (skb_end_offset) to its pool.
void free_head(std::uint8_t* head, std::uint32_t capacity);

// An uninitialised sk_buff's storage, or nullptr on exhaustion.
void* alloc_skb_struct();
void free_skb_struct(void* p);

// The tail of an fclone block, after the two structs: how many of the pair
// are alive (struct sk_buff_fclones' fclone_ref) and whether the companion
// is one of them.
struct FcloneRef {
  std::uint32_t ref = 0;
  bool clone_busy = false;
};
inline constexpr std::size_t kFcloneBlockSize = 2 * sizeof(SkBuff) + sizeof(FcloneRef);

// Storage for an fclone pair (alloc_skb_fclone): two sk_buff structs and the
// pair's reference count, kFcloneBlockSize bytes. It holds two of max_skbs
// from allocation until the block is freed, so the companion clone can
// never fail. nullptr on exhaustion.
void* alloc_fclone_block();
void free_fclone_block(void* block);
// skb_allocs / skb_frees for the companion of a pair, which takes no memory
// of its own.
void note_skb_alloc();
void note_skb_free();

// Bookkeeping of frees done outside the pool lists.
SkbPoolStats& stats();
// Bytes cached in the process-wide depot (not in any thread's stats()): with
// stats().cached_bytes, what the pools hold for reuse.
std::uint64_t depot_cached_bytes();

}  // namespace sp::skb_pool
