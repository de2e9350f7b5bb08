// Properties of the TCP/kTLS/splice send-path model (ktls-sendfile-stall) over generated MSS,
// sizes, notsent_lowat, SO_SNDBUF, API and TLS version. RapidCheck generates the choice
// sequence too (replayed leniently: past its end every choice is 0), so a failure shrinks to
// a minimal configuration and interleaving.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include "scenarios/runner.h"

using namespace kpsim;

namespace {

struct Case {
  uint32_t mss = 65483;
  uint32_t bytes = 1;
  uint32_t call_bytes = 1;
  uint32_t lowat = 0;
  uint32_t sndbuf = 0;
  std::string api, tls, fix;
  std::vector<uint32_t> choices;  // answers only: replayed leniently, kinds unchecked
  std::vector<std::string> sets() const {
    return {"mss=" + std::to_string(mss),          "bytes=" + std::to_string(bytes),
            "call_bytes=" + std::to_string(call_bytes), "notsent_lowat=" + std::to_string(lowat),
            "sndbuf=" + std::to_string(sndbuf),    "api=" + api,
            "tls=" + tls,                          "fix=" + fix};
  }
};

rc::Gen<Case> gen_case(rc::Gen<std::string> tls, rc::Gen<std::string> fix) {
  return rc::gen::build<Case>(
      // Weighted towards the report's configuration, so that stalls are common enough for the
      // properties to say something about them.
      rc::gen::set(&Case::mss, rc::gen::weightedOneOf<uint32_t>(
                                   {{4, rc::gen::just<uint32_t>(65483u)},
                                    {2, rc::gen::element<uint32_t>(1436u, 1448u, 8948u, 16384u, 16406u)},
                                    {3, rc::gen::inRange<uint32_t>(88, 65484)}})),
      rc::gen::set(&Case::bytes, rc::gen::inRange<uint32_t>(1, 400000)),
      rc::gen::set(&Case::call_bytes, rc::gen::weightedOneOf<uint32_t>({{3, rc::gen::just<uint32_t>(4194304u)},
                                                                        {1, rc::gen::inRange<uint32_t>(1, 300000)}})),
      rc::gen::set(&Case::lowat, rc::gen::weightedOneOf<uint32_t>(
                                     {{3, rc::gen::just<uint32_t>(16384u)},
                                      {2, rc::gen::element<uint32_t>(4294967295u, 131072u)},
                                      {2, rc::gen::inRange<uint32_t>(1, 70000)}})),
      rc::gen::set(&Case::sndbuf, rc::gen::weightedOneOf<uint32_t>({{3, rc::gen::just<uint32_t>(0u)},
                                                                    {1, rc::gen::inRange<uint32_t>(1, 200000)}})),
      rc::gen::set(&Case::api, rc::gen::element<std::string>("sendfile", "write")),
      rc::gen::set(&Case::tls, std::move(tls)),
      rc::gen::set(&Case::fix, std::move(fix)),
      rc::gen::set(&Case::choices, rc::gen::container<std::vector<uint32_t>>(rc::gen::inRange<uint32_t>(0, 3))));
}

RunResult run_case(const Case& c) {
  const Scenario* sc = find_scenario("ktls-sendfile-stall");
  return run_choices(*sc, resolve_params(*sc, c.sets()), untyped_choices(c.choices));
}

}  // namespace

TEST_CASE("ktls send-path model properties") {
  rc::prop("bytes are conserved and the run ends: at worst a stall, never a loss or a hang", [] {
    const Case c = *gen_case(
        rc::gen::weightedElement<std::string>({{2, "1.3"}, {1, "1.2"}, {1, "none"}}),
        rc::gen::weightedElement<std::string>({{3, "none"}, {1, "clear-more-on-full-record"}, {1, "flush-before-wait"}}));
    const RunResult r = run_case(c);
    RC_LOG() << r.end.message << "\n";
    RC_TAG(r.end.property.empty() ? std::string(to_string(r.end.outcome)) : r.end.property);
    RC_ASSERT(r.end.outcome != Outcome::error);
    RC_ASSERT(r.end.outcome != Outcome::deadlock);
    RC_ASSERT(r.end.outcome != Outcome::step_limit);
    if (r.end.outcome == Outcome::violation) RC_ASSERT(r.end.property == "no-stall");
    RC_ASSERT(r.metrics["bytes_received"] == c.bytes);
  });

  rc::prop("fix=clear-more-on-full-record never stalls", [] {
    const Case c = *gen_case(rc::gen::element<std::string>("1.3", "1.2"),
                             rc::gen::just<std::string>("clear-more-on-full-record"));
    const RunResult r = run_case(c);
    RC_LOG() << r.end.message << "\n";
    RC_ASSERT(r.end.outcome == Outcome::done);
  });

  rc::prop("plain TCP sendfile never stalls", [] {
    const Case c = *gen_case(rc::gen::just<std::string>("none"), rc::gen::just<std::string>("none"));
    const RunResult r = run_case(c);
    RC_LOG() << r.end.message << "\n";
    RC_ASSERT(r.end.outcome == Outcome::done);
  });
}
