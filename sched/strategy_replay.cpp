#include "sched/strategy_replay.h"

#include <fmt/format.h>

namespace kpsim {

std::string ReplayStrategy::check(const Choice& c, size_t n, const ChoiceContext& ctx) const {
  if (c.typed() && (c.kind != ctx.kind || c.options != n))
    return fmt::format("choice {}: recorded {} with {} options, the run asks {} with {} options",
                       pos_, to_string(c.kind), c.options, to_string(ctx.kind), n);
  if (c.value >= n)
    return fmt::format("choice {} is {} but only {} options exist ({})", pos_, c.value, n,
                       to_string(ctx.kind));
  return {};
}

size_t ReplayStrategy::choose(size_t n, const ChoiceContext& ctx) {
  if (pos_ >= seq_.size()) {
    if (strict_ && divergence_.empty())
      divergence_ = fmt::format("choice sequence ended at choice {} ({} with {} options)", pos_,
                                to_string(ctx.kind), n);
    ++pos_;
    return 0;
  }
  const Choice& c = seq_[pos_];
  if (strict_ && divergence_.empty()) divergence_ = check(c, n, ctx);
  ++pos_;
  // After a divergence the run goes on (wrapping like a lenient replay) so that the caller
  // still gets a complete run and trace to look at.
  return c.value < n ? c.value : c.value % n;
}

void ReplayStrategy::end_run() {
  if (strict_ && divergence_.empty() && pos_ < seq_.size())
    divergence_ = fmt::format("run ended after {} choices; the sequence has {}", pos_, seq_.size());
}

}  // namespace kpsim
