// Benchmarks of the seed-000 scenario: model steps/s, schedules/s per strategy, and wall time
// to the first counterexample per strategy. Targets (issue): first counterexample <= 1 ms,
// >= 100 000 schedules/s on one core (issue 13: >= 400 000 schedules/s and >= 5 M model steps/s).
// Run: make bench (build/kpsim_bench).
#include <benchmark/benchmark.h>

#include "scenarios/runner.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_pct.h"
#include "sched/strategy_random.h"

using namespace kpsim;

namespace {

const Scenario& sockmap() { return *find_scenario("sockmap-multi-channels"); }

Params udp_selftest() { return resolve_params(sockmap(), std::vector<std::string>{"proto=udp"}); }

std::unique_ptr<Strategy> make(int which, uint64_t seed) {
  switch (which) {
    case 0: return std::make_unique<RandomStrategy>(seed);
    case 1: return std::make_unique<PctStrategy>(seed, 2);
    default: return std::make_unique<DfsStrategy>();
  }
}

const char* strategy_name(int which) { return which == 0 ? "random" : which == 1 ? "pct" : "dfs"; }

// Schedules per second with the random strategy, no tracing and no metrics (the exploration
// hot path: explore builds metrics for its first schedule only). Seed 000 is a script
// (scenarios/sockmap-multi-channels.kps): this is the script model world, its Program shared
// across schedules. Side by side with the compiled scenario it replaced (same build, same
// minute): 327.4k vs 322.7k schedules/s; with the Program copied per schedule 284.0k (88 %),
// which is why ScriptScenario shares it.
void BM_sockmap_schedules(benchmark::State& st) {
  const Params p = udp_selftest();
  RandomStrategy random(1);
  RunOptions o;
  o.limits = sockmap().default_limits();
  o.metrics = false;
  uint64_t steps = 0, runs = 0;
  for (auto _ : st) {
    random.begin_run();
    RunResult r = run_once(sockmap(), p, random, o);
    steps += r.steps;
    ++runs;
    benchmark::DoNotOptimize(r.end.outcome);
  }
  st.counters["schedules/s"] = benchmark::Counter(static_cast<double>(runs), benchmark::Counter::kIsRate);
  st.counters["steps/s"] = benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_sockmap_schedules);

// Schedules per second of a whole search, as `kpsim explore` runs it (issue 13's raw-speed
// target: >= 400 000 /s on one core). Random only: dfs covers the UDP tree in a handful of
// schedules. Args: strategy (0 random), figures (1: every schedule's metrics summarized, the
// default of explore; 0: --no-figures). 20 000 schedules per iteration, nothing shrunk.
void BM_sockmap_explore(benchmark::State& st) {
  const int which = static_cast<int>(st.range(0));
  const bool figures = st.range(1) != 0;
  st.SetLabel(std::string(strategy_name(which)) + (figures ? " figures" : " no-figures"));
  const Params p = udp_selftest();
  uint64_t schedules = 0;
  for (auto _ : st) {
    std::unique_ptr<Strategy> s = make(which, 1);
    ExploreOptions o;
    o.budget = 20000;
    o.run.limits = sockmap().default_limits();
    o.shrink = false;
    o.summarize_metrics = figures;
    ExploreResult r = explore(sockmap(), p, *s, o);
    schedules += r.schedules;
    benchmark::DoNotOptimize(r.violations);
  }
  st.counters["schedules/s"] = benchmark::Counter(static_cast<double>(schedules), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_sockmap_explore)->Args({0, 1})->Args({0, 0})->Unit(benchmark::kMillisecond);

// Wall time from the start of an exploration to its first violation (found, not shrunk).
void BM_time_to_first_violation(benchmark::State& st) {
  const int which = static_cast<int>(st.range(0));
  st.SetLabel(strategy_name(which));
  const Params p = udp_selftest();
  uint64_t seed = 1, schedules = 0, iters = 0;
  for (auto _ : st) {
    auto s = make(which, seed++);
    ExploreOptions o;
    o.budget = 100000;
    o.run.limits = sockmap().default_limits();
    o.stop_on_first = true;
    o.shrink = false;
    ExploreResult r = explore(sockmap(), p, *s, o);
    if (!r.violations) st.SkipWithError("no violation found");
    schedules += r.first_violation_schedule;
    ++iters;
  }
  st.counters["schedules_to_first"] = static_cast<double>(schedules) / static_cast<double>(iters);
}
BENCHMARK(BM_time_to_first_violation)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

// One traced run (what explore does once to draw the shrunk violation).
void BM_sockmap_traced_run(benchmark::State& st) {
  const Params p = udp_selftest();
  RandomStrategy random(1);
  RunOptions o;
  o.limits = sockmap().default_limits();
  o.trace = true;
  for (auto _ : st) {
    random.begin_run();
    RunResult r = run_once(sockmap(), p, random, o);
    benchmark::DoNotOptimize(r.trace);
  }
}
BENCHMARK(BM_sockmap_traced_run)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
