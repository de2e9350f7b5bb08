// Unit tests of the strategies (dfs, random, replay, pct) and of the choice-sequence shrinker.
// The workload is synthetic: n tasks, task i takes steps[i] steps (steps[i] - 1 preemption
// points), and each run is summarised by the TaskId that ran each step.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "scenarios/runner.h"
#include "scenarios/scenario.h"
#include "sched/sched.h"
#include "sched/shrink.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_pct.h"
#include "sched/strategy_random.h"
#include "sched/strategy_replay.h"
#include "sched/waitqueue.h"

using namespace kpsim;

namespace {

using Schedule = std::vector<TaskId>;

Co<> stepper(Sched& s, Schedule& log, TaskId id, uint32_t steps) {
  for (uint32_t i = 0; i < steps; ++i) {
    log.push_back(id);
    if (i + 1 < steps) co_await s.point("step");
  }
}

// One run (the caller has called begin_run). Returns the schedule.
Schedule run_tasks(Strategy& st, const std::vector<uint32_t>& steps, RunEnd* end = nullptr) {
  Schedule log;
  {
    Sched s(st);
    for (size_t i = 0; i < steps.size(); ++i)
      s.spawn("t" + std::to_string(i), TaskKind::syscall,
              stepper(s, log, static_cast<TaskId>(i), steps[i]));
    const RunEnd e = s.run();
    if (end) *end = e;
  }
  st.end_run();
  return log;
}

// All schedules a strategy produces until it says it is done (or `cap` runs).
std::vector<Schedule> explore_all(Strategy& st, const std::vector<uint32_t>& steps,
                                  size_t cap = 1000000) {
  std::vector<Schedule> all;
  while (all.size() < cap && st.begin_run()) all.push_back(run_tasks(st, steps));
  return all;
}

uint64_t multinomial(const std::vector<uint32_t>& steps) {
  // (sum)! / prod(k!), computed as a product of binomials to stay exact.
  uint64_t total = 0, r = 1;
  for (uint32_t k : steps) {
    for (uint32_t i = 1; i <= k; ++i) r = r * (total + i) / i;
    total += k;
  }
  return r;
}

// Independent oracle for preemption bounding: enumerate every interleaving and count those with
// at most `bound` preemptions, a preemption being a switch away from a task that still has
// steps left (exactly the rule the scheduler exposes as ChoiceContext::current).
uint64_t count_bounded(const std::vector<uint32_t>& steps, uint32_t bound) {
  std::vector<uint32_t> left = steps;
  uint64_t count = 0;
  std::function<void(int, uint32_t)> rec = [&](int prev, uint32_t pre) {
    bool any = false;
    for (size_t t = 0; t < left.size(); ++t) {
      if (left[t] == 0) continue;
      any = true;
      const bool preempt = prev >= 0 && static_cast<size_t>(prev) != t && left[static_cast<size_t>(prev)] > 0;
      const uint32_t p = pre + (preempt ? 1 : 0);
      if (p > bound) continue;
      --left[t];
      rec(static_cast<int>(t), p);
      ++left[t];
    }
    if (!any) ++count;
  };
  rec(-1, 0);
  return count;
}

size_t distinct(const std::vector<Schedule>& all) {
  return std::set<Schedule>(all.begin(), all.end()).size();
}

}  // namespace

// ---- dfs -----------------------------------------------------------------------------------

TEST_CASE("dfs: two tasks of a and b steps give exactly C(a+b, a) distinct schedules", "[dfs]") {
  for (uint32_t a = 1; a <= 5; ++a)
    for (uint32_t b = 1; b <= 4; ++b) {
      CAPTURE(a, b);
      DfsStrategy dfs;
      const auto all = explore_all(dfs, {a, b});
      CHECK(all.size() == multinomial({a, b}));
      CHECK(distinct(all) == all.size());
      CHECK(dfs.exhaustive());
      for (auto& sch : all) CHECK(sch.size() == a + b);
    }
  CHECK(multinomial({3, 2}) == 10);  // the helper itself
}

TEST_CASE("dfs: three tasks give the multinomial count", "[dfs]") {
  const std::vector<std::vector<uint32_t>> sets = {{1, 1, 1}, {2, 1, 1}, {2, 2, 2}, {3, 2, 1}, {1, 3, 2}};
  for (auto& steps : sets) {
    CAPTURE(steps);
    DfsStrategy dfs;
    const auto all = explore_all(dfs, steps);
    CHECK(all.size() == multinomial(steps));
    CHECK(distinct(all) == all.size());
    CHECK(dfs.exhaustive());
  }
  CHECK(multinomial({2, 2, 2}) == 90);
}

