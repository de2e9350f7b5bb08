// The scheduler's run loop, clock and wake-up mechanism. See sched.h for the contract.
#include "sched/sched.h"

#include <algorithm>
#include <bit>
#include <set>
#include <stdexcept>

#include "sched/waitqueue.h"

namespace kpsim {

std::string_view to_string(TaskKind k) {
  switch (k) {
    case TaskKind::syscall: return "syscall";
    case TaskKind::softirq: return "softirq";
    case TaskKind::kworker: return "kworker";
    case TaskKind::timer: return "timer";
    case TaskKind::crypto: return "crypto";
    case TaskKind::task_work: return "task_work";
    case TaskKind::iowq: return "iowq";
  }
  return "?";
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::done: return "done";
    case Outcome::violation: return "violation";
    case Outcome::deadlock: return "deadlock";
    case Outcome::step_limit: return "step_limit";
    case Outcome::time_limit: return "time_limit";
    case Outcome::error: return "error";
    case Outcome::model_invariant: return "model_invariant";
    case Outcome::cut: return "cut";
  }
  return "?";
}

Sched::Sched(Strategy& strategy, RunLimits limits, uint32_t hz)
    : strategy_(strategy), limits_(limits), hz_(hz), cache_states_(strategy.caches_states()),
      observer_(strategy.step_observer()) {
  if (hz == 0 || 1000000000u % hz != 0) throw std::invalid_argument("HZ must divide 10^9");
  // This run's objects are numbered from 0 (the world is built after the scheduler), and its
  // accesses go to fp_ only when a strategy reduces by them. Setup's accesses land in fp_ too
  // and are cleared when the first step starts.
  saved_recorder_ = t_recorder;
  t_recorder = FootprintRecorder{observer_ ? &fp_ : nullptr, 0, false};
}

// Frames are destroyed before the model objects they point into (the runner destroys the
// scheduler first), and destroying a suspended frame runs no model code.
Sched::~Sched() { t_recorder = saved_recorder_; }

// A world adds a handful of invariants and final checks and spawns a handful of tasks, once per
// schedule: one allocation of room for eight instead of growing 1, 2, 4, 8 and moving the
// entries (each a string and a std::function) at every doubling. Order and contents are
// unchanged.
constexpr size_t kFirstReserve = 8;

TaskId Sched::spawn(std::string name, TaskKind kind, Co<> body, bool daemon,
                    std::string_view first_label) {
  touch(obj_id(ObjTag::task_table, 0), true);  // the new task's id depends on the order of spawns
  auto t = std::make_unique<Task>();
  t->id = static_cast<TaskId>(tasks_.size());
  t->name = std::move(name);
  t->kind = kind;
  t->daemon = daemon;
  t->resume_at = body.handle();
  t->next_label = first_label;
  t->body = std::move(body);
  if (!t->daemon) ++live_tasks_;
  if (tasks_.empty()) {
    tasks_.reserve(kFirstReserve);
    runnable_.reserve(kFirstReserve);
  }
  tasks_.push_back(std::move(t));
  set_runnable_bit(tasks_.back()->id, true);
  if (trace_ && !trace_->events.empty()) trace_->events.back().wakes.push_back(tasks_.back()->name);
  return tasks_.back()->id;
}

// The Checks are built in place (aggregate initialisation from emplace_back's arguments): a
// temporary moved in cost a string and a std::function move and destroy per check, about 45
// instructions, five checks a seed-002 schedule.
void Sched::add_invariant(std::string property, Invariant check) {
  if (invariants_.empty()) invariants_.reserve(kFirstReserve);
  invariants_.emplace_back(std::move(property), nullptr, nullptr, nullptr, std::move(check));
}

void Sched::add_model_invariant(std::string name, Invariant check) {
  if (model_invariants_.empty()) model_invariants_.reserve(kFirstReserve);
  model_invariants_.emplace_back(std::move(name), nullptr, nullptr, nullptr, std::move(check));
}

void Sched::add_final_check(std::string property, Invariant check) {
  if (final_checks_.empty()) final_checks_.reserve(kFirstReserve);
  final_checks_.emplace_back(std::move(property), nullptr, nullptr, nullptr, std::move(check));
}

