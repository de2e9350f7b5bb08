#include "sched/strategy_pct.h"

namespace kpsim {

bool PctStrategy::begin_run() {
  prio_.clear();
  change_points_.clear();
  for (uint32_t i = 1; i < depth_; ++i) change_points_.push_back(1 + rng_.below(max_steps_));
  return true;
}

uint64_t PctStrategy::priority(TaskId t) {
  if (t >= prio_.size()) prio_.resize(t + 1, 0);
  // Random priorities live far above the change-point priorities 1..depth-1.
  if (prio_[t] == 0) prio_[t] = depth_ + 1 + (rng_.next() >> 1);
  return prio_[t];
}

size_t PctStrategy::choose(size_t n, const ChoiceContext& ctx) {
  if (ctx.kind != ChoiceKind::schedule || ctx.options.size() != n) return rng_.below(n);
  size_t best = 0;
  uint64_t best_prio = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t p = priority(ctx.options[i]);
    if (p > best_prio) {
      best_prio = p;
      best = i;
    }
  }
  return best;
}

void PctStrategy::on_step(TaskId task, uint64_t step) {
  if (step > max_steps_) max_steps_ = step;
  for (size_t i = 0; i < change_points_.size(); ++i) {
    if (change_points_[i] == step) {
      priority(task);
      prio_[task] = depth_ - 1 - i;  // change point i (0-based) -> priority depth-1-i, all < depth
    }
  }
}

}  // namespace kpsim
