// Completion: complete() / complete_all() / wait_for_completion*() (kernel/sched/completion.c).
#pragma once

#include <string_view>

#include "sched/waitqueue.h"

namespace kpsim {

class Completion {
 public:
  struct WaitAwaiter {
    Sched& s;
    Completion& c;
    std::string_view label;
    bool interruptible;
    std::optional<uint64_t> timeout_ns;
    WakeReason early = WakeReason::none;
    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> h) {
      s.block_current(h, label, &c.waiters_, interruptible, timeout_ns);
    }
    // woken: completed (one `done` consumed); timeout or interrupted otherwise.
    WakeReason await_resume() noexcept;
  };

  WaitAwaiter wait(Sched& s, std::string_view label, bool interruptible = false,
                   std::optional<uint64_t> timeout_ns = std::nullopt) {
    return {s, *this, label, interruptible, timeout_ns};
  }
  // Hands one completion to the longest waiter, or stores it for the next wait.
  void complete(Sched& s);
  // Completes every present and future wait until reinit().
  void complete_all(Sched& s);
  void reinit() {
    obj_.write();
    done_ = 0;
    all_ = false;
  }
  bool completion_done() const {
    obj_.read();
    return all_ || done_ > 0;
  }

 private:
  ObjectId obj_;  // done_ and all_, as one object (dpor)
  unsigned done_ = 0;
  bool all_ = false;
  WaitQueue waiters_;
};

}  // namespace kpsim
