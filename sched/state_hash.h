// State hashing for state caching (explore --state-cache, docs/design.md "State caching").
//
// A StateKey is a 128-bit digest of the whole state at a scheduling point: the scheduler's own
// part (Sched::hash_state: every task's position, run state, flags and sleep bookkeeping, the
// clock, the step count, the armed timers) and the world's complete state
// (World::visit_complete_state). Two runs that reach equal keys are, up to a hash collision, in
// the same state, and a deterministic model's future depends only on its state, so the second
// one need not go on.
//
// 128 bits because a collision is a silent miss: with n states the chance of any collision is
// about n^2 / 2^129, below 10^-24 at a billion states; 64 bits would give 3 % there.
//
// The digest is order-sensitive (a sequence of fields, as the visitors produce them in their
// deterministic order) and depends only on the values, never on addresses or containers with
// hash order, so the same state gets the same key on every run and build.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>

#include "sched/state.h"

namespace kpsim {

struct StateKey {
  uint64_t a = 0, b = 0;
  bool operator==(const StateKey&) const = default;
};

struct StateKeyHash {
  size_t operator()(const StateKey& k) const noexcept { return static_cast<size_t>(k.a ^ (k.b * 0x9e3779b97f4a7c15ull)); }
};

// Feeds fields into two independent 64-bit lanes (different seeds and multipliers, mixed with
// the splitmix64 finaliser), so the 128-bit key is not two copies of one 64-bit hash.
class StateHasher final : public StateVisitor {
 public:
  using StateVisitor::value;
  void value(std::string_view name, int64_t v) override {
    str(name);
    word(0x1, static_cast<uint64_t>(v));
  }
  void value(std::string_view name, std::string_view v) override {
    str(name);
    word(0x2, v.size());
    str(v);
  }
  // Raw fields, for the scheduler's own part (no names needed: its order is fixed by the code).
  void word(uint64_t tag, uint64_t v) {
    a_ = mix(a_ ^ (v + tag * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull + 1;
    b_ = mix(b_ + (v ^ (tag + 0xc4ceb9fe1a85ec53ull)) * 0xc2b2ae3d27d4eb4full) ^ 0x94d049bb133111ebull;
  }
  void str(std::string_view s) {
    word(0x3, s.size());
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      word(0x4, w);
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < s.size(); ++k) tail |= uint64_t{static_cast<unsigned char>(s[i + k])} << (8 * k);
    word(0x5, tail);
  }
  StateKey key() const { return {mix(a_), mix(b_)}; }

 private:
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t a_ = 0x6b7073696d737461ull;  // "kpsimsta"
  uint64_t b_ = 0x7465636163686521ull;
};

}  // namespace kpsim
