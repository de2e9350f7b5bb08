// Strategy: the policy that answers choice points. One file per strategy; the scheduler (the
// mechanism) never knows which one it talks to, and strategies never see models.
//
// The interface is shuttle's Scheduler trait: prepare a run, answer its choice points, finish
// it. A strategy learns everything it needs about the run at the choice points themselves
// (ChoiceContext); there is deliberately no per-step hook, because the scheduler takes steps
// that are no choice (a lone runnable task, a timer firing) and a strategy counting steps
// through a hook would count those too (PCT counts only real choices, paper §4.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "sched/choice.h"
#include "sched/footprint.h"
#include "sched/splitmix64.h"
#include "sched/state_hash.h"
#include "sched/task.h"

namespace kpsim {

// What a strategy may see at a choice point. For schedule choices, options[i] is the task that
// answer i runs, in TaskId order; `current` is the index of the task that took the previous step
// if it is still runnable (choosing anything else is a preemption), else -1. The other kinds
// leave options empty. What each step touched reaches a reducing strategy (dpor) separately,
// through step_observer().
struct ChoiceContext {
  ChoiceKind kind = ChoiceKind::schedule;
  std::string_view reason;
  uint64_t step = 0;  // steps taken so far in this run, timer steps included
  std::span<const TaskId> options;
  int current = -1;
  // The model says option 0 is what almost always happens and the others are rare events (the
  // scheduler tick landing in a window of microseconds). Exhaustive strategies ignore it; random
  // ones take option 0 with probability 1 - 1/kUnlikelyOdds (random_pick), so that their runs,
  // and the first violation they report, follow the likely orderings unless only a rare one
  // breaks the property — which they still reach, at that rate.
  bool unlikely = false;
};

inline constexpr uint64_t kUnlikelyOdds = 16;

// A random strategy's answer to a non-schedule choice: uniform, except that an unlikely choice
// keeps option 0 with probability 1 - 1/kUnlikelyOdds and spreads the rest over the others.
inline size_t random_pick(SplitMix64& rng, size_t n, const ChoiceContext& ctx) {
  if (!ctx.unlikely) return rng.below(n);
  if (rng.below(kUnlikelyOdds) != 0) return 0;
  return 1 + rng.below(n - 1);
}

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // Prepares the next run (schedule). false: nothing left to try (dfs exhausted, replay done).
  virtual bool begin_run() = 0;
  // Answers one choice point; must return a value < n. Called only when n >= 2.
  virtual size_t choose(size_t n, const ChoiceContext& ctx) = 0;
  // Called after the run (any outcome).
  virtual void end_run() {}
  // True when the strategy has provably covered the whole space (dfs only; under a shard, the
  // shard's part of it).
  virtual bool exhaustive() const { return false; }
  // False when the run that just ended is not this search's to count: a sharded dfs runs one
  // schedule of every subtree another shard owns, only to learn the tree's shape there, and
  // reports none of them. Asked after end_run().
  virtual bool run_counts() const { return true; }
  // A strategy that reduces by dependencies (dpor) returns itself here and then receives every
  // step's footprint; the scheduler records none for the others. The one per-step hook, kept out
  // of the choice interface on purpose: it reports steps, it never asks anything.
  virtual StepObserver* step_observer() { return nullptr; }
  // State caching (explore --state-cache, docs/design.md): a strategy that answers true to
  // caches_states() is asked, at every schedule choice point before it chooses, whether it wants
  // the state there (state_point(); a dfs replaying the prefix of an earlier run does not: it
  // stored those states on their first visit), and if so gets its key (sched/state_hash.h)
  // through seen_state(); true ends the run there (Outcome::cut): everything that follows from
  // that state has been explored already. Only a strategy whose search covers everything below
  // every state it stores may cut (dfs in plain order).
  virtual bool caches_states() const { return false; }
  virtual bool state_point() const { return false; }
  virtual bool seen_state(const StateKey&) { return false; }
};

}  // namespace kpsim