void Sched::add_check(std::vector<Check>& set, std::string name, const void* obj, bool (*holds)(const void*),
                      std::string (*explain)(const void*)) {
  if (set.empty()) set.reserve(kFirstReserve);
  set.emplace_back(std::move(name), obj, holds, explain, Invariant{});
}

void Sched::PointAwaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  Task& t = s.current();
  t.resume_at = h;
  t.next_label = label;
  t.holds_cpu = t.cpu >= 0 && !to_user;
  s.set_holder_bit(t.id, t.holds_cpu);
}

// The runnable tasks that may take the next step. A task stopped at an in-kernel point holds
// its CPU: no other task of that CPU may run until it returns to user space, sleeps or ends
// (no preemption). Once per step: from the bit sets, one pass over the holders (usually none).
// collect_runnable, run_step and check_after_step are each called from one place, run()'s step
// loop, and forced inline there: GCC kept them out of line, and their calls (saving and
// restoring six registers each) were about 4 % of a seed-002 schedule's instructions.
[[gnu::always_inline]] inline void Sched::collect_runnable() {
  runnable_.clear();
  if (tasks_.size() > kMaskTasks) return collect_runnable_walk();
  uint64_t may = runnable_mask_;
  // Most steps start with no task holding a CPU (the last one returned to user space, slept or
  // ended); otherwise a holder's CPU-mates wait.
  for (uint64_t h = holder_mask_ & runnable_mask_; h; h &= h - 1) {
    const auto id = static_cast<TaskId>(std::countr_zero(h));
    const int cpu = tasks_[id]->cpu;
    if (cpu >= 0) may &= ~cpu_tasks_[static_cast<size_t>(cpu)] | task_bit(id);
  }
  for (; may; may &= may - 1) runnable_.push_back(static_cast<TaskId>(std::countr_zero(may)));
}

void Sched::set_cpu(TaskId t, int cpu) {
  Task& task = *tasks_[t];
  if (task.cpu >= 0) cpu_tasks_[static_cast<size_t>(task.cpu)] &= ~task_bit(t);
  task.cpu = cpu;
  if (cpu < 0) return;
  if (static_cast<size_t>(cpu) >= cpu_tasks_.size()) cpu_tasks_.resize(static_cast<size_t>(cpu) + 1, 0);
  cpu_tasks_[static_cast<size_t>(cpu)] |= task_bit(t);
}

// The same, by walking every task: for runs with more tasks than the bit sets hold.
void Sched::collect_runnable_walk() {
  bool held = false;
  for (auto& t : tasks_) {
    if (t->state != TaskState::runnable || !t->holds_cpu) continue;
    const auto c = static_cast<size_t>(t->cpu);
    if (!held) {
      cpu_holder_.assign(cpu_holder_.size(), kNoTask);
      held = true;
    }
    if (c >= cpu_holder_.size()) cpu_holder_.resize(c + 1, kNoTask);
    cpu_holder_[c] = t->id;
  }
  for (auto& t : tasks_) {
    if (t->state != TaskState::runnable) continue;
    const auto c = static_cast<size_t>(t->cpu);
    if (held && t->cpu >= 0 && c < cpu_holder_.size() && cpu_holder_[c] != kNoTask && cpu_holder_[c] != t->id)
      continue;
    runnable_.push_back(t->id);
  }
}

void Sched::block_current(std::coroutine_handle<> h, std::string_view label, WaitQueue* wq,
                          bool interruptible, std::optional<uint64_t> timeout_ns) {
  Task& t = current();
  t.state = TaskState::blocked;
  t.holds_cpu = false;
  set_runnable_bit(t.id, false);
  set_holder_bit(t.id, false);
  t.resume_at = h;
  t.next_label = label;
  t.wake_reason = WakeReason::none;
  t.interruptible = interruptible;
  t.sleeping_on = wq;
  if (wq) {
    wq->touch(*this);
    wq->add(t.id);
  }
  t.timeout_id = 0;
  t.slept = true;
  if (t.on_sleep) t.on_sleep();
  if (timeout_ns) {
    const TaskId id = t.id;
    t.timeout_id = add_timer(
        now_ns_ + *timeout_ns, "schedule_timeout",
        [](void* sched, uint64_t task) { static_cast<Sched*>(sched)->wake(static_cast<TaskId>(task), WakeReason::timeout); },
        this, id);
  }
}

