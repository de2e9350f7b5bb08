// Choice points: the only place where a run can go one way or another.
//
// The scheduler asks one question per choice point ("which of these n?"), the strategy answers,
// and the scheduler records the question with its answer. The record is one flat sequence of
// typed entries, as loom's Path is: it is the replay input, what shrinking and RapidCheck
// manipulate, and what a trace header holds (docs/trace-format.md). Replaying it replays the run.
//
// Why the question is recorded and not only the answer: after a model or scheduler change a run
// may ask a different question at the same position (a timer order where a schedule choice was).
// With bare numbers a replay would answer it with a number meant for another question and go on
// as if nothing happened; with the kind and option count recorded, a strict replay reports the
// first position where the run and the record disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace kpsim {

enum class ChoiceKind : uint8_t {
  schedule,      // which runnable task takes the next step
  timer_order,   // which of several timers whose firing windows overlap fires first
  timer_offset,  // where in its window [deadline - eps, deadline + delta] a timer fires
  model,         // a nondeterministic decision inside a model (e.g. an allocation failing)
};

// The names are part of the trace format: do not rename a kind that stored traces use.
constexpr std::string_view to_string(ChoiceKind k) {
  switch (k) {
    case ChoiceKind::schedule: return "schedule";
    case ChoiceKind::timer_order: return "timer_order";
    case ChoiceKind::timer_offset: return "timer_offset";
    case ChoiceKind::model: return "model";
  }
  return "?";
}

// The kind that to_string spells `s`; nullopt for any other string.
constexpr std::optional<ChoiceKind> choice_kind_from_string(std::string_view s) {
  for (ChoiceKind k : {ChoiceKind::schedule, ChoiceKind::timer_order, ChoiceKind::timer_offset,
                       ChoiceKind::model})
    if (to_string(k) == s) return k;
  return std::nullopt;
}

// One answered choice point.
struct Choice {
  uint32_t value = 0;  // the answer: the index of the option taken (< options when typed)
  // How many options the point had; the scheduler asks only when there are at least 2, so a
  // recorded choice has options >= 2. 0 means "not recorded": a value-only entry (from a
  // format-1 trace, a docgen `choices=` list, a RapidCheck-generated sequence). Strict replay
  // checks kind and options only where options != 0.
  uint32_t options = 0;
  ChoiceKind kind = ChoiceKind::schedule;  // meaningful only when options != 0

  bool typed() const { return options != 0; }
  friend bool operator==(const Choice&, const Choice&) = default;
};

using ChoiceSeq = std::vector<Choice>;

// A value-only sequence: answers whose questions were not recorded.
inline ChoiceSeq untyped_choices(const std::vector<uint32_t>& values) {
  ChoiceSeq out;
  out.reserve(values.size());
  for (uint32_t v : values) out.push_back(Choice{.value = v});
  return out;
}

// The answers alone, e.g. to compare two runs' decisions or to print them.
inline std::vector<uint32_t> choice_values(const ChoiceSeq& seq) {
  std::vector<uint32_t> out;
  out.reserve(seq.size());
  for (const Choice& c : seq) out.push_back(c.value);
  return out;
}

}  // namespace kpsim
