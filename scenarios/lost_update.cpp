// lost-update: the textbook read-modify-write race, as a small synthetic scenario for the
// scheduler's own tests and as the placeholder demo. `tasks` tasks each increment a shared
// counter `incs` times with a preemption point between the read and the write (as a
// non-atomic `counter++` on two CPUs). Property: the final count is tasks * incs.
//
// Its footprints are exact and recorded by construction (the counter is a Shared<int64_t>, whose
// every read and write reaches the step's footprint), so --strategy dpor reduces it to one
// schedule per Mazurkiewicz trace or close (docs/design.md has the trace count).
#include <fmt/format.h>

#include "scenarios/scenario.h"

namespace kpsim {
namespace {

struct Counter : World {
  Shared<int64_t> value = 0;
  nlohmann::ordered_json metrics() const override { return {{"counter", value.raw()}}; }
};

Co<> incrementer(Sched& s, Counter& c, int64_t incs, bool locked_rmw) {
  for (int64_t i = 0; i < incs; ++i) {
    const int64_t seen = c.value;
    s.note("counter", "read {}", seen);
    if (!locked_rmw) co_await s.point("counter = seen + 1");
    c.value = seen + 1;
    s.note("counter", "{} -> {}", seen, c.value.raw());
    if (i + 1 < incs) co_await s.point("counter read");
  }
}

class LostUpdate final : public Scenario {
 public:
  std::string_view name() const override { return "lost-update"; }
  std::string_view summary() const override {
    return "synthetic read-modify-write race (scheduler self-test and placeholder demo)";
  }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> p = {
        {"tasks", "2", "number of incrementing tasks", {}, true, 1, 8},
        {"incs", "1", "increments per task", {}, true, 1, 16},
        {"atomic", "no", "yes: no preemption point inside the read-modify-write", {"no", "yes"}},
    };
    return p;
  }
  std::unique_ptr<World> setup(Sched& s, const Params& p) const override {
    auto c = std::make_unique<Counter>();
    s.declare_footprints();  // every step's access to shared state is the counter's, recorded
    const int64_t tasks = p.get_int("tasks"), incs = p.get_int("incs");
    const bool atomic = p.get("atomic") == "yes";
    for (int64_t t = 0; t < tasks; ++t)
      s.spawn(fmt::format("cpu{}:inc", t), TaskKind::syscall, incrementer(s, *c, incs, atomic),
              false, "counter read");
    Counter* cp = c.get();
    const int64_t want = tasks * incs;
    s.add_final_check("no-lost-update", [cp, want]() -> std::optional<std::string> {
      if (cp->value.raw() == want) return std::nullopt;
      return fmt::format("counter is {}, expected {}", cp->value.raw(), want);
    });
    return c;
  }
};

}  // namespace

const Scenario& lost_update_scenario() {
  static const LostUpdate s;
  return s;
}

}  // namespace kpsim