TEST_CASE("dfs: one task has exactly one schedule and no choice points", "[dfs]") {
  DfsStrategy dfs;
  REQUIRE(dfs.begin_run());
  RunEnd end;
  const auto sch = run_tasks(dfs, {4}, &end);
  CHECK(end.outcome == Outcome::done);
  CHECK(sch == Schedule{0, 0, 0, 0});
  CHECK_FALSE(dfs.begin_run());
  CHECK(dfs.exhaustive());
}

TEST_CASE("dfs with preemption bound 0: each task runs to completion once started", "[dfs]") {
  // The first pick is free (no previous task); after that only switches at task ends are free.
  // Two tasks: AAA..BB and BB..AAA; three tasks: the 3! orders.
  for (uint32_t a = 1; a <= 4; ++a)
    for (uint32_t b = 1; b <= 4; ++b) {
      CAPTURE(a, b);
      DfsStrategy dfs(0);
      const auto all = explore_all(dfs, {a, b});
      CHECK(all.size() == 2);
      Schedule ab(a, 0), ba(b, 1);
      ab.insert(ab.end(), b, 1);
      ba.insert(ba.end(), a, 0);
      CHECK(std::set<Schedule>(all.begin(), all.end()) == std::set<Schedule>{ab, ba});
    }
  DfsStrategy dfs3(0);
  CHECK(explore_all(dfs3, {2, 3, 2}).size() == 6);
}

TEST_CASE("dfs with preemption bound 1: a + b schedules for two tasks", "[dfs]") {
  // 2 with no preemption, plus: preempt A after i in 1..a-1 steps and let B finish (a - 1),
  // and symmetrically (b - 1). Any second switch back before B ends is a second preemption.
  for (uint32_t a = 1; a <= 5; ++a)
    for (uint32_t b = 1; b <= 5; ++b) {
      CAPTURE(a, b);
      DfsStrategy dfs(1);
      const auto all = explore_all(dfs, {a, b});
      CHECK(all.size() == a + b);
      CHECK(all.size() == count_bounded({a, b}, 1));
      CHECK(distinct(all) == all.size());
      CHECK(dfs.exhaustive());
    }
}

TEST_CASE("dfs with a preemption bound matches a brute-force count for three tasks", "[dfs]") {
  const std::vector<std::vector<uint32_t>> sets = {{2, 2, 2}, {3, 1, 2}, {1, 1, 1}, {3, 3, 1}};
  for (auto& steps : sets)
    for (uint32_t bound = 0; bound <= 3; ++bound) {
      CAPTURE(steps, bound);
      DfsStrategy dfs(bound);
      const auto all = explore_all(dfs, steps);
      CHECK(all.size() == count_bounded(steps, bound));
      CHECK(distinct(all) == all.size());
    }
  CHECK(count_bounded({2, 2}, 0) == 2);  // the oracle agrees with the closed forms
  CHECK(count_bounded({3, 4}, 1) == 7);
  CHECK(count_bounded({3, 4}, 99) == multinomial({3, 4}));
}

TEST_CASE("dfs shards: disjoint, together exactly the unsharded runs, each exhaustive", "[dfs][shard]") {
  // The cut depth may be shallower or deeper than the runs; the bound changes which points
  // can advance. Whatever the combination, every run of the unsharded search is counted by
  // exactly one shard, and no shard counts a run the unsharded search does not have.
  const std::vector<std::vector<uint32_t>> sets = {{2, 2}, {3, 2, 1}, {2, 2, 2}, {1, 1, 1, 1}};
  for (auto& steps : sets)
    for (const std::optional<uint32_t> bound : {std::optional<uint32_t>{}, std::optional<uint32_t>{0},
                                                std::optional<uint32_t>{1}})
      for (uint32_t count = 1; count <= 5; ++count)
        for (uint32_t depth : {1u, 2u, 3u, 5u, 40u}) {
          CAPTURE(steps, bound.value_or(99), count, depth);
          DfsStrategy whole(bound);
          const auto all = explore_all(whole, steps);
          std::multiset<Schedule> union_of_shards;
          uint64_t foreign = 0;
          for (uint32_t i = 0; i < count; ++i) {
            DfsStrategy part(bound, DfsShard{i, count, depth});
            while (part.begin_run()) {
              Schedule sch = run_tasks(part, steps);
              if (!part.run_counts()) {
                ++foreign;
                continue;
              }
              union_of_shards.insert(std::move(sch));
            }
            CHECK(part.exhaustive());
          }
          CHECK(union_of_shards == std::multiset<Schedule>(all.begin(), all.end()));
          if (count == 1) CHECK(foreign == 0);
        }
}

namespace {
// Preemptions of a synthetic schedule: switches away from a task with steps left.
uint32_t preemptions_of(const Schedule& sch, const std::vector<uint32_t>& steps) {
  std::vector<uint32_t> left = steps;
  uint32_t n = 0;
  for (size_t i = 0; i < sch.size(); ++i) {
    if (i > 0 && sch[i] != sch[i - 1] && left[sch[i - 1]] > 0) ++n;
    --left[sch[i]];
  }
  return n;
}
}  // namespace

