// Unit tests of the scheduler and its primitives: each test builds a tiny synthetic world
// (a few tasks, a lock or a wait queue) and checks one guarantee models rely on. Where the
// guarantee must hold under every interleaving, the test runs all schedules dfs enumerates.
//
// Convention: assertions never run inside a coroutine (a Catch failure thrown there would become
// the task's exception); tasks record what they saw and the test checks it after the run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <memory>
#include <numeric>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sched/completion.h"
#include "sched/mutex.h"
#include "sched/ring_queue.h"
#include "sched/sched.h"
#include "sched/socklock.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_replay.h"
#include "sched/timer.h"
#include "sched/waitqueue.h"
#include "sched/work.h"

using namespace kpsim;

namespace {

constexpr uint64_t kMs = 1000 * 1000;

// Runs a coroutine lambda as a task body. The closure lives in this frame's std::function for as
// long as the task does, so [&] captures inside `f` stay valid (a temporary closure would not).
Co<> run_fn(std::function<Co<>()> f) { co_await f(); }

TaskId spawn_fn(Sched& s, std::string name, std::function<Co<>()> f, bool daemon = false) {
  return s.spawn(std::move(name), TaskKind::syscall, run_fn(std::move(f)), daemon);
}

// Answers from a script (missing answers: 0, i.e. the lowest runnable TaskId / the first timer)
// and records every choice point it was asked, so tests can see which choices a run created.
class Scripted final : public Strategy {
 public:
  explicit Scripted(std::vector<uint32_t> script = {}) : script_(std::move(script)) {}
  std::string name() const override { return "scripted"; }
  bool begin_run() override { return true; }
  size_t choose(size_t n, const ChoiceContext& ctx) override {
    asked.emplace_back(ctx.kind, n);
    const size_t c = pos_ < script_.size() ? script_[pos_] : 0;
    ++pos_;
    return c < n ? c : 0;
  }
  std::vector<std::pair<ChoiceKind, size_t>> asked;

 private:
  std::vector<uint32_t> script_;
  size_t pos_ = 0;
};

// Runs every schedule dfs enumerates. W is the per-run world (fresh for each run, declared
// before the scheduler so it outlives the task frames); build spawns the tasks, check inspects
// the world and the outcome. Returns the number of schedules.
template <class W, class Build, class Check>
size_t for_each_schedule(Build build, Check check) {
  DfsStrategy dfs;
  size_t runs = 0;
  while (dfs.begin_run()) {
    W w;
    RunEnd end;
    {
      Sched s(dfs);
      build(s, w);
      end = s.run();
    }
    dfs.end_run();
    check(w, end);
    ++runs;
  }
  REQUIRE(dfs.exhaustive());
  return runs;
}

}  // namespace

// ---- Co -------------------------------------------------------------------------------------

