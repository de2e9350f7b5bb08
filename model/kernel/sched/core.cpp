// Wakeup preemption (kernel/sched/core.c, kernel/sched/fair.c, kernel/entry/common.c, Linux
// 6.18): see core.h.
#include "model/kernel/sched/core.h"

namespace kpsim::model {

void sched_preempt_init(Sched& s, sched_preempt& sp, preempt_model mode, const std::vector<TaskId>& tasks) {
  sp.mode = mode;
  if (mode != preempt_model::wakeup) return;  // any: every return to user space is a switch point
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
  // check_preempt_wakeup_fair(): nothing to decide once the flag is set (test_tsk_need_resched).
  if (sp.tif->at(curr.id).need_resched) return;
  // Whether the woken entity preempts depends on EEVDF's state (its lag after the sleep, both
  // deadlines, RUN_TO_PARITY's slice protection), which the model does not keep: both answers
  // are explored. Option 0 (no preemption) is the default schedule's, as a choice point's
  // option 0 keeps the running task.
  if (s.choose(2, ChoiceKind::model, "wakeup_preempt") == 0) {
    s.note("sched", "wakeup_preempt: {} woken, {} keeps the CPU", woken.name, curr.name);
    return;
  }
  // resched_curr(): TIF_NEED_RESCHED on the running task, for its next resched point.
  sp.tif.mut()[curr.id] = tif_resched{true, p};
  s.note("sched", "wakeup_preempt: {} woken, resched_curr: TIF_NEED_RESCHED on {}", woken.name, curr.name);
}

Co<> exit_to_user_mode(Sched& s, sched_preempt& sp, std::string_view label) {
  if (sp.mode == preempt_model::any) {
    co_await s.user_point(label);  // any task of this CPU may run before the next syscall
    co_return;
  }
  const TaskId me = s.current_id();
  if (me >= sp.tracked.size() || !sp.tracked[me] || !sp.tif->at(me).need_resched) {
    // No schedule(): back in user space and into the next syscall on this CPU. Tasks of other
    // CPUs may still run in between (a point), this CPU's may not.
    co_await s.point(label);
    co_return;
  }
  // schedule(): __schedule clears the flag and switches to the task the wake-up picked.
  const TaskId next = sp.tif->at(me).next;
  sp.tif.mut()[me] = tif_resched{};
  s.note("sched", "exit_to_user_mode: TIF_NEED_RESCHED, schedule() to {}", s.task(next).name);
  s.hand_cpu(next);
  co_await s.user_point(label);
}

}  // namespace kpsim::model
