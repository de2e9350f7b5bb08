// Properties of ktls-async-close over generated sizes, buffers, reader pace, setups and
// schedules (the choice sequence is generated too and replayed leniently, so a failure shrinks
// to a small configuration and interleaving).
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include "scenarios/runner.h"

using namespace kpsim;

namespace {

struct Case {
  uint32_t records = 1;  // bytes = records * 16384 (so MSG_MORE never strands an open record)
  uint32_t sndbuf = 4096, rcvbuf = 16384, read_bytes = 8192, read_ms = 1, others = 0;
  std::string io, crypto, fix, more, kernel;
  std::vector<uint32_t> choices;  // answers only: replayed leniently, kinds unchecked
  std::vector<std::string> sets() const {
    return {"bytes=" + std::to_string(records * 16384u), "sndbuf=" + std::to_string(sndbuf),
            "rcvbuf=" + std::to_string(rcvbuf),          "read_bytes=" + std::to_string(read_bytes),
            "read_ms=" + std::to_string(read_ms),        "others=" + std::to_string(others),
            "io=" + io,                                  "crypto=" + crypto,
            "fix=" + fix,                                "more=" + more,
            "kernel=" + kernel};
  }
};

rc::Gen<Case> gen_case(rc::Gen<std::string> io, rc::Gen<std::string> crypto, rc::Gen<std::string> fix) {
  return rc::gen::build<Case>(
      rc::gen::set(&Case::records, rc::gen::inRange<uint32_t>(1, 5)),
      rc::gen::set(&Case::sndbuf, rc::gen::element<uint32_t>(2304u, 4096u, 8192u, 65536u)),
      rc::gen::set(&Case::rcvbuf, rc::gen::element<uint32_t>(4096u, 16384u, 65536u)),
      rc::gen::set(&Case::read_bytes, rc::gen::element<uint32_t>(1448u, 8192u, 65536u)),
      rc::gen::set(&Case::read_ms, rc::gen::inRange<uint32_t>(0, 4)),
      rc::gen::set(&Case::others, rc::gen::inRange<uint32_t>(0, 3)),
      rc::gen::set(&Case::io, std::move(io)), rc::gen::set(&Case::crypto, std::move(crypto)),
      rc::gen::set(&Case::fix, std::move(fix)), rc::gen::set(&Case::more, rc::gen::element<std::string>("1", "0")),
      rc::gen::set(&Case::kernel, rc::gen::element<std::string>("6.12", "6.6")),
      rc::gen::set(&Case::choices, rc::gen::container<std::vector<uint32_t>>(rc::gen::inRange<uint32_t>(0, 4))));
}

RunResult run_case(const Case& c) {
  const Scenario* sc = find_scenario("ktls-async-close");
  return run_choices(*sc, resolve_params(*sc, c.sets()), untyped_choices(c.choices));
}

rc::Gen<std::string> any_io() { return rc::gen::element<std::string>("uring", "uring-coop", "uring-defer", "plain"); }

}  // namespace

TEST_CASE("ktls-async-close properties") {
  rc::prop("bytes are conserved and runs end; a loss is always records freed at close", [] {
    const Case c = *gen_case(any_io(), rc::gen::element<std::string>("async", "sync"),
                             rc::gen::element<std::string>("none", "task-sigpending", "flush-in-worker"));
    const RunResult r = run_case(c);
    RC_LOG() << r.end.message << "\n";
    RC_TAG(r.end.property.empty() ? std::string(to_string(r.end.outcome)) : r.end.property);
    RC_ASSERT(r.end.outcome == Outcome::done || r.end.outcome == Outcome::violation);
    if (r.end.outcome == Outcome::violation) {
      RC_ASSERT(r.end.property == "all-records-delivered");
      RC_ASSERT(r.metrics["records_freed_at_close"].get<uint64_t>() > 0);
      RC_ASSERT(r.metrics["close_by"] == "app:server");
    }
  });

  rc::prop("synchronous crypto never loses records", [] {
    const Case c = *gen_case(any_io(), rc::gen::just<std::string>("sync"), rc::gen::just<std::string>("none"));
    const RunResult r = run_case(c);
    RC_LOG() << r.end.message << "\n";
    RC_ASSERT(r.end.outcome == Outcome::done);
  });

  rc::prop("plain syscalls never lose records", [] {
    const Case c = *gen_case(rc::gen::just<std::string>("plain"), rc::gen::just<std::string>("async"),
                             rc::gen::just<std::string>("none"));
    const RunResult r = run_case(c);
    RC_LOG() << r.end.message << "\n";
    RC_ASSERT(r.end.outcome == Outcome::done);
  });

  rc::prop("either fix delivers everything, whatever the setup", [] {
    const Case c = *gen_case(any_io(), rc::gen::just<std::string>("async"),
                             rc::gen::element<std::string>("task-sigpending", "flush-in-worker"));
    const RunResult r = run_case(c);
    RC_LOG() << r.end.message << "\n";
    RC_ASSERT(r.end.outcome == Outcome::done);
    RC_ASSERT(r.metrics["bytes_read"].get<uint64_t>() == c.records * 16384u);
  });
}
