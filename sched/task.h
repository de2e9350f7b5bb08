// Task: one simulated kernel execution context (a syscall in a process, a softirq, a kworker, a
// timer callback, a crypto completion, io_uring task_work, an io-wq worker).
//
// Tasks are plain records owned by the scheduler and named by a dense TaskId (their creation
// index), never by address, so that ids, and everything derived from them, are the same on every
// run and build.
#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "sched/co.h"

namespace kpsim {

using TaskId = uint32_t;
inline constexpr TaskId kNoTask = UINT32_MAX;

enum class TaskKind : uint8_t { syscall, softirq, kworker, timer, crypto, task_work, iowq };
std::string_view to_string(TaskKind k);

enum class TaskState : uint8_t {
  runnable,  // waiting at a scheduling point to be picked
  blocked,   // asleep on a wait queue, lock or completion
  done,
};

// Why a blocked task was made runnable again; read by the primitive that put it to sleep.
enum class WakeReason : uint8_t { none, woken, timeout, interrupted };

class WaitQueue;

struct Task {
  TaskId id = kNoTask;
  std::string name;  // "p1:recv", "kworker/0:backlog": the lane title in rendered traces
  TaskKind kind = TaskKind::syscall;
  // A daemon (an idle kworker) may stay blocked forever without the run counting as deadlocked.
  bool daemon = false;
  TaskState state = TaskState::runnable;
  // CPU placement, for non-preemptible kernels (CONFIG_PREEMPT_NONE): a task that stopped at an
  // in-kernel point keeps its CPU; another task of the same CPU runs only once it returns to
  // user space, sleeps or ends. -1: a CPU of its own (no such constraint).
  int cpu = -1;
  bool holds_cpu = false;  // stopped at an in-kernel point on `cpu`, or handed it (Sched::hand_cpu)

  Co<> body;                          // top frame; owns the whole chain of frames
  std::coroutine_handle<> resume_at;  // innermost suspended frame: where the next step starts
  std::string_view next_label = "start";  // the label of the step the task runs when picked
  // Steps this task has taken in this run. Part of its position for state caching: a coroutine's
  // suspension point cannot be read back from its frame, and two points with one label (a loop)
  // are told apart by how far the task has come (sched/state_hash.h).
  uint64_t steps = 0;

  // Sleep bookkeeping, valid while blocked.
  WakeReason wake_reason = WakeReason::none;
  bool interruptible = false;          // TASK_INTERRUPTIBLE: a signal or TIF_NOTIFY_SIGNAL wakes it
  WaitQueue* sleeping_on = nullptr;    // to unlink on timeout or interrupt
  uint64_t timeout_id = 0;             // the pending timeout of this sleep, 0 for none

  // Per-task flags that interruptible sleeps see (include/linux/sched/signal.h).
  bool sigpending = false;         // a real signal (task_sigpending)
  bool tif_notify_signal = false;  // TIF_NOTIFY_SIGNAL, set by task_work_add(TWA_SIGNAL)
  bool pf_no_notify_signal = false;  // PF_NO_NOTIFY_SIGNAL: ignore TIF_NOTIFY_SIGNAL

  // signal_pending(): a real signal, or TIF_NOTIFY_SIGNAL unless the task opted out.
  bool signal_pending() const { return sigpending || (tif_notify_signal && !pf_no_notify_signal); }
  bool task_sigpending() const { return sigpending; }

  // schedule()'s hooks for worker threads (kernel/sched/core.c sched_submit_work /
  // sched_update_worker): on_sleep runs when the task blocks (io_wq_worker_sleeping), on_running
  // when it runs again after a block (io_wq_worker_running). Empty for ordinary tasks.
  std::function<void()> on_sleep;
  std::function<void()> on_running;
  bool slept = false;  // blocked since it last ran: on_running is due when it is resumed
};

}  // namespace kpsim
