#include "sched/strategy_follow.h"

#include <fmt/format.h>

namespace kpsim {

size_t FollowStrategy::choose(size_t n, const ChoiceContext& ctx) {
  const uint64_t step = ctx.step + 1;  // the step this choice picks
  if (!divergence_) {
    if (pos_ >= seq_.size()) {
      divergence_ = Divergence{Divergence::ran_out, pos_, step,
                               fmt::format("the sequence ended after {} choices; the run asks choice {} ({} "
                                           "of {} options) at step {}",
                                           seq_.size(), pos_, to_string(ctx.kind), n, step)};
    } else {
      const Choice& c = seq_[pos_];
      std::string why;
      if (c.typed() && (c.kind != ctx.kind || c.options != n))
        why = fmt::format("choice {} at step {}: recorded {} of {} options, the run asks {} of {} options", pos_,
                          step, to_string(c.kind), c.options, to_string(ctx.kind), n);
      else if (c.value >= n)
        why = fmt::format("choice {} at step {} is {} but only {} options exist ({}: 0..{})", pos_, step, c.value, n,
                          to_string(ctx.kind), n - 1);
      if (why.empty()) {
        ++pos_;
        ++followed_;
        return c.value;
      }
      divergence_ = Divergence{Divergence::mismatch, pos_, step, std::move(why)};
    }
  }
  ++defaulted_;
  return 0;
}

void FollowStrategy::end_run() {
  if (!divergence_ && pos_ < seq_.size())
    divergence_ = Divergence{Divergence::unused, pos_, 0,
                             fmt::format("the run ended after {} choices; the sequence has {} ({} unused)", pos_,
                                         seq_.size(), seq_.size() - pos_)};
}

}  // namespace kpsim