void Sched::wake(TaskId id, WakeReason why) {
  Task& t = *tasks_[id];
  // A wake-up and the sleeper it wakes are dependent: the wake writes the run state that the
  // sleeper's steps write. A wake of a task that is not asleep changes nothing, but it read the
  // state (its outcome depends on whether the task had gone to sleep yet).
  touch(obj_id(ObjTag::task, id), t.state == TaskState::blocked);
  if (t.state != TaskState::blocked) return;
  t.state = TaskState::runnable;
  set_runnable_bit(id, true);
  t.wake_reason = why;
  if (t.sleeping_on) {
    t.sleeping_on->touch(*this);
    t.sleeping_on->remove(id);
  }
  t.sleeping_on = nullptr;
  if (t.timeout_id) cancel_timer(t.timeout_id);
  t.timeout_id = 0;
  if (trace_ && !trace_->events.empty()) trace_->events.back().wakes.push_back(t.name);
  // Only a task's step wakes "from" a CPU; a timer firing between steps has no waker to tell.
  if (wake_observer_ && current_ != kNoTask) wake_observer_(id);
}

void Sched::hand_cpu(TaskId to) {
  Task& cur = current();
  Task& t = *tasks_[to];
  touch(obj_id(ObjTag::task, to), true);
  if (cur.cpu < 0 || t.cpu != cur.cpu || t.state != TaskState::runnable || to == current_) return;
  t.holds_cpu = true;
  set_holder_bit(to, true);
}

void Sched::set_notify_signal(TaskId id) {
  Task& t = *tasks_[id];
  touch(obj_id(ObjTag::task, id), true);
  const bool was_set = t.tif_notify_signal;
  t.tif_notify_signal = true;
  if (!was_set && t.state == TaskState::blocked && t.interruptible && t.signal_pending())
    wake(id, WakeReason::interrupted);
}

void Sched::send_signal(TaskId id) {
  Task& t = *tasks_[id];
  touch(obj_id(ObjTag::task, id), true);
  t.sigpending = true;
  if (t.state == TaskState::blocked && t.interruptible) wake(id, WakeReason::interrupted);
}

size_t Sched::record_choice(size_t n, const ChoiceContext& ctx) {
  const size_t c = strategy_.choose(n, ctx);
  if (c >= n) throw std::logic_error("strategy " + strategy_.name() + " answered out of range");
  // Room for a short run's choices at the first one (a ktls-async-close schedule makes a few dozen):
  // one allocation where growing 1, 2, 4, ... took six and copied the sequence at each.
  if (choices_.empty()) choices_.reserve(64);
  choices_.push_back(Choice{.value = static_cast<uint32_t>(c),
                            .options = static_cast<uint32_t>(n),
                            .kind = ctx.kind});
  return c;
}

size_t Sched::choose(size_t n, ChoiceKind kind, std::string_view reason) {
  if (n <= 1) return 0;
  ChoiceContext ctx{kind, reason, step_, {}, -1};
  return record_choice(n, ctx);
}

size_t Sched::choose_unlikely(size_t n, ChoiceKind kind, std::string_view reason) {
  if (n <= 1) return 0;
  ChoiceContext ctx{kind, reason, step_, {}, -1, true};
  return record_choice(n, ctx);
}

uint64_t Sched::add_timer(uint64_t expires_ns, std::string_view name, std::function<void()> fire,
                          std::optional<TimerWindow> window) {
  auto owned = std::make_unique<std::function<void()>>(std::move(fire));
  void* ctx = owned.get();
  const uint64_t id = add_timer(
      expires_ns, name, [](void* f, uint64_t) { (*static_cast<std::function<void()>*>(f))(); }, ctx, 0, window);
  timers_.back().owned = std::move(owned);
  return id;
}

