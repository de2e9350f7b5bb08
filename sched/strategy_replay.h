// Replay: answers choice points from a given sequence. Replay is just another strategy (as in
// shuttle): the scheduler cannot tell it from the strategy that recorded the sequence.
//
// strict (kpsim replay): the sequence must fit the run exactly. The first disagreement is
// recorded as the divergence: a recorded choice whose kind or number of options differs from
// the question the run asks at that position, an answer out of range, a sequence too short or
// too long. Value-only entries (Choice::typed() false, e.g. from a format-1 trace) are checked
// for range and length only. lenient (shrinking, RapidCheck): any sequence is a valid run; kinds
// and option counts are ignored, out-of-range answers wrap modulo n and a missing tail answers
// 0, so every candidate a shrinker proposes can be executed.
#pragma once

#include <string>

#include "sched/strategy.h"

namespace kpsim {

class ReplayStrategy final : public Strategy {
 public:
  ReplayStrategy(ChoiceSeq seq, bool strict) : seq_(std::move(seq)), strict_(strict) {}
  std::string name() const override { return "replay"; }
  bool begin_run() override {
    if (used_) return false;
    used_ = true;
    return true;
  }
  size_t choose(size_t n, const ChoiceContext& ctx) override;
  void end_run() override;
  // Empty when the run followed the sequence exactly (always empty when lenient).
  const std::string& divergence() const { return divergence_; }

 private:
  // The first divergence at choice pos_ (strict only), or "" if the recorded entry fits.
  std::string check(const Choice& c, size_t n, const ChoiceContext& ctx) const;

  ChoiceSeq seq_;
  bool strict_;
  bool used_ = false;
  size_t pos_ = 0;  // the next entry of seq_ to answer with
  std::string divergence_;
};

}  // namespace kpsim
