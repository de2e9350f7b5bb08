// Task work: callbacks queued on a task and run by that task on its way back to user space
// (kernel/task_work.c task_work_add / task_work_run, include/linux/task_work.h TWA_*,
// include/linux/sched/signal.h set_notify_signal, kernel/entry/common.c exit_to_user_mode_loop,
// io_uring/io_uring.h io_run_task_work; kernel 6.12).
//
// The notification decides what the target sees: TWA_RESUME only sets TIF_NOTIFY_RESUME (run at
// return to user, invisible to signal_pending()); TWA_SIGNAL and TWA_SIGNAL_NO_IPI set
// TIF_NOTIFY_SIGNAL, which signal_pending() reports and which wakes an interruptible sleep —
// from then on every interruptible wait of that task fails until the flag is cleared, which only
// io_run_task_work / get_signal do, right before they run the queued callbacks.
#pragma once

#include <functional>
#include <map>
#include <string_view>
#include <vector>

#include "sched/sched.h"

namespace kpsim::model {

enum class task_work_notify_mode : uint8_t { twa_none, twa_resume, twa_signal, twa_signal_no_ipi };
std::string_view to_string(task_work_notify_mode m);

// struct callback_head: what to run and, for the trace, its kernel name.
struct callback_head {
  std::string_view func;  // "____fput", "tctx_task_work", "create_worker_cb"
  std::function<Co<>()> fn;
};

// current->task_works of every task that can receive task work, by TaskId (ordered: determinism).
struct task_works {
  struct per_task {
    // The kernel's llist, newest last: task_work_add pushes at the back, task_work_run walks it
    // from the back (the kernel pushes at the head and walks from it: the same order). A
    // vector, not a deque: libstdc++'s deque allocates a map and a node when it is built and
    // another node at its first push_front, for lists that hold one or two callbacks.
    std::vector<callback_head> works;
    bool tif_notify_resume = false;
    bool exited = false;  // exit_task_work ran: task_work_add fails with -ESRCH
  };
  std::map<TaskId, per_task> by_task;
  uint64_t signal_notifications = 0;  // TWA_SIGNAL(_NO_IPI) adds: each sets TIF_NOTIFY_SIGNAL
};

// Returns false (-ESRCH) once the task has exited its task work.
bool task_work_add(Sched& s, task_works& tw, TaskId task, callback_head work, task_work_notify_mode notify);
bool task_work_pending(const task_works& tw, TaskId task);
// Runs every queued callback of the current task, newest first (the list is a LIFO stack), and
// again while callbacks queue more: a ____fput queued by a callback runs in the same call.
Co<> task_work_run(Sched& s, task_works& tw);
// io_run_task_work(): clear TIF_NOTIFY_SIGNAL, then task_work_run. Also what the syscall exit
// path does (get_signal clears the flag before running the work; resume_user_mode_work runs it).
Co<> io_run_task_work(Sched& s, task_works& tw);

}  // namespace kpsim::model
