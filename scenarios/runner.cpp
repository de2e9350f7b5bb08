#include "scenarios/runner.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include "sched/shrink.h"
#include "sched/strategy_replay.h"
#include "traces/version.h"

namespace kpsim {

RunResult run_once(const Scenario& sc, const Params& p, Strategy& strategy, const RunOptions& o) {
  RunResult r;
  if (o.trace) {
    r.trace.emplace();
    r.trace->header.kpsim_version = std::string(kpsim_version());
    r.trace->header.scenario = std::string(sc.name());
    r.trace->header.script = std::string(sc.source());
    r.trace->header.params = p.to_json();
    r.trace->header.strategy = o.strategy_label.empty() ? strategy.name() : o.strategy_label;
    r.trace->header.seed = o.seed;
    // Limits other than the scenario's are part of the run (they decide where it stops):
    // recorded, so that replay runs under them. Default limits are not written.
    const RunLimits def = sc.default_limits();
    if (o.limits.max_steps != def.max_steps || o.limits.max_time_ns != def.max_time_ns) {
      r.trace->header.max_steps = o.limits.max_steps;
      r.trace->header.max_time_ns = o.limits.max_time_ns;
    }
  }
  // Declared before the scheduler so that it outlives the task frames that point into it.
  std::unique_ptr<World> world;
  {
    Sched s(strategy, o.limits);
    if (r.trace) s.set_trace(&*r.trace);
    world = sc.setup(s, p);
    // KPSIM_TEST_BREAK_MODEL_INVARIANT=N (tests only, tests/CMakeLists.txt explore_model_invariant_exit_4):
    // a stand-in model invariant that breaks once a run has taken N steps. No honest input
    // breaks the model's own bookkeeping; this exercises the outcome, the kept trace and exit 4
    // end to end. Read once per process: every run of it sees the same value.
    static const std::optional<uint64_t> break_invariant_at = []() -> std::optional<uint64_t> {
      const char* v = std::getenv("KPSIM_TEST_BREAK_MODEL_INVARIANT");
      if (!v || !*v) return std::nullopt;
      return std::strtoull(v, nullptr, 10);
    }();
    if (break_invariant_at)
      s.add_model_invariant("test-injected", [&s, n = *break_invariant_at]() -> std::optional<std::string> {
        if (s.steps() < n) return std::nullopt;
        return fmt::format("injected by KPSIM_TEST_BREAK_MODEL_INVARIANT at step {}", s.steps());
      });
    if (r.trace) s.set_state_source([w = world.get()](StateVisitor& v) { w->visit_state(v); });
    // Without a complete state the scheduler refuses a caching strategy (Sched::run throws).
    if (strategy.caches_states() && sc.complete_state())
      s.set_complete_state_source([w = world.get()](StateVisitor& v) { w->visit_complete_state(v); });
    r.end = s.run();
    r.choices = s.take_choices();
    r.steps = s.steps();
    r.t_ns = s.now_ns();
    bool build = o.metrics || o.trace;
    const nlohmann::ordered_json* known = nullptr;
    if (o.metrics_key) {
      o.metrics_key->clear();
      if (!world->metrics_key(*o.metrics_key)) o.metrics_key->clear();
      else if (o.known_metrics) known = o.known_metrics->known(*o.metrics_key);
    }
    if (known && build && !o.trace) {
      // A key the summary has seen: its metrics are known, the run is counted by key. Every
      // 1024th such run builds them anyway and compares: a metric that a world's metrics_key
      // leaves out (added to metrics() alone) is an error, not a silently wrong summary.
      static thread_local uint64_t keyed_runs = 0;
      if (++keyed_runs % 1024 == 0) {
        if (world->metrics() != *known)
          throw std::logic_error(fmt::format("scenario '{}': World::metrics_key does not determine metrics() "
                                             "(two runs with equal keys reported different metrics)",
                                             sc.name()));
      }
      build = false;
    }
    if (build) r.metrics = world->metrics();
  }
  if (r.trace) r.trace->footer.metrics = r.metrics;
  strategy.end_run();
  return r;
}

void MetricSummary::add(const nlohmann::ordered_json& metrics, std::string_view key) {
  add(metrics);
  keyed_.try_emplace(std::string(key), Keyed{metrics, 0});
}

bool MetricSummary::add_seen(std::string_view key) {
  auto it = keyed_.find(key);
  if (it == keyed_.end()) return false;
  ++it->second.repeats;
  ++runs_;
  return true;
}

void MetricSummary::add(const nlohmann::ordered_json& metrics) { add_n(metrics, 1); }

void MetricSummary::add_n(const nlohmann::ordered_json& metrics, uint64_t times) {
  runs_ += times;
  if (!metrics.is_object()) return;
  // A scenario reports the same metrics in the same order every run: the i-th is looked for at
  // position i first, so that the common case costs a string compare, not a map lookup.
  size_t pos = 0;
  for (auto it = metrics.begin(); it != metrics.end(); ++it, ++pos) {
    const std::string& k = it.key();
    size_t at = pos;
    if (at >= by_name_.size() || by_name_[at].first != k) {
      auto [found, fresh] = index_.try_emplace(k, by_name_.size());
      if (fresh) by_name_.emplace_back(k, One{});
      at = found->second;
    }
    One& one = by_name_[at].second;
    one.n += times;
    const auto& v = it.value();
    if (v.is_number()) {
      one.numbers[v.get<double>()] += times;
      one.integral = one.integral && !v.is_number_float();
    } else {
      one.values[v] += times;
    }
  }
}

nlohmann::ordered_json MetricSummary::to_json() const {
  // The runs counted by key, added now (to a copy: counts only, the order is the first runs').
  bool repeats = false;
  for (const auto& [key, k] : keyed_) repeats = repeats || k.repeats;
  if (repeats) {
    MetricSummary all = *this;
    all.keyed_.clear();
    for (const auto& [key, k] : keyed_)
      if (k.repeats) {
        all.add_n(k.metrics, k.repeats);
        all.runs_ -= k.repeats;  // counted by add_seen already
      }
    return all.to_json();
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  auto number = [](double x, bool integral) -> nlohmann::ordered_json {
    if (integral) return static_cast<int64_t>(x);
    return x;
  };
  for (const auto& [name, one] : by_name_) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!one.numbers.empty() && one.values.empty()) {
      uint64_t total = 0;
      for (auto& [x, c] : one.numbers) total += c;
      // The lower median: the value at rank ceil(total / 2), one some run actually had.
      const uint64_t rank = (total + 1) / 2;
      double median = one.numbers.begin()->first;
      uint64_t seen = 0;
      for (auto& [x, c] : one.numbers) {
        seen += c;
        if (seen >= rank) {
          median = x;
          break;
        }
      }
      j["min"] = number(one.numbers.begin()->first, one.integral);
      j["median"] = number(median, one.integral);
      j["max"] = number(one.numbers.rbegin()->first, one.integral);
    } else {
      nlohmann::ordered_json values = nlohmann::ordered_json::object();
      for (auto& [x, c] : one.numbers) values[nlohmann::ordered_json(x).dump()] = c;
      for (auto& [v, c] : one.values) values[v.is_string() ? v.get<std::string>() : v.dump()] = c;
      j["values"] = values;
    }
    j["runs"] = one.n;
    out[name] = j;
  }
  return out;
}