uint64_t Sched::add_timer(uint64_t expires_ns, std::string_view name, TimerFn fn, void* ctx, uint64_t data,
                          std::optional<TimerWindow> window) {
  // Timer ids order timers with equal deadlines: two steps that add timers are not reordered.
  touch(obj_id(ObjTag::timers, 0), true);
  const uint64_t id = next_timer_id_++;
  timers_.push_back({id, expires_ns, window.value_or(default_window_), name, fn, ctx, data, nullptr});
  return id;
}

bool Sched::cancel_timer(uint64_t id) {
  touch(obj_id(ObjTag::timers, 0), true);
  auto it = std::find_if(timers_.begin(), timers_.end(), [id](auto& e) { return e.id == id; });
  if (it == timers_.end()) return false;
  timers_.erase(it);
  return true;
}

bool Sched::timer_pending(uint64_t id) const {
  touch(obj_id(ObjTag::timers, 0), false);
  return std::any_of(timers_.begin(), timers_.end(), [id](auto& e) { return e.id == id; });
}

void Sched::visit_state(StateVisitor& v) const {
  for (const auto& t : tasks_) {
    StatePrefix p(v, "task." + t->name);
    p.s("state", t->state == TaskState::runnable ? "runnable" : t->state == TaskState::blocked ? "blocked" : "done");
    p.flag("TIF_NOTIFY_SIGNAL", t->tif_notify_signal);
    p.flag("sigpending", t->sigpending);
  }
  // timers_ is in creation order (appended, erased in place), so a second timer of the same
  // name gets the same "#2" on every run.
  for (size_t i = 0; i < timers_.size(); ++i) {
    size_t same = 1;
    for (size_t k = 0; k < i; ++k) same += timers_[k].name == timers_[i].name ? 1 : 0;
    std::string name = "timer." + std::string(timers_[i].name);
    if (same > 1) name += "#" + std::to_string(same);
    v.u(name, timers_[i].deadline_ns);
  }
}

void Sched::hash_state(StateHasher& h) const {
  h.word(0x10, step_);
  h.word(0x11, now_ns_);
  h.word(0x12, next_timer_id_);
  h.word(0x13, t_recorder.next_object);
  h.word(0x14, tasks_.size());
  for (const auto& t : tasks_) {
    h.str(t->name);
    h.word(0x20, static_cast<uint64_t>(t->kind) | uint64_t{t->daemon} << 8 | uint64_t{static_cast<uint8_t>(t->state)} << 16 |
                     uint64_t{t->holds_cpu} << 24 | uint64_t{static_cast<uint8_t>(t->wake_reason)} << 32 |
                     uint64_t{t->interruptible} << 40 | uint64_t{t->sleeping_on != nullptr} << 41 |
                     uint64_t{t->sigpending} << 42 | uint64_t{t->tif_notify_signal} << 43 |
                     uint64_t{t->pf_no_notify_signal} << 44 | uint64_t{t->slept} << 45);
    h.word(0x21, static_cast<uint64_t>(static_cast<int64_t>(t->cpu)));
    h.word(0x22, t->steps);
    h.word(0x23, t->timeout_id);
    h.str(t->next_label);
  }
  h.word(0x30, timers_.size());
  for (const auto& e : timers_) {  // creation order (appended, erased in place)
    h.word(0x31, e.id);
    h.word(0x32, e.deadline_ns);
    h.word(0x33, e.window.early_ns);
    h.word(0x34, e.window.late_ns);
    h.str(e.name);
  }
  h.word(0x40, runnable_.size());
  for (const TaskId t : runnable_) h.word(0x41, t);
}