TEST_CASE("dfs iterative order: every schedule once, in order of preemptions", "[dfs][iterative]") {
  const std::vector<std::vector<uint32_t>> sets = {{2, 2}, {3, 2, 1}, {2, 2, 2}, {4, 3}};
  for (auto& steps : sets)
    for (const std::optional<uint32_t> cap : {std::optional<uint32_t>{}, std::optional<uint32_t>{0},
                                              std::optional<uint32_t>{2}, std::optional<uint32_t>{9}})
      for (uint32_t count : {1u, 2u, 3u}) {
        CAPTURE(steps, cap.value_or(99), count);
        DfsStrategy plain(cap);
        const auto all = explore_all(plain, steps);
        std::multiset<Schedule> counted;
        uint64_t repeats = 0;
        for (uint32_t i = 0; i < count; ++i) {
          DfsStrategy it(cap, DfsShard{i, count, 3}, DfsOrder::iterative);
          uint32_t last = 0;
          while (it.begin_run()) {
            Schedule sch = run_tasks(it, steps);
            if (!it.run_counts()) {
              ++repeats;
              continue;
            }
            const uint32_t pre = preemptions_of(sch, steps);
            CHECK(pre == it.iteration());  // counted only in the iteration of its bound
            CHECK(pre >= last);            // shallow schedules first
            last = pre;
            counted.insert(std::move(sch));
          }
          CHECK(it.exhaustive());
        }
        CHECK(counted == std::multiset<Schedule>(all.begin(), all.end()));
        if (count == 1) CHECK(repeats == 0);  // nothing is run twice
      }
}

TEST_CASE("dfs preemptions_covered: every schedule within it has run, and one more has not", "[dfs][iterative]") {
  const std::vector<std::vector<uint32_t>> sets = {{2, 2}, {3, 2, 1}, {2, 2, 2}, {4, 3}};
  for (auto& steps : sets)
    for (const std::optional<uint32_t> cap : {std::optional<uint32_t>{}, std::optional<uint32_t>{0},
                                              std::optional<uint32_t>{2}})
      for (uint32_t count : {1u, 2u, 3u})
        for (uint32_t i = 0; i < count; ++i) {
          CAPTURE(steps, cap.value_or(99), count, i);
          DfsStrategy it(cap, DfsShard{i, count, 3}, DfsOrder::iterative);
          std::vector<uint32_t> ran;  // the preemptions of each counted run, in order
          std::vector<std::pair<size_t, std::optional<uint32_t>>> said;  // after each run: runs so far, the claim
          while (it.begin_run()) {
            said.emplace_back(ran.size(), it.preemptions_covered());  // a run prepared, not yet run
            const Schedule sch = run_tasks(it, steps);
            if (it.run_counts()) ran.push_back(preemptions_of(sch, steps));
            said.emplace_back(ran.size(), it.preemptions_covered());
          }
          REQUIRE(it.exhaustive());
          if (cap) CHECK(it.preemptions_covered() == cap);
          const auto upto = [&](size_t n, uint32_t b) {
            return std::count_if(ran.begin(), ran.begin() + static_cast<std::ptrdiff_t>(n),
                                 [b](uint32_t p) { return p <= b; });
          };
          const uint32_t most = ran.empty() ? 0 : *std::max_element(ran.begin(), ran.end());
          for (const auto& [n, c] : said) {
            CAPTURE(n, c.value_or(99));
            // Sound: no schedule within the claim is still to come.
            if (c) CHECK(upto(n, *c) == upto(ran.size(), *c));
            // Exact without shards (a shard learns its part is done only after walking through
            // the subtrees of others): one more preemption would claim a schedule not yet run.
            const uint32_t next = c ? *c + 1 : 0;
            if (count == 1 && next <= most) CHECK(upto(n, next) < upto(ran.size(), next));
          }
        }
  // A bounded plain walk claims its bound once finished, and nothing before.
  DfsStrategy plain(1);
  while (plain.begin_run()) {
    CHECK_FALSE(plain.preemptions_covered());
    (void)run_tasks(plain, {2, 2});
  }
  CHECK(plain.preemptions_covered() == std::optional<uint32_t>{1});
  DfsStrategy unbounded;
  (void)explore_all(unbounded, {2, 2});
  CHECK_FALSE(unbounded.preemptions_covered());  // exhaustive() is its whole claim
}

TEST_CASE("dfs shards: an impossible shard is refused", "[dfs][shard]") {
  CHECK_THROWS_AS(DfsStrategy(std::nullopt, DfsShard{2, 2, 8}), std::invalid_argument);
  CHECK_THROWS_AS(DfsStrategy(std::nullopt, DfsShard{0, 0, 8}), std::invalid_argument);
  CHECK_THROWS_AS(DfsStrategy(std::nullopt, DfsShard{0, 2, 0}), std::invalid_argument);
}

