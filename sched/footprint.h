// Footprint: what one step touched, for partial-order reduction (--strategy dpor).
//
// A step's footprint is a set of opaque object ids, each read or written, or `all` ("touches
// everything", the sound answer when nobody recorded what the step did). Two steps of different
// tasks are dependent when either touches everything or both touch one object and at least one
// of them writes it; independent steps commute (running them in either order from the same state
// gives the same state), which is the one thing the reduction assumes (docs/design.md,
// "Partial-order reduction").
//
// Ids are opaque to the strategy. The scheduler names its own objects (a task's run state, a
// CPU, the task table, the timer list, the object allocator) with tagged ids (obj_id); a model
// gets ids for its objects from Sched::new_object(), in creation order, so that they are the same
// in every run.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "sched/task.h"

namespace kpsim {

enum class ObjTag : uint8_t {
  model = 0, task = 1, cpu = 2, task_table = 3, timers = 4, allocator = 5,
  visible = 6,  // what per-step invariants read: written by every step that writes any of it
};

constexpr uint64_t obj_id(ObjTag tag, uint64_t n) { return uint64_t{static_cast<uint8_t>(tag)} << 56 | n; }

struct Access {
  uint64_t obj;
  bool write;
  friend bool operator==(const Access&, const Access&) = default;
};

struct Footprint {
  bool all = false;
  std::vector<Access> acc;  // few per step: a scan beats a set here

  void clear() {
    all = false;
    acc.clear();
  }
  void add(uint64_t obj, bool write) {
    for (Access& a : acc)
      if (a.obj == obj) {
        a.write = a.write || write;
        return;
      }
    acc.push_back({obj, write});
  }
  friend bool operator==(const Footprint&, const Footprint&) = default;
};

// Whether the order of two steps (of different tasks) may matter.
inline bool dependent(const Footprint& a, const Footprint& b) {
  if (a.all || b.all) return true;
  for (const Access& x : a.acc)
    for (const Access& y : b.acc)
      if (x.obj == y.obj && (x.write || y.write)) return true;
  return false;
}

// Where the running step's accesses go: the scheduler of this thread points `fp` at its current
// footprint while a reducing strategy runs (and at the invariants' read set while it evaluates
// them), and leaves it null otherwise, so that a recorded access costs one thread-local load and
// a branch when nobody reduces. `next_object` numbers ObjectIds in construction order; the
// scheduler resets it when a run starts, so that the same object gets the same id in every run.
struct FootprintRecorder {
  Footprint* fp = nullptr;
  uint64_t next_object = 0;
  bool in_step = false;  // a step is running (not setup): constructing an object writes the allocator
};
inline thread_local FootprintRecorder t_recorder;

// The slow path out of line and the test inlined everywhere: with Footprint::add inlined into
// it, record_access itself was too big to inline and saved six registers before its test (15 %
// of a random run's time on the sockmap world, perf).
[[gnu::noinline]] inline void record_access_slow(Footprint* fp, uint64_t obj, bool write) {
  fp->add(obj, write);
}

[[gnu::always_inline]] inline void record_access(uint64_t obj, bool write) {
  if (Footprint* fp = t_recorder.fp) [[unlikely]]
    record_access_slow(fp, obj, write);
}

// An object's id for footprints, given at construction in construction order (the world's
// setup builds in one order; a step that builds an object writes the allocator, so two steps
// that build objects are never reordered and the ids are the same in every schedule of a
// trace). A copy is a new object; a move keeps the id (two objects sharing an id is merely
// conservative: more dependency, never less).
class ObjectId {
 public:
  ObjectId() : id_(fresh()) {}
  ObjectId(const ObjectId&) : id_(fresh()) {}
  ObjectId(ObjectId&& o) noexcept : id_(o.id_) {}
  ObjectId& operator=(const ObjectId&) { return *this; }  // the object stays itself
  ObjectId& operator=(ObjectId&&) noexcept { return *this; }
  uint64_t id() const { return id_; }
  void read() const { record_access(id_, false); }
  void write() const { record_access(id_, true); }

