// Sched: the deterministic, single-threaded, discrete-event interleaving scheduler.
//
// Mechanism only. It runs tasks (coroutines) one step at a time: a step is what a task does
// between two scheduling points. Before each step it collects the runnable tasks and, when there
// is more than one, asks the strategy (a choice point). When nothing is runnable the virtual
// clock jumps to the next timer. Models see only the primitives (point, wait queues, locks,
// completions, work, timers, the clock, signal flags); strategies see only choice points.
//
// Determinism: tasks are kept in creation order and named by index; timers are ordered by
// (deadline, creation id); nothing reads wall-clock time, addresses or unordered containers.
#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "sched/choice.h"
#include "sched/co.h"
#include "sched/footprint.h"
#include "sched/state.h"
#include "sched/state_hash.h"
#include "sched/strategy.h"
#include "sched/task.h"
#include "traces/trace.h"

namespace kpsim {

// model_invariant: a model's own bookkeeping broke (a kpsim bug, not a kernel finding).
// cut: state caching ended the run at a state already explored (explore --state-cache); not an
// outcome of the model: a search counts cut runs apart and reports no outcome for them.
enum class Outcome : uint8_t { done, violation, deadlock, step_limit, time_limit, error, model_invariant, cut };
std::string_view to_string(Outcome o);

struct RunLimits {
  uint64_t max_steps = 100000;
  uint64_t max_time_ns = 600ull * 1000 * 1000 * 1000;  // 10 virtual minutes
};

struct RunEnd {
  Outcome outcome = Outcome::done;
  std::string property;  // set for violation
  std::string message;
};

// A timer's firing window, as in the Netsem TCP specification: it may fire anywhere in
// [deadline - early_ns, deadline + late_ns]. Both zero (the default): exactly at the deadline.
struct TimerWindow {
  uint64_t early_ns = 0;
  uint64_t late_ns = 0;
};

class Sched {
 public:
  explicit Sched(Strategy& strategy, RunLimits limits = {}, uint32_t hz = 250);
  ~Sched();
  Sched(const Sched&) = delete;
  Sched& operator=(const Sched&) = delete;

  // ---- setting up a run -------------------------------------------------------------------
  // first_label names the task's first step (the function it starts in).
  TaskId spawn(std::string name, TaskKind kind, Co<> body, bool daemon = false,
               std::string_view first_label = "start");
  // Checked after every step; returns a message when violated.
  using Invariant = std::function<std::optional<std::string>()>;
  void add_invariant(std::string property, Invariant check);
  // A model's own invariant (e.g. sk_wmem_queued == the truesize of its queues), checked after
  // every step before the scenario's; a broken one ends the run as Outcome::model_invariant.
  void add_model_invariant(std::string name, Invariant check);
  // The same two, as a test on one object: Holds(obj) is the check, a plain predicate called
  // directly (no std::function, no message) because these run after every step of every
  // schedule; Explain(obj) builds the message only when Holds fails.
  //   s.add_model_invariant<tcp_accounting_holds, tcp_accounting_message>("tcp-accounting", tp);
  template <auto Holds, auto Explain, class T>
  void add_invariant(std::string property, const T& obj) {
    add_check(invariants_, std::move(property), &obj, &holds_of<T, Holds>, &explain_of<T, Explain>);
  }
  template <auto Holds, auto Explain, class T>
  void add_model_invariant(std::string name, const T& obj) {
    add_check(model_invariants_, std::move(name), &obj, &holds_of<T, Holds>, &explain_of<T, Explain>);
  }
  // Checked once when all non-daemon tasks have finished.
  void add_final_check(std::string property, Invariant check);
  void set_trace(Trace* trace) { trace_ = trace; }
  // The model's state (sched/state.h), asked after every step while a trace is recorded: each
  // trace step keeps the values that changed since the step before (the first: all of them),
  // with the scheduler's own (visit_state) first. Never called on an untraced run.
  using StateFn = std::function<void(StateVisitor&)>;
  void set_state_source(StateFn f) { state_fn_ = std::move(f); }
  // What the scheduler owns: each task's state and signal flags, each armed timer's deadline.
  void visit_state(StateVisitor& v) const;
  // State caching (Strategy::caches_states, docs/design.md "State caching"): the world's
  // complete state, everything its future depends on beyond what the scheduler holds itself
  // (World::visit_complete_state). A caching strategy needs it: run() refuses to start without.
  void set_complete_state_source(StateFn f) { complete_state_fn_ = std::move(f); }
  // The scheduler's part of the state key, complete for what it owns: the step count and the
  // clock, each task's name, kind, CPU, run state, position (next label and steps taken), sleep
  // bookkeeping and signal flags, each armed timer (id, deadline, window, name), the id
  // counters, and the runnable set. Not the previous task (it orders a strategy's options, it
  // changes no successor).
  void hash_state(StateHasher& h) const;
  void set_default_timer_window(TimerWindow w) { default_window_ = w; }