namespace {
Co<> two_model_choices(Sched& s, std::pair<size_t, size_t>& got) {
  got.first = s.choose(3, ChoiceKind::model, "x");
  co_await s.point("between");
  got.second = s.choose(2, ChoiceKind::model, "y");
}
}  // namespace

TEST_CASE("dfs enumerates model choices too", "[dfs]") {
  DfsStrategy dfs;
  std::vector<std::pair<size_t, size_t>> seen;
  while (dfs.begin_run()) {
    Sched s(dfs);
    std::pair<size_t, size_t> got;
    s.spawn("m", TaskKind::syscall, two_model_choices(s, got));
    REQUIRE(s.run().outcome == Outcome::done);
    dfs.end_run();
    seen.push_back(got);
  }
  CHECK(seen.size() == 6);
  CHECK(std::set<std::pair<size_t, size_t>>(seen.begin(), seen.end()).size() == 6);
}

TEST_CASE("dfs reports a model that asks another kind of choice at a replayed position",
          "[dfs]") {
  // The first run asks a model choice; when dfs replays that prefix to try its second option,
  // the model asks a timer_offset choice instead: not deterministic, and dfs says so.
  DfsStrategy dfs;
  int runs = 0;
  RunEnd end;
  while (end.outcome == Outcome::done && dfs.begin_run()) {
    Sched s(dfs);
    const ChoiceKind kind = runs++ == 0 ? ChoiceKind::model : ChoiceKind::timer_offset;
    s.spawn("m", TaskKind::syscall, [](Sched& sc, ChoiceKind k) -> Co<> {
      (void)sc.choose(2, k, "x");
      co_return;
    }(s, kind));
    end = s.run();
    dfs.end_run();
  }
  CHECK(runs == 2);
  CHECK(end.outcome == Outcome::error);
  CHECK_THAT(end.message, Catch::Contains("not deterministic") &&
                              Catch::Contains("choice 0 was model with 2 options, now timer_offset with 2"));
}

// ---- random --------------------------------------------------------------------------------

TEST_CASE("random: the same seed gives the same schedules, another seed different ones",
          "[random]") {
  const std::vector<uint32_t> steps = {4, 3, 3};
  RandomStrategy r1(42), r2(42), r3(43);
  const auto a = explore_all(r1, steps, 20);
  const auto b = explore_all(r2, steps, 20);
  const auto c = explore_all(r3, steps, 20);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(distinct(a) > 1);  // it does vary between runs of one exploration
}

// ---- replay --------------------------------------------------------------------------------

TEST_CASE("replay strict: the recorded sequence reproduces the run with no divergence",
          "[replay]") {
  RandomStrategy rnd(7);
  rnd.begin_run();
  ChoiceSeq recorded;
  Schedule want;
  {
    Schedule log;
    Sched s(rnd);
    for (TaskId i = 0; i < 3; ++i) s.spawn("t", TaskKind::syscall, stepper(s, log, i, 3));
    REQUIRE(s.run().outcome == Outcome::done);
    recorded = s.choices();
    want = log;
  }
  ReplayStrategy rs(recorded, true);
  REQUIRE(rs.begin_run());
  CHECK(run_tasks(rs, {3, 3, 3}) == want);
  CHECK(rs.divergence().empty());
  CHECK_FALSE(rs.begin_run());  // one run only
}

