// Trace: the record of one run. Data first: this struct is what the JSON Lines file holds
// (docs/trace-format.md) and what every renderer reads.
//
// A trace is self-sufficient for replay: the header carries the scenario, its parameters and the
// choice sequence (typed: kind, option count, answer); re-running that sequence must reproduce
// the events byte for byte.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sched/choice.h"

namespace kpsim {

// 3: steps carry the model state that changed (TraceEvent::state). 2: the same without state;
// still read and written back as 2 (without the state), so that a stored trace still compares
// byte for byte under replay --check. 1: bare answers in the header's choices; still read (and
// written back as 1), with the kinds unknown.
inline constexpr int kTraceFormatVersion = 3;
inline constexpr int kOldestTraceFormat = 1;

struct TraceChange {
  std::string obj;     // "p1.ingress_msg"
  std::string change;  // "+8 bytes, msg_tot_len 2→10"
};

struct TraceEvent {
  uint64_t step = 0;   // 1-based
  uint64_t t_ns = 0;   // virtual time when the step ran
  std::string task;    // "p1:recv"; "timer" for a timer callback run by the clock itself
  std::string kind;    // task kind: syscall, softirq, kworker, timer, crypto, task_work, iowq
  std::string label;   // the kernel function or step the task ran
  uint32_t pick = 0, of = 0;  // schedule choice that picked this step (of == 0: no choice)
  std::vector<TraceChange> changes;
  std::vector<std::string> wakes;  // tasks this step made runnable
  // Format 3: the state values this step changed, {name: int | string | null (gone)}, in the
  // order the model reports them; the first step holds all of them (sched/state.h). Null (not
  // an object) when nothing changed or nothing was recorded.
  nlohmann::ordered_json state;
};

struct TraceHeader {
  // The format version read, and the one write_trace writes. Format 1 holds answers only, so
  // choices read from it are untyped, and writing it drops kinds and option counts.
  int format = kTraceFormatVersion;
  // The kpsim that wrote the trace (traces/version.h): an annotation, like `seed`. Written only
  // when set: a run sets it, and a trace read without one (every trace from before the key
  // existed) writes back without one, so old traces stay byte-identical under replay --check.
  std::string kpsim_version;
  std::string scenario;
  // The script file of a scenario read from a file (`kpsim explore my.kps`), as given on the
  // command line; empty for a built-in scenario (and then not written). Replay reads it again.
  std::string script;
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  std::string strategy;
  uint64_t seed = 0;
  ChoiceSeq choices;  // typed (Choice::typed()) in every format-2 trace
  uint64_t hz = 250;
  // The run's step and virtual-time limits, when they were not the scenario's defaults
  // (explore --max-steps / --max-time-ms): a replay runs under them, so a run cut short by a
  // limit is cut short again. 0/0: the scenario's defaults, and the key is not written (every
  // trace from before the key existed, and every run with default limits, is unchanged).
  uint64_t max_steps = 0;
  uint64_t max_time_ns = 0;
  bool has_limits() const { return max_steps != 0 || max_time_ns != 0; }
};

struct TraceFooter {
  std::string outcome;  // done, violation, deadlock, step_limit, time_limit, error
  std::string property;  // the violated property, if any
  std::string message;
  uint64_t steps = 0;
  uint64_t t_ns = 0;
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  nlohmann::ordered_json crosscheck;  // null until a real-kernel replay recorded its result
};

struct Trace {
  TraceHeader header;
  std::vector<TraceEvent> events;
  TraceFooter footer;
};

// JSON Lines: one header line, one line per event, one footer line. Throws std::logic_error for
// a format-2 header with an untyped choice (only a hand-built trace can have one).
void write_trace(std::ostream& out, const Trace& t);
std::string trace_to_string(const Trace& t);
// Parses a trace of format 1 or 2; on malformed input throws TraceError naming the line and the
// problem.
Trace read_trace(std::istream& in);

// A choice sequence as format 2 spells it: [[kind, answer, options], ...] (also what `kpsim
// explore --json` prints). Throws std::logic_error on an untyped choice.
nlohmann::ordered_json choices_to_json(const ChoiceSeq& seq);

struct TraceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace kpsim
