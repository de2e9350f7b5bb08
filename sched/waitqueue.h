// WaitQueue: the sleep/wake primitive under sk_sleep(sk), work idle loops, locks and completions.
//
// A sleeper is woken by wake_up_*, by its timeout, or (interruptible sleeps only) by a signal
// or TIF_NOTIFY_SIGNAL. As in the kernel, a woken sleeper must re-check its condition: a wake-up
// says "look again", not "the condition holds". A sleep that starts with a signal already
// pending returns `interrupted` at once, like schedule() returning for a TASK_INTERRUPTIBLE task
// with signal_pending().
#pragma once

#include <coroutine>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

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
  // on the order); empty() and size() record a read.
  void touch(Sched& s);
  // wait_woken()'s entry (DEFINE_WAIT_FUNC(wait, woken_wake_function) + add_wait_queue): on the
  // queue for a whole wait loop, not only while its task sleeps. A wake-up that comes while the
  // task is awake - between add_wait_queue and wait_woken, e.g. from the ACKs release_sock
  // processes - sets `woken` (WQ_FLAG_WOKEN), and the next wait_woken returns at once instead
  // of sleeping through it. Plain sleep() has no such memory: its wake-up is lost if it comes
  // before the sleep. The flag is a Shared: the wake-up's write and the waiter's read and clear
  // reach the footprints (dpor).
  struct WokenEntry {
    Shared<bool> woken = false;
  };
  void add_woken(Sched& s, WokenEntry* e);  // add_wait_queue
  // remove_wait_queue. A write of the queue (dpor): has_waiters() sees the removal.
  void remove_woken(WokenEntry* e);
  // A wait_queue_entry with its own wake function and no task (init_waitqueue_func_entry +
  // add_wait_queue), as io_uring's poll requests put on a file's queue (io_poll_wake): every
  // wake-up calls `func` in the waker's context, non-exclusively, before any sleeper is woken.
  // The wake-ups carry no poll key: a func that cares about the events looks at the file.
  // `func` may remove its own entry.
  struct FuncEntry {
    std::function<void(Sched&)> func;
  };
  void add_func(Sched& s, FuncEntry* e);  // add_wait_queue
  void remove_func(FuncEntry* e);         // list_del_init: a write of the queue (dpor)
  // waitqueue_active / skwq_has_sleeper: a sleeper, a wait_woken or a func entry is queued.
  bool has_waiters() const {
    obj_.read();
    return !sleepers_.empty() || !woken_entries_.empty() || !func_entries_.empty();
  }
  bool empty() const {
    obj_.read();
    return sleepers_.empty();
  }
  size_t size() const {
    obj_.read();
    return sleepers_.size();
  }

 private:
  friend class Sched;
  void add(TaskId t) { sleepers_.push_back(t); }
  void remove(TaskId t);
  // FIFO. Two sleepers inline: a queue rarely has more, and a world has dozens of queues that
  // each allocated at their first sleeper (about 9 a ktls-async-close schedule).
  boost::container::small_vector<TaskId, 2> sleepers_;
  std::vector<WokenEntry*> woken_entries_;  // wait_woken entries; a wake-up marks them all
  std::vector<FuncEntry*> func_entries_;    // func entries; a wake-up calls them all
  void call_funcs(Sched& s);
  // Its object id, in construction order (sched/footprint.h ObjectId).
  ObjectId obj_;
};

}  // namespace kpsim
