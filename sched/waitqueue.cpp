#include "sched/waitqueue.h"

#include <algorithm>

namespace kpsim {

void WaitQueue::touch(Sched&) { obj_.write(); }

void WaitQueue::add_woken(Sched& s, WokenEntry* e) {
  touch(s);
  woken_entries_.push_back(e);
}

void WaitQueue::remove_woken(WokenEntry* e) {
  obj_.write();
  auto it = std::find(woken_entries_.begin(), woken_entries_.end(), e);
  if (it != woken_entries_.end()) woken_entries_.erase(it);
}

void WaitQueue::add_func(Sched& s, FuncEntry* e) {
  touch(s);
  func_entries_.push_back(e);
}

void WaitQueue::remove_func(FuncEntry* e) {
  obj_.write();
  auto it = std::find(func_entries_.begin(), func_entries_.end(), e);
  if (it != func_entries_.end()) func_entries_.erase(it);
}

void WaitQueue::call_funcs(Sched& s) {
  // A func may unlink its entry (or another): walk a snapshot, skipping entries gone meanwhile.
  const std::vector<FuncEntry*> snapshot = func_entries_;
  for (FuncEntry* e : snapshot)
    if (std::find(func_entries_.begin(), func_entries_.end(), e) != func_entries_.end()) e->func(s);
}

void WaitQueue::wake_up_all(Sched& s) {
  touch(s);
  for (WokenEntry* e : woken_entries_) e->woken = true;
  call_funcs(s);
  // wake() unlinks each sleeper, so walk a snapshot.
  const std::vector<TaskId> snapshot = sleepers_;
  for (TaskId t : snapshot) s.wake(t, WakeReason::woken);
}

TaskId WaitQueue::wake_up_one(Sched& s) {
  touch(s);
  // woken_wake_function entries are not exclusive: __wake_up marks every one of them.
  for (WokenEntry* e : woken_entries_) e->woken = true;
  call_funcs(s);
  if (sleepers_.empty()) return kNoTask;
  const TaskId t = sleepers_.front();
  s.wake(t, WakeReason::woken);
  return t;
}

void WaitQueue::remove(TaskId t) {
  auto it = std::find(sleepers_.begin(), sleepers_.end(), t);
  if (it != sleepers_.end()) sleepers_.erase(it);
}

}  // namespace kpsim
