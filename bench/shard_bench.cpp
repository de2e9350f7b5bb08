// Shard scaling (docs/scale-out.md): one exhaustive dfs split into N shards, each in its own
// forked process as `explore --shard I/N` would run it, on the machine's cores. Reports the
// wall time of the whole search and the speed-up against N = 1; foreign runs (a shard stepping
// past the subtrees it does not own) are the overhead. Run: build/kpsim_bench
// --benchmark_filter=shard.
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include "scenarios/runner.h"
#include "sched/strategy_dfs.h"

using namespace kpsim;

namespace {

// lost-update with 3 tasks of 2 increments: 34 650 schedules of a few steps each, small enough
// to finish in a fraction of a second yet with hundreds of subtrees at depth 8.
const Scenario& sc() { return *find_scenario("lost-update"); }

ExploreResult explore_shard(const Params& p, uint32_t index, uint32_t count) {
  DfsStrategy dfs(std::nullopt, DfsShard{index, count, 8});
  ExploreOptions o;
  o.budget = 100000000;
  o.shrink = false;
  o.run.limits = sc().default_limits();
  return explore(sc(), p, dfs, o);
}

void BM_dfs_shards(benchmark::State& st) {
  const auto count = static_cast<uint32_t>(st.range(0));
  const Params p = resolve_params(sc(), std::vector<std::string>{"tasks=3", "incs=2"});
  uint64_t schedules = 0;
  for (auto _ : st) {
    // Each shard in a child process: what a job array does, without sharing a heap or a core.
    std::vector<pid_t> kids;
    for (uint32_t i = 0; i < count; ++i) {
      const pid_t pid = fork();
      if (pid == 0) {
        const ExploreResult r = explore_shard(p, i, count);
        _exit(r.exhaustive ? 0 : 1);
      }
      kids.push_back(pid);
    }
    for (pid_t k : kids) {
      int status = 0;
      waitpid(k, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) st.SkipWithError("a shard did not finish");
    }
    // The counts come from an in-process run of the same shards (children cannot report back
    // cheaply), outside the timed region.
    st.PauseTiming();
    uint64_t n = 0, foreign = 0;
    for (uint32_t i = 0; i < count; ++i) {
      const ExploreResult r = explore_shard(p, i, count);
      n += r.schedules;
      foreign += r.foreign_runs;
    }
    schedules += n;
    st.counters["foreign_runs"] = static_cast<double>(foreign);
    st.ResumeTiming();
  }
  st.counters["schedules/s"] = benchmark::Counter(static_cast<double>(schedules), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_dfs_shards)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
