// Timer: a kernel timer_list on the virtual clock: mod_timer, del_timer, timer_pending.
//
// The callback runs atomically when the clock reaches it (timer softirq). A callback that must
// run model code with scheduling points spawns a TaskKind::timer task.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "sched/sched.h"

namespace kpsim {

class Timer {
 public:
  Timer(std::string_view name, std::function<void()> fn,
        std::optional<TimerWindow> window = std::nullopt)
      : name_(name), fn_(std::move(fn)), window_(window) {}

  // (Re)arms at absolute virtual time expires_ns. Returns whether it was pending before.
  bool mod_timer(Sched& s, uint64_t expires_ns);
  // Returns whether it was pending.
  bool del_timer(Sched& s);
  bool pending(const Sched& s) const {
    obj_.read();
    return id_ != 0 && s.timer_pending(id_);
  }
  uint64_t expires_ns() const {
    obj_.read();
    return expires_ns_;
  }

 private:
  // The expiry, as the scheduler's timer list calls it (Sched::TimerFn; ctx: the Timer).
  static void expire(void* timer, uint64_t);

  std::string_view name_;
  std::function<void()> fn_;
  std::optional<TimerWindow> window_;
  uint64_t id_ = 0;
  uint64_t expires_ns_ = 0;
  ObjectId obj_;  // id_ and expires_ns_ (dpor); arming also writes the scheduler's timer list
};

}  // namespace kpsim