bool is_finding(const RunEnd& e) {
  return e.outcome == Outcome::violation || e.outcome == Outcome::deadlock;
}

std::string finding_key(const RunEnd& e) {
  return std::string(to_string(e.outcome)) + ":" + e.property;
}

RunResult run_choices(const Scenario& sc, const Params& p, const ChoiceSeq& choices,
                      std::optional<RunOptions> o) {
  if (!o) {
    o.emplace();
    o->limits = sc.default_limits();
  }
  ReplayStrategy replay(choices, /*strict=*/false);
  replay.begin_run();
  return run_once(sc, p, replay, *o);
}

std::optional<RunResult> rerun_if_same(const Scenario& sc, const Params& p, const ChoiceSeq& choices,
                                       const std::string& key, const RunOptions& o) {
  RunResult r = run_choices(sc, p, choices, o);
  if (!is_finding(r.end) || finding_key(r.end) != key) return std::nullopt;
  return r;
}

std::optional<DeterminismFailure> check_determinism(const Scenario& sc, const Params& p,
                                                    const RunResult& r, const RunOptions& o) {
  RunOptions traced = o;
  traced.trace = true;
  const RunResult a = run_choices(sc, p, r.choices, traced);
  // KPSIM_TEST_INJECT_NONDETERMINISM (tests only, tests/CMakeLists.txt explore_nondeterministic_exit_6):
  // the second re-run answers its first choice differently, a stand-in for a real
  // nondeterminism, which no honest input provokes; it exercises the detection, exit 6 and
  // the two kept traces end to end. Read here only: no search or run looks at it.
  ChoiceSeq second = r.choices;
  if (const char* inject = std::getenv("KPSIM_TEST_INJECT_NONDETERMINISM"); inject && *inject && !second.empty())
    second.front().value = (second.front().value + 1) % std::max<uint32_t>(second.front().options, 2);
  const RunResult b = run_choices(sc, p, second, traced);
  DeterminismFailure f;
  f.trace_a = trace_to_string(*a.trace);
  f.trace_b = trace_to_string(*b.trace);
  if (f.trace_a != f.trace_b)
    f.what = "two re-runs of the same choices wrote different traces";
  else if (a.choices != r.choices)
    f.what = "the re-run asked other choice points than the searched run";
  else if (a.steps != r.steps || a.t_ns != r.t_ns || a.end.outcome != r.end.outcome ||
           a.end.property != r.end.property || a.end.message != r.end.message)
    f.what = fmt::format("the searched run ended {} after {} steps at {} ns, its re-run {} after {} steps at {} ns",
                         to_string(r.end.outcome), r.steps, r.t_ns, to_string(a.end.outcome), a.steps, a.t_ns);
  else
    return std::nullopt;
  return f;
}

