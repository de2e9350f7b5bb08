// The TCP model's own bookkeeping (sk_wmem_queued == Σ truesize of the write and rtx queues,
// packets_out == Σ pcount of the rtx queue) is checked at every step of every run, not only
// in a unit test of the predicate: tcp_init_sock registers it as a model invariant, and a
// broken one is its own outcome (model_invariant), which stops a search as a model bug
// (ExploreResult::model_bug; `kpsim explore` exits 4) instead of counting as a kernel finding.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "model/drivers/net/loopback.h"
#include "model/include/linux/tcp.h"
#include "scenarios/runner.h"
#include "scenarios/scenario.h"
#include "sched/sched.h"
#include "sched/strategy_random.h"

namespace kpsim {
namespace {

enum class Break { wmem_queued, packets_out };

struct BooksWorld final : World {
  model::loopback lo;
  model::tcp_sock tp{"books"};
  bool b_ran = false;
};

// Two tasks on one TCP socket set up as the scenarios do. Task `a` corrupts one counter, but
// only when `b` already ran: the books break in some orders and not in others, so the search
// has to find the broken ones like any other schedule-dependent outcome.
class BrokenBooks final : public Scenario {
 public:
  explicit BrokenBooks(Break what) : what_(what) {}
  std::string_view name() const override { return "broken-books"; }
  std::string_view summary() const override { return "test scenario"; }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> p;
    return p;
  }
  std::unique_ptr<World> setup(Sched& s, const Params&) const override {
    auto w = std::make_unique<BooksWorld>();
    model::tcp_init_sock(s, w->tp, w->lo, model::tcp_config{});
    s.spawn("a", TaskKind::syscall, corrupt(s, *w, what_), false, "start");
    s.spawn("b", TaskKind::syscall, mark(s, *w), false, "start");
    return w;
  }

 private:
  static Co<> corrupt(Sched& s, BooksWorld& w, Break what) {
    co_await s.point("look");
    if (w.b_ran) {
      if (what == Break::wmem_queued) w.tp.sk_wmem_queued += 100;  // a truesize update forgotten
      else ++w.tp.packets_out;                                      // a segment counted twice
    }
    co_await s.point("done");
  }
  static Co<> mark(Sched& s, BooksWorld& w) {
    w.b_ran = true;
    co_await s.point("done");
  }
  Break what_;
};

ExploreResult search(const Scenario& sc) {
  RandomStrategy strategy(3);
  ExploreOptions o;
  o.budget = 200;
  o.run.limits = sc.default_limits();
  return explore(sc, resolve_params(sc, std::vector<std::string>{}), strategy, o);
}

}  // namespace

TEST_CASE("a run that breaks the TCP books ends as model_invariant, and stops the search", "[invariant]") {
  const auto what = GENERATE(Break::wmem_queued, Break::packets_out);
  const BrokenBooks sc(what);
  const ExploreResult r = search(sc);
  REQUIRE(r.model_bug);
  // The search stopped at the broken schedule: nothing after a model bug is trusted.
  CHECK(r.schedules == r.model_bug_schedule);
  CHECK(r.outcomes.at("model_invariant") == 1);
  CHECK(r.violations == 0);  // not counted as a kernel finding
  const RunResult& b = *r.model_bug;
  CHECK(b.end.outcome == Outcome::model_invariant);
  CHECK(b.end.property == "tcp-accounting");
  CHECK(b.end.message.find(what == Break::wmem_queued ? "sk_wmem_queued 100" : "packets_out 1") !=
        std::string::npos);
  REQUIRE(b.trace);
  CHECK(b.trace->footer.outcome == "model_invariant");
  // Checked at the step that broke the books, not at the end of the run: task a's step that
  // corrupted them is the last one.
  REQUIRE_FALSE(b.trace->events.empty());
  CHECK(b.trace->events.back().task == "a");
  CHECK(b.trace->events.back().label == "look");
}

TEST_CASE("the same two tasks with intact books end done in every order", "[invariant]") {
  // The control: without the corruption the invariant holds (it is not failing by itself).
  class Intact final : public Scenario {
   public:
    std::string_view name() const override { return "intact-books"; }
    std::string_view summary() const override { return "test scenario"; }
    const std::vector<ParamSpec>& params() const override {
      static const std::vector<ParamSpec> p;
      return p;
    }
    std::unique_ptr<World> setup(Sched& s, const Params&) const override {
      auto w = std::make_unique<BooksWorld>();
      model::tcp_init_sock(s, w->tp, w->lo, model::tcp_config{});
      s.spawn("a", TaskKind::syscall, step(s), false, "start");
      s.spawn("b", TaskKind::syscall, step(s), false, "start");
      return w;
    }

   private:
    static Co<> step(Sched& s) { co_await s.point("done"); }
  } sc;
  const ExploreResult r = search(sc);
  CHECK_FALSE(r.model_bug);
  CHECK(r.outcomes.contains("done"));
  CHECK_FALSE(r.outcomes.contains("model_invariant"));
}

}  // namespace kpsim
