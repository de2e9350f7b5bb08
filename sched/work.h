// Work: a work_struct / delayed_work and the kworker that runs it (kernel/workqueue.c).
//
// Each Work gets its own kworker task (a daemon, created on first use, named by the model, e.g.
// "kworker/0:backlog"). That gives the semantics models rely on: a work item never runs
// concurrently with itself, distinct items may run concurrently, and an item queued while it is
// running runs again afterwards. PENDING is set from queueing (or arming the delay timer) until
// the worker starts the function, as WORK_STRUCT_PENDING is.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "sched/timer.h"
#include "sched/waitqueue.h"

namespace kpsim {

class Work {
 public:
  // worker_name: the kworker lane; fn_label: the step label when the function starts
  // (e.g. "sk_psock_backlog").
  Work(std::string worker_name, std::string_view fn_label, std::function<Co<>()> fn);

  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  bool pending() const {
    obj_.read();
    return queued_ || delay_timer_armed_;
  }
  // The CPU its kworker runs on (a per-CPU workqueue's worker); -1: a CPU of its own.
  void set_cpu(int cpu) { cpu_ = cpu; }
  bool running() const {
    obj_.read();
    return running_;
  }

 private:
  friend bool schedule_work(Sched&, Work&);
  friend bool queue_delayed_work(Sched&, Work&, uint64_t);
  friend bool mod_delayed_work(Sched&, Work&, uint64_t);
  friend bool cancel_delayed_work(Sched&, Work&);
  friend Co<bool> cancel_work_sync(Sched&, Work&);
  void enqueue(Sched& s);
  void arm_delay(Sched& s, uint64_t delay_jiffies);
  Co<> worker_loop(Sched& s);

  std::string worker_name_;
  std::string_view fn_label_;
  std::function<Co<>()> fn_;
  Sched* sched_ = nullptr;  // set when first queued; the delay timer's callback needs it
  Timer delay_timer_;
  bool delay_timer_armed_ = false;
  bool queued_ = false;
  bool running_ = false;
  bool worker_spawned_ = false;
  int cpu_ = -1;
  // queued_, running_, delay_timer_armed_, worker_spawned_ as one object (dpor): every function
  // below that reads or writes them records it.
  ObjectId obj_;
  WaitQueue idle_;      // the worker sleeps here when nothing is queued
  WaitQueue finished_;  // cancel_work_sync waits here for a running instance
};

// schedule_work / queue_work: false if already pending.
bool schedule_work(Sched& s, Work& w);
// queue_delayed_work: queue after delay_jiffies (0: now); false if already pending.
bool queue_delayed_work(Sched& s, Work& w, uint64_t delay_jiffies);
// mod_delayed_work: (re)arm whether or not pending; returns whether it was pending.
bool mod_delayed_work(Sched& s, Work& w, uint64_t delay_jiffies);
// cancel_delayed_work: removes a pending instance (not a running one). Returns whether one was.
bool cancel_delayed_work(Sched& s, Work& w);
// cancel_work_sync / cancel_delayed_work_sync: cancel, then wait for a running instance.
Co<bool> cancel_work_sync(Sched& s, Work& w);

}  // namespace kpsim
