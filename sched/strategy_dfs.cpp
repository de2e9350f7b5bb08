#include "sched/strategy_dfs.h"

#include <stdexcept>

#include <fmt/format.h>

namespace kpsim {

bool DfsStrategy::can_advance(const Point& p) const {
  if (p.k + 1 >= p.n) return false;
  if (!bound_ || p.current < 0) return true;
  return p.preemptions_before + 1 <= *bound_;
}

bool DfsStrategy::begin_run() {
  pos_ = 0;
  preemptions_ = 0;
  if (!started_) {
    started_ = true;
    return true;
  }
  while (!path_.empty() && !can_advance(path_.back())) path_.pop_back();
  if (path_.empty()) {
    exhausted_ = true;
    return false;
  }
  ++path_.back().k;
  return true;
}

size_t DfsStrategy::choose(size_t n, const ChoiceContext& ctx) {
  if (pos_ == path_.size()) {
    const int cur = ctx.kind == ChoiceKind::schedule ? ctx.current : -1;
    path_.push_back({ctx.kind, static_cast<uint32_t>(n), 0, cur, preemptions_});
  }
  const Point& p = path_[pos_++];
  if (p.kind != ctx.kind || p.n != n)
    throw std::logic_error(fmt::format(
        "dfs: the model is not deterministic: choice {} was {} with {} options, now {} with {}",
        pos_ - 1, to_string(p.kind), p.n, to_string(ctx.kind), n));
  if (p.current >= 0 && p.k > 0) ++preemptions_;
  return p.current >= 0 ? (static_cast<size_t>(p.current) + p.k) % n : p.k;
}

}  // namespace kpsim
