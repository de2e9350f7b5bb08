// ktls-async-close (seed 002): the lost-records chain end to end, the setups and fixes that
// close it or not, and the task-work mechanics the chain rests on.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "model/io_uring/io_uring.h"
#include "model/kernel/task_work.h"
#include "scenarios/runner.h"
#include "sched/strategy_random.h"
#include "sched/strategy_replay.h"
#include "traces/render.h"

using namespace kpsim;

namespace {

const Scenario& sc() {
  const Scenario* s = find_scenario("ktls-async-close");
  REQUIRE(s);
  return *s;
}

ExploreResult explore_random(const std::vector<std::string>& sets, uint64_t budget, uint64_t seed = 1) {
  RandomStrategy random(seed);
  ExploreOptions o;
  o.budget = budget;
  o.run.limits = sc().default_limits();
  o.run.strategy_label = "random";
  o.run.seed = seed;
  o.stop_on_first = true;
  return explore(sc(), resolve_params(sc(), sets), random, o);
}

std::string shrunk_text(const ExploreResult& r) {
  REQUIRE(r.first_violation);
  REQUIRE(r.first_violation->trace);
  return render_text(*r.first_violation->trace);
}

}  // namespace

TEST_CASE("io_uring + async crypto: the close's flush is interrupted and records are freed", "[ktls-close]") {
  const ExploreResult r = explore_random({"io=uring", "crypto=async"}, 1000);
  REQUIRE(r.violations > 0);
  CHECK(r.first_violation->end.property == "all-records-delivered");
  const std::string t = shrunk_text(r);
  // The chain, in the order the report describes it.
  CHECK_THAT(t, Catch::Contains("send_end: 3 async records, no wait (num_zc 0, MSG_MORE)"));
  CHECK_THAT(t, Catch::Contains("____fput queued on app:server"));
  CHECK_THAT(t, Catch::Contains("__fput: last reference gone, release in app:server"));
  CHECK_THAT(t, Catch::Contains("task_work_add(app:server, tctx_task_work, TWA_SIGNAL): TIF_NOTIFY_SIGNAL set"));
  CHECK_THAT(t, Catch::Contains("sk_stream_wait_memory: signal_pending (TIF_NOTIFY_SIGNAL) → -ERESTARTSYS"));
  CHECK_THAT(t, Catch::Contains("tls_sw_release_resources_tx: free 3 unsent records"));
  CHECK(r.first_violation->metrics["close_by"] == "app:server");
  CHECK(r.first_violation->metrics["close_tx_records_rc"] == -512);
}

TEST_CASE("COOP_TASKRUN still sets TIF_NOTIFY_SIGNAL (TWA_SIGNAL_NO_IPI)", "[ktls-close]") {
  const ExploreResult r = explore_random({"io=uring-coop"}, 1000);
  REQUIRE(r.violations > 0);
  CHECK_THAT(shrunk_text(r), Catch::Contains("TWA_SIGNAL_NO_IPI): TIF_NOTIFY_SIGNAL set"));
}

TEST_CASE("DEFER_TASKRUN: completions no longer signal, io-wq worker creation still does", "[ktls-close]") {
  // One connection: nothing signals the submitter while it closes.
  CHECK(explore_random({"io=uring-defer"}, 3000).violations == 0);
  CHECK(explore_random({"io=uring-defer", "others=1"}, 3000).violations == 0);
  // Two requests of another connection queued with the close: both wake the same free worker,
  // which sleeps in the first with the second still queued → create_worker_cb, TWA_SIGNAL.
  const ExploreResult r = explore_random({"io=uring-defer", "others=2"}, 1000);
  REQUIRE(r.violations > 0);
  const std::string t = shrunk_text(r);
  CHECK_THAT(t, Catch::Contains("io_req_local_work_add: onto ctx->work_llist (no signal)"));
  CHECK_THAT(t, Catch::Contains("task_work_add(app:server, create_worker_cb, TWA_SIGNAL): TIF_NOTIFY_SIGNAL set"));
  CHECK_THAT(t, Catch::Contains("→ -ERESTARTSYS"));
  CHECK(t.find("tctx_task_work, TWA_SIGNAL") == std::string::npos);
}