TEST_CASE("replay strict reports divergence; lenient never does", "[replay]") {
  // Two tasks of two steps: a run has 2 or 3 schedule choices (until one task is alone).
  struct Case {
    const char* what;
    std::vector<uint32_t> seq;  // answers only: checked for range and length, not kind
    const char* message;
  };
  const Case cases[] = {
      {"too short", {0}, "ended at choice 1"},
      {"empty", {}, "ended at choice 0"},
      {"out of range", {0, 5, 0}, "choice 1 is 5 but only 2 options"},
      {"too long", {0, 0, 0, 1, 1}, "run ended after"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    ReplayStrategy strict(untyped_choices(c.seq), true);
    strict.begin_run();
    RunEnd end;
    run_tasks(strict, {2, 2}, &end);
    CHECK(end.outcome == Outcome::done);
    CHECK_THAT(strict.divergence(), Catch::Contains(c.message));

    ReplayStrategy lenient(untyped_choices(c.seq), false);
    lenient.begin_run();
    run_tasks(lenient, {2, 2}, &end);
    CHECK(end.outcome == Outcome::done);
    CHECK(lenient.divergence().empty());
  }
}

TEST_CASE("replay lenient: out-of-range answers wrap modulo n, a missing tail answers 0",
          "[replay]") {
  ReplayStrategy lenient(untyped_choices({5}), false);  // 5 % 2 = 1: t1 first
  lenient.begin_run();
  CHECK(run_tasks(lenient, {2, 2}) == Schedule{1, 0, 0, 1});
}

namespace {
// The typed record of one run of `steps` under a seeded random strategy, and its schedule.
std::pair<ChoiceSeq, Schedule> record_run(const std::vector<uint32_t>& steps, uint64_t seed) {
  RandomStrategy rnd(seed);
  rnd.begin_run();
  Schedule log;
  ChoiceSeq recorded;
  {
    Sched s(rnd);
    for (size_t i = 0; i < steps.size(); ++i)
      s.spawn("t" + std::to_string(i), TaskKind::syscall, stepper(s, log, static_cast<TaskId>(i), steps[i]));
    REQUIRE(s.run().outcome == Outcome::done);
    recorded = s.choices();
  }
  return {recorded, log};
}
}  // namespace

TEST_CASE("a recorded choice carries its kind and option count", "[replay]") {
  const auto [recorded, log] = record_run({3, 3, 3}, 7);
  REQUIRE(recorded.size() >= 2);
  // Three runnable tasks at the first choice: a schedule choice of 3.
  CHECK(recorded[0].kind == ChoiceKind::schedule);
  CHECK(recorded[0].options == 3);
  for (const Choice& c : recorded) {
    CHECK(c.typed());
    CHECK(c.value < c.options);
  }
}

TEST_CASE("replay strict reports a choice of another kind or option count as a divergence",
          "[replay]") {
  const auto [recorded, want] = record_run({2, 2, 2}, 11);
  REQUIRE(recorded.size() >= 2);
  REQUIRE(recorded[1].kind == ChoiceKind::schedule);
  const uint32_t n = recorded[1].options;
  SECTION("another kind") {
    ChoiceSeq changed = recorded;
    changed[1].kind = ChoiceKind::timer_order;  // same answer, same option count
    ReplayStrategy strict(changed, true);
    strict.begin_run();
    CHECK(run_tasks(strict, {2, 2, 2}) == want);  // the answers still drive the same run
    CHECK(strict.divergence() ==
          fmt::format("choice 1: recorded timer_order with {} options, the run asks schedule with {} options", n, n));
  }
  SECTION("another option count") {
    ChoiceSeq changed = recorded;
    changed[1].options = n + 1;
    ReplayStrategy strict(changed, true);
    strict.begin_run();
    run_tasks(strict, {2, 2, 2});
    CHECK(strict.divergence() ==
          fmt::format("choice 1: recorded schedule with {} options, the run asks schedule with {} options", n + 1, n));
  }
  SECTION("only the first divergence is reported") {
    ChoiceSeq changed = recorded;
    changed[1].kind = ChoiceKind::model;
    changed.back().kind = ChoiceKind::timer_offset;
    ReplayStrategy strict(changed, true);
    strict.begin_run();
    run_tasks(strict, {2, 2, 2});
    CHECK_THAT(strict.divergence(), Catch::StartsWith("choice 1: recorded model"));
  }
  SECTION("lenient replay ignores kinds and option counts") {
    ChoiceSeq changed = recorded;
    for (Choice& c : changed) {
      c.kind = ChoiceKind::model;
      c.options = 99;
    }
    ReplayStrategy lenient(changed, false);
    lenient.begin_run();
    CHECK(run_tasks(lenient, {2, 2, 2}) == want);
    CHECK(lenient.divergence().empty());
  }
  SECTION("control: the unchanged record replays without divergence") {
    ReplayStrategy strict(recorded, true);
    strict.begin_run();
    CHECK(run_tasks(strict, {2, 2, 2}) == want);
    CHECK(strict.divergence().empty());
  }
}

TEST_CASE("replay strict of value-only choices checks range and length only", "[replay]") {
  // A format-1 trace's choices: the kinds are unknown, so a strict replay cannot check them.
  const auto [recorded, want] = record_run({2, 2, 2}, 11);
  ReplayStrategy strict(untyped_choices(choice_values(recorded)), true);
  strict.begin_run();
  CHECK(run_tasks(strict, {2, 2, 2}) == want);
  CHECK(strict.divergence().empty());
}

// ---- pct -----------------------------------------------------------------------------------

namespace {
// The planted depth-2 bug: A runs kA steps publishing its progress; B runs one step and fails
// iff it runs exactly between A's step kBug and A's step kBug+1. Two ordering constraints
// (A_kBug before B_1, B_1 before A_kBug+1): PCT depth 2 finds it with probability at least
// 1/(n k^(d-1)) = 1/(2 * 9) per run with k = 9 (A must hold the higher priority, and the single
// change point must fall on the real choice kBug + 1, where A is demoted before the pick). A run
// has at most kA real choices (B runnable beside A), so a hint of kA + 1 is an upper bound on k.
constexpr uint32_t kA = 8, kBug = 5, kTotalSteps = kA + 1;

Co<> pct_a(Sched& s, uint32_t& progress) {
  for (uint32_t i = 1; i <= kA; ++i) {
    progress = i;
    if (i < kA) co_await s.point("A step");
  }
}

Co<> pct_b(Sched& s, const uint32_t& progress) {
  if (progress == kBug) s.fail("planted", "B ran between A5 and A6");
  co_return;
}

bool pct_run_finds(Strategy& st) {
  uint32_t progress = 0;
  RunEnd end;
  {
    Sched s(st);
    s.spawn("A", TaskKind::syscall, pct_a(s, progress));
    s.spawn("B", TaskKind::syscall, pct_b(s, progress));
    end = s.run();
  }
  st.end_run();
  return end.outcome == Outcome::violation;
}
}  // namespace

TEST_CASE("pct depth 2 finds a planted depth-2 bug within 10x its expected runs", "[pct]") {
  const uint64_t expected_runs = 2 * kTotalSteps;  // n * k^(d-1)
  const uint64_t budget = 10 * expected_runs;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    CAPTURE(seed);
    PctStrategy pct(seed, 2, kTotalSteps);
    uint64_t found_at = 0;
    for (uint64_t run = 1; run <= budget && !found_at; ++run) {
      REQUIRE(pct.begin_run());
      if (pct_run_finds(pct)) found_at = run;
    }
    CHECK(found_at != 0);
  }
}

