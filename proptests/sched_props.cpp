// Property tests of the scheduler (RapidCheck inside Catch2 v2 test cases). RapidCheck generates
// the choice sequences themselves (not seeds), so its shrinker minimises a failing schedule.
//
// Number of cases: RC_PARAMS (ctest sets a fixed seed) gives the base configuration; the
// environment variable KPSIM_PROP_SCALE (integer >= 1, default 1) multiplies max_success. We do
// that by calling rc::detail::checkTestable with an explicit TestParams copied from
// rc::detail::configuration() (RapidCheck's global configuration is read-only), in `scaled_prop`
// below, which otherwise behaves like rc::prop from <rapidcheck/catch.h>.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "scenarios/runner.h"
#include "scenarios/scenario.h"
#include "sched/sched.h"
#include "sched/shrink.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_replay.h"
#include "traces/trace.h"

using namespace kpsim;

namespace {

int prop_scale() {
  const char* v = std::getenv("KPSIM_PROP_SCALE");
  if (!v || !*v) return 1;
  const int n = std::atoi(v);
  return n >= 1 ? n : 1;
}

template <class Testable>
void scaled_prop(const std::string& description, Testable&& testable) {
  SECTION(description) {
    rc::detail::TestParams params = rc::detail::configuration().testParams;
    params.maxSuccess *= prop_scale();
    rc::detail::TestMetadata metadata;
    metadata.id = description;
    metadata.description = description;
    const auto result =
        rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
    if (result.template is<rc::detail::SuccessResult>()) {
      // Like rc::prop: show RC_CLASSIFY distributions (how many cases really violated).
      if (!result.template get<rc::detail::SuccessResult>().distribution.empty()) {
        std::cout << "- " << description << "\n";
        rc::detail::printResultMessage(result, std::cout);
        std::cout << std::endl;
      }
      SUCCEED();
    } else {
      std::ostringstream ss;
      rc::detail::printResultMessage(result, ss);
      INFO(ss.str() << "\n");
      FAIL();
    }
  }
}

// A value-only choice sequence (RapidCheck generates and shrinks the answers, and prints them):
// small answers (most choice points have 2..4 options; larger values are legal for a lenient
// replay and wrap).
ChoiceSeq gen_choices() {
  return untyped_choices(*rc::gen::container<std::vector<uint32_t>>(rc::gen::inRange<uint32_t>(0, 6)));
}

const Scenario& lost_update() {
  const Scenario* sc = find_scenario("lost-update");
  if (!sc) throw std::runtime_error("scenario lost-update is not registered");
  return *sc;
}

RunResult replay_run(const Scenario& sc, const Params& p, const ChoiceSeq& seq, bool strict,
                     std::string* divergence = nullptr) {
  ReplayStrategy rs(seq, strict);
  rs.begin_run();
  RunOptions o;
  o.trace = true;
  RunResult r = run_once(sc, p, rs, o);
  if (divergence) *divergence = rs.divergence();
  return r;
}

Co<> stepper(Sched& s, uint32_t steps) {
  for (uint32_t i = 0; i + 1 < steps; ++i) co_await s.point("step");
}

uint64_t multinomial(const std::vector<uint32_t>& steps) {
  uint64_t total = 0, r = 1;
  for (uint32_t k : steps) {
    for (uint32_t i = 1; i <= k; ++i) r = r * (total + i) / i;
    total += k;
  }
  return r;
}

}  // namespace

TEST_CASE("replaying a choice sequence is deterministic", "[prop][replay]") {
  scaled_prop("any sequence replays to byte-identical traces, and strictly from its record",
              [] {
                const auto seq = gen_choices();
                const auto tasks = *rc::gen::inRange(1, 4);
                const auto incs = *rc::gen::inRange(1, 4);
                const Scenario& sc = lost_update();
                const Params p = resolve_params(
                    sc, std::vector<std::string>{"tasks=" + std::to_string(tasks),
                                                 "incs=" + std::to_string(incs)});
                const RunResult a = replay_run(sc, p, seq, false);
                const RunResult b = replay_run(sc, p, seq, false);
                RC_ASSERT(a.trace.has_value());
                RC_ASSERT(b.trace.has_value());
                const std::string ta = trace_to_string(*a.trace);
                RC_ASSERT(ta == trace_to_string(*b.trace));
                // Every recorded choice says what was asked ...
                RC_ASSERT(std::all_of(a.choices.begin(), a.choices.end(),
                                      [](const Choice& ch) { return ch.typed(); }));
                // ... and the record is exactly what a strict replay needs.
                std::string divergence;
                const RunResult c = replay_run(sc, p, a.choices, true, &divergence);
                RC_ASSERT(divergence.empty());
                RC_ASSERT(c.choices == a.choices);
                RC_ASSERT(trace_to_string(*c.trace) == ta);
                RC_CLASSIFY(a.end.outcome == Outcome::violation, "violation");
              });
}

TEST_CASE("dfs enumerates exactly the multinomial number of schedules", "[prop][dfs]") {
  scaled_prop("n tasks with random step counts: (sum steps)! / prod(steps!) runs, all distinct",
              [] {
                const auto steps = *rc::gen::resize(
                    3, rc::gen::nonEmpty(rc::gen::container<std::vector<uint32_t>>(
                           rc::gen::inRange<uint32_t>(1, 4))));
                DfsStrategy dfs;
                uint64_t runs = 0;
                std::vector<std::vector<TaskId>> seen;
                while (dfs.begin_run()) {
                  std::vector<TaskId> order;
                  {
                    Sched s(dfs);
                    for (size_t i = 0; i < steps.size(); ++i)
                      s.spawn("t" + std::to_string(i), TaskKind::syscall, stepper(s, steps[i]));
                    Trace t;
                    s.set_trace(&t);
                    RC_ASSERT(s.run().outcome == Outcome::done);
                    for (auto& e : t.events) order.push_back(static_cast<TaskId>(e.task[1] - '0'));
                  }
                  dfs.end_run();
                  seen.push_back(order);
                  ++runs;
                  RC_ASSERT(runs <= multinomial(steps));
                }
                RC_ASSERT(runs == multinomial(steps));
                std::sort(seen.begin(), seen.end());
                RC_ASSERT(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
                RC_ASSERT(dfs.exhaustive());
              });
}

TEST_CASE("shrinking never returns a non-violating sequence", "[prop][shrink]") {
  scaled_prop("a violating lost-update sequence shrinks to one that still violates", [] {
    const auto seq = gen_choices();
    const Scenario& sc = lost_update();
    const Params p = resolve_params(sc, std::vector<std::string>{"tasks=2", "incs=2"});
    RunOptions o;
    ReplayStrategy rs(seq, false);
    rs.begin_run();
    const RunResult r = run_once(sc, p, rs, o);
    RC_CLASSIFY(is_finding(r.end), "violating");
    if (!is_finding(r.end)) return;
    const std::string key = finding_key(r.end);
    StillFails still = [&](const ChoiceSeq& c) -> std::optional<ChoiceSeq> {
      auto rr = rerun_if_same(sc, p, c, key, o);
      if (!rr) return std::nullopt;
      return rr->choices;
    };
    const ShrinkResult sr = shrink_choices(r.choices, still);
    RC_ASSERT(sr.choices.size() <= r.choices.size());
    const auto again = rerun_if_same(sc, p, sr.choices, key, o);
    RC_ASSERT(again.has_value());
    RC_ASSERT(again->end.outcome == Outcome::violation);
    RC_ASSERT(again->end.property == std::string("no-lost-update"));
  });
}
