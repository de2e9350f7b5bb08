// Replay: answers choice points from a given sequence.
//
// strict (kpsim replay): the sequence must fit the run exactly; an answer out of range or a
// sequence too short or too long is recorded as a divergence. lenient (shrinking, RapidCheck):
// any sequence is a valid run: out-of-range answers wrap modulo n and a missing tail answers 0,
// so every candidate a shrinker proposes can be executed.
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
  // Empty when the run followed the sequence exactly.
  const std::string& divergence() const { return divergence_; }

 private:
  ChoiceSeq seq_;
  bool strict_;
  bool used_ = false;
  size_t pos_ = 0;
  std::string divergence_;
};

}  // namespace kpsim
