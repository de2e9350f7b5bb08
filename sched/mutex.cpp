#include "sched/mutex.h"

#include <stdexcept>

namespace kpsim {

bool Mutex::LockAwaiter::await_ready() noexcept {
  if (interruptible && s.current().signal_pending()) {
    early = WakeReason::interrupted;
    return true;
  }
  m.obj_.write();  // an attempt: takes the lock or queues behind it
  if (m.owner_ == kNoTask) {
    m.owner_ = s.current_id();
    return true;
  }
  return false;
}

bool Mutex::LockAwaiter::await_resume() noexcept {
  if (early == WakeReason::interrupted) return false;
  m.obj_.read();
  return m.owner_ == s.current_id();  // hand-over by unlock(), or interrupted while waiting
}

bool Mutex::try_lock(Sched& s) {
  obj_.write();
  if (owner_ != kNoTask) return false;
  owner_ = s.current_id();
  return true;
}

void Mutex::unlock(Sched& s) {
  obj_.write();
  if (owner_ == kNoTask) throw std::logic_error("unlock of an unlocked mutex");
  owner_ = kNoTask;
  if (waiters_.empty()) return;
  // Hand over to the longest waiter so that it cannot be overtaken (FIFO, like qspinlock).
  const TaskId next = waiters_.wake_up_one(s);
  owner_ = next;
}

}  // namespace kpsim