// The state after the step just taken, as the diff against the previous step's (the first
// step: everything). A name no longer reported is recorded as null.
void Sched::record_state() {
  if (trace_->events.size() == state_steps_) return;  // no step was taken (the run ended)
  state_steps_ = trace_->events.size();
  struct Collect final : StateVisitor {
    using StateVisitor::value;
    std::vector<std::pair<std::string, nlohmann::ordered_json>> vals;
    void value(std::string_view n, int64_t x) override { vals.emplace_back(std::string(n), x); }
    void value(std::string_view n, std::string_view x) override { vals.emplace_back(std::string(n), std::string(x)); }
  } c;
  visit_state(c);
  if (state_fn_) state_fn_(c);
  nlohmann::ordered_json& out = trace_->events.back().state;
  // Updated in place: the names are mostly the same from step to step, so a step costs a
  // lookup per name and a node only for a name that appeared.
  for (auto& [name, val] : c.vals) {
    auto it = last_state_.find(name);
    if (it == last_state_.end()) {
      out[name] = val;
      last_state_.emplace(name, std::move(val));
    } else if (it->second != val) {
      out[name] = val;
      it->second = std::move(val);
    }
  }
  // A name reported before and not now is gone. Every name reported is in last_state_ by now,
  // so equal counts (names are unique in one visit) mean the same names: no pass needed.
  if (last_state_.size() != c.vals.size()) {
    std::set<std::string_view> now;
    for (const auto& nv : c.vals) now.insert(nv.first);
    for (auto it = last_state_.begin(); it != last_state_.end();) {
      if (now.count(it->first)) {
        ++it;
        continue;
      }
      out[it->first] = nullptr;
      it = last_state_.erase(it);
    }
  }
}

void Sched::fail(std::string property, std::string message) {
  if (!failed_) failed_ = RunEnd{Outcome::violation, std::move(property), std::move(message)};
}

void Sched::note_str(std::string_view obj, std::string change) {
  if (!trace_ || trace_->events.empty()) return;
  trace_->events.back().changes.push_back({std::string(obj), std::move(change)});
}

std::string_view Sched::intern(std::string s) {
  interned_.push_back(std::make_unique<std::string>(std::move(s)));
  return *interned_.back();
}

bool Sched::all_work_done() const { return live_tasks_ == 0; }

// Nothing is runnable: move the clock to the next timer. Timers whose windows overlap the
// earliest window may fire in either order, and a timer may fire anywhere in its window; both
// are choice points when there is more than one possibility.
bool Sched::timer_due() const {
  return std::any_of(timers_.begin(), timers_.end(), [this](const TimerEntry& e) { return e.deadline_ns <= now_ns_; });
}

std::optional<RunEnd> Sched::advance_clock() {
  uint64_t horizon = UINT64_MAX;
  for (auto& e : timers_) horizon = std::min(horizon, e.deadline_ns + e.window.late_ns);
  std::vector<size_t>& cand = timer_cand_;
  cand.clear();
  for (size_t i = 0; i < timers_.size(); ++i) {
    const auto& e = timers_[i];
    const uint64_t lo = e.deadline_ns > e.window.early_ns ? e.deadline_ns - e.window.early_ns : 0;
    if (lo <= horizon) cand.push_back(i);
  }
  std::sort(cand.begin(), cand.end(), [this](size_t a, size_t b) {
    const auto& x = timers_[a];
    const auto& y = timers_[b];
    return x.deadline_ns != y.deadline_ns ? x.deadline_ns < y.deadline_ns : x.id < y.id;
  });
  size_t pick = 0;
  if (cand.size() > 1) {
    ChoiceContext ctx{ChoiceKind::timer_order, "timer_order", step_, {}, -1};
    pick = record_choice(cand.size(), ctx);
  }
  TimerEntry e = std::move(timers_[cand[pick]]);
  timers_.erase(timers_.begin() + static_cast<std::ptrdiff_t>(cand[pick]));

  const uint64_t lo0 = e.deadline_ns > e.window.early_ns ? e.deadline_ns - e.window.early_ns : 0;
  const uint64_t lo = std::max(now_ns_, lo0);
  const uint64_t hi = std::max(lo, std::min(e.deadline_ns + e.window.late_ns, horizon));
  uint64_t points[3] = {lo, std::clamp(e.deadline_ns, lo, hi), hi};
  size_t npoints = 1;
  for (size_t i = 1; i < 3; ++i)
    if (points[i] != points[npoints - 1]) points[npoints++] = points[i];
  size_t off = 0;
  if (npoints > 1) {
    ChoiceContext ctx{ChoiceKind::timer_offset, "timer_offset", step_, {}, -1};
    off = record_choice(npoints, ctx);
  }
  const uint64_t when = points[off];
  if (when > limits_.max_time_ns)
    return RunEnd{Outcome::time_limit, "", fmt::format("virtual time limit {} ns reached", limits_.max_time_ns)};
  now_ns_ = std::max(now_ns_, when);
  // A timer firing is a step like a task's (numbered in the trace, counted against max_steps).
  // Strategies see steps only through ChoiceContext::step, so both kinds of step reach them the
  // same way; there is no per-step strategy hook that one of them could skip.
  ++step_;
  // A timer step moves the clock and may wake anyone: dependent with every step (conservative;
  // it also makes reading the clock free: the clock changes only in steps dependent with all).
  if (observer_) {
    fp_.clear();
    fp_.all = true;
  }
  t_recorder.in_step = true;
  if (trace_) {
    TraceEvent ev;
    ev.step = step_;
    ev.t_ns = now_ns_;
    ev.task = "timer";
    ev.kind = "timer";
    ev.label = std::string(e.name);
    trace_->events.push_back(std::move(ev));
  }
  e.fn(e.ctx, e.data);
  t_recorder.in_step = false;
  if (observer_) observer_->on_step(kNoTask, fp_);
  return std::nullopt;
}

