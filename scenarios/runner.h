// Running scenarios: one run under a strategy, an exploration of many, and the shrinking and
// re-running of the first violation into a trace.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "scenarios/scenario.h"
#include "sched/strategy.h"
#include "sched/strategy_dpor.h"

namespace kpsim {

struct RunResult {
  RunEnd end;
  ChoiceSeq choices;
  uint64_t steps = 0;
  uint64_t t_ns = 0;
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  std::optional<Trace> trace;
};

class MetricSummary;

struct RunOptions {
  RunLimits limits;
  bool trace = false;
  // Build the scenario's metrics (World::metrics) after the run. A search needs them only for
  // its first schedule and its violating ones; building JSON per schedule costs more than a
  // sockmap schedule's steps.
  bool metrics = true;
  std::string strategy_label;  // recorded in the trace header
  uint64_t seed = 0;
  // A search's metrics by key (World::metrics_key): run_once writes the world's key here (empty
  // when it has none) and, on an untraced run whose key `known_metrics` has seen, builds no
  // metrics at all (RunResult::metrics stays empty): the summary counts the run by its key.
  std::string* metrics_key = nullptr;
  const MetricSummary* known_metrics = nullptr;
};

// One run. The caller has called strategy.begin_run(); run_once calls strategy.end_run().
RunResult run_once(const Scenario& sc, const Params& p, Strategy& strategy, const RunOptions& o);

// One run answering the choice points from `choices`, leniently (out-of-range answers wrap,
// a missing tail answers 0; see ReplayStrategy). The empty sequence is the default schedule.
// o.limits defaults to the scenario's own.
RunResult run_choices(const Scenario& sc, const Params& p, const ChoiceSeq& choices,
                      std::optional<RunOptions> o = std::nullopt);

// A finding: a property violation or a deadlock (both mean the kernel paths misbehaved).
bool is_finding(const RunEnd& e);
std::string finding_key(const RunEnd& e);  // what shrinking must preserve

// Re-runs `choices` leniently; the run's result if it is the same finding as `key`.
std::optional<RunResult> rerun_if_same(const Scenario& sc, const Params& p, const ChoiceSeq& choices,
                                       const std::string& key, const RunOptions& o);

// The distribution of each metric over many runs: numbers as a histogram of their values (a
// metric takes few distinct values, so this stays small where a list of every schedule's would
// not), booleans and strings as counts per value.
class MetricSummary {
 public:
  void add(const nlohmann::ordered_json& metrics);
  // The same for a run whose metrics `key` (World::metrics_key, non-empty) determines: a run
  // with a key seen before is counted by add_seen without its JSON (true); for a new key,
  // add_seen returns false and the caller adds the run's metrics with add(metrics, key).
  void add(const nlohmann::ordered_json& metrics, std::string_view key);
  bool add_seen(std::string_view key);
  // The metrics of the first run with `key`; nullptr if none was added.
  const nlohmann::ordered_json* known(std::string_view key) const {
    auto it = keyed_.find(key);
    return it == keyed_.end() ? nullptr : &it->second.metrics;
  }
  uint64_t runs() const { return runs_; }
  // {name: {"min", "median" (the lower median: a value some run had), "max", "runs"}} for numbers,
  // {name: {"values": {value: runs}}} for booleans and strings; in the metrics' first-seen order.
  nlohmann::ordered_json to_json() const;

