#include "sched/strategy_pct.h"

#include <algorithm>
#include <cassert>

namespace kpsim {

bool PctStrategy::begin_run() {
  prio_.clear();
  change_points_.clear();
  choices_ = 0;
  // Distinct points (as the paper's analysis assumes): redraw a duplicate. Terminates because at
  // most k points are wanted out of k values.
  const uint64_t want = std::min<uint64_t>(depth_ - 1, max_choices_);
  while (change_points_.size() < want) {
    const uint64_t c = 1 + rng_.below(max_choices_);
    if (std::find(change_points_.begin(), change_points_.end(), c) == change_points_.end())
      change_points_.push_back(c);
  }
  return true;
}

uint64_t PctStrategy::priority(TaskId t) {
  if (t >= prio_.size()) prio_.resize(t + 1, 0);
  // Random priorities live far above the change-point priorities 1..depth-1.
  if (prio_[t] == 0) prio_[t] = depth_ + 1 + (rng_.next() >> 1);
  return prio_[t];
}

// The index of the highest-priority option (the first on a tie, which random 63-bit priorities
// make all but impossible).
size_t PctStrategy::highest(std::span<const TaskId> options) {
  size_t best = 0;
  uint64_t best_prio = 0;
  for (size_t i = 0; i < options.size(); ++i) {
    const uint64_t p = priority(options[i]);
    if (p > best_prio) {
      best_prio = p;
      best = i;
    }
  }
  return best;
}

size_t PctStrategy::choose(size_t n, const ChoiceContext& ctx) {
  if (ctx.kind != ChoiceKind::schedule || ctx.options.size() != n) return random_pick(rng_, n, ctx);
  // n >= 2 here (the scheduler asks only then): a real choice.
  ++choices_;
  max_choices_ = std::max(max_choices_, choices_);
  size_t pick = highest(ctx.options);
  for (size_t i = 0; i < change_points_.size(); ++i) {
    if (change_points_[i] != choices_) continue;
    assert(depth_ >= 2 + i);
    prio_[ctx.options[pick]] = depth_ - 1 - i;  // change point i -> priority depth-1-i, all < depth
    pick = highest(ctx.options);
  }
  return pick;
}

}  // namespace kpsim