TEST_CASE("pct depth 2 hits the planted bug at least at the guaranteed rate", "[pct]") {
  PctStrategy pct(2026, 2, kTotalSteps);
  const int runs = 3000;
  int found = 0;
  for (int i = 0; i < runs; ++i) {
    pct.begin_run();
    if (pct_run_finds(pct)) ++found;
  }
  const double bound = 1.0 / (2.0 * kTotalSteps);
  // Mean 3000/18 = 167 with sd ~12.5; 0.75 of the bound is ~4 sd below.
  CHECK(static_cast<double>(found) / runs >= 0.75 * bound);
}

TEST_CASE("pct depth 1 (no priority change) never finds the depth-2 bug (control)", "[pct]") {
  // Without a change point the higher-priority task runs to completion: B never lands between
  // two steps of A. This shows the bug really needs the priority change.
  PctStrategy pct(1, 1, kTotalSteps);
  for (int i = 0; i < 200; ++i) {
    pct.begin_run();
    CHECK_FALSE(pct_run_finds(pct));
  }
}

TEST_CASE("pct: the same seed gives the same schedules", "[pct]") {
  PctStrategy p1(9, 3, 10), p2(9, 3, 10);
  CHECK(explore_all(p1, {3, 3, 2}, 30) == explore_all(p2, {3, 3, 2}, 30));
}

namespace {
// Wraps a strategy and records, for every real schedule choice (more than one runnable task),
// the task picked and the steps taken before it. Also a check that wrapping is transparent.
class Recording final : public Strategy {
 public:
  explicit Recording(Strategy& inner) : inner_(inner) {}
  std::string name() const override { return inner_.name(); }
  bool begin_run() override {
    picks.clear();
    steps_before.clear();
    return inner_.begin_run();
  }
  size_t choose(size_t n, const ChoiceContext& ctx) override {
    const size_t c = inner_.choose(n, ctx);
    if (ctx.kind == ChoiceKind::schedule && ctx.options.size() == n) {
      picks.push_back(ctx.options[c]);
      steps_before.push_back(ctx.step);
    }
    return c;
  }
  void end_run() override { inner_.end_run(); }
  std::vector<TaskId> picks;
  std::vector<uint64_t> steps_before;

 private:
  Strategy& inner_;
};

// Two symmetric tasks: kPre steps, a sleep until one timer wakes both (a timer step, taken when
// both sleep), kPost steps. The steps of a lone task (one asleep or done) are no choice.
constexpr uint32_t kPre = 3, kPost = 3;

struct TimerWorld {
  WaitQueue wq;
  bool fired = false;
  uint64_t timer_step = 0;  // the step number of the timer's firing
};

Co<> pre_sleep_post(Sched& s, TimerWorld& w) {
  for (uint32_t i = 0; i < kPre; ++i) co_await s.point("pre");
  while (!w.fired) (void)co_await w.wq.sleep(s, "woken", false);
  for (uint32_t i = 0; i < kPost; ++i) co_await s.point("post");
}

struct TimerRun {
  RunEnd end;
  uint64_t steps = 0;
  uint64_t timer_step = 0;
  size_t schedule_choices = 0;  // recorded schedule choices
};

TimerRun run_timer_world(Strategy& st) {
  TimerWorld w;
  TimerRun r;
  {
    Sched s(st);
    s.spawn("X", TaskKind::syscall, pre_sleep_post(s, w));
    s.spawn("Y", TaskKind::syscall, pre_sleep_post(s, w));
    s.add_timer(1000000, "wake", [&] {
      w.fired = true;
      w.timer_step = s.steps();
      w.wq.wake_up_all(s);
    });
    r.end = s.run();
    r.steps = s.steps();
    for (const Choice& c : s.choices()) r.schedule_choices += c.kind == ChoiceKind::schedule;
  }
  st.end_run();
  r.timer_step = w.timer_step;
  return r;
}
}  // namespace

