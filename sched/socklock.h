// SockLock: the socket lock's two halves (include/net/sock.h, net/core/sock.c).
//
// lock_sock() makes a process the owner of the socket (sk_lock.owned); softirq input that finds
// the socket owned must not touch it and queues to the backlog instead; release_sock() runs the
// backlog hook (__release_sock, then the protocol's release_cb) as the owner before giving the
// socket up. The hook is the model's: the scheduler only guarantees when it runs.
#pragma once

#include <functional>
#include <string_view>

#include "sched/mutex.h"

namespace kpsim {

class SockLock {
 public:
  // co_await sk_lock.lock_sock(s): may sleep until the owner releases.
  Mutex::LockAwaiter lock_sock(Sched& s, std::string_view label = "lock_sock") {
    return owner_.lock(s, label);
  }
  // sk_lock.release_sock(s): runs the backlog hook, then releases. It never sleeps: the hook
  // runs to completion (the kernel's __release_sock may cond_resched between batches of the
  // backlog; the model's backlogs are a few ACKs, processed at once), so it is a plain call —
  // not a coroutine, whose frame cost an allocation on every release.
  void release_sock(Sched& s);
  bool owned_by_user() const { return owner_.locked(); }
  TaskId owner() const { return owner_.owner(); }
  // Called by release_sock while still owned; runs to completion (no scheduling point).
  void set_backlog_hook(std::function<void()> hook) { backlog_hook_ = std::move(hook); }

 private:
  Mutex owner_;
  std::function<void()> backlog_hook_;
};

}  // namespace kpsim
