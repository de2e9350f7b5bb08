#include "sched/work.h"

namespace kpsim {

Work::Work(std::string worker_name, std::string_view fn_label, std::function<Co<>()> fn)
    : worker_name_(std::move(worker_name)),
      fn_label_(fn_label),
      fn_(std::move(fn)),
      delay_timer_("delayed_work_timer_fn", [this] {
        obj_.write();
        delay_timer_armed_ = false;
        enqueue(*sched_);
      }) {}

Co<> Work::worker_loop(Sched& s) {
  for (;;) {
    for (;;) {
      obj_.read();
      if (queued_) break;
      co_await idle_.sleep(s, fn_label_, false);
    }
    obj_.write();
    queued_ = false;  // PENDING clears as the function starts: it may be queued again meanwhile
    running_ = true;
    co_await fn_();
    obj_.write();
    running_ = false;
    finished_.wake_up_all(s);
  }
}

void Work::enqueue(Sched& s) {
  obj_.write();
  queued_ = true;
  if (!worker_spawned_) {
    worker_spawned_ = true;
    const TaskId id = s.spawn(worker_name_, TaskKind::kworker, worker_loop(s), /*daemon=*/true, fn_label_);
    s.set_cpu(id, cpu_);
    s.woke_new(id);  // wake_up_new_task: the new worker is woken as an idle one would be
    return;
  }
  idle_.wake_up_all(s);
}

bool schedule_work(Sched& s, Work& w) {
  if (w.pending()) return false;
  w.enqueue(s);
  return true;
}

bool queue_delayed_work(Sched& s, Work& w, uint64_t delay_jiffies) {
  if (w.pending()) return false;
  if (delay_jiffies == 0) {
    w.enqueue(s);
    return true;
  }
  w.arm_delay(s, delay_jiffies);
  return true;
}

bool mod_delayed_work(Sched& s, Work& w, uint64_t delay_jiffies) {
  const bool was = w.pending();
  w.obj_.write();
  w.queued_ = false;
  w.delay_timer_.del_timer(s);
  w.delay_timer_armed_ = false;
  if (delay_jiffies == 0) w.enqueue(s);
  else w.arm_delay(s, delay_jiffies);
  return was;
}

bool cancel_delayed_work(Sched& s, Work& w) {
  const bool was = w.pending();
  w.obj_.write();
  w.queued_ = false;
  w.delay_timer_.del_timer(s);
  w.delay_timer_armed_ = false;
  return was;
}

Co<bool> cancel_work_sync(Sched& s, Work& w) {
  const bool was = cancel_delayed_work(s, w);
  while (w.running()) co_await w.finished_.sleep(s, "cancel_work_sync: flushed", false);
  co_return was;
}

void Work::arm_delay(Sched& s, uint64_t delay_jiffies) {
  sched_ = &s;
  obj_.write();
  delay_timer_armed_ = true;
  delay_timer_.mod_timer(s, s.now_ns() + s.jiffies_to_ns(delay_jiffies));
}

}  // namespace kpsim
