// Footprint: what one step touched, for partial-order reduction (--strategy dpor).
//
// A step's footprint is a set of opaque object ids, each read or written, or `all` ("touches
// everything", the sound answer when nobody recorded what the step did). Two steps of different
// tasks are dependent when either touches everything or both touch one object and at least one
// of them writes it; independent steps commute (running them in either order from the same state
// gives the same state), which is the one thing the reduction assumes (docs/design.md,
// "Partial-order reduction").
//
// Ids are opaque to the strategy. The scheduler names its own objects (a task's run state, a
// CPU, the task table, the timer list, the object allocator) with tagged ids (obj_id); a model
// gets ids for its objects from Sched::new_object(), in creation order, so that they are the same
// in every run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "sched/task.h"

namespace kpsim {

enum class ObjTag : uint8_t { model = 0, task = 1, cpu = 2, task_table = 3, timers = 4, allocator = 5 };

constexpr uint64_t obj_id(ObjTag tag, uint64_t n) { return uint64_t{static_cast<uint8_t>(tag)} << 56 | n; }

struct Access {
  uint64_t obj;
  bool write;
  friend bool operator==(const Access&, const Access&) = default;
};

struct Footprint {
  bool all = false;
  std::vector<Access> acc;  // few per step: a scan beats a set here

  void clear() {
    all = false;
    acc.clear();
  }
  void add(uint64_t obj, bool write) {
    for (Access& a : acc)
      if (a.obj == obj) {
        a.write = a.write || write;
        return;
      }
    acc.push_back({obj, write});
  }
  friend bool operator==(const Footprint&, const Footprint&) = default;
};

// Whether the order of two steps (of different tasks) may matter.
inline bool dependent(const Footprint& a, const Footprint& b) {
  if (a.all || b.all) return true;
  for (const Access& x : a.acc)
    for (const Access& y : b.acc)
      if (x.obj == y.obj && (x.write || y.write)) return true;
  return false;
}

// A strategy that reduces by dependencies receives every step's footprint through this hook:
// task steps and timer steps (task kNoTask) alike, in the order they ran. The scheduler records
// footprints only when the strategy asks for them (Strategy::step_observer), so other strategies
// pay nothing.
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  virtual void on_step(TaskId task, const Footprint& fp) = 0;
};

}  // namespace kpsim
