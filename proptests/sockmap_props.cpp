// Properties of the sockmap model over generated message sizes, variants and interleavings.
// RapidCheck generates the choice sequence itself (replayed leniently), so a failure shrinks
// to a minimal interleaving.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include "scenarios/runner.h"

using namespace kpsim;

namespace {

RunResult run_with(const std::vector<std::string>& sets, const ChoiceSeq& choices) {
  const Scenario* sc = find_scenario("sockmap-multi-channels");
  return run_choices(*sc, resolve_params(*sc, sets), choices);
}

struct Case {
  std::string proto, test, self;
  int c1, c0;
  std::vector<uint32_t> choices;  // answers only: replayed leniently, kinds unchecked
  std::vector<std::string> sets() const {
    return {"proto=" + proto, "test=" + test, "self_redirect=" + self,
            "c1_bytes=" + std::to_string(c1), "c0_bytes=" + std::to_string(c0)};
  }
};

rc::Gen<Case> gen_case() {
  return rc::gen::build<Case>(
      rc::gen::set(&Case::proto, rc::gen::element<std::string>("udp", "tcp")),
      rc::gen::set(&Case::test, rc::gen::element<std::string>("selftest", "loop", "upstream")),
      rc::gen::set(&Case::self, rc::gen::element<std::string>("backlog", "direct")),
      rc::gen::set(&Case::c1, rc::gen::inRange(1, 31)),
      rc::gen::set(&Case::c0, rc::gen::inRange(1, 31)),
      rc::gen::set(&Case::choices, rc::gen::container<std::vector<uint32_t>>(rc::gen::inRange<uint32_t>(0, 4))));
}

}  // namespace

TEST_CASE("sockmap model properties") {
  rc::prop("the kernel-side invariants hold in every interleaving", [] {
    const Case c = *gen_case();
    const RunResult r = run_with(c.sets(), untyped_choices(c.choices));
    RC_ASSERT(r.end.outcome != Outcome::error);
    RC_ASSERT(r.end.outcome != Outcome::deadlock);
    if (r.end.outcome == Outcome::violation) RC_ASSERT(r.end.property == "selftest-assertion");
  });

  rc::prop("only the original UDP selftest can fail, and only by a short read of the head", [] {
    const Case c = *gen_case();
    const RunResult r = run_with(c.sets(), untyped_choices(c.choices));
    if (c.proto == "udp" && c.test == "selftest") {
      if (r.end.outcome == Outcome::violation) RC_ASSERT(r.metrics["first_recv"] == c.c1);
    } else {
      RC_ASSERT(r.end.outcome == Outcome::done);
    }
  });

  rc::prop("the same choice sequence gives a byte-identical trace", [] {
    const Case c = *gen_case();
    const Scenario* sc = find_scenario("sockmap-multi-channels");
    auto traced = [&] {
      RunOptions o;
      o.limits = sc->default_limits();
      o.trace = true;
      return trace_to_string(*run_choices(*sc, resolve_params(*sc, c.sets()), untyped_choices(c.choices), o).trace);
    };
    RC_ASSERT(traced() == traced());
  });
}
