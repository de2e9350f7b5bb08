// Wakeup preemption (kernel/sched/core.c, kernel/sched/fair.c, kernel/entry/common.c, Linux
// 6.18): see core.h.
#include "model/kernel/sched/core.h"

#include <algorithm>

namespace kpsim::model {

void sched_preempt_init(Sched& s, sched_preempt& sp, preempt_model mode, const std::vector<TaskId>& tasks) {
  sp.mode = mode;
  if (mode == preempt_model::any) return;  // every return to user space is a switch point
  sp.tif.mut().assign(s.task_count(), tif_resched{});
  sp.tracked.assign(s.task_count(), false);
  for (TaskId t : tasks) {
    sp.tracked[t] = true;
    // __schedule(): the task that goes to sleep is switched away from, and its
    // TIF_NEED_RESCHED cleared; the woken task runs when the scheduler picks it, no longer
    // because of this flag.
    s.task(t).on_sleep = [&sp, t]() { sp.tif.mut()[t] = tif_resched{}; };
  }
  s.set_wake_observer([&s, &sp](TaskId p) { wakeup_preempt(s, sp, p); });
}

void wakeup_preempt(Sched& s, sched_preempt& sp, TaskId p) {
  const Task& curr = s.current();
  // Only a tracked task's flag is ever read (at its return to user space). A kworker that wakes
  // someone gives its CPU up when its work item ends anyway (it sleeps, or process_one_work's
  // cond_resched), which the model's worker does by sleeping on its idle queue.
  if (curr.id >= sp.tracked.size() || !sp.tracked[curr.id] || curr.cpu < 0) return;
  const Task& woken = s.task(p);
  // Woken onto another CPU: that CPU's business (an IPI there); the model runs it whenever it
  // is runnable, as before.
  if (woken.cpu != curr.cpu) return;
  // Whether the woken entity preempts depends on EEVDF's state (its lag after the sleep, both
  // deadlines, RUN_TO_PARITY's slice protection), which the model does not keep: both answers
  // are explored, at the return to user space where the flag is read (tif_resched).
  std::vector<TaskId>& woken_list = sp.tif.mut()[curr.id].woken;
  if (std::find(woken_list.begin(), woken_list.end(), p) == woken_list.end()) woken_list.push_back(p);
  s.note("sched", "wakeup_preempt: {} woken on {}'s CPU (preempts or not: seen at the return to user space)",
         woken.name, curr.name);
}

TaskId sched_tick(Sched& s, sched_preempt& sp) {
  if (sp.mode != preempt_model::tick || sp.ticks.get() != 0) return kNoTask;
  const TaskId me = s.current_id();
  const int cpu = s.current().cpu;
  if (cpu < 0) return kNoTask;
  // The entities that wait on this CPU, by task id (the order only numbers the options).
  // A task this syscall woke was offered by wakeup_preempt at this very return: a tick handing
  // it the CPU would repeat that ordering.
  std::vector<TaskId> waiting;
  const std::vector<TaskId>& woken = sp.tif->at(me).woken;
  for (TaskId t = 0; t < s.task_count(); ++t)
    if (t != me && s.task(t).cpu == cpu && s.task(t).state == TaskState::runnable &&
        std::find(woken.begin(), woken.end(), t) == woken.end())
      waiting.push_back(t);
  if (waiting.empty()) return kNoTask;  // update_deadline: nothing else eligible, no resched
  // Option 0, the slice not used up, keeps the default schedule the one without a tick; the
  // others are unlikely (a 4 ms tick in a window of microseconds), so random searches take
  // them rarely and their first findings follow the orderings the kernel usually shows.
  const size_t c = s.choose_unlikely(1 + waiting.size(), ChoiceKind::model, "sched_tick");
  if (c == 0) return kNoTask;
  sp.ticks = 1;
  const TaskId next = waiting[c - 1];
  s.note("sched", "sched_tick: {}'s slice used up, resched_curr; EEVDF picks {}", s.current().name,
         s.task(next).name);
  return next;
}

Co<> exit_to_user_mode(Sched& s, sched_preempt& sp, std::string_view label) {
  if (sp.mode == preempt_model::any) {
    co_await s.user_point(label);  // any task of this CPU may run before the next syscall
    co_return;
  }
  const TaskId me = s.current_id();
  if (me >= sp.tracked.size() || !sp.tracked[me]) {
    co_await s.point(label);
    co_return;
  }
  // TIF_NEED_RESCHED from this syscall's wake-ups: none, or the one of the task whose
  // wake-up first answered "preempt". Option 0 (no flag) is the default schedule's.
  TaskId next = kNoTask;
  const size_t n_woken = sp.tif->at(me).woken.size();
  if (n_woken) {
    const size_t c = s.choose(1 + n_woken, ChoiceKind::model, "wakeup_preempt");
    if (c > 0) {
      next = sp.tif->at(me).woken[c - 1];
      s.note("sched", "exit_to_user_mode: TIF_NEED_RESCHED set by {}'s wake-up, schedule() to it", s.task(next).name);
    } else {
      s.note("sched", "exit_to_user_mode: no TIF_NEED_RESCHED, {} keeps the CPU", s.current().name);
    }
  }
  // Otherwise the tick may have set the flag while the task ran (in the syscall or in user
  // space), for a task no wake-up of this syscall already offered.
  if (next == kNoTask) next = sched_tick(s, sp);
  if (n_woken) sp.tif.mut()[me].woken.clear();
  if (next == kNoTask) {
    // No schedule(): back in user space and into the next syscall on this CPU. Tasks of other
    // CPUs may still run in between (a point), this CPU's may not.
    co_await s.point(label);
    co_return;
  }
  // schedule(): __schedule clears the flag and switches to the task picked.
  s.hand_cpu(next);
  co_await s.user_point(label);
}

}  // namespace kpsim::model
