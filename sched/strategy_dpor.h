// Source-DPOR with sleep sets (Abdulla, Aronis, Jonsson, Sagonas, "Optimal dynamic partial order
// reduction", POPL 2014, Algorithm 1): explores at least one schedule of every Mazurkiewicz trace
// (every class of schedules that differ only in the order of independent adjacent steps), using
// the footprints the scheduler records for each step (sched/footprint.h).
//
// Stateless, like dfs: the search is one flat path of choice points, and every run replays a
// prefix of it. A schedule point keeps its enabled tasks, the task taken, a backtrack set (tasks
// still to take here), a done set and a sleep set (tasks whose step from here is already covered,
// each with the footprint of that step). After a run, every race -- two dependent steps e < e' of
// different tasks with no step ordered between them by happens-before -- adds to the backtrack set
// of the point before e one "initial" of notdep(e).e' (the steps after e that do not happen after
// it, then e'), unless one is there already (or asleep). When no initial could step at that
// point (a task of the same CPU held it in the kernel), the initial goes to the latest earlier
// point where one could (before the step that took the CPU). A new point takes its first enabled task
// that is not asleep; a run where every enabled task is asleep (sleep-set blocked) adds nothing
// and is finished with first options, and counted in sleep_blocked(). A run also ends with tasks
// still runnable (an idle kworker is a daemon: the run ends when the others finish); the step
// such a task never took has no race to reveal it, so it is added to the backtrack set of the
// last point where the task was runnable (add_unfinished).
//
// Other choice kinds (timer order and offset, model decisions) are data nondeterminism: every
// option is explored, as dfs does. Timer steps touch everything (Sched): a barrier.
//
// Soundness assumptions (docs/design.md): declared-independent steps commute, and a step's
// footprint depends only on the state it reads (so a sleeping task's next step keeps its
// footprint until a dependent step runs). KPSIM_DPOR_CHECK (runner.cpp) checks both at run time.
// No preemption bound, no sharding: the backtrack sets are computed from whole runs, and cutting
// runs by a bound would lose races (refused by the CLI).
#pragma once

#include <cstdint>
#include <vector>

#include "sched/strategy.h"

namespace kpsim {

class DporStrategy final : public Strategy, public StepObserver {
 public:
  std::string name() const override { return "dpor"; }
  bool begin_run() override;
  size_t choose(size_t n, const ChoiceContext& ctx) override;
  void end_run() override;
  bool exhaustive() const override { return exhausted_; }
  StepObserver* step_observer() override { return this; }
  void on_step(TaskId task, const Footprint& fp) override;

  // Runs that ended sleep-set blocked (redundant: a schedule of an explored trace).
  uint64_t sleep_blocked() const { return sleep_blocked_; }

  // The last run's steps, for the commutation check: task (kNoTask for a timer), footprint, and
  // the index in the run's choices of the schedule point that picked it (-1: no choice). Steps
  // after a sleep-set block are not recorded.
  struct Event {
    TaskId task;
    int node;
    Footprint fp;
  };
  const std::vector<Event>& events() const { return events_; }

 private:
  struct Sleeper {
    TaskId task;
    Footprint fp;  // of the task's next step here
  };
  struct Node {
    ChoiceKind kind = ChoiceKind::schedule;
    uint32_t n = 0;
    uint32_t k = 0;                // other kinds: the option taken
    std::vector<TaskId> options;   // schedule: the enabled tasks, in TaskId order
    TaskId chosen = kNoTask;       // schedule: the task taken
    Footprint chosen_fp;           // and what its step touched
    std::vector<TaskId> backtrack; // schedule: tasks to take here (the chosen one included)
    std::vector<Sleeper> sleep;    // inherited from the point above
    std::vector<Sleeper> done;     // taken here before `chosen`
    size_t events_before = 0;      // steps of this run before this point
  };
  void analyze_races();
  void add_unfinished();
  bool asleep(const Node& nd, TaskId t) const;

  std::vector<Node> path_;
  std::vector<Event> events_;
  std::vector<Sleeper> cur_sleep_;  // the sleep set at the current state of the run
  size_t pos_ = 0;
  int pending_node_ = -1;  // the schedule point that picked the step about to run
  bool blocked_ = false;
  bool started_ = false;
  bool exhausted_ = false;
  uint64_t sleep_blocked_ = 0;
};

}  // namespace kpsim
