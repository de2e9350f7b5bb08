#include "sched/waitqueue.h"

#include <algorithm>

namespace kpsim {

void WaitQueue::touch(Sched& s) {
  if (!s.recording_footprints()) return;
  if (!has_obj_) {
    obj_ = s.new_object();
    has_obj_ = true;
  }
  s.touch(obj_, true);
}

void WaitQueue::wake_up_all(Sched& s) {
  touch(s);
  // wake() unlinks each sleeper, so walk a snapshot.
  const std::vector<TaskId> snapshot = sleepers_;
  for (TaskId t : snapshot) s.wake(t, WakeReason::woken);
}

TaskId WaitQueue::wake_up_one(Sched& s) {
  touch(s);
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
