// PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte: "A
// randomized scheduler with probabilistic guarantees of finding bugs", ASPLOS 2010).
//
// Every task gets a random priority above `depth`; at each schedule choice the highest-priority
// runnable task runs. What is counted: schedule choice points only, and the scheduler asks one
// only when more than one task is runnable, so these are exactly the steps with a real choice
// (paper §4.1, "identifying sequential execution": a change point in sequential code has the
// same effect moved to where a second task becomes runnable; shuttle's pct.rs counts the same
// way). Steps of a lone runnable task, timer steps and timer or model choices are not counted.
//
// k is the number of real choices in the longest run seen so far (starting from a hint).
// min(depth - 1, k) distinct change points are drawn uniformly from 1..k. At the run's c-th
// real choice, if c is change point i (0-based in draw order), the task the priorities would
// pick drops to priority depth - 1 - i (below every initial priority) before the pick, so the
// change takes effect at that very choice. (shuttle lowers the task that ran last instead; that
// is the same task unless it blocked or a higher-priority task was just woken, and then its
// change would not alter the pick it lands on.) A bug of depth d among n tasks and k real
// choices is found by one run with probability at least 1 / (n * k^(d-1)).
//
// Tasks created during the run get fresh random priorities when first seen (as in shuttle).
// Timer and model choices are uniform, from the same seeded stream.
#pragma once

#include <vector>

#include "sched/splitmix64.h"
#include "sched/strategy.h"

namespace kpsim {

class PctStrategy final : public Strategy {
 public:
  // choices_hint: the k to assume before a run has shown a longer one. The default 0 leaves the
  // first run without change points, so that it only measures k (as shuttle does); a large hint
  // would dilute the change points of a short program for good, since k never shrinks.
  PctStrategy(uint64_t seed, uint32_t depth, uint64_t choices_hint = 0)
      : rng_(seed), depth_(depth < 1 ? 1 : depth), max_choices_(choices_hint) {}
  std::string name() const override { return "pct"; }
  bool begin_run() override;
  size_t choose(size_t n, const ChoiceContext& ctx) override;

  // The change points of the current run, in draw order (for tests and diagnostics).
  const std::vector<uint64_t>& change_points() const { return change_points_; }
  // k: the most real choices any run has had so far, or the hint if larger.
  uint64_t max_choices() const { return max_choices_; }

 private:
  uint64_t priority(TaskId t);
  size_t highest(std::span<const TaskId> options);

  SplitMix64 rng_;
  uint32_t depth_;
  uint64_t max_choices_;                 // k; only grows
  uint64_t choices_ = 0;                 // real choices so far in this run
  std::vector<uint64_t> prio_;           // by TaskId; 0 = not assigned yet
  std::vector<uint64_t> change_points_;  // distinct, in 1..k; invariant: size <= depth - 1
};

}  // namespace kpsim
