// WaitQueue: the sleep/wake primitive under sk_sleep(sk), work idle loops, locks and completions.
//
// A sleeper is woken by wake_up_*, by its timeout, or (interruptible sleeps only) by a signal
// or TIF_NOTIFY_SIGNAL. As in the kernel, a woken sleeper must re-check its condition: a wake-up
// says "look again", not "the condition holds". A sleep that starts with a signal already
// pending returns `interrupted` at once, like schedule() returning for a TASK_INTERRUPTIBLE task
// with signal_pending().
#pragma once

#include <coroutine>
#include <optional>
#include <string_view>
#include <vector>

#include "sched/sched.h"

namespace kpsim {

class WaitQueue {
 public:
  struct SleepAwaiter {
    Sched& s;
    WaitQueue& wq;
    std::string_view label;
    bool interruptible;
    std::optional<uint64_t> timeout_ns;
    WakeReason early = WakeReason::none;

    bool await_ready() noexcept {
      if (interruptible && s.current().signal_pending()) early = WakeReason::interrupted;
      else if (timeout_ns && *timeout_ns == 0) early = WakeReason::timeout;
      return early != WakeReason::none;
    }
    void await_suspend(std::coroutine_handle<> h) {
      s.block_current(h, label, &wq, interruptible, timeout_ns);
    }
    WakeReason await_resume() noexcept {
      return early != WakeReason::none ? early : s.current().wake_reason;
    }
  };

  // co_await wq.sleep(...) -> WakeReason. `label` names the step that runs after the wake-up.
  SleepAwaiter sleep(Sched& s, std::string_view label, bool interruptible,
                     std::optional<uint64_t> timeout_ns = std::nullopt) {
    return {s, *this, label, interruptible, timeout_ns};
  }

  // wake_up_all / wake_up_interruptible_all: every sleeper, in the order they went to sleep.
  void wake_up_all(Sched& s);
  // wake_up (one exclusive waiter): the longest sleeper. Returns it, or kNoTask.
  TaskId wake_up_one(Sched& s);
  // Records a write of this queue on the current step (dpor). Sleeping, waking and unlinking
  // record it (a wake-up on an empty queue is dependent with a sleep on it: its outcome depends
  // on the order); empty() and size() do not, a world that reads them touches the queue itself.
  void touch(Sched& s);
  bool empty() const { return sleepers_.empty(); }
  size_t size() const { return sleepers_.size(); }

 private:
  friend class Sched;
  void add(TaskId t) { sleepers_.push_back(t); }
  void remove(TaskId t);
  std::vector<TaskId> sleepers_;  // FIFO
  // Its object id, given at first use in a run (creation order would do too, but queues are
  // members of model objects built in many places); allocating writes the allocator, so two
  // steps that name queues first are never reordered and the ids are the same in every
  // schedule of a trace.
  uint64_t obj_ = 0;
  bool has_obj_ = false;
};

}  // namespace kpsim