// One step of task `id` (inline in run(): see collect_runnable).
[[gnu::always_inline]] inline void Sched::run_step(TaskId id, uint32_t pick, uint32_t of) {
  Task& t = *tasks_[id];
  ++step_;
  ++t.steps;
  current_ = id;
  if (observer_) {
    fp_.clear();
    // Per-step invariants of a declared world read only observe()d objects (checked after the
    // step): mark_visible() orders the steps that write them.
    fp_.all = !declared_;
    fp_.add(obj_id(ObjTag::task, id), true);
    // Tasks of one CPU enable and disable each other (a task holding the CPU in the kernel).
    if (t.cpu >= 0) fp_.add(obj_id(ObjTag::cpu, static_cast<uint64_t>(t.cpu)), true);
  }
  if (trace_) {
    TraceEvent ev;
    ev.step = step_;
    ev.t_ns = now_ns_;
    ev.task = t.name;
    ev.kind = std::string(to_string(t.kind));
    ev.label = std::string(t.next_label);
    ev.pick = pick;
    ev.of = of;
    trace_->events.push_back(std::move(ev));
  }
  if (t.slept) {
    t.slept = false;
    if (t.on_running) t.on_running();
  }
  t_recorder.in_step = true;
  t.resume_at.resume();
  t_recorder.in_step = false;
  if (t.body.done()) {
    t.state = TaskState::done;
    t.holds_cpu = false;
    set_runnable_bit(t.id, false);
    set_holder_bit(t.id, false);
    if (!t.daemon) --live_tasks_;
    if (auto ex = t.body.handle().promise().exception) {
      try {
        std::rethrow_exception(ex);
      } catch (const std::exception& err) {
        if (!failed_) failed_ = RunEnd{Outcome::error, "", t.name + ": " + err.what()};
      }
    }
  }
  if (observer_) {
    if (!invariants_.empty()) mark_visible();
    observer_->on_step(id, fp_);
  }
  previous_ = id;
  current_ = kNoTask;
}

void Sched::mark_visible() {
  if (fp_.all) return;
  for (const Access& a : fp_.acc)
    if (a.write && std::find(observed_.begin(), observed_.end(), a.obj) != observed_.end()) {
      fp_.add(obj_id(ObjTag::visible, 0), true);
      return;
    }
}

// The scenario's per-step invariants while a reducing strategy runs on a declared world: their
// reads are recorded and must all be observe()d objects: one that is not would let dpor reorder
// a step that changes what the invariant sees (a model error, not a finding).
std::optional<RunEnd> Sched::check_step_invariants_recorded() {
  inv_reads_.clear();
  Footprint* const saved = t_recorder.fp;
  t_recorder.fp = &inv_reads_;
  auto v = check_invariants(invariants_);
  t_recorder.fp = saved;
  if (inv_reads_.all) throw std::logic_error("dpor: a per-step invariant touches everything");
  for (const Access& a : inv_reads_.acc) {
    if (a.write) throw std::logic_error("dpor: a per-step invariant writes model state");
    if (std::find(observed_.begin(), observed_.end(), a.obj) == observed_.end())
      throw std::logic_error(fmt::format("dpor: a per-step invariant reads object {:#x}, not declared with observe()", a.obj));
  }
  return v;
}

