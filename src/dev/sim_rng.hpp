// The simulator's random numbers: std::mt19937_64 (whose output the standard
// fixes) with distributions written here, because std::*_distribution may
// give different values on different standard libraries and a seeded run
// must repeat bit for bit everywhere.
#pragma once
#include <cstdint>
#include <random>

namespace sp {

class SimRng {
 public:
  explicit SimRng(std::uint64_t seed = 1) : gen_(seed) {}
  void seed(std::uint64_t s) { gen_.seed(s); }

  std::uint64_t next_u64() { return gen_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  // True with probability p (p <= 0 never, p >= 1 always; no draw is made
  // for those, so a link without loss consumes no randomness for it).
  bool bernoulli(double p) {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return uniform01() < p;
  }
  // Uniform integer in [0, n] (n inclusive), by rejection so it has no bias.
  std::uint64_t uniform_int(std::uint64_t n) {
    if (n == 0) return 0;
    if (n == ~std::uint64_t{0}) return gen_();
    const std::uint64_t range = n + 1;
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % range);
    std::uint64_t x;
    do {
      x = gen_();
    } while (x >= limit);
    return x % range;
  }

  // SplitMix64: derive independent seeds (one per link direction) from one.
  static std::uint64_t split(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  std::mt19937_64 gen_;
};

}  // namespace sp