  RunEnd run();

  // ---- what models use --------------------------------------------------------------------
  // A preemption point: the current task stops here; `label` names the step it runs next (the
  // kernel function or step). Labels must outlive the run (string literals, or intern()).
  struct PointAwaiter {
    Sched& s;
    std::string_view label;
    bool to_user = false;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept;
    void await_resume() const noexcept {}
  };
  PointAwaiter point(std::string_view label) { return {*this, label, false}; }
  // A point at a return to user space (between syscalls): on a non-preemptible kernel the
  // only place where another task of the same CPU may take over from a running task.
  PointAwaiter user_point(std::string_view label) { return {*this, label, true}; }
  // Places a task on a CPU (see Task::cpu). By default every task has a CPU of its own.
  void set_cpu(TaskId t, int cpu);
  // Hands the current task's CPU to runnable task `to` of the same CPU: `to` holds it from now
  // on, so when the current task next stops at a point that releases the CPU (a user_point, a
  // sleep, its end) `to` takes the next step of that CPU, and the current task waits until `to`
  // releases it in turn. Mechanism only: which task, and when, is the model's decision (a
  // context switch its own rules call for). A no-op unless `to` is runnable on the current
  // task's CPU.
  void hand_cpu(TaskId to);
  // Called whenever a task becomes runnable during a step: a wake-up of a blocked task, or a task
  // spawned by a step (reported by its spawner with woke_new, once its CPU is set). The model
  // decides what a wake-up implies for the task running (Sched::current(), the waker), e.g. that
  // it should give up its CPU at its next return to user space; nullptr: nothing.
  using WakeObserver = std::function<void(TaskId woken)>;
  void set_wake_observer(WakeObserver f) { wake_observer_ = std::move(f); }
  // A task spawned by the current step, now placed (set_cpu): tells the wake observer.
  void woke_new(TaskId t) {
    if (wake_observer_ && current_ != kNoTask) wake_observer_(t);
  }

  // Blocks the current task; it resumes at `h` when made runnable again. Used by primitives.
  // timeout_ns: relative; nullopt sleeps until woken.
  void block_current(std::coroutine_handle<> h, std::string_view label, WaitQueue* wq,
                     bool interruptible, std::optional<uint64_t> timeout_ns);
  // Makes a blocked task runnable (a no-op for a task that is not blocked).
  void wake(TaskId t, WakeReason why);
  // set_notify_signal(): TIF_NOTIFY_SIGNAL, waking the task if it sleeps interruptibly.
  void set_notify_signal(TaskId t);
  // A real signal (e.g. SIGINT): sets sigpending, wakes an interruptible sleep.
  void send_signal(TaskId t);

  Task& current() { return *tasks_[current_]; }
  TaskId current_id() const { return current_; }
  // Another task's record, as a model reaches it (its flags, its name): counted as a write of
  // that task's run state (dpor), conservative for the reads among them.
  Task& task(TaskId t) {
    touch(obj_id(ObjTag::task, t), true);
    return *tasks_[t];
  }
  size_t task_count() const { return tasks_.size(); }