TEST_CASE("controls and fixes stay clean", "[ktls-close]") {
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {"crypto=sync"},
           {"io=plain"},
           {"tls=none"},
           {"more=0"},  // 6.12: eor makes the io-wq sender wait for its encryptions
           {"fix=task-sigpending"},
           {"fix=flush-in-worker"},
           {"io=uring-defer", "others=2", "fix=task-sigpending"},
           {"io=uring-defer", "others=2", "fix=flush-in-worker"}}) {
    INFO(fmt::format("{}", fmt::join(sets, " ")));
    const ExploreResult r = explore_random(sets, 3000);
    CHECK(r.violations == 0);
    CHECK(r.outcomes.size() == 1);  // every run "done"
  }
}

TEST_CASE("the report's kernel (6.6) loses records even without MSG_MORE", "[ktls-close]") {
  const ExploreResult r = explore_random({"more=0", "kernel=6.6"}, 2000);
  REQUIRE(r.violations > 0);
  CHECK_THAT(shrunk_text(r), Catch::Contains("eor, but this kernel waits only for num_zc"));
}

TEST_CASE("task-sigpending: the close no longer aborts, it busy-polls while TIF_NOTIFY_SIGNAL is set",
          "[ktls-close]") {
  // Replay the violating schedule of the unpatched kernel on the patched one.
  const ExploreResult bad = explore_random({"io=uring", "crypto=async"}, 1000);
  REQUIRE(bad.first_violation);
  ReplayStrategy replay(bad.first_violation->choices, /*strict=*/false);
  replay.begin_run();
  RunOptions o;
  o.limits = sc().default_limits();
  const RunResult r = run_once(sc(), resolve_params(sc(), std::vector<std::string>{"fix=task-sigpending"}), replay, o);
  CHECK(r.end.outcome == Outcome::done);
  CHECK(r.metrics["bytes_read"] == 49152);
  CHECK(r.metrics["notify_signal_spins"].get<uint64_t>() > 0);
}

TEST_CASE("a shrunk trace replays byte for byte", "[ktls-close]") {
  const ExploreResult bad = explore_random({"io=uring-defer", "others=2"}, 1000);
  REQUIRE(bad.first_violation);
  std::string first;
  for (int i = 0; i < 2; ++i) {
    ReplayStrategy replay(bad.first_violation->choices, /*strict=*/true);
    replay.begin_run();
    RunOptions o;
    o.limits = sc().default_limits();
    o.trace = true;
    const RunResult r = run_once(sc(), resolve_params(sc(), std::vector<std::string>{"io=uring-defer", "others=2"}), replay, o);
    REQUIRE(r.trace);
    const std::string text = render_text(*r.trace);
    if (i == 0) first = text;
    else CHECK(text == first);
  }
}

namespace {
struct TwWorld {
  model::task_works tw;
  std::vector<std::string> log;
};

Co<> adder(Sched& s, TwWorld& w) {
  // A callback that queues another: task_work_run runs both in the same call, and a TWA_SIGNAL
  // add made while they run leaves TIF_NOTIFY_SIGNAL set for the next wait.
  model::task_work_add(s, w.tw, s.current_id(), {"first", [&s, &w]() -> Co<> {
                                                    w.log.push_back("first");
                                                    model::task_work_add(s, w.tw, s.current_id(),
                                                                          {"second", [&w]() -> Co<> {
                                                                             w.log.push_back("second");
                                                                             co_return;
                                                                           }},
                                                                          model::task_work_notify_mode::twa_signal);
                                                    co_return;
                                                  }},
                        model::task_work_notify_mode::twa_signal);
  CHECK(s.current().signal_pending());
  co_await model::io_run_task_work(s, w.tw);
  w.log.push_back(s.current().tif_notify_signal ? "TIF set" : "TIF clear");
}
}  // namespace

TEST_CASE("io_run_task_work clears TIF_NOTIFY_SIGNAL first; work added meanwhile sets it again", "[ktls-close]") {
  ReplayStrategy zero({}, false);
  zero.begin_run();
  Sched s(zero);
  TwWorld w;
  s.spawn("task", TaskKind::syscall, adder(s, w));
  CHECK(s.run().outcome == Outcome::done);
  CHECK(w.log == std::vector<std::string>{"first", "second", "TIF set"});
}
