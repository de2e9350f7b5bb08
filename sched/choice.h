// Choice points: the only place where a run can go one way or another.
//
// A run is fully described by the sequence of values returned at its choice points. The
// scheduler asks one question per choice point ("which of these n?") and the strategy answers;
// the scheduler records the answer. Replaying the recorded sequence replays the run.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sched/task.h"

namespace kpsim {

enum class ChoiceKind : uint8_t {
  schedule,      // which runnable task takes the next step
  timer_order,   // which of several timers whose firing windows overlap fires first
  timer_offset,  // where in its window [deadline - eps, deadline + delta] a timer fires
  model,         // a nondeterministic decision inside a model (e.g. an allocation failing)
};
std::string_view to_string(ChoiceKind k);

// What a strategy may see at a choice point. For schedule choices, options[i] is the task that
// answer i runs, in TaskId order; `current` is the index of the task that took the previous step
// if it is still runnable (choosing anything else is a preemption), else -1. The other kinds
// leave options empty. Partial-order reduction would add what each step touched; models would
// not change.
struct ChoiceContext {
  ChoiceKind kind = ChoiceKind::schedule;
  std::string_view reason;
  uint64_t step = 0;  // steps taken so far in this run, timer steps included
  std::span<const TaskId> options;
  int current = -1;
};

using ChoiceSeq = std::vector<uint32_t>;

}  // namespace kpsim