  // A nondeterministic decision of a model; goes through the strategy like every choice.
  size_t choose(size_t n, ChoiceKind kind, std::string_view reason);
  // The same, for a decision whose options other than 0 are rare events (ChoiceContext::unlikely).
  size_t choose_unlikely(size_t n, ChoiceKind kind, std::string_view reason);

  // ---- dependencies, for partial-order reduction (docs/design.md) ---------------------------
  // A world calls declare_footprints() in setup when every access its steps make to state that
  // another task's step may also touch is recorded, through touch(), Shared<T> fields
  // (sched/footprint.h) or the primitives (WaitQueue, Mutex, SockLock, Completion, Work, Timer),
  // which record their own. Until then every task step touches everything (sound: dpor then
  // reduces nothing).
  // Whatever a world declares, the scheduler adds what it knows itself: a step of task T writes
  // T's run state (a wake-up of T or a signal to T touches it too), a step on a CPU writes the
  // CPU, spawning writes the task table, timers the timer list; a timer step touches everything.
  void declare_footprints() { declared_ = true; }
  // Per-step invariants (add_invariant) see states in between steps, which differ between the
  // schedules of one trace; a declared world names every object its invariants read, and every
  // step that writes one of them also writes one "visible" object, so that such steps keep their
  // order in every schedule of a trace and the invariant sees the same sequence of values (the
  // visibility condition of partial-order reduction). While dpor runs, the invariants' reads are
  // recorded after each step and a read of an object not named here is a model error (thrown).
  void observe(uint64_t obj) { observed_.push_back(obj); }
  bool footprints_declared() const { return declared_; }
  // Whether footprints are being recorded (a reducing strategy runs).
  bool recording_footprints() const { return observer_ != nullptr; }
  // Records that the current step reads (write = false) or writes object `obj` (an id from
  // new_object()). A no-op unless the strategy reduces by dependencies.
  void touch(uint64_t obj, bool write) const { record_access(obj, write); }
  // The current step touches everything (an access that cannot be named).
  void touch_all() {
    if (Footprint* fp = t_recorder.fp) fp->all = true;
  }
  // A fresh object id for touch(): dense, in creation order (shared with ObjectId's numbering),
  // the same in every run. Allocating during a step writes the allocator, so that two steps
  // that allocate are never reordered (the ids they get would swap).
  uint64_t new_object() {
    if (t_recorder.in_step) touch(obj_id(ObjTag::allocator, 0), true);
    return obj_id(ObjTag::model, t_recorder.next_object++);
  }

  // ---- virtual time ----------------------------------------------------------------------
  uint64_t now_ns() const { return now_ns_; }
  uint32_t hz() const { return hz_; }
  uint64_t jiffies() const { return now_ns_ / jiffy_ns(); }
  uint64_t jiffy_ns() const { return 1000000000ull / hz_; }
  uint64_t jiffies_to_ns(uint64_t j) const { return j * jiffy_ns(); }
  // A step that takes CPU time (a model's cost model, model/kernel/sched/cputime.h): the clock
  // moves on by `ns` inside the step. From then on the clock also moves while tasks run, so a
  // timer whose deadline has passed fires before the next step of any task (a timer interrupt
  // does not wait for the CPU to go idle); without it a timer fires only when every task
  // sleeps, which is exact while steps cost nothing.
  void run_for(uint64_t ns) {
    now_ns_ += ns;
    clock_runs_ = true;
  }

