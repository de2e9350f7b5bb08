// splitmix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", OOPSLA 2014;
// constants as in Vigna's public-domain reference). Chosen because it is tiny, fully specified
// and identical on every platform: no std:: distribution is used anywhere in choice making, so
// the same seed picks the same schedules with every standard library.
#pragma once

#include <cstdint>

namespace kpsim {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // In [0, n) by reduction modulo n; the bias (< n / 2^64) is irrelevant for small n.
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

}  // namespace kpsim