namespace {

// Replays a prefix of choices, then makes `first` and `second` take the next two steps (by task,
// whatever the option index), then answers 0. Records what went wrong and the two footprints.
class CommuteProbe final : public Strategy, public StepObserver {
 public:
  CommuteProbe(ChoiceSeq prefix, TaskId first, TaskId second)
      : prefix_(std::move(prefix)), want_{first, second} {}
  std::string name() const override { return "dpor-check"; }
  bool begin_run() override { return true; }
  StepObserver* step_observer() override { return this; }
  size_t choose(size_t n, const ChoiceContext& ctx) override {
    if (pos_ < prefix_.size()) return prefix_[pos_++].value % n;
    if (picked_ < 2 && ctx.kind == ChoiceKind::schedule) {
      armed_ = true;
      for (size_t i = 0; i < ctx.options.size(); ++i)
        if (ctx.options[i] == want_[picked_]) return i;
      if (why.empty()) why = fmt::format("task {} was not runnable", want_[picked_]);
    }
    return 0;
  }
  void on_step(TaskId t, const Footprint& fp) override {
    if (!armed_ || picked_ >= 2) return;
    if (t != want_[picked_] && why.empty()) why = fmt::format("task {} ran where task {} should", t, want_[picked_]);
    fps[picked_++] = fp;
  }
  std::string why;
  Footprint fps[2];

 private:
  ChoiceSeq prefix_;
  TaskId want_[2];
  size_t pos_ = 0;
  size_t picked_ = 0;
  bool armed_ = false;
};

}  // namespace

std::optional<DeterminismFailure> check_commutation(const Scenario& sc, const Params& p,
                                                    const ChoiceSeq& choices,
                                                    const std::vector<DporStrategy::Event>& events,
                                                    const RunOptions& o, uint64_t* pairs) {
  RunOptions traced = o;
  traced.trace = true;
  traced.metrics = true;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const auto& a = events[i];
    const auto& b = events[i + 1];
    // The first step chosen at a schedule point, so that the run's choices before that point
    // lead to the state both orders start from. Data choices inside the two steps and after
    // them are answered 0 in both orders: the same resolution, so still a fair comparison.
    if (a.node < 0 || a.task == b.task || b.task == kNoTask || dependent(a.fp, b.fp)) continue;
    const ChoiceSeq prefix(choices.begin(), choices.begin() + a.node);
    CommuteProbe ab(prefix, a.task, b.task), ba(prefix, b.task, a.task);
    const RunResult x = run_once(sc, p, ab, traced);
    const RunResult y = run_once(sc, p, ba, traced);
    if (pairs) ++*pairs;
    std::string what;
    if (!ab.why.empty()) what = "in the recorded order, " + ab.why;
    else if (!ba.why.empty()) what = "in the other order, " + ba.why + " (the first step disabled the second)";
    else if (!(ab.fps[0] == ba.fps[1]) || !(ab.fps[1] == ba.fps[0])) what = "a step touched other objects in the other order";
    else if (x.end.outcome != y.end.outcome || x.end.property != y.end.property || x.end.message != y.end.message ||
             x.steps != y.steps || x.t_ns != y.t_ns || x.metrics != y.metrics)
      what = fmt::format("the two orders ended differently ({} after {} steps vs {} after {} steps)",
                         to_string(x.end.outcome), x.steps, to_string(y.end.outcome), y.steps);
    if (what.empty()) continue;
    DeterminismFailure f;
    f.what = fmt::format("dpor: steps declared independent do not commute (choice {}, tasks {} and {}): {}", a.node,
                         a.task, b.task, what);
    f.trace_a = trace_to_string(*x.trace);
    f.trace_b = trace_to_string(*y.trace);
    return f;
  }
  return std::nullopt;
}

