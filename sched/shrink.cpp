#include "sched/shrink.h"

#include <algorithm>

namespace kpsim {

namespace {

// Shorter sequences first, then lexicographically smaller answers. Kinds and option counts do
// not make a sequence simpler: they describe the run, they are not chosen.
bool simpler(const ChoiceSeq& a, const ChoiceSeq& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](const Choice& x, const Choice& y) { return x.value < y.value; });
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

  // Lowers each answer: to 0, to half, by one. The candidate keeps the entry's kind and option
  // count, which no longer describe the run it will drive; that is harmless because candidates
  // are replayed leniently, and what is kept is the sequence the run consumed, typed afresh.
  bool pass_lower() {
    bool progress = false;
    for (size_t i = 0; i < r.choices.size() && budget(); ++i) {
      const uint32_t old = r.choices[i].value;
      for (uint32_t v : {0u, old / 2, old ? old - 1 : 0u}) {
        if (i >= r.choices.size() || v >= r.choices[i].value) continue;
        ChoiceSeq cand = r.choices;
        cand[i].value = v;
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
