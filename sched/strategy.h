// Strategy: the policy that answers choice points. One file per strategy; the scheduler (the
// mechanism) never knows which one it talks to, and strategies never see models.
#pragma once

#include <cstddef>
#include <string>

#include "sched/choice.h"

namespace kpsim {

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
  // Hook after each step, for strategies that track the step structure (PCT, a future DPOR).
  virtual void on_step(TaskId /*task*/, uint64_t /*step*/) {}
  // True when the strategy has provably covered the whole space (dfs only).
  virtual bool exhaustive() const { return false; }
};

}  // namespace kpsim
