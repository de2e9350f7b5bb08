// The stream world of scenario scripts (scenarios/script/model_stream_world.cpp): seed 001 as a
// script (scenarios/ktls-sendfile-stall.kps) must give the compiled scenario's traces byte for
// byte, and the same metrics, for a spread of parameter sets and schedules (the default one,
// random seeds, dfs, pct), including the seed's violating one.
//
// The compiled scenario is deleted once this passed; the traces it gave are kept as digests in
// tests/data/ktls-stall-traces.txt (KPSIM_UPDATE_GOLDEN=1 rewrites the file; the kpsim_version
// annotation, which names the build's commit, is left out), which the script must still match:
// the proof outlives the scenario it compared against.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "scenarios/runner.h"
#include "scenarios/script/script_scenario.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_pct.h"
#include "sched/strategy_random.h"
#include "traces/trace.h"

using namespace kpsim;

namespace {

const Scenario& script_scenario(std::string_view name) {
  for (const Scenario* s : script::builtin_script_scenarios())
    if (s->name() == name) return *s;
  FAIL("no built-in script " << name);
  throw std::logic_error("unreachable");
}

// The compiled scenario of that name while it exists (a compiled one shadows the script in
// the registry); nullptr once it is gone.
const Scenario* compiled_scenario(std::string_view name) {
  const Scenario* s = find_scenario(name);
  if (!s || dynamic_cast<const script::ScriptScenario*>(s)) return nullptr;
  return s;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

const char* const kGolden = KPSIM_SOURCE_DIR "/tests/data/ktls-stall-traces.txt";

std::map<std::string, std::string> read_golden() {
  std::map<std::string, std::string> g;
  std::ifstream in(kGolden);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto bar = line.rfind(" | ");
    if (bar != std::string::npos) g[line.substr(0, bar)] = line.substr(bar + 3);
  }
  return g;
}

// The schedules compared per parameter set: the default one, then those of a few strategies.
std::vector<std::pair<std::string, ChoiceSeq>> schedules(const Scenario& sc, const Params& p) {
  std::vector<std::pair<std::string, ChoiceSeq>> out = {{"zero", {}}};
  RunOptions o;
  o.limits = sc.default_limits();
  o.metrics = false;
  for (uint64_t seed : {1, 2, 3}) {
    RandomStrategy r(seed);
    r.begin_run();
    out.emplace_back(fmt::format("random/{}", seed), run_once(sc, p, r, o).choices);
  }
  DfsStrategy d;
  for (int i = 0; i < 3 && d.begin_run(); ++i) out.emplace_back(fmt::format("dfs/{}", i), run_once(sc, p, d, o).choices);
  PctStrategy pct(7, 3);
  for (int i = 0; i < 2; ++i) {
    pct.begin_run();
    out.emplace_back(fmt::format("pct/{}", i), run_once(sc, p, pct, o).choices);
  }
  return out;
}

}  // namespace

