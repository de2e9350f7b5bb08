// lost-update: the textbook read-modify-write race, as a small synthetic scenario for the
// scheduler's own tests and as the placeholder demo. `tasks` tasks each increment a shared
// counter `incs` times with a preemption point between the read and the write (as a
// non-atomic `counter++` on two CPUs). Property: the final count is tasks * incs.
//
// Its footprints are exact and recorded by construction (the counter is a Shared<int64_t>, whose
// every read and write reaches the step's footprint), so --strategy dpor reduces it to one
// schedule per Mazurkiewicz trace or close (docs/design.md has the trace count).
#include <vector>

#include <fmt/format.h>

#include "scenarios/scenario.h"

namespace kpsim {
namespace {

// What an incrementer keeps across its scheduling points. Kept in the world rather than in the
// coroutine's frame so that the world can report it (state caching needs every value a task
// carries from one step to the next; a frame's locals cannot be read back).
struct IncLocals {
  int64_t i = 0;         // increments done
  int64_t seen = 0;      // the value read, while a write is pending
  bool pending = false;  // read done, write not yet
};

struct Counter : World {
  Shared<int64_t> value = 0;
  std::vector<IncLocals> locals;  // one per task, in spawn order
  nlohmann::ordered_json metrics() const override { return {{"counter", value.raw()}}; }
  // Complete: the counter and every task's locals. A dead `seen` (no write pending) is not
  // reported, so states that differ only in it hash alike (they have the same future).
  void visit_complete_state(StateVisitor& v) const override {
    v.value("counter", value.raw());
    for (size_t t = 0; t < locals.size(); ++t) {
      StatePrefix p(v, fmt::format("inc{}", t));
      p.i("i", locals[t].i);
      p.flag("pending", locals[t].pending);
      if (locals[t].pending) p.i("seen", locals[t].seen);
    }
  }
};

// The locals are the task's own (no other task reads them): only the counter is shared.
Co<> incrementer(Sched& s, Counter& c, size_t task, int64_t incs, bool locked_rmw) {
  IncLocals& me = c.locals[task];  // the vector is sized before any task is spawned
  for (me.i = 0; me.i < incs;) {
    me.seen = c.value;
    me.pending = true;
    s.note("counter", "read {}", me.seen);
    if (!locked_rmw) co_await s.point("counter = seen + 1");
    c.value = me.seen + 1;
    me.pending = false;
    s.note("counter", "{} -> {}", me.seen, c.value.raw());
    if (++me.i < incs) co_await s.point("counter read");
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
  bool complete_state() const override { return true; }  // Counter::visit_complete_state
  std::unique_ptr<World> setup(Sched& s, const Params& p) const override {
    auto c = std::make_unique<Counter>();
    s.declare_footprints();  // every step's access to shared state is the counter's, recorded
    const int64_t tasks = p.get_int("tasks"), incs = p.get_int("incs");
    const bool atomic = p.get("atomic") == "yes";
    c->locals.resize(static_cast<size_t>(tasks));
    for (int64_t t = 0; t < tasks; ++t)
      s.spawn(fmt::format("cpu{}:inc", t), TaskKind::syscall,
              incrementer(s, *c, static_cast<size_t>(t), incs, atomic), false, "counter read");
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