TEST_CASE("pct: k counts only the choices with more than one runnable task", "[pct]") {
  PctStrategy pct(3, 2);  // no hint: the first run only measures k
  Recording rec(pct);
  REQUIRE(rec.begin_run());
  CHECK(pct.change_points().empty());
  const TimerRun r = run_timer_world(rec);
  REQUIRE(r.end.outcome == Outcome::done);
  REQUIRE(r.timer_step > 0);
  // Without a change point the first-picked task runs whenever it can: all of its steps are
  // choices (the other task is runnable beside it), the other task's steps and the timer's are
  // not. Steps per task: kPre + 1 before the sleep, kPost + 1 after it.
  const uint64_t real = 2 + kPre + kPost;
  CHECK(rec.picks.size() == real);
  CHECK(r.schedule_choices == real);
  CHECK(pct.max_choices() == real);
  CHECK(r.steps == 2 * real + 1);  // the counted choices are far fewer than the steps
  // The next run draws its change point over 1..k.
  REQUIRE(rec.begin_run());
  REQUIRE(pct.change_points().size() == 1);
  CHECK(pct.change_points()[0] >= 1);
  CHECK(pct.change_points()[0] <= real);
  run_timer_world(rec);
}

TEST_CASE("pct: every change point within the run fires at its real choice, after a timer too",
          "[pct]") {
  // Depth 2, two tasks: before the change point the top-priority task is picked at every real
  // choice; at the change point it drops below the other, which is picked from there on. So the
  // picks are "the other task" at choices 1..c-1 and one task at c and after. A change point
  // past this run's last real choice changes nothing: one task is picked throughout.
  PctStrategy pct(2026, 2, 2 + kPre + kPost);
  Recording rec(pct);
  int fired = 0, fired_after_timer = 0;
  for (int run = 0; run < 300; ++run) {
    CAPTURE(run);
    REQUIRE(rec.begin_run());
    REQUIRE(pct.change_points().size() == 1);
    const uint64_t c = pct.change_points()[0];
    const TimerRun r = run_timer_world(rec);
    REQUIRE(r.end.outcome == Outcome::done);
    const auto& picks = rec.picks;
    CAPTURE(c, picks);
    REQUIRE(!picks.empty());
    if (c > picks.size()) {
      CHECK(std::count(picks.begin(), picks.end(), picks[0]) == static_cast<long>(picks.size()));
      continue;
    }
    ++fired;
    const TaskId other = picks[c - 1];  // picked once the top task is demoted
    for (size_t i = 0; i + 1 < c; ++i) CHECK(picks[i] != other);
    for (size_t i = c - 1; i < picks.size(); ++i) CHECK(picks[i] == other);
    // The first real choice after the timer step is the one asked with steps == timer_step.
    if (rec.steps_before[c - 1] == r.timer_step) ++fired_after_timer;
  }
  CHECK(fired > 100);
  CHECK(fired_after_timer > 0);  // the case a step-numbered change point used to miss
}

// ---- shrink --------------------------------------------------------------------------------

namespace {
using Values = std::vector<uint32_t>;

// "Fails" when some answer is >= 3; reports the sequence it consumed as the candidate itself.
std::optional<ChoiceSeq> has_big(const ChoiceSeq& c) {
  if (std::any_of(c.begin(), c.end(), [](const Choice& x) { return x.value >= 3; })) return c;
  return std::nullopt;
}
}  // namespace

TEST_CASE("shrink_choices: the result still fails and is no longer than the input",
          "[shrink]") {
  const ChoiceSeq input = untyped_choices({1, 5, 2, 7, 0, 4});
  size_t calls = 0;
  StillFails still = [&](const ChoiceSeq& c) {
    ++calls;
    return has_big(c);
  };
  const ShrinkResult r = shrink_choices(input, still);
  CHECK(has_big(r.choices));
  CHECK(r.choices.size() <= input.size());
  CHECK(choice_values(r.choices) == Values{3});  // the minimal failing sequence for this predicate
  CHECK(r.attempts == calls);
  CHECK(r.accepted > 0);
}

