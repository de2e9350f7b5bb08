#include "sched/strategy_dpor.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace kpsim {

namespace {
bool contains(const std::vector<TaskId>& v, TaskId t) { return std::find(v.begin(), v.end(), t) != v.end(); }
}  // namespace

bool DporStrategy::asleep(const Node& nd, TaskId t) const {
  for (const Sleeper& s : nd.sleep)
    if (s.task == t) return true;
  for (const Sleeper& s : nd.done)
    if (s.task == t) return true;
  return false;
}

bool DporStrategy::begin_run() {
  pos_ = 0;
  events_.clear();
  cur_sleep_.clear();
  pending_node_ = -1;
  blocked_ = false;
  if (!started_) {
    started_ = true;
    return true;
  }
  // The deepest point with something left: another option of a data choice, or a backtrack
  // task not yet taken here and not asleep.
  while (!path_.empty()) {
    Node& nd = path_.back();
    if (nd.kind != ChoiceKind::schedule) {
      if (nd.k + 1 < nd.n) {
        ++nd.k;
        return true;
      }
    } else {
      for (TaskId q : nd.backtrack) {
        if (q == nd.chosen || asleep(nd, q)) continue;
        nd.done.push_back({nd.chosen, nd.chosen_fp});
        nd.chosen = q;
        nd.chosen_fp = {};
        return true;
      }
    }
    path_.pop_back();
  }
  exhausted_ = true;
  return false;
}

size_t DporStrategy::choose(size_t n, const ChoiceContext& ctx) {
  if (blocked_) return 0;  // finishing a redundant run: any answer will do
  if (ctx.kind != ChoiceKind::schedule) {
    if (pos_ == path_.size()) {
      Node nd;
      nd.kind = ctx.kind;
      nd.n = static_cast<uint32_t>(n);
      path_.push_back(std::move(nd));
    }
    const Node& nd = path_[pos_++];
    if (nd.kind != ctx.kind || nd.n != n)
      throw std::logic_error(fmt::format("dpor: the model is not deterministic: choice {} was {} with {} options, now {} with {}",
                                         pos_ - 1, to_string(nd.kind), nd.n, to_string(ctx.kind), n));
    return nd.k;
  }
  if (pos_ == path_.size()) {
    Node nd;
    nd.kind = ctx.kind;
    nd.n = static_cast<uint32_t>(n);
    nd.options.assign(ctx.options.begin(), ctx.options.end());
    nd.sleep = cur_sleep_;
    for (TaskId t : nd.options)
      if (!asleep(nd, t)) {
        nd.chosen = t;
        break;
      }
    if (nd.chosen == kNoTask) {  // every enabled task is asleep: this state's traces are covered
      blocked_ = true;
      ++sleep_blocked_;
      return 0;
    }
    nd.backtrack.push_back(nd.chosen);
    path_.push_back(std::move(nd));
  }
  Node& nd = path_[pos_];
  if (nd.kind != ctx.kind || nd.n != n || !std::equal(nd.options.begin(), nd.options.end(), ctx.options.begin()))
    throw std::logic_error(fmt::format("dpor: the model is not deterministic: choice {} now offers other tasks", pos_));
  nd.events_before = events_.size();
  pending_node_ = static_cast<int>(pos_++);
  // The sleep set after this step: what sleeps here and what was taken here before, filtered by
  // the step's footprint in on_step().
  cur_sleep_.clear();
  for (const auto* set : {&nd.sleep, &nd.done})
    for (const Sleeper& s : *set)
      if (s.task != nd.chosen) cur_sleep_.push_back(s);
  return static_cast<size_t>(std::find(nd.options.begin(), nd.options.end(), nd.chosen) - nd.options.begin());
}

void DporStrategy::on_step(TaskId task, const Footprint& recorded) {
  // A step that touches everything is dependent with every step whatever else it names: keep
  // the flag only, so that a world that declares nothing costs no allocation per step here.
  static const Footprint kAll{true, {}};
  const Footprint& fp = recorded.all ? kAll : recorded;
  if (blocked_) return;
  if (pending_node_ < 0) {
    // A step nobody chose (the only runnable task, or a timer). If that task is asleep, so is
    // every enabled task: blocked.
    for (const Sleeper& s : cur_sleep_)
      if (s.task == task) {
        blocked_ = true;
        ++sleep_blocked_;
        return;
      }
  } else {
    path_[static_cast<size_t>(pending_node_)].chosen_fp = fp;
  }
  events_.push_back({task, pending_node_, fp});
  pending_node_ = -1;
  std::erase_if(cur_sleep_, [&](const Sleeper& s) { return dependent(s.fp, fp); });
}

void DporStrategy::end_run() {
  analyze_races();
  if (!blocked_) add_unfinished();
}

// A run is a maximal execution only when every task finished or sleeps; one that ends while a
// task could still step (a daemon kworker, or a task left behind when a violation ended the run)
// never shows that step, so no race can reorder it. It is added at the last point where the
// task could have stepped after its last step; once it runs there, its real footprint races
// with earlier steps as usual. (Under a sleep set there it is covered already.)
void DporStrategy::add_unfinished() {
  std::vector<size_t> last_step;  // per task: 1 + index of its last step, 0 for none
  for (size_t i = 0; i < events_.size(); ++i) {
    const TaskId t = events_[i].task;
    if (t == kNoTask) continue;
    if (last_step.size() <= t) last_step.resize(size_t{t} + 1, 0);
    last_step[t] = i + 1;
  }
  std::vector<TaskId> handled;
  for (size_t k = std::min(pos_, path_.size()); k-- > 0;) {
    Node& nd = path_[k];
    if (nd.kind != ChoiceKind::schedule) continue;
    for (TaskId q : nd.options) {
      if (contains(handled, q)) continue;
      const size_t last = q < last_step.size() ? last_step[q] : 0;
      if (last > nd.events_before) continue;  // q stepped after this point
      handled.push_back(q);
      if (!contains(nd.backtrack, q) && !asleep(nd, q)) nd.backtrack.push_back(q);
    }
  }
}

