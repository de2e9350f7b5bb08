#include "sched/completion.h"

namespace kpsim {

bool Completion::WaitAwaiter::await_ready() noexcept {
  c.obj_.write();  // may consume a completion
  if (c.all_) {
    early = WakeReason::woken;
  } else if (c.done_ > 0) {
    --c.done_;
    early = WakeReason::woken;
  } else if (interruptible && s.current().signal_pending()) {
    early = WakeReason::interrupted;
  }
  return early != WakeReason::none;
}

WakeReason Completion::WaitAwaiter::await_resume() noexcept {
  return early != WakeReason::none ? early : s.current().wake_reason;
}

void Completion::complete(Sched& s) {
  // A woken waiter consumes this completion directly (hand-over), so it cannot be stolen.
  obj_.write();
  if (waiters_.wake_up_one(s) == kNoTask) ++done_;
}

void Completion::complete_all(Sched& s) {
  obj_.write();
  all_ = true;
  waiters_.wake_up_all(s);
}

}  // namespace kpsim
