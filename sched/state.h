// State visitor: one model's state as (stable name, value) pairs, in a deterministic order.
//
// The model objects say what they hold (model/state.h: a socket's queues, TCP's sequence
// numbers, kTLS's open record, io_uring's task-work list); a World lists its objects
// (World::visit_state); the scheduler adds what it owns itself (armed timers, task states and
// TIF flags). Whoever visits decides what to do with the pairs: the trace recorder keeps those
// that changed since the previous step (Sched, trace format 3), and a canonical state hash
// (state caching, issue 13) can hash the same sequence.
//
// Off the hot path: nothing calls a visitor unless a trace is being recorded.
//
// Names are "object.field" ("p1.ingress_msg.msg_tot_len", "tcp.snd_una"), unique in one visit
// and stable across runs and builds: made of model names (sockets, tasks, timers), never of
// addresses or ids that depend on allocation. Values are integers or short strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kpsim {

class StateVisitor {
 public:
  virtual ~StateVisitor() = default;
  virtual void value(std::string_view name, int64_t v) = 0;
  virtual void value(std::string_view name, std::string_view v) = 0;

  // Conveniences for the model's unsigned fields and flags. A count above INT64_MAX does not
  // occur in the model (byte counts of a run); it would be clamped rather than wrap negative.
  void u(std::string_view name, uint64_t v) {
    value(name, static_cast<int64_t>(v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : v));
  }
  void flag(std::string_view name, bool b) { value(name, int64_t{b ? 1 : 0}); }
  // A string literal is a string, not a bool (the overload a bare `const char*` would pick).
  void value(std::string_view name, const char* v) { value(name, std::string_view(v)); }
};

// Names under a prefix: StatePrefix p(v, "p1"); p.u("rx_queue", n) gives "p1.rx_queue".
class StatePrefix {
 public:
  StatePrefix(StateVisitor& v, std::string prefix) : v_(v), prefix_(std::move(prefix)) {}
  void u(std::string_view field, uint64_t x) { v_.u(name(field), x); }
  void i(std::string_view field, int64_t x) { v_.value(name(field), x); }
  void s(std::string_view field, std::string_view x) { v_.value(name(field), x); }
  void flag(std::string_view field, bool b) { v_.flag(name(field), b); }
  StateVisitor& visitor() { return v_; }
  const std::string& prefix() const { return prefix_; }

 private:
  std::string name(std::string_view field) const {
    std::string n = prefix_;
    n += '.';
    n += field;
    return n;
  }
  StateVisitor& v_;
  std::string prefix_;
};

}  // namespace kpsim