// Happens-before is program order plus the order of dependent steps, kept as vector clocks:
// vc[j][slot(t)] is how many steps of task t happen before or are step j. Step i happens before
// step j iff vc[j][slot(i)] >= seq[i] (seq: 1-based index of a step among its task's).
void DporStrategy::analyze_races() {
  const size_t n = events_.size();
  if (n < 2) return;
  TaskId max_task = 0;
  for (const Event& e : events_)
    if (e.task != kNoTask) max_task = std::max(max_task, e.task);
  const size_t T = size_t{max_task} + 2;  // the last slot: timer steps
  auto slot = [&](size_t i) { return events_[i].task == kNoTask ? T - 1 : size_t{events_[i].task}; };
  std::vector<uint32_t> seq(n), count(T, 0), vc(n * T, 0);
  auto clock = [&](size_t i) { return vc.data() + i * T; };
  auto join = [&](uint32_t* into, const uint32_t* from) {
    for (size_t t = 0; t < T; ++t) into[t] = std::max(into[t], from[t]);
  };
  auto before = [&](size_t i, size_t j) { return clock(j)[slot(i)] >= seq[i]; };  // i -> j
  auto pred = [&](size_t i, size_t j) {  // i < j directly ordered
    return events_[i].task == events_[j].task || dependent(events_[i].fp, events_[j].fp);
  };
  std::vector<uint32_t> all_before(T, 0);  // the join of every clock so far
  for (size_t j = 0; j < n; ++j) {
    seq[j] = ++count[slot(j)];
    if (events_[j].fp.all) {
      // Dependent with every earlier step: after all of them (the common case in worlds that
      // declare nothing, where this keeps the analysis linear in the steps).
      std::copy(all_before.begin(), all_before.end(), clock(j));
    } else {
      for (size_t i = 0; i < j; ++i)
        if (pred(i, j)) join(clock(j), clock(i));
    }
    clock(j)[slot(j)] = seq[j];
    join(all_before.data(), clock(j));
  }
  // Per step i: how many points of the path precede it (schedule points' events_before only
  // grows along the path; other kinds are skipped below anyway), so that the search for the
  // point before a race starts there instead of at the end of the path: linear, not
  // quadratic, on long runs of steps that touch everything.
  const size_t npath = std::min(pos_, path_.size());
  std::vector<size_t> points_before(n);
  for (size_t i = 0, k = 0; i < n; ++i) {
    while (k < npath && (path_[k].kind != ChoiceKind::schedule || path_[k].events_before <= i)) ++k;
    points_before[i] = k;
  }
  std::vector<uint32_t> c(T);
  std::vector<size_t> v;
  std::vector<TaskId> initials, seen;
  for (size_t j = 1; j < n; ++j) {
    if (events_[j].task == kNoTask) continue;  // a timer step is never enabled earlier
    std::fill(c.begin(), c.end(), 0);
    // From j down: c joins the clocks of j's direct predecessors after i; i races with j when
    // it is a direct predecessor of another task that none of those happens after.
    for (size_t i = j; i-- > 0;) {
      if (!pred(i, j)) continue;
      // A timer step as the first step of a race has no alternative: nothing could run before
      // it, so the second step's task was asleep there (a CPU is never held across a sleep).
      if (events_[i].task != events_[j].task && events_[i].task != kNoTask && c[slot(i)] < seq[i]) {
        // v = notdep(i).j: the steps between that do not happen after i, then j.
        v.clear();
        for (size_t k = i + 1; k < j; ++k)
          if (!before(i, k)) v.push_back(k);
        v.push_back(j);
        initials.clear();
        seen.clear();
        for (size_t a = 0; a < v.size(); ++a) {
          const TaskId t = events_[v[a]].task;
          if (contains(seen, t)) continue;
          seen.push_back(t);
          bool first = true;
          for (size_t b = 0; b < a && first; ++b)
            if (before(v[b], v[a])) first = false;
          if (first) initials.push_back(t);
        }
        // The point before i, or, when no initial could step there (none is runnable before
        // i: a task of i's CPU holding it in the kernel took it off the CPU), the latest point
        // before i where one could: reversing the step that disabled it.
        Node* at = nullptr;
        for (size_t k = points_before[i]; k-- > 0 && !at;) {
          Node& nd = path_[k];
          if (nd.kind != ChoiceKind::schedule || nd.events_before > i) continue;
          for (TaskId q : initials)
            if (contains(nd.options, q)) at = &nd;
        }
        if (at) {
          bool covered = false;
          for (TaskId q : initials)
            if (contains(at->backtrack, q) || asleep(*at, q)) covered = true;
          if (!covered)
            for (TaskId q : initials)
              if (contains(at->options, q)) {
                at->backtrack.push_back(q);
                break;
              }
        }
      }
      join(c.data(), clock(i));
      // A direct predecessor that touches everything happens after every earlier step: none of
      // them can race with j any more.
      if (events_[i].fp.all) break;
    }
  }
}

}  // namespace kpsim
