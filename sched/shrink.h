// Shrinking a failing choice sequence, RapidCheck-style: first shorter, then smaller answers,
// keeping every candidate that still fails the same way. Only the answers (Choice::value) are
// shrunk; kinds and option counts come from the runs.
//
// The shrinker knows nothing of runs: `still_fails` executes a candidate (leniently: any
// sequence is a valid run, see ReplayStrategy) and returns the sequence that run actually
// consumed when it fails the same way, nullopt otherwise. Only such returned sequences are ever
// kept, so the result always fails.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>

#include "sched/choice.h"

namespace kpsim {

using StillFails = std::function<std::optional<ChoiceSeq>(const ChoiceSeq&)>;

struct ShrinkResult {
  ChoiceSeq choices;
  size_t attempts = 0;  // candidate runs executed
  size_t accepted = 0;  // candidates that still failed and were kept
};

// `failing` must fail (as reported by still_fails); max_attempts bounds the candidate runs.
ShrinkResult shrink_choices(const ChoiceSeq& failing, const StillFails& still_fails,
                            size_t max_attempts = 5000);

}  // namespace kpsim
