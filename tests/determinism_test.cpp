// explore's determinism check (ExploreOptions::check_determinism_every): a deterministic
// scenario passes it; a scenario that leaks state from one run into the next is caught, with
// both traces, at the first schedule checked.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "scenarios/runner.h"
#include "scenarios/scenario.h"
#include "sched/sched.h"
#include "sched/strategy_random.h"

namespace kpsim {
namespace {

// Two tasks, two steps each. `leak` picks how state leaks between runs: 0 none, 1 into the
// trace only (a note), 2 into the run itself (every other run takes one more step).
class Leaky final : public Scenario {
 public:
  explicit Leaky(int leak) : leak_(leak) {}
  std::string_view name() const override { return "leaky"; }
  std::string_view summary() const override { return "test scenario"; }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> p;
    return p;
  }
  std::unique_ptr<World> setup(Sched& s, const Params&) const override {
    const uint64_t run = runs_++;
    const int leak = leak_;
    for (int t = 0; t < 2; ++t)
      s.spawn(fmt::format("t{}", t), TaskKind::syscall, body(s, leak, run), false, "start");
    return std::make_unique<World>();
  }

 private:
  static Co<> body(Sched& s, int leak, uint64_t run) {
    co_await s.point("a");
    if (leak == 1) s.note("x", "run {}", run);
    if (leak == 2 && run % 2) co_await s.point("extra");
    co_await s.point("b");
  }
  int leak_;
  mutable uint64_t runs_ = 0;
};

ExploreResult search(const Scenario& sc, uint64_t every, uint64_t budget = 50) {
  RandomStrategy strategy(7);
  ExploreOptions o;
  o.budget = budget;
  o.run.limits = sc.default_limits();
  o.check_determinism_every = every;
  return explore(sc, resolve_params(sc, std::vector<std::string>{}), strategy, o);
}

}  // namespace

TEST_CASE("determinism check: a deterministic scenario passes, every Nth schedule checked", "[determinism]") {
  const Leaky sc(0);
  const ExploreResult r = search(sc, 10);
  CHECK(r.schedules == 50);
  CHECK(r.determinism_checks == 5);  // schedules 1, 11, 21, 31, 41
  CHECK_FALSE(r.nondeterminism);
  CHECK(search(sc, 10, 51).determinism_checks == 6);
  CHECK(search(sc, 100, 3).determinism_checks == 1);  // a short search checks its first schedule
}

TEST_CASE("determinism check: state leaking into the trace is caught with both traces", "[determinism]") {
  const Leaky sc(1);
  const ExploreResult r = search(sc, 10);
  REQUIRE(r.nondeterminism);
  CHECK(r.nondeterminism->schedule == 1);
  CHECK(r.schedules == 1);
  CHECK(r.nondeterminism->trace_a != r.nondeterminism->trace_b);
  CHECK(r.nondeterminism->what.find("different traces") != std::string::npos);
}

TEST_CASE("determinism check: state leaking into the run is caught", "[determinism]") {
  const Leaky sc(2);
  const ExploreResult r = search(sc, 1);
  REQUIRE(r.nondeterminism);
  CHECK(r.nondeterminism->schedule == 1);
}

TEST_CASE("determinism check off: nothing is re-run", "[determinism]") {
  const Leaky sc(1);
  const ExploreResult r = search(sc, 0);
  CHECK(r.determinism_checks == 0);
  CHECK_FALSE(r.nondeterminism);
}

}  // namespace kpsim