TEST_CASE("shrink_choices keeps only what still_fails returned, never a raw candidate",
          "[shrink]") {
  // still_fails reports a consumed sequence that differs from the candidate (like a lenient
  // replay that wraps values, fills a missing tail with 0 and records what each point asked);
  // the shrinker must keep that.
  auto consumed = [](const ChoiceSeq& c) {
    ChoiceSeq r;
    for (const Choice& x : c) r.push_back({.value = x.value % 4, .options = 4, .kind = ChoiceKind::model});
    while (r.size() < 3) r.push_back({.value = 0, .options = 4, .kind = ChoiceKind::model});
    return r;
  };
  StillFails still = [&](const ChoiceSeq& c) -> std::optional<ChoiceSeq> {
    ChoiceSeq r = consumed(c);
    if (std::count_if(r.begin(), r.end(), [](const Choice& x) { return x.value == 3; }) >= 2) return r;
    return std::nullopt;
  };
  // The raw candidate {7, 7} fails (it consumes {3, 3, 0}); keeping it instead of what was
  // consumed would leave a sequence no run ever took.
  const ChoiceSeq input = untyped_choices({7, 7, 1});
  REQUIRE(still(input));
  const ShrinkResult r = shrink_choices(input, still);
  CHECK(still(r.choices));
  CHECK(consumed(r.choices) == r.choices);  // a sequence that a run actually consumed, typed
  CHECK(choice_values(r.choices) == Values{3, 3, 0});
  CHECK(r.choices.size() <= input.size());
}

TEST_CASE("shrink_choices with no budget returns the input unchanged", "[shrink]") {
  const ChoiceSeq input = untyped_choices({4, 4});
  const ShrinkResult r = shrink_choices(input, has_big, 0);
  CHECK(r.choices == input);
  CHECK(r.attempts == 0);
}

TEST_CASE("shrink_choices on a real lost-update violation stays a violation", "[shrink]") {
  const Scenario* sc = find_scenario("lost-update");
  REQUIRE(sc != nullptr);
  const Params p = resolve_params(*sc, std::vector<std::string>{"tasks=3", "incs=2"});
  RunOptions o;
  // Find a violating schedule with a fixed random seed.
  RandomStrategy rnd(1);
  std::optional<RunResult> bad;
  for (int i = 0; i < 200 && !bad; ++i) {
    rnd.begin_run();
    RunResult r = run_once(*sc, p, rnd, o);
    if (is_finding(r.end)) bad = r;
  }
  REQUIRE(bad);
  const std::string key = finding_key(bad->end);
  StillFails still = [&](const ChoiceSeq& c) -> std::optional<ChoiceSeq> {
    auto r = rerun_if_same(*sc, p, c, key, o);
    if (!r) return std::nullopt;
    return r->choices;
  };
  const ShrinkResult sr = shrink_choices(bad->choices, still);
  CHECK(sr.choices.size() <= bad->choices.size());
  auto again = rerun_if_same(*sc, p, sr.choices, key, o);
  REQUIRE(again);
  CHECK(again->end.property == "no-lost-update");
  CHECK(again->choices == sr.choices);
  // What shrinking keeps is the typed record of a run, so a strict replay accepts it.
  REQUIRE(std::all_of(sr.choices.begin(), sr.choices.end(), [](const Choice& c) { return c.typed(); }));
  ReplayStrategy strict(sr.choices, true);
  strict.begin_run();
  CHECK(run_once(*sc, p, strict, o).end.property == "no-lost-update");
  CHECK(strict.divergence().empty());
}

// ChoiceContext::unlikely (a model's rare event, e.g. the scheduler tick in model/kernel/sched):
// random and pct keep option 0 about 15 times in 16 and still take each other option; dfs
// explores every option regardless.
TEST_CASE("unlikely choices: random strategies take their rare options rarely, dfs all of them", "[random]") {
  ChoiceContext unlikely{ChoiceKind::model, "rare", 0, {}, -1, true};
  ChoiceContext plain{ChoiceKind::model, "plain", 0, {}, -1, false};
  for (int which = 0; which < 2; ++which) {
    RandomStrategy random(5);
    PctStrategy pct(5, 3);
    Strategy& s = which == 0 ? static_cast<Strategy&>(random) : static_cast<Strategy&>(pct);
    REQUIRE(s.begin_run());
    std::vector<int> rare(3), uniform(3);
    const int n = 16000;
    for (int i = 0; i < n; ++i) {
      ++rare[s.choose(3, unlikely)];
      ++uniform[s.choose(3, plain)];
    }
    INFO(s.name() << " rare " << rare[0] << "/" << rare[1] << "/" << rare[2]);
    // Expected 15000 / 500 / 500 and 5333 each: the bounds are many standard deviations wide.
    CHECK(rare[0] > 14700);
    CHECK(rare[0] < 15300);
    CHECK(rare[1] > 350);
    CHECK(rare[2] > 350);
    for (int u : uniform) CHECK(std::abs(u - n / 3) < 400);
  }
  DfsStrategy dfs;
  std::set<size_t> seen;
  while (dfs.begin_run()) seen.insert(dfs.choose(3, unlikely));
  CHECK(seen == std::set<size_t>{0, 1, 2});
}
