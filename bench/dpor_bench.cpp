// dpor against dfs on lost-update (docs/design.md, "Partial-order reduction"): schedules run,
// the number of Mazurkiewicz traces (from the formula in the docs), their ratio and the wall time
// of an exhaustive search. Run: build/kpsim_bench --benchmark_filter=lost_update.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "scenarios/runner.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_dpor.h"

using namespace kpsim;

namespace {

const Scenario& sc() { return *find_scenario("lost-update"); }

// traces(n, m) of docs/design.md: the sum over write orders of the gaps each read may sit in.
uint64_t traces(std::vector<int>& left, std::vector<int>& last, int placed) {
  uint64_t sum = 0;
  bool any = false;
  for (size_t t = 0; t < left.size(); ++t) {
    if (left[t] == 0) continue;
    any = true;
    const int pos = placed + 1, prev = last[t];
    --left[t];
    last[t] = pos;
    sum += static_cast<uint64_t>(pos - prev) * traces(left, last, pos);
    ++left[t];
    last[t] = prev;
  }
  return any ? sum : 1;
}

// dpor: true for DporStrategy, false for plain dfs (DfsStrategy is final: no wrapper type).
void run(benchmark::State& st, bool is_dpor) {
  const int n = static_cast<int>(st.range(0)), m = static_cast<int>(st.range(1));
  const Params p = resolve_params(sc(), std::vector<std::string>{fmt::format("tasks={}", n), fmt::format("incs={}", m)});
  uint64_t schedules = 0, blocked = 0;
  bool exhaustive = true;
  for (auto _ : st) {
    DporStrategy dpor;
    DfsStrategy dfs(std::nullopt, {}, DfsOrder::plain);
    Strategy& strategy = is_dpor ? static_cast<Strategy&>(dpor) : dfs;
    ExploreOptions o;
    o.budget = 1000000000;
    o.shrink = false;
    o.run.limits = sc().default_limits();
    const ExploreResult r = explore(sc(), p, strategy, o);
    schedules = r.schedules;
    exhaustive = exhaustive && r.exhaustive;
    blocked = dpor.sleep_blocked();
  }
  std::vector<int> left(static_cast<size_t>(n), m), last(static_cast<size_t>(n), 0);
  const uint64_t t = traces(left, last, 0);
  st.counters["schedules"] = static_cast<double>(schedules);
  st.counters["traces"] = static_cast<double>(t);
  st.counters["ratio"] = static_cast<double>(schedules) / static_cast<double>(t);
  if (is_dpor) st.counters["sleep_blocked"] = static_cast<double>(blocked);
  if (!exhaustive) st.SkipWithError("not exhaustive");
}

void BM_lost_update_dpor(benchmark::State& st) { run(st, true); }
void BM_lost_update_dfs(benchmark::State& st) { run(st, false); }

BENCHMARK(BM_lost_update_dpor)->Args({2, 2})->Args({3, 2})->Args({2, 4})->Args({4, 1})->Args({3, 3})
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_lost_update_dfs)->Args({2, 2})->Args({3, 2})->Args({2, 4})->Args({4, 1})
    ->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
