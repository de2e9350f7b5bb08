// Follow: answers choice points from a given sequence while it fits the run, then by the default
// policy (the first option, as a lenient replay answers a missing tail), and reports where the
// run left the sequence.
//
// Two uses, both "run this one schedule" rather than "reproduce this trace":
//  - explore/replay --choices 0,1,0: untyped answers; an entry fits when its answer is in range.
//    The caller treats a divergence as bad input (exit 2) and names the choice and the step.
//  - replay --set k=v: a trace's typed choices under other parameters (a fix, say). An entry
//    fits when the run asks the same kind of question with the same number of options and the
//    answer is in range; from the first entry that does not, the run is no longer the recorded
//    ordering, so the rest is answered by the default policy and the divergence is reported.
// Unlike ReplayStrategy (strict: any disagreement is an error; lenient: wraps silently), it
// never maps an answer meant for one question onto another.
#pragma once

#include <optional>
#include <string>

#include "sched/strategy.h"

namespace kpsim {

class FollowStrategy final : public Strategy {
 public:
  explicit FollowStrategy(ChoiceSeq seq) : seq_(std::move(seq)) {}
  std::string name() const override { return "replay"; }
  bool begin_run() override {
    if (used_) return false;
    used_ = true;
    return true;
  }
  size_t choose(size_t n, const ChoiceContext& ctx) override;
  void end_run() override;

  struct Divergence {
    // mismatch: an entry does not fit the question; ran_out: the run asked for more than the
    // sequence holds; unused: the run ended with entries left.
    enum Kind : uint8_t { mismatch, ran_out, unused } kind = mismatch;
    size_t choice = 0;  // 0-based index into the sequence (== its size: the sequence ran out)
    uint64_t step = 0;  // 1-based step the choice point was to pick; 0: the run ended first
    std::string why;    // in words, naming the choice and the step
  };
  // The first place the run and the sequence disagreed; nullopt when the run used every entry
  // and asked for no more.
  const std::optional<Divergence>& divergence() const { return divergence_; }
  // Entries answered from the sequence before the divergence (all of them without one).
  size_t followed() const { return followed_; }
  // Choice points answered by the default policy after the divergence.
  size_t defaulted() const { return defaulted_; }

 private:
  ChoiceSeq seq_;
  bool used_ = false;
  size_t pos_ = 0;
  size_t followed_ = 0, defaulted_ = 0;
  std::optional<Divergence> divergence_;
};

}  // namespace kpsim