std::optional<RunEnd> Sched::check_invariants(const std::vector<Check>& set) {
  for (const Check& c : set)
    if (auto msg = c.failure()) return RunEnd{Outcome::violation, c.name, std::move(*msg)};
  return std::nullopt;
}

[[gnu::cold, gnu::noinline]] void Sched::fail_check(Outcome outcome, const std::string& name, std::string message) {
  failed_ = RunEnd{outcome, name, std::move(message)};
}

// After every step of every schedule: the model's invariants, then the scenario's. This runs
// some fifty times a schedule, so it is inline in run() (see collect_runnable) and a passing
// check costs its own test and a call; the failure (rare) is built out of line.
[[gnu::always_inline]] inline void Sched::check_after_step() {
  for (const Check& c : model_invariants_)
    if (auto msg = c.failure()) [[unlikely]]
      return fail_check(Outcome::model_invariant, c.name, std::move(*msg));
  if (observer_ && declared_ && !invariants_.empty()) [[unlikely]] {
    if (auto v = check_step_invariants_recorded()) failed_ = std::move(v);
    return;
  }
  for (const Check& c : invariants_)
    if (auto msg = c.failure()) [[unlikely]]
      return fail_check(Outcome::violation, c.name, std::move(*msg));
}

RunEnd Sched::finish(RunEnd end) {
  if (trace_) {
    trace_->header.choices = choices_;
    trace_->header.hz = hz_;
    trace_->footer.outcome = std::string(to_string(end.outcome));
    trace_->footer.property = end.property;
    trace_->footer.message = end.message;
    trace_->footer.steps = step_;
    trace_->footer.t_ns = now_ns_;
  }
  return end;
}

static std::string deadlock_message(const std::vector<std::unique_ptr<Task>>& tasks) {
  std::string m = "no task can run and no timer is pending:";
  for (auto& t : tasks)
    if (!t->daemon && t->state == TaskState::blocked)
      m += fmt::format(" {} blocked at {};", t->name, t->next_label);
  return m;
}

RunEnd Sched::run() {
  if (cache_states_ && !complete_state_fn_)
    throw std::logic_error("state caching needs the world's complete state (Sched::set_complete_state_source)");
  for (;;) {
    if (failed_) return finish(*failed_);
    if (all_work_done()) {
      if (auto v = check_invariants(final_checks_)) return finish(*v);
      return finish({});
    }
    if (step_ >= limits_.max_steps)
      return finish({Outcome::step_limit, "", fmt::format("step limit {} reached", limits_.max_steps)});
    collect_runnable();
    if (runnable_.empty() || (clock_runs_ && timer_due())) {
      if (timers_.empty()) return finish({Outcome::deadlock, "", deadlock_message(tasks_)});
      if (auto end = advance_clock()) return finish(*end);
    } else {
      uint32_t pick = 0;
      const auto of = static_cast<uint32_t>(runnable_.size());
      if (of > 1) {
        // State caching: the state here decides everything after it (the model is
        // deterministic), so a state the strategy has seen ends this run. Asked at choice
        // points only: between them the run has one continuation.
        if (cache_states_ && strategy_.state_point()) {
          StateHasher h;
          hash_state(h);
          complete_state_fn_(h);
          if (strategy_.seen_state(h.key())) return finish({Outcome::cut, "", "state already explored"});
        }
        int cur = -1;
        for (uint32_t i = 0; i < of; ++i)
          if (runnable_[i] == previous_) cur = static_cast<int>(i);
        ChoiceContext ctx{ChoiceKind::schedule, "schedule", step_, runnable_, cur};
        pick = static_cast<uint32_t>(record_choice(of, ctx));
      }
      run_step(runnable_[pick], pick, of > 1 ? of : 0);
    }
    if (trace_) record_state();
    if (!failed_) check_after_step();
  }
}

}  // namespace kpsim
