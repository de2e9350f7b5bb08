#include "sched/shrink.h"

namespace kpsim {

namespace {

// Shorter sequences first, then lexicographically smaller ones.
bool simpler(const ChoiceSeq& a, const ChoiceSeq& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

struct Shrinker {
  const StillFails& still_fails;
  size_t max_attempts;
  ShrinkResult r;

  bool budget() const { return r.attempts < max_attempts; }

  bool try_candidate(const ChoiceSeq& cand) {
    if (!budget() || !simpler(cand, r.choices)) return false;
    ++r.attempts;
    auto got = still_fails(cand);
    if (!got || !simpler(*got, r.choices)) return false;
    r.choices = std::move(*got);
    ++r.accepted;
    return true;
  }

  // Deletes chunks of decreasing size, anywhere in the sequence.
  bool pass_delete() {
    bool progress = false;
    for (size_t chunk = r.choices.size(); chunk >= 1 && budget(); chunk /= 2) {
      for (size_t at = 0; at + chunk <= r.choices.size() && budget();) {
        ChoiceSeq cand(r.choices.begin(), r.choices.begin() + static_cast<std::ptrdiff_t>(at));
        cand.insert(cand.end(), r.choices.begin() + static_cast<std::ptrdiff_t>(at + chunk),
                    r.choices.end());
        if (try_candidate(cand)) progress = true;
        else ++at;
      }
    }
    return progress;
  }

  // Lowers each value: to 0, to half, by one.
  bool pass_lower() {
    bool progress = false;
    for (size_t i = 0; i < r.choices.size() && budget(); ++i) {
      for (uint32_t v : {0u, r.choices[i] / 2, r.choices[i] ? r.choices[i] - 1 : 0u}) {
        if (i >= r.choices.size() || v >= r.choices[i]) continue;
        ChoiceSeq cand = r.choices;
        cand[i] = v;
        if (try_candidate(cand)) progress = true;
      }
    }
    return progress;
  }
};

}  // namespace

ShrinkResult shrink_choices(const ChoiceSeq& failing, const StillFails& still_fails,
                            size_t max_attempts) {
  Shrinker s{still_fails, max_attempts, {failing, 0, 0}};
  while (s.budget()) {
    const bool a = s.pass_delete();
    const bool b = s.pass_lower();
    if (!a && !b) break;
  }
  return s.r;
}

}  // namespace kpsim
