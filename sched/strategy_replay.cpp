#include "sched/strategy_replay.h"

#include <fmt/format.h>

namespace kpsim {

size_t ReplayStrategy::choose(size_t n, const ChoiceContext& ctx) {
  if (pos_ >= seq_.size()) {
    if (strict_ && divergence_.empty())
      divergence_ = fmt::format("choice sequence ended at choice {} ({} with {} options)", pos_,
                                to_string(ctx.kind), n);
    ++pos_;
    return 0;
  }
  const uint32_t c = seq_[pos_++];
  if (c < n) return c;
  if (strict_ && divergence_.empty())
    divergence_ = fmt::format("choice {} is {} but only {} options exist ({})", pos_ - 1, c, n,
                              to_string(ctx.kind));
  return c % n;
}

void ReplayStrategy::end_run() {
  if (strict_ && divergence_.empty() && pos_ < seq_.size())
    divergence_ = fmt::format("run ended after {} choices; the sequence has {}", pos_, seq_.size());
}

}  // namespace kpsim
