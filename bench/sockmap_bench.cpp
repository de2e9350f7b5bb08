// Benchmarks of the seed-000 scenario: model steps/s, schedules/s per strategy, and wall time
// to the first counterexample per strategy. Targets (issue): first counterexample <= 1 ms,
// >= 100 000 schedules/s on one core. Run: make bench (build/kpsim_bench).
#include <benchmark/benchmark.h>

#include "scenarios/runner.h"
#include "scenarios/script/model_world.h"
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
// hot path: explore builds metrics for its first schedule only).
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

// The same seed as a hand-made scenario-script Program (scenarios/sockmap-multi-channels.kps with
// proto=udp test=selftest, as the parser resolves it) run by the script model world: its
// schedules/s must stay within 10 % of BM_sockmap_schedules.
script::Program seed_program() {
  using namespace script;
  Program p;
  p.name = "sockmap-multi-channels";
  p.file = "<builtin>/seed000.kps";
  const auto sock = [&](const char* name, uint32_t peer, bool server) {
    Socket so;
    so.name = name;
    so.peer = peer;
    so.server_side = server;
    so.loc = {p.file, 24, 1};
    p.socks.push_back(so);
  };
  sock("c0", 1, true);
  sock("p0", 0, false);
  sock("c1", 3, true);
  sock("p1", 2, false);
  p.map = Map{"sock_map_rx", MapType::sockmap, 2, {p.file, 26, 1}};
  p.verdict.rules = {VerdictRule{std::nullopt, {Action::redirect, 1, true}}};
  const auto step = [&](Op op, uint32_t sk, uint32_t line) {
    Step st;
    st.op = op;
    st.sock = sk;
    st.loc = {p.file, line, 3};
    return st;
  };
  Step u0 = step(Op::map_update, 1, 30), u1 = step(Op::map_update, 3, 31);
  u1.key = 1;
  p.setup = {u0, u1};
  Thread t;
  t.name = "selftest";
  Step s1 = step(Op::send, 2, 35);
  s1.payload = "01";
  s1.expect.ret = 2;
  s1.text = "send(c1, 2)";
  Step w1 = step(Op::wait_fionread, 3, 37);
  w1.len = 2;
  w1.timeout_us = 30000;
  w1.expect.ret = 2;
  Step s0 = step(Op::send, 0, 38);
  s0.payload = "23456789";
  s0.expect.ret = 8;
  s0.text = "send(c0, 8)";
  Step w2 = w1;
  w2.loc.line = 39;
  Step r = step(Op::recv, 3, 42);
  r.len = 11;
  r.flags = msg_dontwait;
  r.timeout_us = 1000000;
  r.expect.ret = 10;
  r.expect.data = "0123456789";
  t.steps = {s1, w1, s0, w2, r};
  p.threads = {t};
  p.max_steps = 20000;
  p.max_time_ns = 120ull * 1000 * 1000 * 1000;
  return p;
}

// copy: through build_script_world(const Program&), which copies the Program every schedule;
// else the shared one (what a caller caching its Programs does).
class ProgramScenario final : public Scenario {
 public:
  ProgramScenario(script::Program p, bool copy)
      : prog_(std::make_shared<const script::Program>(std::move(p))), copy_(copy) {}
  std::string_view name() const override { return prog_->name; }
  std::string_view summary() const override { return prog_->summary; }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> none;
    return none;
  }
  std::unique_ptr<World> setup(Sched& s, const Params&) const override {
    return copy_ ? script::build_script_world(s, *prog_) : script::build_script_world(s, prog_);
  }
  RunLimits default_limits() const override { return {prog_->max_steps, prog_->max_time_ns}; }

 private:
  std::shared_ptr<const script::Program> prog_;
  bool copy_;
};

// Arg 0: the Program shared; 1: copied per schedule.
void BM_script_schedules(benchmark::State& st) {
  const bool copy = st.range(0) != 0;
  st.SetLabel(copy ? "Program copied" : "Program shared");
  const ProgramScenario sc(seed_program(), copy);
  const Params p = resolve_params(sc, std::vector<std::string>{});
  RandomStrategy random(1);
  RunOptions o;
  o.limits = sc.default_limits();
  o.metrics = false;
  uint64_t steps = 0, runs = 0;
  for (auto _ : st) {
    random.begin_run();
    RunResult r = run_once(sc, p, random, o);
    steps += r.steps;
    ++runs;
    benchmark::DoNotOptimize(r.end.outcome);
  }
  st.counters["schedules/s"] = benchmark::Counter(static_cast<double>(runs), benchmark::Counter::kIsRate);
  st.counters["steps/s"] = benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_script_schedules)->Arg(0)->Arg(1);

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
