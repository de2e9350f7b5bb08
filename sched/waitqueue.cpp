#include "sched/waitqueue.h"

#include <algorithm>
#include <array>

namespace kpsim {

namespace {

// Calls f on each element v held on entry, as a copy of v would, for callers whose f may unlink
// elements. The copy lives on the stack when it fits (a queue rarely has more than a couple of
// entries): wake-ups are frequent (about 15 a ktls-async-close schedule), and a heap snapshot
// allocated and freed at each one.
template <class V, class F>
void for_each_of_snapshot(const V& v, F f) {
  using T = typename V::value_type;
  constexpr size_t kOnStack = 8;
  const size_t n = v.size();
  if (n == 0) return;
  if (n == 1) {
    const T only = v.front();
    f(only);
    return;
  }
  if (n <= kOnStack) {
    std::array<T, kOnStack> copy;
    std::copy(v.begin(), v.end(), copy.begin());
    for (size_t i = 0; i < n; ++i) f(copy[i]);
    return;
  }
  const std::vector<T> copy(v.begin(), v.end());
  for (const T& x : copy) f(x);
}

}  // namespace

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
  for_each_of_snapshot(func_entries_, [&](FuncEntry* e) {
    if (std::find(func_entries_.begin(), func_entries_.end(), e) != func_entries_.end()) e->func(s);
  });
}

void WaitQueue::wake_up_all(Sched& s) {
  touch(s);
  for (WokenEntry* e : woken_entries_) e->woken = true;
  call_funcs(s);
  // wake() unlinks each sleeper, so walk a snapshot.
  for_each_of_snapshot(sleepers_, [&](TaskId t) { s.wake(t, WakeReason::woken); });
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