TEST_CASE("stream world: seed 001 as a script gives the compiled scenario's traces byte for byte", "[ktls][script]") {
  const std::vector<std::vector<std::string>> sets = {
      // the recorded finding's parameters (traces/findings/seed001-*)
      {"notsent_lowat=16384", "bytes=262144", "call_bytes=262144"},
      // the report: 4 MiB at loopback's MSS with notsent_lowat 16384 (docs/ktls-stall.md)
      {"notsent_lowat=16384"},
      {"bytes=262144"},
      {"mss=1436", "bytes=131072", "call_bytes=65536"},
      {"mss=1436", "notsent_lowat=16384", "bytes=131072"},
      {"tls=1.2", "bytes=200000", "call_bytes=65536", "notsent_lowat=16384"},
      {"tls=none", "bytes=300000", "call_bytes=100000", "notsent_lowat=16384"},
      {"api=write", "bytes=262144", "notsent_lowat=16384"},
      {"api=write", "bytes=4500000", "call_bytes=1000000"},
      {"fix=clear-more-on-full-record", "notsent_lowat=16384", "bytes=262144"},
      {"fix=flush-before-wait", "notsent_lowat=16384", "bytes=262144"},
      {"fix=flush-before-wait-naive", "notsent_lowat=16384", "bytes=262144"},
      {"sndbuf=65536", "nodelay=1", "bytes=262144", "call_bytes=70000"},
      {"sndbuf=4096", "mss=9000", "bytes=100000", "notsent_lowat=4096"},
      // past the 4 MiB file's end: the loop wraps to offset 0
      {"bytes=5000000", "call_bytes=3000000"},
  };
  const Scenario& now = script_scenario("ktls-sendfile-stall");
  const Scenario* old = compiled_scenario("ktls-sendfile-stall");
  const bool update = std::getenv("KPSIM_UPDATE_GOLDEN") != nullptr;
  const std::map<std::string, std::string> golden = read_golden();
  std::string out = "# tests/script_stream_test.cpp: FNV-1a of each trace (header to footer, metrics included)\n"
                    "# the compiled ktls-sendfile-stall scenario gave, and its step count. PARAMS | SCHEDULE | DIGEST\n";
  uint64_t compared = 0, violations = 0;
  for (const auto& s : sets) {
    const Params p = resolve_params(now, s);
    const ChoiceSeq none;
    for (const auto& [label, choices] : schedules(old ? *old : now, p)) {
      INFO(p.to_line() << " " << label);
      RunOptions o;
      o.limits = now.default_limits();
      o.trace = true;
      RunResult b = run_choices(now, p, choices, o);
      REQUIRE(b.trace);
      // kpsim_version names the build's git commit: an annotation replay --check ignores too.
      b.trace->header.kpsim_version.clear();
      const std::string tb = trace_to_string(*b.trace);
      const std::string key = p.to_line() + " | " + label;
      const std::string digest = fmt::format("{:016x} steps {}", fnv1a(tb), b.steps);
      if (old) {
        RunResult a = run_choices(*old, p, choices, o);
        REQUIRE(a.trace);
        a.trace->header.kpsim_version.clear();
        const std::string ta = trace_to_string(*a.trace);
        CHECK(tb.size() == ta.size());
        CHECK(tb == ta);
        CHECK(b.metrics.dump() == a.metrics.dump());
        CHECK(b.end.property == a.end.property);
        CHECK(b.end.message == a.end.message);
      }
      if (!update) {
        const auto it = golden.find(key);
        CHECK(it != golden.end());
        if (it != golden.end()) CHECK(digest == it->second);
      }
      out += key + " | " + digest + "\n";
      violations += b.end.outcome == Outcome::violation;
      ++compared;
    }
  }
  if (update) {
    std::ofstream(kGolden) << out;
    WARN("rewrote " << kGolden);
  }
  CHECK(compared == sets.size() * 9);
  CHECK(violations > 0);
  WARN(compared << " traces compared, " << violations << " violating" << (old ? " (against the compiled scenario)" : ""));
}

TEST_CASE("stream world: the recorded seed-001 finding replays byte for byte", "[ktls][script]") {
  std::ifstream in(std::string(KPSIM_SOURCE_DIR) + "/traces/findings/seed001-ktls-sendfile-stall.trace.jsonl");
  REQUIRE(in);
  const Trace stored = read_trace(in);
  const Scenario& sc = script_scenario("ktls-sendfile-stall");
  RunOptions o;
  o.limits = sc.default_limits();
  o.trace = true;
  RunResult r = run_choices(sc, resolve_params(sc, stored.header.params), stored.header.choices, o);
  REQUIRE(r.trace);
  r.trace->header = stored.header;
  Trace expect = stored;
  CHECK(trace_to_string(*r.trace) == trace_to_string(expect));
  CHECK(r.end.property == "no-stall");
}