  // Timers on the virtual clock. The callback runs atomically when the clock reaches the firing
  // point (a timer softirq that only queues work or wakes a task); to run model code with
  // scheduling points, spawn a task from the callback. Returns an id for cancel_timer.
  uint64_t add_timer(uint64_t expires_ns, std::string_view name, std::function<void()> fire,
                     std::optional<TimerWindow> window = std::nullopt);
  // The same with the callback as a function and its arguments, as a timer_list holds its
  // function and the timer: what Timer and schedule_timeout arm, a dozen times a schedule. A
  // std::function built, moved into the list, moved again by every cancel before it in the
  // list and destroyed cost about a third of each arm and cancel.
  using TimerFn = void (*)(void* ctx, uint64_t data);
  uint64_t add_timer(uint64_t expires_ns, std::string_view name, TimerFn fn, void* ctx, uint64_t data,
                     std::optional<TimerWindow> window = std::nullopt);
  bool cancel_timer(uint64_t id);  // true if it was pending
  bool timer_pending(uint64_t id) const;

  // ---- checkers and trace ----------------------------------------------------------------
  // Ends the run after the current step with a property violation (a model's assertion).
  void fail(std::string property, std::string message);
  bool tracing() const { return trace_ != nullptr; }
  // What a note is about: a name ("tls"), or an object's name and one of its fields
  // ({sk.name, ".ingress_msg"}), joined only when the note is recorded: untraced, the models
  // built and freed that string for nothing on every note (1.5 % of a seed-000 schedule).
  struct NoteObj {
    std::string_view base, field;
    NoteObj(const char* b) : base(b) {}               // NOLINT(google-explicit-constructor)
    NoteObj(std::string_view b) : base(b) {}          // NOLINT(google-explicit-constructor)
    NoteObj(const std::string& b) : base(b) {}        // NOLINT(google-explicit-constructor)
    NoteObj(std::string_view b, std::string_view f) : base(b), field(f) {}
    std::string str() const { return std::string(base).append(field); }
  };
  // Records a state change on the current step (skipped, unformatted, when not tracing).
  template <class... A>
  void note(NoteObj obj, fmt::format_string<A...> f, A&&... args) {
    if (trace_) note_str(obj.str(), fmt::format(f, std::forward<A>(args)...));
  }
  void note_str(std::string_view obj, std::string change);
  // Stores a label built at run time for the rest of the run.
  std::string_view intern(std::string s);
  // A step label built at run time ("send c1 2B"): formatted and interned only when tracing;
  // an untraced run, where nobody reads labels but a deadlock message, gets `untraced`.
  template <class... A>
  std::string_view label(std::string_view untraced, fmt::format_string<A...> f, A&&... args) {
    return trace_ ? intern(fmt::format(f, std::forward<A>(args)...)) : untraced;
  }

  // Every choice point of the run so far, typed: kind, option count, answer.
  const ChoiceSeq& choices() const { return choices_; }
  // The same, moved out once the run is over (choices() is empty after).
  ChoiceSeq take_choices() { return std::move(choices_); }
  uint64_t steps() const { return step_; }

 private:
  struct TimerEntry {
    uint64_t id;
    uint64_t deadline_ns;
    TimerWindow window;
    std::string_view name;
    TimerFn fn;
    void* ctx;
    uint64_t data;
    std::unique_ptr<std::function<void()>> owned;  // a std::function callback: ctx points to it
  };

  size_t record_choice(size_t n, const ChoiceContext& ctx);
  bool all_work_done() const;
  std::optional<RunEnd> advance_clock();
  // One check: a typed test on an object (holds/explain/obj) or a general Invariant (fn).
  struct Check {
    std::string name;
    const void* obj = nullptr;
    bool (*holds)(const void*) = nullptr;
    std::string (*explain)(const void*) = nullptr;
    Invariant fn;
    // The message when the check fails, nullopt when it holds.
    std::optional<std::string> failure() const {
      if (holds) {
        if (holds(obj)) [[likely]]
          return std::nullopt;
        return explain(obj);
      }
      return fn();
    }
  };
  template <class T, auto Holds>
  static bool holds_of(const void* obj) {
    return Holds(*static_cast<const T*>(obj));
  }
  template <class T, auto Explain>
  static std::string explain_of(const void* obj) {
    return Explain(*static_cast<const T*>(obj));
  }
  static void add_check(std::vector<Check>& set, std::string name, const void* obj, bool (*holds)(const void*),
                        std::string (*explain)(const void*));
  std::optional<RunEnd> check_invariants(const std::vector<Check>& set);
  void run_step(TaskId t, uint32_t pick, uint32_t of);
  void collect_runnable();
  void collect_runnable_walk();
  RunEnd finish(RunEnd end);
  void record_state();

