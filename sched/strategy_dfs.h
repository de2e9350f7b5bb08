// Exhaustive depth-first enumeration of choice sequences, with an optional preemption bound.
//
// The state of the whole search is one flat path of choice points (as in loom's Path): for each
// point, how many options it had and which one this run takes. A run replays the path's prefix
// and extends it with first options; the next run increments the deepest point that has an
// untried option and drops everything after it. When no point can be incremented the space is
// exhausted.
//
// Preemption bounding (Musuvathi & Qadeer, "Iterative context bounding for systematic testing of
// multithreaded programs", PLDI 2007): at a schedule choice where the previous task is still
// runnable, option order is rotated so that continuing it comes first; any other option is a
// preemption, and runs with more than `bound` preemptions are not enumerated.
#pragma once

#include <optional>
#include <vector>

#include "sched/strategy.h"

namespace kpsim {

class DfsStrategy final : public Strategy {
 public:
  explicit DfsStrategy(std::optional<uint32_t> preemption_bound = std::nullopt)
      : bound_(preemption_bound) {}
  std::string name() const override { return "dfs"; }
  bool begin_run() override;
  size_t choose(size_t n, const ChoiceContext& ctx) override;
  bool exhaustive() const override { return exhausted_; }

 private:
  struct Point {
    ChoiceKind kind;              // what was asked: a replayed prefix must ask the same
    uint32_t n;                   // options at this point
    uint32_t k;                   // the option taken, in rotated order
    int current;                  // index of the continuing task, -1 if none
    uint32_t preemptions_before;  // preemptions on the path before this point
  };
  bool can_advance(const Point& p) const;

  std::optional<uint32_t> bound_;
  std::vector<Point> path_;
  size_t pos_ = 0;
  uint32_t preemptions_ = 0;
  bool started_ = false;
  bool exhausted_ = false;
};

}  // namespace kpsim