ExploreResult explore(const Scenario& sc, const Params& p, Strategy& strategy,
                      const ExploreOptions& o) {
  ExploreResult res;
  RunOptions quiet = o.run;
  quiet.trace = false;
  RunOptions quiet_no_metrics = quiet;
  quiet_no_metrics.metrics = false;
  // Summarizing: a world with a metrics key builds its JSON once per distinct key.
  std::string metrics_key;
  if (o.summarize_metrics) {
    quiet.metrics_key = &metrics_key;
    quiet.known_metrics = &res.metric_summary;
  }
  std::string first_key;
  bool stopped_early = false;
  // KPSIM_DPOR_CHECK: the commutation check of every dpor run (a debug mode; small cases only).
  DporStrategy* dpor = dynamic_cast<DporStrategy*>(&strategy);
  const char* dpor_check_env = std::getenv("KPSIM_DPOR_CHECK");
  const bool dpor_check = dpor && dpor_check_env && *dpor_check_env && std::string_view(dpor_check_env) != "0";
  if (strategy.caches_states() && !sc.complete_state())
    throw std::invalid_argument(fmt::format(
        "--state-cache: scenario '{}' does not report its complete state (its tasks keep state in coroutine "
        "locals and its objects show a summary), so equal hashes would not mean equal states",
        sc.name()));
  while (res.schedules + res.cut < o.budget && strategy.begin_run()) {
    RunResult r = run_once(sc, p, strategy, res.schedules == 0 || o.summarize_metrics ? quiet : quiet_no_metrics);
    if (r.end.outcome == Outcome::cut) {
      // State caching ended it at a state explored before: no outcome of its own.
      ++res.cut;
      if (o.stop && o.stop->load(std::memory_order_relaxed)) {
        res.interrupted = stopped_early = true;
        break;
      }
      continue;
    }
    if (!strategy.run_counts()) {
      // Another shard's schedule, run only to walk past its subtree.
      ++res.foreign_runs;
      if (o.stop && o.stop->load(std::memory_order_relaxed)) {
        res.interrupted = stopped_early = true;
        break;
      }
      continue;
    }
    ++res.schedules;
    if (res.schedules == 1) {
      res.first_metrics = r.metrics;
      res.first_run_choices = r.choices;
    }
    if (o.summarize_metrics) {
      if (metrics_key.empty()) res.metric_summary.add(r.metrics);
      else if (!res.metric_summary.add_seen(metrics_key)) res.metric_summary.add(r.metrics, metrics_key);
    }
    ++res.outcomes[std::string(to_string(r.end.outcome))];
    if (r.end.outcome == Outcome::model_invariant) {
      res.model_bug_schedule = res.schedules;
      RunOptions traced = o.run;
      traced.trace = true;
      res.model_bug = run_choices(sc, p, r.choices, traced);
      return res;
    }
    if (o.check_determinism_every &&
        (is_finding(r.end) || (res.schedules - 1) % o.check_determinism_every == 0)) {
      ++res.determinism_checks;
      if (auto f = check_determinism(sc, p, r, o.run)) {
        f->schedule = res.schedules;
        res.nondeterminism = std::move(f);
        return res;
      }
    }
    if (dpor_check)
      if (auto f = check_commutation(sc, p, r.choices, dpor->events(), o.run, &res.commutation_checks)) {
        f->schedule = res.schedules;
        res.nondeterminism = std::move(f);
        return res;
      }
    if (is_finding(r.end)) {
      ++res.violations;
      if (res.first_violation_schedule == 0) {
        res.first_violation_schedule = res.schedules;
        res.first_choices = r.choices;
        first_key = finding_key(r.end);
      }
      if (o.stop_on_first) {
        stopped_early = true;
        break;
      }
    }
    if (o.progress && o.progress_every && res.schedules % o.progress_every == 0)
      o.progress(res.schedules, res.violations);
    if (o.stop && o.stop->load(std::memory_order_relaxed)) {
      res.interrupted = stopped_early = true;
      break;
    }
  }
  // Covered only if the strategy itself ran out (asking once more when the budget ran out just
  // as the space did).
  if (!stopped_early && (res.schedules + res.cut < o.budget || !strategy.begin_run()))
    res.exhaustive = strategy.exhaustive();
  if (res.first_violation_schedule == 0 || res.interrupted) return res;

  ChoiceSeq best = res.first_choices;
  if (o.shrink) {
    RunOptions plain = o.run;
    plain.trace = false;
    size_t attempts = 0, shortest = best.size();
    auto still = [&](const ChoiceSeq& c) -> std::optional<ChoiceSeq> {
      auto r = rerun_if_same(sc, p, c, first_key, plain);
      ++attempts;
      if (r && r->choices.size() < shortest) shortest = r->choices.size();
      if (o.shrink_progress) o.shrink_progress(attempts, shortest);
      if (!r) return std::nullopt;
      return r->choices;
    };
    auto sr = shrink_choices(best, still);
    best = sr.choices;
    res.shrink_attempts = sr.attempts;
  }
  RunOptions traced = o.run;
  traced.trace = true;
  res.first_violation = rerun_if_same(sc, p, best, first_key, traced);
  return res;
}

}  // namespace kpsim
