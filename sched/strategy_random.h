// Random walk: every choice uniform (an unlikely one's rare options 1/kUnlikelyOdds in all),
// from one seeded splitmix64 stream across runs. The whole
// exploration is reproduced by its seed; a single run by its recorded choice sequence.
#pragma once

#include "sched/splitmix64.h"
#include "sched/strategy.h"

namespace kpsim {

class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(uint64_t seed) : rng_(seed) {}
  std::string name() const override { return "random"; }
  bool begin_run() override { return true; }
  size_t choose(size_t n, const ChoiceContext& ctx) override { return random_pick(rng_, n, ctx); }

 private:
  SplitMix64 rng_;
};

}  // namespace kpsim
