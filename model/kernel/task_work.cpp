// kernel/task_work.c and the TIF_NOTIFY_SIGNAL helpers (kernel 6.12): see task_work.h.
#include "model/kernel/task_work.h"

namespace kpsim::model {

std::string_view to_string(task_work_notify_mode m) {
  switch (m) {
    case task_work_notify_mode::twa_none: return "TWA_NONE";
    case task_work_notify_mode::twa_resume: return "TWA_RESUME";
    case task_work_notify_mode::twa_signal: return "TWA_SIGNAL";
    case task_work_notify_mode::twa_signal_no_ipi: return "TWA_SIGNAL_NO_IPI";
  }
  return "?";
}

bool task_work_add(Sched& s, task_works& tw, TaskId task, callback_head work, task_work_notify_mode notify) {
  auto& t = tw.by_task[task];
  if (t.exited) return false;
  const std::string_view func = work.func;
  t.works.push_back(std::move(work));
  const std::string& name = s.task(task).name;
  switch (notify) {
    case task_work_notify_mode::twa_none: break;
    case task_work_notify_mode::twa_resume: t.tif_notify_resume = true; break;
    case task_work_notify_mode::twa_signal:
    case task_work_notify_mode::twa_signal_no_ipi: {
      // set_notify_signal / __set_notify_signal: TIF_NOTIFY_SIGNAL, and wake an interruptible
      // sleep (the IPI of TWA_SIGNAL only matters for a task running in user space).
      const bool was = s.task(task).tif_notify_signal;
      s.set_notify_signal(task);
      ++tw.signal_notifications;
      s.note("task_work", "task_work_add({}, {}, {}): TIF_NOTIFY_SIGNAL {}", name, func, to_string(notify),
             was ? "already set" : "set");
      return true;
    }
  }
  s.note("task_work", "task_work_add({}, {}, {})", name, func, to_string(notify));
  return true;
}

bool task_work_pending(const task_works& tw, TaskId task) {
  auto it = tw.by_task.find(task);
  return it != tw.by_task.end() && !it->second.works.empty();
}

Co<> task_work_run(Sched& s, task_works& tw) {
  auto& t = tw.by_task[s.current_id()];
  t.tif_notify_resume = false;
  while (!t.works.empty()) {
    // xchg(&task->task_works, NULL): take the whole stack, run it, look again.
    std::vector<callback_head> batch;
    batch.swap(t.works);
    for (auto cb = batch.rbegin(); cb != batch.rend(); ++cb) {  // newest first
      co_await s.point(cb->func);
      co_await cb->fn();
    }
  }
}

Co<> io_run_task_work(Sched& s, task_works& tw) {
  Task& cur = s.current();
  if (cur.tif_notify_signal) {
    cur.tif_notify_signal = false;  // clear_notify_signal()
    s.note("task_work", "{}: clear TIF_NOTIFY_SIGNAL, run task work", cur.name);
  }
  if (task_work_pending(tw, s.current_id())) co_await task_work_run(s, tw);
}

}  // namespace kpsim::model
