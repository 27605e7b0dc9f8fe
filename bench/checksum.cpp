// Checksum throughput against memcpy on the same sizes in the same run:
// the Internet checksum should cost about what reading the bytes costs, and
// the fused copy+checksum about what the copy alone costs.
//   bench_checksum --benchmark_filter='/1500$'
#include "wire/checksum.hpp"

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

constexpr std::int64_t kSizes[] = {64, 1500, 64 * 1024};

const std::vector<std::uint8_t>& source() {
  static std::vector<std::uint8_t> buf = [] {
    std::vector<std::uint8_t> v(64 * 1024 + 64);
    std::mt19937 rng(1);
    for (auto& x : v) x = static_cast<std::uint8_t>(rng());
    return v;
  }();
  return buf;
}

template <sp::Wsum (*Sum)(const void*, std::size_t, sp::Wsum)>
void BM_sum(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  const auto& src = source();
  for (auto _ : state) {
    sp::Wsum s = Sum(src.data(), n, 0);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_memcpy(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  const auto& src = source();
  std::vector<std::uint8_t> dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_copy_then_csum(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  const auto& src = source();
  std::vector<std::uint8_t> dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    sp::Wsum s = sp::csum_partial(dst.data(), n, 0);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_csum_partial_copy(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  const auto& src = source();
  std::vector<std::uint8_t> dst(n);
  for (auto _ : state) {
    sp::Wsum s = sp::csum_partial_copy(dst.data(), src.data(), n, 0);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_csum_partial_copy_scalar(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  const auto& src = source();
  std::vector<std::uint8_t> dst(n);
  for (auto _ : state) {
    sp::Wsum s = sp::csum_partial_copy_scalar(dst.data(), src.data(), n, 0);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void sizes(benchmark::internal::Benchmark* b) {
  for (auto n : kSizes) b->Arg(n);
}

BENCHMARK(BM_memcpy)->Apply(sizes);
BENCHMARK(BM_sum<sp::csum_partial_ref>)->Name("BM_csum_reference")->Apply(sizes);
BENCHMARK(BM_sum<sp::csum_partial_scalar>)->Name("BM_csum_scalar64")->Apply(sizes);
BENCHMARK(BM_sum<sp::csum_partial_avx2>)->Name("BM_csum_avx2")->Apply(sizes);
BENCHMARK(BM_sum<sp::csum_partial>)->Name("BM_csum_partial")->Apply(sizes);
BENCHMARK(BM_copy_then_csum)->Apply(sizes);
BENCHMARK(BM_csum_partial_copy)->Apply(sizes);
BENCHMARK(BM_csum_partial_copy_scalar)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
