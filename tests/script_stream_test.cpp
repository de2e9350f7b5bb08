// The stream worlds of scenario scripts (scenarios/script/model_stream_world.cpp and
// model_splice_world.cpp): seeds 001 and 002 as scripts (scenarios/ktls-sendfile-stall.kps,
// ktls-async-close.kps) must give the compiled scenarios' traces byte for byte, and the same
// metrics, for a spread of parameter sets and schedules (the default one, random seeds, dfs,
// pct), including the seeds' violating ones.
//
// A compiled scenario is deleted once this passed; the traces it gave are kept as digests in
// tests/data/ktls-{stall,close}-traces.txt (KPSIM_UPDATE_GOLDEN=1 rewrites the file; the kpsim_version
// annotation, which names the build's commit, is left out), which the script must still match:
// the proof outlives the scenario it compared against.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "scenarios/runner.h"
#include "scenarios/script/script.h"
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

const std::string kGoldenStall = KPSIM_SOURCE_DIR "/tests/data/ktls-stall-traces.txt";
const std::string kGoldenClose = KPSIM_SOURCE_DIR "/tests/data/ktls-close-traces.txt";

std::map<std::string, std::string> read_golden(const std::string& path) {
  std::map<std::string, std::string> g;
  std::ifstream in(path);
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

// Runs `name` (the built-in script) on every parameter set of `sets` and 9 schedules each, and
// compares every trace with the compiled scenario's (while it exists) and with the digests in
// `golden` (KPSIM_UPDATE_GOLDEN=1 rewrites them). Returns {traces compared, violations}.
std::pair<uint64_t, uint64_t> compare_all(std::string_view name, const std::vector<std::vector<std::string>>& sets,
                                          const std::string& golden_path) {
  const Scenario& now = script_scenario(name);
  const Scenario* old = compiled_scenario(name);
  const bool update = std::getenv("KPSIM_UPDATE_GOLDEN") != nullptr;
  const std::map<std::string, std::string> golden = read_golden(golden_path);
  std::string out = fmt::format("# tests/script_stream_test.cpp: FNV-1a of each trace (header to footer, metrics included)\n"
                                "# the compiled {} scenario gave, and its step count. PARAMS | SCHEDULE | DIGEST\n",
                                name);
  uint64_t compared = 0, violations = 0;
  for (const auto& s : sets) {
    const Params p = resolve_params(now, s);
    for (const auto& [label, choices] : schedules(old ? *old : now, p)) {
      INFO(p.to_line() << " " << label);
      RunOptions o;
      o.limits = now.default_limits();
      o.trace = true;
      RunResult b = run_choices(now, p, choices, o);
      REQUIRE(b.trace);
      // kpsim_version names the build's git commit: an annotation replay --check ignores too.
      b.trace->header.kpsim_version.clear();
      // The digests were taken in trace format 2, before steps recorded the model's state:
      // written in format 2 the trace is still the compiled scenario's, byte for byte, which
      // is the claim (the state is derived from the same run; traces_test checks it).
      b.trace->header.format = 2;
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
    std::ofstream(golden_path) << out;
    WARN("rewrote " << golden_path);
  }
  CHECK(compared == sets.size() * 9);
  WARN(name << ": " << compared << " traces compared, " << violations << " violating"
            << (old ? " (against the compiled scenario)" : ""));
  return {compared, violations};
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
  const auto [compared, violations] = compare_all("ktls-sendfile-stall", sets, kGoldenStall);
  CHECK(violations > 0);
}

TEST_CASE("splice world: seed 002 as a script gives the compiled scenario's traces byte for byte", "[ktls][script]") {
  const std::vector<std::vector<std::string>> sets = {
      {},  // the recorded finding's parameters (traces/findings/seed002-ktls-async-close*)
      {"io=uring-defer", "others=2"},
      {"io=uring-coop"},
      {"io=plain"},
      {"crypto=sync"},
      {"more=0"},
      {"kernel=6.6", "more=0"},
      {"fix=task-sigpending"},
      {"fix=flush-in-worker"},
      {"others=2", "others_at=start", "iowq_max=1"},
      {"io=uring-defer", "others=3", "others_at=start"},
      {"tls=1.2", "read_ms=0"},
      {"tls=none", "io=plain"},
      {"read_ms=0", "read_bytes=4096", "rcvbuf=65536"},
      {"bytes=100000", "mss=9000", "sndbuf=65536", "io=plain", "crypto=sync"},
  };
  const auto [compared, violations] = compare_all("ktls-async-close", sets, kGoldenClose);
  CHECK(violations > 0);
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

TEST_CASE("splice world: the recorded seed-002 findings replay byte for byte", "[ktls][script]") {
  for (const char* f : {"seed002-ktls-async-close", "seed002-ktls-async-close-defer"}) {
    INFO(f);
    std::ifstream in(std::string(KPSIM_SOURCE_DIR) + "/traces/findings/" + f + ".trace.jsonl");
    REQUIRE(in);
    const Trace stored = read_trace(in);
    const Scenario& sc = script_scenario("ktls-async-close");
    RunOptions o;
    o.limits = sc.default_limits();
    o.trace = true;
    RunResult r = run_choices(sc, resolve_params(sc, stored.header.params), stored.header.choices, o);
    REQUIRE(r.trace);
    r.trace->header = stored.header;
    Trace expect = stored;
    CHECK(trace_to_string(*r.trace) == trace_to_string(expect));
    CHECK(r.end.property == "all-records-delivered");
  }
}

TEST_CASE("stream world: min-throughput holds unless a wait paces the transfer below the bound", "[ktls][script]") {
  // The seed-001 script with min-throughput(min_kibps) in place of no-stall: the persist timer
  // paces the stall cell at 104.6 KiB/s virtual, a cell that never waits takes no virtual time.
  const script::ScriptScenario& seed =
      dynamic_cast<const script::ScriptScenario&>(script_scenario("ktls-sendfile-stall"));
  std::string text = seed.script().text();
  const auto at = text.find("property no-stall\n");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("property no-stall\n").size(), "property min-throughput(min_kibps)\n");
  const auto param_at = text.find("param nodelay");
  REQUIRE(param_at != std::string::npos);
  text.insert(param_at, "param min_kibps = 1024 [1, 4294967295]  \"KiB/s\"\n");
  const script::ScriptScenario sc(std::make_shared<const script::Script>(script::Script::parse("mt.kps", text)), "");
  RunOptions o;
  o.limits = sc.default_limits();
  const auto run = [&](std::vector<std::string> sets) {
    sets.push_back("bytes=262144");
    return run_choices(sc, resolve_params(sc, sets), {}, o);
  };
  const RunResult stall = run({"notsent_lowat=16384"});
  CHECK(stall.end.outcome == Outcome::violation);
  CHECK(stall.end.property == "min-throughput");
  CHECK(stall.end.message.find("104.6 KiB/s, below 1024 KiB/s") != std::string::npos);
  CHECK(run({"notsent_lowat=16384", "min_kibps=100"}).end.outcome == Outcome::done);
  CHECK(run({}).end.outcome == Outcome::done);  // no wait: no virtual time, no bound to miss
}
