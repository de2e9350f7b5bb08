// Benchmarks of the seed-001 scenario: one run of the 4 MiB stalled transfer (about 51 s of
// virtual time; target <= 10 ms wall) and of a 2 GiB unstalled transfer (target <= 1 s wall),
// each under the default (all-zero) schedule, without tracing.
#include <benchmark/benchmark.h>

#include "scenarios/runner.h"

using namespace kpsim;

namespace {

void run_ktls(benchmark::State& st, const std::vector<std::string>& sets) {
  const Scenario& sc = *find_scenario("ktls-sendfile-stall");
  const Params p = resolve_params(sc, sets);
  RunOptions o;
  o.limits = sc.default_limits();
  double virtual_s = 0;
  for (auto _ : st) {
    RunResult r = run_choices(sc, p, {}, o);
    virtual_s = static_cast<double>(r.t_ns) / 1e9;
    st.counters["steps"] = static_cast<double>(r.steps);
    benchmark::DoNotOptimize(r.end.outcome);
  }
  st.counters["virtual_s"] = virtual_s;
}

void BM_ktls_4MiB_stalled(benchmark::State& st) {
  run_ktls(st, {"mss=65483", "notsent_lowat=16384", "bytes=4194304"});
}
BENCHMARK(BM_ktls_4MiB_stalled)->Unit(benchmark::kMillisecond);

void BM_ktls_2GiB_unstalled(benchmark::State& st) {
  run_ktls(st, {"mss=65483", "bytes=2147483648", "call_bytes=2147479552"});
}
BENCHMARK(BM_ktls_2GiB_unstalled)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