TEST_CASE("Co: a nested coroutine returns its value and its point suspends the whole task",
          "[co]") {
  Scripted st;
  Sched s(st);
  int got = 0;
  uint64_t steps_seen = 0;
  auto child = [&](int x) -> Co<int> {
    co_await s.point("child");
    co_return x * 2;
  };
  spawn_fn(s, "A", [&]() -> Co<> {
    got = co_await child(21);
    steps_seen = s.steps();
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(got == 42);
  CHECK(steps_seen == 2);  // start..point, then point..end: the child's point was a real step
}

TEST_CASE("Co: an exception in a child propagates to the awaiting frame", "[co]") {
  Scripted st;
  Sched s(st);
  std::string caught;
  auto child = [&]() -> Co<> {
    co_await s.point("child");
    throw std::runtime_error("child failed");
  };
  spawn_fn(s, "A", [&]() -> Co<> {
    try {
      co_await child();
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  });
  CHECK(s.run().outcome == Outcome::done);
  CHECK(caught == "child failed");
}

// ---- Mutex ----------------------------------------------------------------------------------

namespace {
struct CsWorld {
  Mutex m;
  SockLock sk;
  int inside = 0;
  int max_inside = 0;
  int entries = 0;
};

void spawn_cs_tasks(Sched& s, CsWorld& w, int n, int kind /*0 none, 1 mutex, 2 socklock*/) {
  for (int i = 0; i < n; ++i) {
    spawn_fn(s, "t" + std::to_string(i), [&s, &w, kind]() -> Co<> {
      if (kind == 1) co_await w.m.lock(s, "locked");
      if (kind == 2) co_await w.sk.lock_sock(s);
      ++w.inside;
      ++w.entries;
      w.max_inside = std::max(w.max_inside, w.inside);
      co_await s.point("inside");  // another task may run here
      --w.inside;
      if (kind == 1) w.m.unlock(s);
      if (kind == 2) w.sk.release_sock(s);
    });
  }
}
}  // namespace

TEST_CASE("without a lock the critical-section check does see overlap (control)", "[mutex]") {
  // Proves the exclusion tests below can fail: the point inside lets another task in.
  int worst = 0;
  for_each_schedule<CsWorld>([](Sched& s, CsWorld& w) { spawn_cs_tasks(s, w, 2, 0); },
                             [&](CsWorld& w, const RunEnd&) { worst = std::max(worst, w.max_inside); });
  CHECK(worst == 2);
}

TEST_CASE("Mutex: never two tasks inside under any schedule", "[mutex]") {
  const size_t runs = for_each_schedule<CsWorld>(
      [](Sched& s, CsWorld& w) { spawn_cs_tasks(s, w, 3, 1); },
      [](CsWorld& w, const RunEnd& end) {
        REQUIRE(end.outcome == Outcome::done);
        CHECK(w.max_inside == 1);
        CHECK(w.entries == 3);
        CHECK_FALSE(w.m.locked());
      });
  CHECK(runs > 6);  // contention really happened in some schedules
}

TEST_CASE("SockLock: never two owners under any schedule", "[socklock]") {
  const size_t runs = for_each_schedule<CsWorld>(
      [](Sched& s, CsWorld& w) { spawn_cs_tasks(s, w, 3, 2); },
      [](CsWorld& w, const RunEnd& end) {
        REQUIRE(end.outcome == Outcome::done);
        CHECK(w.max_inside == 1);
        CHECK(w.entries == 3);
        CHECK_FALSE(w.sk.owned_by_user());
      });
  CHECK(runs > 6);
}

TEST_CASE("Mutex: unlock hands over FIFO; the releaser cannot overtake waiters", "[mutex]") {
  // A takes the lock; B then C block on it; A unlocks and immediately tries again.
  ReplayStrategy rs(untyped_choices({0, 1, 1}), /*strict=*/true);
  rs.begin_run();
  Sched s(rs);
  Mutex m;
  std::vector<std::string> order;
  TaskId owner_after_unlock = kNoTask;
  TaskId b = kNoTask;
  spawn_fn(s, "A", [&]() -> Co<> {
    co_await m.lock(s, "A locked");
    order.push_back("A");
    co_await s.point("A holds");
    m.unlock(s);
    owner_after_unlock = m.owner();
    co_await m.lock(s, "A relocked");
    order.push_back("A");
    m.unlock(s);
  });
  b = spawn_fn(s, "B", [&]() -> Co<> {
    co_await m.lock(s, "B locked");
    order.push_back("B");
    m.unlock(s);
  });
  spawn_fn(s, "C", [&]() -> Co<> {
    co_await m.lock(s, "C locked");
    order.push_back("C");
    m.unlock(s);
  });
  REQUIRE(s.run().outcome == Outcome::done);
  rs.end_run();
  CHECK(rs.divergence().empty());
  CHECK(owner_after_unlock == b);  // handed over inside unlock(), not re-raced
  CHECK(order == std::vector<std::string>{"A", "B", "C", "A"});
}

TEST_CASE("Mutex: try_lock fails while held, succeeds when free", "[mutex]") {
  Scripted st;
  Sched s(st);
  Mutex m;
  std::vector<bool> got;
  spawn_fn(s, "A", [&]() -> Co<> {
    got.push_back(m.try_lock(s));
    got.push_back(m.try_lock(s));
    m.unlock(s);
    got.push_back(m.try_lock(s));
    m.unlock(s);
    co_return;
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(got == std::vector<bool>{true, false, true});
}

TEST_CASE("mutex_lock_interruptible: false with a signal already pending", "[mutex][signal]") {
  Scripted st;
  Sched s(st);
  Mutex m;
  std::optional<bool> got;
  spawn_fn(s, "A", [&]() -> Co<> {
    s.send_signal(s.current_id());
    got = co_await m.lock_interruptible(s, "lock");
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(got == false);
  CHECK_FALSE(m.locked());  // an -EINTR lock attempt must not take the lock
}

TEST_CASE("mutex_lock_interruptible: a signal wakes a waiter with false and dequeues it",
          "[mutex][signal]") {
  // A holds the lock; B waits interruptibly; A signals B, then unlocks.
  ReplayStrategy rs(untyped_choices({0, 1}), /*strict=*/false);
  rs.begin_run();
  Sched s(rs);
  Mutex m;
  std::optional<bool> b_got;
  bool locked_after_unlock = true;
  TaskId b = kNoTask;
  spawn_fn(s, "A", [&]() -> Co<> {
    co_await m.lock(s, "A locked");
    co_await s.point("A holds");
    s.send_signal(b);
    co_await s.point("A signalled");
    m.unlock(s);
    locked_after_unlock = m.locked();
  });
  b = spawn_fn(s, "B", [&]() -> Co<> { b_got = co_await m.lock_interruptible(s, "B lock"); });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(b_got == false);
  CHECK_FALSE(locked_after_unlock);  // B left the wait list: nobody was handed the lock
}

TEST_CASE("mutex_lock (uninterruptible) ignores signals and gets the lock", "[mutex][signal]") {
  ReplayStrategy rs(untyped_choices({0, 1}), /*strict=*/false);
  rs.begin_run();
  Sched s(rs);
  Mutex m;
  std::optional<bool> b_got;
  TaskId b = kNoTask;
  spawn_fn(s, "A", [&]() -> Co<> {
    co_await m.lock(s, "A locked");
    co_await s.point("A holds");
    s.send_signal(b);
    s.set_notify_signal(b);
    co_await s.point("A signalled");
    m.unlock(s);
  });
  b = spawn_fn(s, "B", [&]() -> Co<> {
    b_got = co_await m.lock(s, "B lock");
    m.unlock(s);
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(b_got == true);
}

// ---- SockLock backlog ----------------------------------------------------------------------

namespace {
struct BacklogWorld {
  SockLock sk;
  std::vector<TaskId> hook_saw_owner;
  std::vector<bool> hook_saw_owned;
  int hook_runs = 0;
};
}  // namespace

TEST_CASE("SockLock: the backlog hook runs at release_sock, still owned by the releaser",
          "[socklock]") {
  for_each_schedule<BacklogWorld>(
      [](Sched& s, BacklogWorld& w) {
        // The hook is a plain function run inside release_sock (no scheduling point): nothing
        // else can run between its start and its end, by construction.
        w.sk.set_backlog_hook([&s, &w] {
          ++w.hook_runs;
          w.hook_saw_owned.push_back(w.sk.owned_by_user());
          w.hook_saw_owner.push_back(w.sk.owner() == s.current_id() ? s.current_id() : kNoTask);
        });
        for (int i = 0; i < 2; ++i)
          spawn_fn(s, "p" + std::to_string(i), [&s, &w]() -> Co<> {
            co_await w.sk.lock_sock(s);
            co_await s.point("owned");
            w.sk.release_sock(s);
          });
      },
      [](BacklogWorld& w, const RunEnd& end) {
        REQUIRE(end.outcome == Outcome::done);
        CHECK(w.hook_runs == 2);  // once per release_sock
        for (bool owned : w.hook_saw_owned) CHECK(owned);
        for (TaskId t : w.hook_saw_owner) CHECK(t != kNoTask);  // the releaser is the owner
        CHECK_FALSE(w.sk.owned_by_user());
      });
}

// ---- WaitQueue ----------------------------------------------------------------------------

TEST_CASE("WaitQueue: wake_up_all wakes every sleeper in the order they slept", "[waitqueue]") {
  // Sleepers go to sleep in the order s2, s0, s1 (not TaskId order).
  ReplayStrategy rs(untyped_choices({2, 0, 0}), /*strict=*/false);  // the tail (who runs after) does not matter
  rs.begin_run();
  Trace trace;
  Sched s(rs);
  s.set_trace(&trace);
  WaitQueue wq;
  std::vector<WakeReason> reasons(3, WakeReason::none);
  for (int i = 0; i < 3; ++i)
    spawn_fn(s, "s" + std::to_string(i),
             [&, i]() -> Co<> { reasons[static_cast<size_t>(i)] = co_await wq.sleep(s, "woke", false); });
  size_t waker_step = 0;
  spawn_fn(s, "waker", [&]() -> Co<> {
    waker_step = trace.events.size() - 1;
    wq.wake_up_all(s);
    co_return;
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(trace.events.at(waker_step).wakes == std::vector<std::string>{"s2", "s0", "s1"});
  for (auto r : reasons) CHECK(r == WakeReason::woken);
  CHECK(wq.empty());
}

TEST_CASE("WaitQueue: wake_up_one wakes only the longest sleeper", "[waitqueue]") {
  ReplayStrategy rs(untyped_choices({2, 0, 0}), /*strict=*/false);
  rs.begin_run();
  Sched s(rs);
  WaitQueue wq;
  for (int i = 0; i < 3; ++i)
    spawn_fn(s, "s" + std::to_string(i), [&]() -> Co<> { (void)co_await wq.sleep(s, "woke", false); });
  std::vector<TaskId> woken;
  std::vector<size_t> left;
  spawn_fn(s, "waker", [&]() -> Co<> {
    for (int i = 0; i < 4; ++i) {
      woken.push_back(wq.wake_up_one(s));
      left.push_back(wq.size());
      co_await s.point("again");
    }
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(woken == std::vector<TaskId>{2, 0, 1, kNoTask});
  CHECK(left == std::vector<size_t>{2, 1, 0, 0});
}

namespace {
struct ConsumerWorld {
  WaitQueue wq;
  int items = 0;
  int min_items = 0;
  int consumed = 0;
  int empty_wakeups = 0;
};
}  // namespace

TEST_CASE("WaitQueue: a woken sleeper re-checks its condition and may sleep again",
          "[waitqueue]") {
  // One item at a time for two consumers, announced with wake_up_all: a consumer woken for an
  // item the other took must find nothing and go back to sleep, never take a phantom item.
  int empty_wakeups_total = 0;
  for_each_schedule<ConsumerWorld>(
      [](Sched& s, ConsumerWorld& w) {
        for (int i = 0; i < 2; ++i)
          spawn_fn(s, "c" + std::to_string(i), [&s, &w]() -> Co<> {
            while (w.items == 0) {
              (void)co_await w.wq.sleep(s, "recheck", false);
              if (w.items == 0) ++w.empty_wakeups;
            }
            --w.items;
            w.min_items = std::min(w.min_items, w.items);
            ++w.consumed;
          });
        spawn_fn(s, "producer", [&s, &w]() -> Co<> {
          ++w.items;
          w.wq.wake_up_all(s);
          co_await s.point("second item");
          ++w.items;
          w.wq.wake_up_all(s);
        });
      },
      [&](ConsumerWorld& w, const RunEnd& end) {
        REQUIRE(end.outcome == Outcome::done);
        CHECK(w.consumed == 2);
        CHECK(w.min_items == 0);
        empty_wakeups_total += w.empty_wakeups;
      });
  CHECK(empty_wakeups_total > 0);  // the re-check path was exercised
}

// ---- timeouts and the clock ---------------------------------------------------------------

TEST_CASE("sleep with a timeout wakes with `timeout` at exactly that virtual time", "[time]") {
  Scripted st;
  Sched s(st);
  WaitQueue wq;
  WakeReason r = WakeReason::none;
  uint64_t at = 0;
  bool dequeued = false;
  spawn_fn(s, "A", [&]() -> Co<> {
    r = co_await wq.sleep(s, "timed out", true, 5 * kMs + 7);
    at = s.now_ns();
    dequeued = wq.empty();
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == WakeReason::timeout);
  CHECK(at == 5 * kMs + 7);
  CHECK(dequeued);
}

TEST_CASE("a zero timeout returns `timeout` at once without sleeping", "[time]") {
  Scripted st;
  Sched s(st);
  WaitQueue wq;
  WakeReason r = WakeReason::none;
  uint64_t steps_before = 0, steps_after = 0;
  spawn_fn(s, "A", [&]() -> Co<> {
    steps_before = s.steps();
    r = co_await wq.sleep(s, "x", false, 0);
    steps_after = s.steps();
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == WakeReason::timeout);
  CHECK(steps_after == steps_before);
  CHECK(s.now_ns() == 0);
}

TEST_CASE("a wake-up before the timeout cancels the timeout timer", "[time]") {
  // The sleeper is woken early, then sleeps again without a timeout. A stale 5 ms timer would
  // wake that second sleep with `timeout`; only the waker's wake-up at 10 ms may end it.
  Scripted st;
  Sched s(st);
  WaitQueue wq, wq2, idle;
  WakeReason r1 = WakeReason::none, r2 = WakeReason::none;
  uint64_t second_woke_at = 0;
  spawn_fn(s, "sleeper", [&]() -> Co<> {
    r1 = co_await wq.sleep(s, "woke", false, 5 * kMs);
    r2 = co_await wq2.sleep(s, "woke again", false);
    second_woke_at = s.now_ns();
  });
  spawn_fn(s, "waker", [&]() -> Co<> {
    wq.wake_up_all(s);
    (void)co_await idle.sleep(s, "later", false, 10 * kMs);
    wq2.wake_up_all(s);
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r1 == WakeReason::woken);
  CHECK(r2 == WakeReason::woken);
  CHECK(second_woke_at == 10 * kMs);
}

TEST_CASE("the clock jumps only when nothing is runnable", "[time]") {
  Scripted st;
  Sched s(st);
  WaitQueue wq;
  std::vector<uint64_t> busy_times;
  uint64_t sleeper_woke_at = 0;
  uint64_t sleeper_woke_step = 0, busy_last_step = 0;
  spawn_fn(s, "sleeper", [&]() -> Co<> {
    (void)co_await wq.sleep(s, "woke", false, 1 * kMs);
    sleeper_woke_at = s.now_ns();
    sleeper_woke_step = s.steps();
  });
  spawn_fn(s, "busy", [&]() -> Co<> {
    for (int i = 0; i < 5; ++i) {
      busy_times.push_back(s.now_ns());
      busy_last_step = s.steps();
      co_await s.point("busy");
    }
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(busy_times == std::vector<uint64_t>(5, 0));  // a runnable task: time stands still
  CHECK(sleeper_woke_at == 1 * kMs);                 // then straight to the timer, no rounding
  CHECK(sleeper_woke_step > busy_last_step);
}

// ---- signals and interrupted sleeps -------------------------------------------------------

TEST_CASE("send_signal wakes an interruptible sleeper with `interrupted`", "[signal]") {
  Scripted st;
  Sched s(st);
  WaitQueue wq;
  WakeReason r = WakeReason::none;
  bool sigpending = false, task_sigpending = false, dequeued = false;
  TaskId a = spawn_fn(s, "A", [&]() -> Co<> {
    r = co_await wq.sleep(s, "woke", true);
    sigpending = s.current().signal_pending();
    task_sigpending = s.current().task_sigpending();
    dequeued = wq.empty();
  });
  spawn_fn(s, "K", [&]() -> Co<> {
    s.send_signal(a);
    co_return;
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == WakeReason::interrupted);
  CHECK(sigpending);
  CHECK(task_sigpending);
  CHECK(dequeued);
}

TEST_CASE("set_notify_signal wakes an interruptible sleeper; task_sigpending stays false",
          "[signal]") {
  Scripted st;
  Sched s(st);
  WaitQueue wq;
  WakeReason r = WakeReason::none;
  bool sigpending = false, task_sigpending = true;
  TaskId a = spawn_fn(s, "A", [&]() -> Co<> {
    r = co_await wq.sleep(s, "woke", true);
    sigpending = s.current().signal_pending();
    task_sigpending = s.current().task_sigpending();
  });
  spawn_fn(s, "K", [&]() -> Co<> {
    s.set_notify_signal(a);
    co_return;
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == WakeReason::interrupted);
  CHECK(sigpending);         // signal_pending() sees TIF_NOTIFY_SIGNAL
  CHECK_FALSE(task_sigpending);  // task_sigpending() sees only real signals
}

TEST_CASE("an uninterruptible sleeper is not woken by signals", "[signal]") {
  Scripted st;
  Sched s(st);
  WaitQueue wq;
  WakeReason r = WakeReason::none;
  TaskState state_after_signals = TaskState::done;
  TaskId a = spawn_fn(s, "A", [&]() -> Co<> { r = co_await wq.sleep(s, "woke", false); });
  spawn_fn(s, "K", [&]() -> Co<> {
    s.send_signal(a);
    s.set_notify_signal(a);
    co_await s.point("after signals");
    state_after_signals = s.task(a).state;
    wq.wake_up_all(s);
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(state_after_signals == TaskState::blocked);
  CHECK(r == WakeReason::woken);
}

TEST_CASE("an interruptible sleep that starts with a signal pending returns at once", "[signal]") {
  for (int real_signal = 0; real_signal < 2; ++real_signal) {
    CAPTURE(real_signal);
    Scripted st;
    Sched s(st);
    WaitQueue wq;
    WakeReason r = WakeReason::none;
    uint64_t steps_before = 0, steps_after = 0;
    bool queued = true;
    spawn_fn(s, "A", [&]() -> Co<> {
      if (real_signal) s.send_signal(s.current_id());
      else s.set_notify_signal(s.current_id());  // task_work_add(TWA_SIGNAL) on itself
      steps_before = s.steps();
      r = co_await wq.sleep(s, "never", true);
      steps_after = s.steps();
      queued = !wq.empty();
    });
    REQUIRE(s.run().outcome == Outcome::done);
    CHECK(r == WakeReason::interrupted);
    CHECK(steps_after == steps_before);  // no scheduling point: it never slept
    CHECK_FALSE(queued);
  }
}

TEST_CASE("PF_NO_NOTIFY_SIGNAL: TIF_NOTIFY_SIGNAL neither wakes nor aborts a sleep", "[signal]") {
  SECTION("flag already set when the sleep starts: it sleeps until its timeout") {
    Scripted st;
    Sched s(st);
    WaitQueue wq;
    WakeReason r = WakeReason::none;
    bool pending = true;
    spawn_fn(s, "iowq", [&]() -> Co<> {
      s.current().pf_no_notify_signal = true;
      s.set_notify_signal(s.current_id());
      pending = s.current().signal_pending();
      r = co_await wq.sleep(s, "woke", true, 2 * kMs);
    });
    REQUIRE(s.run().outcome == Outcome::done);
    CHECK_FALSE(pending);
    CHECK(r == WakeReason::timeout);
    CHECK(s.now_ns() == 2 * kMs);
  }
  SECTION("flag set while it sleeps: not woken; a real signal still wakes it") {
    Scripted st;
    Sched s(st);
    WaitQueue wq;
    WakeReason r = WakeReason::none;
    TaskState after_notify = TaskState::done;
    TaskId a = spawn_fn(s, "iowq", [&]() -> Co<> {
      s.current().pf_no_notify_signal = true;
      r = co_await wq.sleep(s, "woke", true);
    });
    spawn_fn(s, "K", [&]() -> Co<> {
      s.set_notify_signal(a);
      co_await s.point("notified");
      after_notify = s.task(a).state;
      s.send_signal(a);
    });
    REQUIRE(s.run().outcome == Outcome::done);
    CHECK(after_notify == TaskState::blocked);
    CHECK(r == WakeReason::interrupted);
  }
}

TEST_CASE("task_sigpending vs signal_pending", "[signal]") {
  // include/linux/sched/signal.h: signal_pending() = real signal || (TIF_NOTIFY_SIGNAL unless
  // PF_NO_NOTIFY_SIGNAL); task_sigpending() = real signal only.
  struct Row { bool sig, tif, pf, want_signal_pending; };
  const Row rows[] = {
      {false, false, false, false}, {true, false, false, true},  {false, true, false, true},
      {false, true, true, false},   {true, true, true, true},    {true, false, true, true},
  };
  for (const Row& row : rows) {
    Task t;
    t.sigpending = row.sig;
    t.tif_notify_signal = row.tif;
    t.pf_no_notify_signal = row.pf;
    CAPTURE(row.sig, row.tif, row.pf);
    CHECK(t.signal_pending() == row.want_signal_pending);
    CHECK(t.task_sigpending() == row.sig);
  }
}

// ---- timers --------------------------------------------------------------------------------

TEST_CASE("Timer: mod_timer re-arms, del_timer cancels, pending reflects both", "[timer]") {
  Scripted st;
  Sched s(st);
  WaitQueue wq;
  std::vector<std::pair<std::string, uint64_t>> fired;
  Timer t1("t1", [&] {
    fired.emplace_back("t1", s.now_ns());
    wq.wake_up_all(s);
  });
  Timer t2("t2", [&] { fired.emplace_back("t2", s.now_ns()); });
  std::vector<bool> r;
  bool pending_after_fire = true;
  spawn_fn(s, "A", [&]() -> Co<> {
    r.push_back(t1.mod_timer(s, 10 * kMs));  // false: was not pending
    r.push_back(t1.pending(s));              // true
    r.push_back(t1.mod_timer(s, 20 * kMs));  // true: re-armed
    t2.mod_timer(s, 15 * kMs);
    r.push_back(t2.del_timer(s));  // true
    r.push_back(t2.del_timer(s));  // false
    r.push_back(t2.pending(s));    // false
    while (fired.empty()) (void)co_await wq.sleep(s, "fired", false);
    pending_after_fire = t1.pending(s);
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == std::vector<bool>{false, true, true, true, false, false});
  REQUIRE(fired.size() == 1);
  CHECK(fired[0] == std::pair<std::string, uint64_t>{"t1", 20 * kMs});  // not at 10, t2 never
  CHECK_FALSE(pending_after_fire);
}

namespace {
// A task that sleeps until `want` timers fired; the timers log their name and time.
struct TimerRig {
  WaitQueue wq;
  int fired = 0;
  std::vector<std::pair<std::string, uint64_t>> log;
  std::function<void()> cb(Sched& s, std::string name) {
    return [this, &s, name] {
      log.emplace_back(name, s.now_ns());
      ++fired;
      wq.wake_up_all(s);
    };
  }
  void spawn_waiter(Sched& s, int want) {
    spawn_fn(s, "waiter", [this, &s, want]() -> Co<> {
      while (fired < want) (void)co_await wq.sleep(s, "fired", false);
    });
  }
};
}  // namespace

TEST_CASE("timers: distinct deadlines without windows fire in deadline order, no choices",
          "[timer]") {
  Scripted st;
  TimerRig rig;
  Sched s(st);
  s.add_timer(20 * kMs, "late", rig.cb(s, "late"));
  s.add_timer(10 * kMs, "early", rig.cb(s, "early"));
  rig.spawn_waiter(s, 2);
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(rig.log == std::vector<std::pair<std::string, uint64_t>>{{"early", 10 * kMs},
                                                                 {"late", 20 * kMs}});
  CHECK(st.asked.empty());
}

TEST_CASE("timers: equal deadlines fire in creation order (first option of timer_order)",
          "[timer]") {
  // Zero-width windows at the same instant overlap, so the order is a timer_order choice; its
  // options are in (deadline, creation) order, so the default answer fires them as created.
  SECTION("default answers") {
    Scripted st;
    TimerRig rig;
    Sched s(st);
    for (const char* n : {"a", "b", "c"}) s.add_timer(5 * kMs, n, rig.cb(s, n));
    rig.spawn_waiter(s, 3);
    REQUIRE(s.run().outcome == Outcome::done);
    REQUIRE(rig.log.size() == 3);
    CHECK(rig.log[0].first == "a");
    CHECK(rig.log[1].first == "b");
    CHECK(rig.log[2].first == "c");
    for (auto& e : rig.log) CHECK(e.second == 5 * kMs);
    for (auto& [kind, n] : st.asked) CHECK(kind == ChoiceKind::timer_order);
  }
  SECTION("answer 2 picks the third created, the rest keep creation order") {
    Scripted st({2});
    TimerRig rig;
    Sched s(st);
    for (const char* n : {"a", "b", "c"}) s.add_timer(5 * kMs, n, rig.cb(s, n));
    rig.spawn_waiter(s, 3);
    REQUIRE(s.run().outcome == Outcome::done);
    REQUIRE(rig.log.size() == 3);
    CHECK(rig.log[0].first == "c");
    CHECK(rig.log[1].first == "a");
    CHECK(rig.log[2].first == "b");
  }
}

TEST_CASE("timer windows: a non-empty window is a timer_offset choice over its window",
          "[timer]") {
  // deadline 10 ms, window [-1 ms, +2 ms]: may fire at 9, 10 or 12 ms.
  const uint64_t want[] = {9 * kMs, 10 * kMs, 12 * kMs};
  for (uint32_t k = 0; k < 3; ++k) {
    CAPTURE(k);
    Scripted st({k});
    TimerRig rig;
    Sched s(st);
    s.add_timer(10 * kMs, "w", rig.cb(s, "w"), TimerWindow{1 * kMs, 2 * kMs});
    rig.spawn_waiter(s, 1);
    REQUIRE(s.run().outcome == Outcome::done);
    REQUIRE(st.asked.size() == 1);
    CHECK(st.asked[0] == std::pair<ChoiceKind, size_t>{ChoiceKind::timer_offset, 3});
    REQUIRE(rig.log.size() == 1);
    CHECK(rig.log[0].second == want[k]);
  }
}

TEST_CASE("timer windows: the default window applies to timers without their own", "[timer]") {
  Scripted st({1});
  TimerRig rig;
  Sched s(st);
  s.set_default_timer_window({0, 3 * kMs});
  s.add_timer(10 * kMs, "w", rig.cb(s, "w"));
  rig.spawn_waiter(s, 1);
  REQUIRE(s.run().outcome == Outcome::done);
  REQUIRE(st.asked.size() == 1);
  CHECK(st.asked[0] == std::pair<ChoiceKind, size_t>{ChoiceKind::timer_offset, 2});
  CHECK(rig.log.at(0).second == 13 * kMs);
}

TEST_CASE("timer windows: overlapping windows are a timer_order choice", "[timer]") {
  // A: deadline 10 ms, may be 5 ms late: [10, 15]. B: exactly 12 ms. They overlap.
  SECTION("A first: it may fire at 10 ms or at the latest point before B (12 ms)") {
    for (uint32_t off = 0; off < 2; ++off) {
      Scripted st({0, off});
      TimerRig rig;
      Sched s(st);
      s.add_timer(10 * kMs, "A", rig.cb(s, "A"), TimerWindow{0, 5 * kMs});
      s.add_timer(12 * kMs, "B", rig.cb(s, "B"));
      rig.spawn_waiter(s, 2);
      REQUIRE(s.run().outcome == Outcome::done);
      REQUIRE(st.asked.size() >= 2);
      CHECK(st.asked[0] == std::pair<ChoiceKind, size_t>{ChoiceKind::timer_order, 2});
      CHECK(st.asked[1] == std::pair<ChoiceKind, size_t>{ChoiceKind::timer_offset, 2});
      CHECK(rig.log == std::vector<std::pair<std::string, uint64_t>>{
                           {"A", off ? 12 * kMs : 10 * kMs}, {"B", 12 * kMs}});
    }
  }
  SECTION("B first: then A fires within what is left of its window") {
    Scripted st({1, 1});
    TimerRig rig;
    Sched s(st);
    s.add_timer(10 * kMs, "A", rig.cb(s, "A"), TimerWindow{0, 5 * kMs});
    s.add_timer(12 * kMs, "B", rig.cb(s, "B"));
    rig.spawn_waiter(s, 2);
    REQUIRE(s.run().outcome == Outcome::done);
    CHECK(rig.log == std::vector<std::pair<std::string, uint64_t>>{{"B", 12 * kMs},
                                                                   {"A", 15 * kMs}});
    REQUIRE(st.asked.size() == 2);
    CHECK(st.asked[0].first == ChoiceKind::timer_order);
    CHECK(st.asked[1] == std::pair<ChoiceKind, size_t>{ChoiceKind::timer_offset, 2});
  }
  SECTION("disjoint windows: no timer_order choice") {
    Scripted st;
    TimerRig rig;
    Sched s(st);
    s.add_timer(10 * kMs, "A", rig.cb(s, "A"), TimerWindow{0, 1 * kMs});
    s.add_timer(12 * kMs, "B", rig.cb(s, "B"));
    rig.spawn_waiter(s, 2);
    REQUIRE(s.run().outcome == Outcome::done);
    for (auto& [kind, n] : st.asked) CHECK(kind != ChoiceKind::timer_order);
  }
}

// ---- work ----------------------------------------------------------------------------------

TEST_CASE("delayed work runs after N jiffies; HZ=250 is 4 ms per jiffy", "[work]") {
  Scripted st;
  Sched s(st);  // Work and its function refer to s; the tasks' frames never touch them again
  REQUIRE(s.hz() == 250);
  REQUIRE(s.jiffy_ns() == 4 * kMs);
  Completion done;
  uint64_t ran_at = 0;
  Work w("kworker/0:t", "work_fn", [&]() -> Co<> {
    ran_at = s.now_ns();
    done.complete(s);
    co_return;
  });
  std::vector<bool> r;
  spawn_fn(s, "A", [&]() -> Co<> {
    r.push_back(queue_delayed_work(s, w, 3));
    r.push_back(w.pending());
    r.push_back(queue_delayed_work(s, w, 1));  // already pending: false, keeps 3
    (void)co_await done.wait(s, "done");
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == std::vector<bool>{true, true, false});
  CHECK(ran_at == 12 * kMs);
  CHECK(s.jiffies() == 3);
}

TEST_CASE("delayed work honours a different HZ", "[work]") {
  Scripted st;
  Sched s(st, {}, 1000);
  Completion done;
  uint64_t ran_at = 0;
  Work w("kworker/0:t", "work_fn", [&]() -> Co<> {
    ran_at = s.now_ns();
    done.complete(s);
    co_return;
  });
  spawn_fn(s, "A", [&]() -> Co<> {
    (void)queue_delayed_work(s, w, 3);
    (void)co_await done.wait(s, "done");
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(ran_at == 3 * kMs);
}

TEST_CASE("schedule_work while pending returns false; queued while running runs again",
          "[work]") {
  Scripted st;  // lowest TaskId first: A runs as soon as the work has started
  Sched s(st);
  Completion started, finished;
  int runs = 0;
  int max_concurrent = 0, concurrent = 0;
  Work w("kworker/0:t", "work_fn", [&]() -> Co<> {
    ++runs;
    max_concurrent = std::max(max_concurrent, ++concurrent);
    started.complete(s);
    co_await s.point("work_fn body");
    --concurrent;
    finished.complete(s);
  });
  std::vector<bool> r;
  bool was_running = false;
  spawn_fn(s, "A", [&]() -> Co<> {
    r.push_back(schedule_work(s, w));  // true
    r.push_back(schedule_work(s, w));  // false: still pending
    (void)co_await started.wait(s, "started");
    was_running = w.running();
    r.push_back(w.pending());          // false: PENDING cleared as the function started
    r.push_back(schedule_work(s, w));  // true: queued while running
    (void)co_await finished.wait(s, "first done");
    (void)co_await finished.wait(s, "second done");
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == std::vector<bool>{true, false, false, true});
  CHECK(was_running);
  CHECK(runs == 2);
  CHECK(max_concurrent == 1);  // never concurrently with itself
}

TEST_CASE("cancel_delayed_work removes a pending instance; it never runs", "[work]") {
  Scripted st;
  Sched s(st);
  WaitQueue wq;
  int runs = 0;
  Work w("kworker/0:t", "work_fn", [&]() -> Co<> {
    ++runs;
    co_return;
  });
  std::vector<bool> r;
  int runs_seen = -1;
  spawn_fn(s, "A", [&]() -> Co<> {
    r.push_back(queue_delayed_work(s, w, 5));
    r.push_back(cancel_delayed_work(s, w));  // true: was pending
    r.push_back(w.pending());                // false
    r.push_back(cancel_delayed_work(s, w));  // false: nothing pending
    (void)co_await wq.sleep(s, "later", false, s.jiffies_to_ns(10));
    runs_seen = runs;
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == std::vector<bool>{true, true, false, false});
  CHECK(runs_seen == 0);
  CHECK(s.now_ns() == 40 * kMs);  // only the sleep's own timeout moved the clock
}

TEST_CASE("cancel_work_sync waits for a running instance, under every schedule", "[work]") {
  DfsStrategy dfs;
  size_t schedules = 0;
  while (dfs.begin_run()) {
    Sched s(dfs);
    Completion started;
    bool fn_finished = false;
    std::optional<bool> finished_when_cancel_returned, running_when_cancel_returned, ret;
    Work w("kworker/0:t", "work_fn", [&]() -> Co<> {
      started.complete(s);
      co_await s.point("work_fn 1");
      co_await s.point("work_fn 2");
      fn_finished = true;
    });
    spawn_fn(s, "A", [&]() -> Co<> {
      (void)schedule_work(s, w);
      (void)co_await started.wait(s, "started");
      co_await s.point("cancel");
      ret = co_await cancel_work_sync(s, w);
      finished_when_cancel_returned = fn_finished;
      running_when_cancel_returned = w.running();
    });
    const RunEnd end = s.run();
    dfs.end_run();
    ++schedules;
    REQUIRE(end.outcome == Outcome::done);
    CHECK(finished_when_cancel_returned == true);
    CHECK(running_when_cancel_returned == false);
    CHECK(ret == false);  // it was running, not pending
  }
  CHECK(schedules > 1);
}

TEST_CASE("cancel_work_sync on a pending, not yet started item: true, and it never runs",
          "[work]") {
  Scripted st;
  Sched s(st);
  int runs = 0;
  Work w("kworker/0:t", "work_fn", [&]() -> Co<> {
    ++runs;
    co_return;
  });
  std::optional<bool> ret;
  spawn_fn(s, "A", [&]() -> Co<> {
    (void)schedule_work(s, w);
    ret = co_await cancel_work_sync(s, w);
    co_await s.point("after");
    co_await s.point("after 2");
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(ret == true);
  CHECK(runs == 0);
}

// ---- completion ---------------------------------------------------------------------------

TEST_CASE("Completion: complete before wait; the wait returns at once", "[completion]") {
  Scripted st;
  Sched s(st);
  Completion c;
  WakeReason r = WakeReason::none;
  uint64_t before = 0, after = 0;
  bool done_after = true;
  spawn_fn(s, "A", [&]() -> Co<> {
    c.complete(s);
    before = s.steps();
    r = co_await c.wait(s, "w");
    after = s.steps();
    done_after = c.completion_done();
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == WakeReason::woken);
  CHECK(after == before);
  CHECK_FALSE(done_after);  // the one completion was consumed
}

TEST_CASE("Completion: complete() wakes exactly one waiter, the longest", "[completion]") {
  ReplayStrategy rs(untyped_choices({1, 0}), /*strict=*/false);  // w1 waits first, then w0
  rs.begin_run();
  Sched s(rs);
  Completion c;
  std::vector<std::string> woke;
  std::vector<size_t> woken_count;
  for (int i = 0; i < 2; ++i) {
    const std::string name = "w" + std::to_string(i);
    spawn_fn(s, name, [&, name]() -> Co<> {
      (void)co_await c.wait(s, "w");
      woke.push_back(name);
    });
  }
  spawn_fn(s, "C", [&]() -> Co<> {
    c.complete(s);
    co_await s.point("one");
    woken_count.push_back(woke.size());
    c.complete(s);
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(woken_count == std::vector<size_t>{1});
  CHECK(woke == std::vector<std::string>{"w1", "w0"});
}

TEST_CASE("Completion: complete_all releases every present and future wait until reinit",
          "[completion]") {
  Scripted st;
  Sched s(st);
  Completion c;
  int woken = 0;
  std::optional<WakeReason> later, after_reinit;
  for (int i = 0; i < 3; ++i)
    spawn_fn(s, "w" + std::to_string(i), [&]() -> Co<> {
      if (co_await c.wait(s, "w") == WakeReason::woken) ++woken;
    });
  spawn_fn(s, "C", [&]() -> Co<> {
    c.complete_all(s);
    later = co_await c.wait(s, "again");
    later = co_await c.wait(s, "again");  // not consumed
    c.reinit();
    after_reinit = co_await c.wait(s, "after reinit", false, 1 * kMs);
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(woken == 3);
  CHECK(later == WakeReason::woken);
  CHECK(after_reinit == WakeReason::timeout);
}

TEST_CASE("Completion: an interruptible wait returns `interrupted` and consumes nothing",
          "[completion][signal]") {
  Scripted st;
  Sched s(st);
  Completion c;
  WakeReason r = WakeReason::none;
  bool done_after_complete = false;
  TaskId a = spawn_fn(s, "A", [&]() -> Co<> { r = co_await c.wait(s, "w", true); });
  spawn_fn(s, "K", [&]() -> Co<> {
    s.send_signal(a);
    co_await s.point("signalled");
    c.complete(s);  // no waiter left: stored
    done_after_complete = c.completion_done();
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(r == WakeReason::interrupted);
  CHECK(done_after_complete);
}

// ---- outcomes ----------------------------------------------------------------------------

TEST_CASE("deadlock: ABBA locking ends the run as a deadlock naming both tasks", "[outcome]") {
  ReplayStrategy rs(untyped_choices({0, 1}), /*strict=*/false);
  rs.begin_run();
  Sched s(rs);
  Mutex m1, m2;
  spawn_fn(s, "A", [&]() -> Co<> {
    co_await m1.lock(s, "A got m1");
    co_await s.point("A holds m1");
    co_await m2.lock(s, "A waits m2");
  });
  spawn_fn(s, "B", [&]() -> Co<> {
    co_await m2.lock(s, "B got m2");
    co_await s.point("B holds m2");
    co_await m1.lock(s, "B waits m1");
  });
  const RunEnd end = s.run();
  CHECK(end.outcome == Outcome::deadlock);
  CHECK_THAT(end.message, Catch::Contains("A blocked at A waits m2"));
  CHECK_THAT(end.message, Catch::Contains("B blocked at B waits m1"));
}

TEST_CASE("deadlock: an idle daemon kworker does not count", "[outcome]") {
  SECTION("the daemon idles forever, the run is done") {
    Scripted st;
    Sched s(st);
    Completion done;
    Work w("kworker/0:idle", "work_fn", [&]() -> Co<> {
      done.complete(s);
      co_return;
    });
    spawn_fn(s, "A", [&]() -> Co<> {
      (void)schedule_work(s, w);
      (void)co_await done.wait(s, "done");
    });
    CHECK(s.run().outcome == Outcome::done);
    CHECK(s.task(1).state == TaskState::blocked);  // the kworker, asleep on its idle queue
  }
  SECTION("a real deadlock names the stuck task, not the idle daemon") {
    Scripted st;
    Sched s(st);
    Completion never;
    spawn_fn(s, "kworker/0:d", [&]() -> Co<> { (void)co_await never.wait(s, "idle"); }, true);
    spawn_fn(s, "A", [&]() -> Co<> { (void)co_await never.wait(s, "stuck"); });
    const RunEnd end = s.run();
    CHECK(end.outcome == Outcome::deadlock);
    CHECK_THAT(end.message, Catch::Contains("A blocked at stuck"));
    CHECK_THAT(end.message, !Catch::Contains("kworker"));
  }
}

TEST_CASE("step limit ends a run that never finishes", "[outcome]") {
  Scripted st;
  Sched s(st, RunLimits{50, 600 * 1000 * kMs});
  spawn_fn(s, "spin", [&]() -> Co<> {
    for (;;) co_await s.point("spin");
  });
  CHECK(s.run().outcome == Outcome::step_limit);
  CHECK(s.steps() == 50);
}

TEST_CASE("time limit ends a run whose clock runs past it", "[outcome]") {
  Scripted st;
  Sched s(st, RunLimits{100000, 5000 * kMs});
  WaitQueue wq;
  spawn_fn(s, "ticker", [&]() -> Co<> {
    for (;;) (void)co_await wq.sleep(s, "tick", false, 1000 * kMs);
  });
  CHECK(s.run().outcome == Outcome::time_limit);
  CHECK(s.now_ns() == 5000 * kMs);  // a timer exactly at the limit still fires; the next does not
}

TEST_CASE("an exception escaping a task ends the run with Outcome::error", "[outcome]") {
  Scripted st;
  Sched s(st);
  bool other_ran_after = false;
  spawn_fn(s, "A", [&]() -> Co<> {
    co_await s.point("before");
    throw std::runtime_error("boom");
  });
  spawn_fn(s, "B", [&]() -> Co<> {
    for (int i = 0; i < 5; ++i) co_await s.point("b");
    other_ran_after = true;
  });
  const RunEnd end = s.run();
  CHECK(end.outcome == Outcome::error);
  CHECK(end.message == "A: boom");
  CHECK_FALSE(other_ran_after);  // the run stops right after the failing step
}

TEST_CASE("fail() and invariants end the run with a violation naming the property",
          "[outcome]") {
  SECTION("fail from a model") {
    Scripted st;
    Sched s(st);
    spawn_fn(s, "A", [&]() -> Co<> {
      s.fail("prop-x", "went wrong");
      co_await s.point("never reached as a step");
    });
    const RunEnd end = s.run();
    CHECK(end.outcome == Outcome::violation);
    CHECK(end.property == "prop-x");
    CHECK(end.message == "went wrong");
    CHECK(s.steps() == 1);
  }
  SECTION("an invariant is checked after every step") {
    Scripted st;
    Sched s(st);
    int x = 0;
    s.add_invariant("x-small", [&]() -> std::optional<std::string> {
      if (x >= 3) return "x is " + std::to_string(x);
      return std::nullopt;
    });
    spawn_fn(s, "A", [&]() -> Co<> {
      for (int i = 0; i < 10; ++i) {
        ++x;
        co_await s.point("inc");
      }
    });
    const RunEnd end = s.run();
    CHECK(end.outcome == Outcome::violation);
    CHECK(end.property == "x-small");
    CHECK(s.steps() == 3);
  }
}

TEST_CASE("a broken model invariant is its own outcome, checked before the scenario's", "[invariant]") {
  Scripted st;
  Sched s(st);
  int x = 0;
  s.add_invariant("scenario-prop", [&]() -> std::optional<std::string> {
    if (x >= 2) return "scenario sees " + std::to_string(x);
    return std::nullopt;
  });
  s.add_model_invariant("model-books", [&]() -> std::optional<std::string> {
    if (x >= 2) return "books off at " + std::to_string(x);
    return std::nullopt;
  });
  spawn_fn(s, "A", [&]() -> Co<> {
    for (int i = 0; i < 5; ++i) {
      ++x;
      co_await s.point("inc");
    }
  });
  const RunEnd end = s.run();
  CHECK(end.outcome == Outcome::model_invariant);
  CHECK(to_string(end.outcome) == "model_invariant");
  CHECK(end.property == "model-books");
  CHECK(end.message == "books off at 2");
}

TEST_CASE("model choices go through the strategy and are recorded; n<=1 is not a choice",
          "[choice]") {
  Scripted st({2});
  Sched s(st);
  size_t one = 9, three = 9;
  spawn_fn(s, "A", [&]() -> Co<> {
    one = s.choose(1, ChoiceKind::model, "trivial");
    three = s.choose(3, ChoiceKind::model, "alloc fails?");
    co_return;
  });
  REQUIRE(s.run().outcome == Outcome::done);
  CHECK(one == 0);
  CHECK(three == 2);
  // Recorded with what was asked: a model choice of 3 options, answered 2.
  CHECK(s.choices() == ChoiceSeq{Choice{.value = 2, .options = 3, .kind = ChoiceKind::model}});
  REQUIRE(st.asked.size() == 1);
  CHECK(st.asked[0] == std::pair<ChoiceKind, size_t>{ChoiceKind::model, 3});
}

namespace {
// A timer at 5 ms and a task of four steps, each taking `step_ns` of CPU (Sched::run_for; 0:
// none). Records, per step, how many times the timer had fired before it and the clock after it.
struct BusyRun {
  std::vector<int> fired_before_step;
  std::vector<uint64_t> step_clock;
  TimerRig rig;
  uint64_t end_ns = 0;
  explicit BusyRun(uint64_t step_ns) {
    Scripted st;
    Sched s(st);
    s.add_timer(5 * kMs, "tick", rig.cb(s, "tick"));
    spawn_fn(s, "busy", [&, step_ns]() -> Co<> {
      for (int i = 0; i < 4; ++i) {
        co_await s.point("work");
        fired_before_step.push_back(rig.fired);
        if (step_ns) s.run_for(step_ns);
        step_clock.push_back(s.now_ns());
      }
    });
    REQUIRE(s.run().outcome == Outcome::done);
    end_ns = s.now_ns();
  }
};
}  // namespace

TEST_CASE("run_for: a step that takes CPU time moves the clock, and a timer due meanwhile fires "
          "before the busy task's next step", "[timer]") {
  // 3 ms per step: the timer must fire between the second step (clock 6 ms) and the third, not
  // after the task ends (12 ms) as it would if timers only fired on an idle CPU.
  BusyRun r(3 * kMs);
  CHECK(r.step_clock == std::vector<uint64_t>{3 * kMs, 6 * kMs, 9 * kMs, 12 * kMs});
  // Fired at the first step boundary after its deadline (the clock then reads 6 ms).
  REQUIRE(r.rig.log.size() == 1);
  CHECK(r.rig.log[0] == std::pair<std::string, uint64_t>{"tick", 6 * kMs});
  CHECK(r.fired_before_step == std::vector<int>{0, 0, 1, 1});
}

TEST_CASE("run_for: without it a timer waits for every task to sleep (steps take no time)", "[timer]") {
  BusyRun r(0);
  CHECK(r.fired_before_step == std::vector<int>{0, 0, 0, 0});
  // The task ended at 0 ms and a pending timer does not keep a run alive: it never fired.
  CHECK(r.end_ns == 0);
  CHECK(r.rig.fired == 0);
}

// ---- the runnable set -----------------------------------------------------------------------

namespace {

// Three tasks on CPU 0 and one with a CPU of its own, each taking in-kernel steps (which hold
// the CPU) and returning to user space; `idle` daemons that never wake are spawned first, so
// with 64 of them the tasks that run have ids past the scheduler's 64-task bit sets and
// collect_runnable takes its walk over every task instead.
struct CpuWorld {
  std::vector<int> order;  // which of the four tasks took each step, in order
  Completion never;
};

void spawn_cpu_world(Sched& s, CpuWorld& w, int idle) {
  for (int i = 0; i < idle; ++i)
    spawn_fn(s, "idle", [&s, &w]() -> Co<> { (void)co_await w.never.wait(s, "idle"); }, true);
  for (int k = 0; k < 4; ++k) {
    const TaskId id = spawn_fn(s, "t" + std::to_string(k), [&s, &w, k]() -> Co<> {
      w.order.push_back(k);
      co_await s.point("in");  // in the kernel: holds CPU 0
      w.order.push_back(k);
      co_await s.user_point("out");
      w.order.push_back(k);
    });
    if (k < 3) s.set_cpu(id, 0);
  }
}

// Runs the idle daemons first (each to its sleep), then picks among the runnable tasks by a
// seeded sequence, and records every runnable set it was offered after the idle ones slept,
// with ids shifted down by `idle`: the same picks on both worlds, and the sets compared.
class IdleFirst final : public Strategy {
 public:
  IdleFirst(uint64_t seed, TaskId idle) : rng_(seed), idle_(idle) {}
  std::string name() const override { return "idle-first"; }
  bool begin_run() override { return true; }
  size_t choose(size_t n, const ChoiceContext& ctx) override {
    if (ctx.options[0] < idle_) return 0;
    std::vector<TaskId> set(ctx.options.begin(), ctx.options.end());
    for (TaskId& t : set) t -= idle_;
    offered.push_back(std::move(set));
    rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>((rng_ >> 33) % n);
  }
  std::vector<std::vector<TaskId>> offered;

 private:
  uint64_t rng_;
  TaskId idle_;
};

}  // namespace

TEST_CASE("the runnable set: a task holding its CPU excludes that CPU's others, past 64 tasks too",
          "[sched]") {
  // Every schedule dfs finds: while t0, t1 or t2 is between "in" and "out" no other of the three
  // steps, so each one's first two steps are adjacent among the CPU-0 steps.
  const size_t runs = for_each_schedule<CpuWorld>(
      [](Sched& s, CpuWorld& w) { spawn_cpu_world(s, w, 0); },
      [](CpuWorld& w, const RunEnd& end) {
        REQUIRE(end.outcome == Outcome::done);
        std::vector<int> cpu0;
        for (int k : w.order)
          if (k < 3) cpu0.push_back(k);
        REQUIRE(cpu0.size() == 9);
        for (size_t i = 0; i + 1 < cpu0.size(); ++i)
          if (std::find(cpu0.begin(), cpu0.end(), cpu0[i]) - cpu0.begin() == static_cast<std::ptrdiff_t>(i))
            CHECK(cpu0[i + 1] == cpu0[i]);
      });
  CHECK(runs > 6);
  // The bit sets (ids below 64) and the walk over every task (ids 64 to 67) offer the same
  // runnable sets at every point of the same schedules.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    IdleFirst a(seed, 0), b(seed, 64);
    CpuWorld wa, wb;
    {
      Sched s(a);
      spawn_cpu_world(s, wa, 0);
      REQUIRE(s.run().outcome == Outcome::done);
    }
    {
      Sched s(b);
      spawn_cpu_world(s, wb, 64);
      REQUIRE(s.run().outcome == Outcome::done);
    }
    CHECK(a.offered == b.offered);
    CHECK(wa.order == wb.order);
    CHECK(a.offered.size() >= 4);
  }
}

// RingQueue stands in for std::deque in the model's queues: the same elements in the same order
// through pushes, pops at both ends, erase, clear and the growth of its buffer (past its first
// capacity and with the ring wrapped), for a move-only element type too.
TEST_CASE("RingQueue keeps std::deque's order through push, pop, erase, clear and growth", "[ring_queue]") {
  RingQueue<std::unique_ptr<int>> q;
  std::deque<std::unique_ptr<int>> d;
  RingQueue<int> qi;
  std::deque<int> di;
  CHECK(q.empty());
  uint64_t x = 1;  // a fixed xorshift sequence of operations
  for (int i = 0; i < 5000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint64_t op = x % 16;
    if (op < 8) {
      q.push_back(std::make_unique<int>(i));
      d.push_back(std::make_unique<int>(i));
      qi.emplace_back(i);
      di.emplace_back(i);
    } else if (op < 13 && !d.empty()) {
      q.pop_front();
      d.pop_front();
      qi.pop_front();
      di.pop_front();
    } else if (op == 13 && !d.empty()) {
      q.pop_back();
      d.pop_back();
      const size_t k = (x >> 8) % di.size();
      auto it = qi.begin();
      for (size_t j = 0; j < k; ++j) ++it;
      const auto next = qi.erase(it);
      di.erase(di.begin() + static_cast<std::ptrdiff_t>(k));
      REQUIRE((next == qi.end()) == (k == di.size()));
      if (k < di.size()) REQUIRE(*next == di[k]);
    } else if (op == 14 && (x >> 4) % 32 == 0) {
      q.clear();
      d.clear();
      qi.clear();
      di.clear();
    }
    REQUIRE(q.size() == d.size());
    REQUIRE(qi.size() == di.size());
    if (!d.empty()) {
      REQUIRE(*q.front() == *d.front());
      REQUIRE(*q.back() == *d.back());
    }
    REQUIRE(std::equal(qi.begin(), qi.end(), di.begin(), di.end()));
  }
  REQUIRE(di.size() > 8);  // the run ends with a queue past its first capacity
  const RingQueue<int>& cq = qi;
  CHECK(std::accumulate(cq.begin(), cq.end(), int64_t{0}) == std::accumulate(di.begin(), di.end(), int64_t{0}));
  for (size_t i = 0; i < di.size(); ++i) CHECK(cq[i] == di[i]);
  RingQueue<int> copy(qi);
  RingQueue<int> moved(std::move(copy));
  CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from queue is empty
  CHECK(std::equal(moved.begin(), moved.end(), di.begin(), di.end()));
}