 private:
  static uint64_t fresh() {
    if (t_recorder.in_step) record_access(obj_id(ObjTag::allocator, 0), true);
    return obj_id(ObjTag::model, t_recorder.next_object++);
  }
  uint64_t id_;
};

// Shared<T>: a model field that more than one task's steps may touch, recording every access
// (a read through get() or the conversion, a write through set(), assignment, the compound
// operators or mut()). This is how a world's footprints are sound by construction: a field
// wrapped in Shared cannot be read or written without the access reaching the footprint, and a
// world may call Sched::declare_footprints() only when every field its tasks share is a Shared
// or a scheduler primitive (WaitQueue, Mutex, SockLock, Completion, Work, Timer), which record
// their own accesses. mut() hands out a reference (a container's methods): the whole call is
// counted as a write, conservative for the reads among them.
template <class T>
class Shared {
 public:
  Shared() = default;
  Shared(T v) : v_(std::move(v)) {}  // NOLINT(google-explicit-constructor): a field's initialiser
  Shared(const Shared& o) : v_(o.get()) {}
  Shared& operator=(const Shared& o) {
    set(o.get());
    return *this;
  }
  Shared& operator=(T v) {
    set(std::move(v));
    return *this;
  }
  const T& get() const {
    id_.read();
    return v_;
  }
  operator const T&() const { return get(); }  // NOLINT(google-explicit-constructor)
  const T* operator->() const { return &get(); }
  T& mut() {
    id_.write();
    return v_;
  }
  void set(T v) {
    id_.write();
    v_ = std::move(v);
  }
  template <class U>
  Shared& operator+=(const U& u) {
    mut() += u;
    return *this;
  }
  template <class U>
  Shared& operator-=(const U& u) {
    mut() -= u;
    return *this;
  }
  Shared& operator++() {
    ++mut();
    return *this;
  }
  Shared& operator--() {
    --mut();
    return *this;
  }
  // The value without recording: only for what no step's outcome depends on (trace state,
  // metrics after the run). A step that reads through raw() hides a dependency.
  const T& raw() const { return v_; }
  T& raw_mut() { return v_; }
  uint64_t object() const { return id_.id(); }

 private:
  T v_{};
  ObjectId id_;
};

// SharedPtr<T>: an owning pointer field that more than one task's steps may read or replace
// (a socket's psock). The pointer itself is the recorded object: following it (->, *, get(),
// a test for null) reads it, replacing or releasing it writes it. The pointee is not covered:
// its own shared fields are Shared or primitives, recorded where they are touched.
template <class T>
class SharedPtr {
 public:
  SharedPtr() = default;
  SharedPtr(const SharedPtr&) = delete;
  SharedPtr& operator=(const SharedPtr&) = delete;
  T* get() const {
    id_.read();
    return p_.get();
  }
  T* operator->() const { return get(); }
  T& operator*() const { return *get(); }
  explicit operator bool() const { return get() != nullptr; }
  friend bool operator==(const SharedPtr& a, std::nullptr_t) { return a.get() == nullptr; }
  SharedPtr& operator=(std::unique_ptr<T> p) {
    id_.write();
    p_ = std::move(p);
    return *this;
  }
  std::unique_ptr<T> release() {
    id_.write();
    return std::move(p_);
  }
  void reset() {
    id_.write();
    p_.reset();
  }
  // Without recording: trace state, metrics, final checks (as Shared::raw).
  T* raw() const { return p_.get(); }
  uint64_t object() const { return id_.id(); }

 private:
  std::unique_ptr<T> p_;
  ObjectId id_;
};

// A strategy that reduces by dependencies receives every step's footprint through this hook:
// task steps and timer steps (task kNoTask) alike, in the order they ran. The scheduler records
// footprints only when the strategy asks for them (Strategy::step_observer), so other strategies
// pay nothing.
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  virtual void on_step(TaskId task, const Footprint& fp) = 0;
};

}  // namespace kpsim

// A Shared field in a trace note or message formats its value without recording the read: what
// a note says never changes the run (notes are formatted only when a trace is recorded), and a
// message is formatted from values the step has already read through the field.
template <class T>
struct fmt::formatter<kpsim::Shared<T>> : fmt::formatter<T> {
  auto format(const kpsim::Shared<T>& v, fmt::format_context& ctx) const {
    return fmt::formatter<T>::format(v.raw(), ctx);
  }
};
