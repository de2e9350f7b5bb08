// Mutex: mutual exclusion with FIFO hand-over; stands for kernel mutexes (tx_lock, work_mutex)
// and for spinlocks alike.
//
// In a single-threaded simulation a lock can only be contended if its holder reaches a
// scheduling point while holding it, so models put points inside critical sections exactly where
// the kernel could be preempted or another CPU could run. A spinlock waiter "spins": it is not
// runnable until the lock is handed to it, which is observably the same.
#pragma once

#include <string_view>

#include "sched/waitqueue.h"

namespace kpsim {

class Mutex {
 public:
  struct LockAwaiter {
    Sched& s;
    Mutex& m;
    std::string_view label;
    bool interruptible;
    WakeReason early = WakeReason::none;
    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> h) {
      s.block_current(h, label, &m.waiters_, interruptible, std::nullopt);
    }
    // true when the lock is held; false only for an interrupted interruptible lock (-EINTR).
    bool await_resume() noexcept;
  };

  // co_await m.lock(s, "label"): mutex_lock / spin_lock.
  LockAwaiter lock(Sched& s, std::string_view label) { return {s, *this, label, false}; }
  // co_await m.lock_interruptible(...) -> false on a pending signal (mutex_lock_interruptible).
  LockAwaiter lock_interruptible(Sched& s, std::string_view label) {
    return {s, *this, label, true};
  }
  bool try_lock(Sched& s);
  void unlock(Sched& s);
  bool locked() const {
    obj_.read();
    return owner_ != kNoTask;
  }
  TaskId owner() const {
    obj_.read();
    return owner_;
  }

 private:
  // The owner is recorded as one object (dpor): every lock, try_lock and unlock writes it, so
  // operations on one lock stay ordered and two locks' operations are independent.
  TaskId owner_ = kNoTask;
  ObjectId obj_;
  WaitQueue waiters_;
};

}  // namespace kpsim
