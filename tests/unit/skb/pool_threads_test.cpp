// Pool limits when one thread allocates what another frees: a program
// thread sending on a stack whose own thread frees the skbs once they are
// acknowledged (Host::run_in_thread, the preload shim).
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "skb/skbuff.hpp"

namespace sp {
namespace {

// The allocating thread's limits hold the process's objects in use, not the
// count of what this thread ever allocated: freeing on another thread gives
// the room back. Both threads are the test's own, so the main thread's pool
// statistics (which other tests compare) stay as they were.
TEST(SkbPoolThreads, frees_on_another_thread_give_the_allocating_thread_its_room_back) {
  std::uint64_t failures = 0;
  bool all_allocated = true;
  const std::uint64_t base = skb_pool_process_usage().skbs;
  std::thread allocator([&] {
    SkbPoolLimits l = skb_pool_limits();
    l.max_skbs = base + 64;
    l.max_head_bytes = skb_pool_process_usage().head_bytes + (1u << 20);
    skb_pool_set_limits(l);
    // 40 rounds of 32 skbs of 2 KiB: 1280 skbs and 2.5 MiB of heads in all,
    // 20 times the skb limit and twice the head limit, never more than 32 held.
    for (int round = 0; round < 40 && all_allocated; ++round) {
      std::vector<SkbPtr> batch;
      for (int i = 0; i < 32; ++i) {
        SkbPtr skb = alloc_skb(2000);
        if (!skb) all_allocated = false;
        batch.push_back(std::move(skb));
      }
      std::thread freer([&batch] {
        for (SkbPtr& skb : batch) consume_skb(std::move(skb));
      });
      freer.join();
    }
    failures = skb_pool_stats().alloc_failures;
  });
  allocator.join();
  EXPECT_TRUE(all_allocated);
  EXPECT_EQ(failures, 0u);
  EXPECT_EQ(skb_pool_process_usage().skbs, base);
}

// The limit still bites on what is held, wherever it is freed.
TEST(SkbPoolThreads, objects_held_count_against_the_limit) {
  bool fifth_failed = false, after_free_ok = false;
  std::thread t([&] {
    SkbPoolLimits l = skb_pool_limits();
    l.max_skbs = skb_pool_process_usage().skbs + 4;
    skb_pool_set_limits(l);
    std::vector<SkbPtr> held;
    for (int i = 0; i < 4; ++i) held.push_back(alloc_skb(100));
    fifth_failed = !alloc_skb(100);
    std::thread freer([&held] { consume_skb(std::move(held[0])); });
    freer.join();
    after_free_ok = static_cast<bool>(alloc_skb(100));
  });
  t.join();
  EXPECT_TRUE(fifth_failed);
  EXPECT_TRUE(after_free_ok);
}

// A thread that allocates what short-lived threads free reuses the memory:
// each exiting thread hands its cache to the shared depot.
TEST(SkbPoolThreads, an_allocating_thread_reuses_what_exiting_threads_freed) {
  std::vector<std::uint64_t> fresh_after_round;
  std::thread allocator([&] {
    // 2 KiB heads: the freeing thread keeps 16 MiB of them (8192) before it
    // spills; 400 rounds of 64 go well past that.
    for (int round = 0; round < 400; ++round) {
      std::vector<SkbPtr> batch;
      for (int i = 0; i < 64; ++i) batch.push_back(alloc_skb(2000));
      std::thread freer([&batch] {
        for (SkbPtr& skb : batch) consume_skb(std::move(skb));
      });
      freer.join();
      fresh_after_round.push_back(skb_pool_stats().head_fresh);
    }
  });
  allocator.join();
  ASSERT_EQ(fresh_after_round.size(), 400u);
  EXPECT_EQ(fresh_after_round[399], fresh_after_round[300]);
}

// The same with one long-lived freeing thread (a stack thread freeing what a
// program thread sent): once its lists are full they spill to the depot,
// and the allocating thread's fresh allocations stop growing.
TEST(SkbPoolThreads, an_allocating_thread_reuses_what_a_long_lived_thread_frees) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<SkbPtr> to_free;
  bool done = false;
  std::thread freer([&] {
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return done || !to_free.empty(); });
      for (SkbPtr& skb : to_free) consume_skb(std::move(skb));
      to_free.clear();
      cv.notify_all();
      if (done) return;
    }
  });
  std::vector<std::uint64_t> fresh_after_round;
  std::thread allocator([&] {
    // 2 KiB heads: the freeing thread keeps 16 MiB of them (8192) before it
    // spills; 400 rounds of 64 go well past that.
    for (int round = 0; round < 400; ++round) {
      std::vector<SkbPtr> batch;
      for (int i = 0; i < 64; ++i) batch.push_back(alloc_skb(2000));
      std::unique_lock<std::mutex> lk(mu);
      to_free = std::move(batch);
      cv.notify_all();
      cv.wait(lk, [&] { return to_free.empty(); });
      fresh_after_round.push_back(skb_pool_stats().head_fresh);
    }
  });
  allocator.join();
  {
    std::lock_guard<std::mutex> lk(mu);
    done = true;
  }
  cv.notify_all();
  freer.join();
  ASSERT_EQ(fresh_after_round.size(), 400u);
  EXPECT_GT(fresh_after_round[100], 0u);  // before the freer's lists filled
  EXPECT_EQ(fresh_after_round[399], fresh_after_round[300]);
}

}  // namespace
}  // namespace sp
