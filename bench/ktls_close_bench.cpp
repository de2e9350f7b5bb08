// Benchmarks of the seed-002 scenario (ktls-async-close): schedules/s, and wall time and
// schedules to the first lost-records violation per strategy, for the default io_uring setup
// and for DEFER_TASKRUN (where only io-wq worker creation signals). Run: build/kpsim_bench
// --benchmark_filter=close.
#include <benchmark/benchmark.h>

#include "scenarios/runner.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_pct.h"
#include "sched/strategy_random.h"

using namespace kpsim;

namespace {

const Scenario& close_sc() { return *find_scenario("ktls-async-close"); }

Params setup_params(int64_t which) {
  if (which == 1) return resolve_params(close_sc(), std::vector<std::string>{"io=uring-defer", "others=2"});
  return resolve_params(close_sc(), std::vector<std::string>{"io=uring", "crypto=async"});
}

std::unique_ptr<Strategy> make(int64_t which, uint64_t seed) {
  switch (which) {
    case 0: return std::make_unique<RandomStrategy>(seed);
    case 1: return std::make_unique<PctStrategy>(seed, 2);
    // Unbounded dfs varies the last choices first and does not reach the early ordering (the
    // file→pipe completion after the pipe→socket one) within 10^6 schedules; bound 1 does.
    default: return std::make_unique<DfsStrategy>(1);
  }
}

const char* strategy_name(int64_t which) { return which == 0 ? "random" : which == 1 ? "pct" : "dfs pb=1"; }

// Schedules per second of single runs, untraced, with the run's metrics summarized as explore
// summarizes them (its default, figures on): the world's metrics key every run, the JSON only
// for a key not seen before (World::metrics_key). Until 2026-12-03 this built the metrics JSON
// every run, which explore does not (11 % of a schedule's instructions, and destroying the
// JSON outside run_once on top).
void BM_close_schedules(benchmark::State& st) {
  const Params p = setup_params(0);
  RandomStrategy random(1);
  MetricSummary summary;
  std::string key;
  RunOptions o;
  o.limits = close_sc().default_limits();
  o.metrics_key = &key;
  o.known_metrics = &summary;
  uint64_t steps = 0, runs = 0;
  for (auto _ : st) {
    random.begin_run();
    RunResult r = run_once(close_sc(), p, random, o);
    if (key.empty()) summary.add(r.metrics);
    else if (!summary.add_seen(key)) summary.add(r.metrics, key);
    steps += r.steps;
    ++runs;
    benchmark::DoNotOptimize(r.end.outcome);
  }
  st.counters["schedules/s"] = benchmark::Counter(static_cast<double>(runs), benchmark::Counter::kIsRate);
  st.counters["steps/s"] = benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_close_schedules);

// Schedules per second of a whole search, as `kpsim explore ktls-async-close` runs it (issue
// 13's raw-speed target: >= 150 000 /s on one core). Args: strategy (0 random, 2 dfs in the
// CLI's default iterative order), figures (1: every schedule's metrics summarized, explore's
// default; 0: --no-figures). 5 000 schedules per iteration, nothing shrunk.
void BM_close_explore(benchmark::State& st) {
  const int64_t which = st.range(0);
  const bool figures = st.range(1) != 0;
  st.SetLabel(std::string(which == 0 ? "random" : "dfs") + (figures ? " figures" : " no-figures"));
  const Params p = resolve_params(close_sc(), std::vector<std::string>{});
  uint64_t schedules = 0;
  for (auto _ : st) {
    std::unique_ptr<Strategy> s;
    if (which == 0) s = std::make_unique<RandomStrategy>(1);
    else s = std::make_unique<DfsStrategy>(std::nullopt, DfsShard{}, DfsOrder::iterative);
    ExploreOptions o;
    o.budget = 5000;
    o.run.limits = close_sc().default_limits();
    o.shrink = false;
    o.summarize_metrics = figures;
    ExploreResult r = explore(close_sc(), p, *s, o);
    schedules += r.schedules;
    benchmark::DoNotOptimize(r.violations);
  }
  st.counters["schedules/s"] = benchmark::Counter(static_cast<double>(schedules), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_close_explore)->Args({0, 1})->Args({0, 0})->Args({2, 1})->Args({2, 0})->Unit(benchmark::kMillisecond);

// Args: strategy (0 random, 1 pct d=2, 2 dfs with preemption bound 1), setup (0 io=uring, 1 io=uring-defer others=2).
void BM_close_time_to_first_violation(benchmark::State& st) {
  const int64_t which = st.range(0);
  st.SetLabel(std::string(strategy_name(which)) + (st.range(1) ? " uring-defer others=2" : " uring"));
  const Params p = setup_params(st.range(1));
  uint64_t seed = 1, schedules = 0, iters = 0;
  for (auto _ : st) {
    auto s = make(which, seed++);
    ExploreOptions o;
    o.budget = 1000000;
    o.run.limits = close_sc().default_limits();
    o.stop_on_first = true;
    o.shrink = false;
    ExploreResult r = explore(close_sc(), p, *s, o);
    if (!r.violations) st.SkipWithError("no violation found");
    schedules += r.first_violation_schedule;
    ++iters;
  }
  st.counters["schedules_to_first"] = static_cast<double>(schedules) / static_cast<double>(iters);
}
BENCHMARK(BM_close_time_to_first_violation)
    ->Args({0, 0})->Args({1, 0})->Args({2, 0})
    ->Args({0, 1})->Args({1, 1})->Args({2, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