 private:
  struct One {
    std::map<double, uint64_t> numbers;
    std::map<nlohmann::ordered_json, uint64_t> values;  // kept as JSON: no dump per schedule
    bool integral = true;
    uint64_t n = 0;
  };
  void add_n(const nlohmann::ordered_json& metrics, uint64_t times);
  uint64_t runs_ = 0;
  std::vector<std::pair<std::string, One>> by_name_;  // first-seen order
  std::map<std::string, size_t> index_;
  // By key: the metrics of the first run with that key (already in by_name_ once) and how many
  // runs since had the same key, added by to_json. Their names were all seen with the first
  // run, so adding the repeats late changes no order, only counts.
  struct Keyed {
    nlohmann::ordered_json metrics;
    uint64_t repeats = 0;
  };
  std::map<std::string, Keyed, std::less<>> keyed_;
};

struct ExploreOptions {
  uint64_t budget = 1000;  // runs at most: schedules, and runs a state cache cut
  RunOptions run;
  bool stop_on_first = false;
  bool shrink = true;
  // Set (by a signal handler) to end the search after the current schedule: the result says
  // `interrupted` and nothing is shrunk.
  const std::atomic<bool>* stop = nullptr;
  // Called every `progress_every` schedules (for progress lines on long runs).
  uint64_t progress_every = 0;
  std::function<void(uint64_t schedules, uint64_t violations)> progress;
  // Called after every candidate run while shrinking (progress lines again): the candidates
  // run so far and the length of the shortest failing sequence kept.
  std::function<void(size_t attempts, size_t best_length)> shrink_progress;
  // Build every schedule's metrics and summarize them (ExploreResult::metric_summary); off by
  // default, since building them costs more than a short schedule's steps.
  bool summarize_metrics = false;
  // Determinism check (explore --check-determinism[=N]): every violating schedule and every
  // Nth one (N > 0: schedules 1, N+1, 2N+1, ..., so that any search checks at least one) is
  // re-run twice from its choices with tracing; the two traces must be
  // byte-identical and the first must end as the searched run did (same choices, steps,
  // outcome). 0: off. A mismatch stops the search (ExploreResult::nondeterminism).
  uint64_t check_determinism_every = 0;
};

// Two re-runs of one schedule that should have been identical and were not.
struct DeterminismFailure {
  uint64_t schedule = 0;  // 1-based
  std::string what;       // which comparison failed, in words
  std::string trace_a, trace_b;  // the two re-runs' trace bytes
};

struct ExploreResult {
  uint64_t schedules = 0;
  uint64_t foreign_runs = 0;  // a sharded dfs: runs of other shards' subtrees, not counted
  // State caching: runs ended at a state explored before (Outcome::cut). Not in `schedules` or
  // `outcomes`; the budget counts them with the schedules (each is a run).
  uint64_t cut = 0;
  uint64_t violations = 0;
  bool exhaustive = false;
  std::map<std::string, uint64_t> outcomes;  // outcome name -> runs
  uint64_t first_violation_schedule = 0;     // 1-based, 0 if none
  ChoiceSeq first_choices;                   // as found, before shrinking
  nlohmann::ordered_json first_metrics;      // metrics of the first schedule run
  ChoiceSeq first_run_choices;               // the first schedule's choices (to trace a clean run)
  // ExploreOptions::summarize_metrics: every metric over the schedules explored.
  MetricSummary metric_summary;
  std::optional<RunResult> first_violation;  // shrunk and re-run with a trace
  // The first schedule whose model invariant broke (a kpsim bug): re-run with a trace, not
  // shrunk; the search stops there, since nothing after it can be trusted.
  std::optional<RunResult> model_bug;
  uint64_t model_bug_schedule = 0;
  size_t shrink_attempts = 0;
  bool interrupted = false;  // ExploreOptions::stop ended the search
  uint64_t determinism_checks = 0;  // schedules re-run by the determinism check
  uint64_t commutation_checks = 0;  // KPSIM_DPOR_CHECK: pairs of independent steps run both ways
  std::optional<DeterminismFailure> nondeterminism;  // the first mismatch; the search stopped
};

// The determinism check of one schedule `r` (run untraced by the search): re-run its choices
// twice with tracing and compare. nullopt when everything matched.
std::optional<DeterminismFailure> check_determinism(const Scenario& sc, const Params& p,
                                                    const RunResult& r, const RunOptions& o);

// The dpor debug check (KPSIM_DPOR_CHECK=1 in the environment of explore --strategy dpor, or
// called directly): for every two consecutive steps of `events` (a dpor run of `choices`) by
// different tasks that their footprints declare independent, run the prefix, then the two steps
// in the recorded order and in the other, then the same continuation (first options) to the end,
// and require the same end (outcome, property, message, steps, virtual time, metrics) and the
// same footprint for each of the two steps in both orders. `pairs` counts the pairs checked.
// nullopt when every pair commuted; else the first pair that did not, with both runs' traces.
std::optional<DeterminismFailure> check_commutation(const Scenario& sc, const Params& p,
                                                    const ChoiceSeq& choices,
                                                    const std::vector<DporStrategy::Event>& events,
                                                    const RunOptions& o, uint64_t* pairs = nullptr);

// Throws std::invalid_argument when the strategy caches states and the scenario does not report
// its complete state (Scenario::complete_state).
ExploreResult explore(const Scenario& sc, const Params& p, Strategy& strategy,
                      const ExploreOptions& o);

}  // namespace kpsim
