// PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte: "A
// randomized scheduler with probabilistic guarantees of finding bugs", ASPLOS 2010).
//
// Every task gets a random priority above `depth`; the highest-priority runnable task always
// runs. depth - 1 change points are drawn uniformly over the expected run length k; when the
// step at change point i has run, the task that ran it drops to priority depth - i. A bug of
// depth d in a program of n tasks and k steps is found by one run with probability at least
// 1 / (n * k^(d-1)). Tasks created during the run get fresh random priorities (as in shuttle).
// k is the longest run seen so far (starting from a hint). Non-schedule choices are uniform.
#pragma once

#include <vector>

#include "sched/splitmix64.h"
#include "sched/strategy.h"

namespace kpsim {

class PctStrategy final : public Strategy {
 public:
  PctStrategy(uint64_t seed, uint32_t depth, uint64_t steps_hint = 64)
      : rng_(seed), depth_(depth < 1 ? 1 : depth), max_steps_(steps_hint) {}
  std::string name() const override { return "pct"; }
  bool begin_run() override;
  size_t choose(size_t n, const ChoiceContext& ctx) override;
  void on_step(TaskId task, uint64_t step) override;

 private:
  uint64_t priority(TaskId t);

  SplitMix64 rng_;
  uint32_t depth_;
  uint64_t max_steps_;
  std::vector<uint64_t> prio_;           // by TaskId; 0 = not assigned yet
  std::vector<uint64_t> change_points_;  // step numbers, one per priority change
};

}  // namespace kpsim