  Strategy& strategy_;
  RunLimits limits_;
  uint32_t hz_;
  std::vector<std::unique_ptr<Task>> tasks_;
  TaskId current_ = kNoTask;
  TaskId previous_ = kNoTask;
  uint64_t step_ = 0;
  uint64_t now_ns_ = 0;
  bool clock_runs_ = false;  // a step advanced the clock (run_for): due timers preempt tasks
  bool timer_due() const;
  std::vector<TimerEntry> timers_;  // few at a time: a scan beats a heap here
  uint64_t next_timer_id_ = 1;
  TimerWindow default_window_{};
  std::vector<Check> invariants_;
  std::vector<Check> model_invariants_;
  std::vector<Check> final_checks_;
  std::optional<RunEnd> failed_;
  ChoiceSeq choices_;
  Trace* trace_ = nullptr;
  StateFn state_fn_;
  StateFn complete_state_fn_;
  bool cache_states_ = false;  // the strategy caches states (fixed at construction)
  // The state after the last recorded step, by name (only while tracing).
  std::map<std::string, nlohmann::ordered_json, std::less<>> last_state_;
  size_t state_steps_ = 0;  // trace steps whose state is recorded
  std::vector<std::unique_ptr<std::string>> interned_;
  std::vector<TaskId> runnable_;    // scratch, reused every step
  std::vector<TaskId> cpu_holder_;  // scratch: per CPU, the task holding it in the kernel
  // The run states collect_runnable needs, kept as bit sets beside the tasks (bit i: task i) so
  // that a step's pick does not walk every Task behind its pointer (7 % of a seed-002 schedule).
  // Every change of a task's state, holds_cpu or cpu updates them. Runs with more than
  // kMaskTasks tasks fall back to the walk.
  static constexpr size_t kMaskTasks = 64;
  uint64_t runnable_mask_ = 0;          // state == runnable
  uint64_t holder_mask_ = 0;            // holds_cpu
  std::vector<uint64_t> cpu_tasks_;     // per CPU: the tasks placed on it
  static uint64_t task_bit(TaskId id) { return id < kMaskTasks ? uint64_t{1} << id : 0; }
  void set_runnable_bit(TaskId id, bool on) {
    runnable_mask_ = on ? runnable_mask_ | task_bit(id) : runnable_mask_ & ~task_bit(id);
  }
  void set_holder_bit(TaskId id, bool on) {
    holder_mask_ = on ? holder_mask_ | task_bit(id) : holder_mask_ & ~task_bit(id);
  }
  std::vector<size_t> timer_cand_;  // scratch: advance_clock's timers that may fire next
  size_t live_tasks_ = 0;           // non-daemon tasks not done yet
  StepObserver* observer_ = nullptr;  // the strategy's, when it reduces by dependencies
  Footprint fp_;  // the current step's, recorded only for observer_ (through t_recorder)
  Footprint inv_reads_;  // scratch: what the invariants read after a step (dpor only)
  std::vector<uint64_t> observed_;  // what the invariants may read (observe())
  FootprintRecorder saved_recorder_;  // the thread's recorder before this scheduler, restored after
  bool declared_ = false;
  WakeObserver wake_observer_;
  void mark_visible();
  std::optional<RunEnd> check_step_invariants_recorded();
  void check_after_step();
  void fail_check(Outcome outcome, const std::string& name, std::string message);
};

}  // namespace kpsim
