// Scenario: a named, parameterised world the scheduler runs — the sockets, the tasks that use
// them and the properties that must hold. A scenario builds model objects and spawns tasks; it
// never chooses an interleaving (that is the strategy's job).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sched/sched.h"
#include "scenarios/params.h"

namespace kpsim {

// The model objects of one run; kept alive until the run's tasks are destroyed.
class KernelSide;  // scenarios/kernel_side.h

struct World {
  virtual ~World() = default;
  // Scenario-specific measurements reported with the run (e.g. bytes received).
  virtual nlohmann::ordered_json metrics() const { return nlohmann::ordered_json::object(); }
  // A cheap stand-in for metrics(), for a search that summarizes every schedule's metrics
  // (explore's metrics_over_schedules): appends to `key` bytes that determine metrics() exactly
  // (equal keys, equal metrics), so that the JSON is built once per distinct key instead of once
  // per schedule. Must not allocate more than appending to `key` does. false (the default): no
  // key, metrics() is built for every schedule.
  virtual bool metrics_key(std::string& /*key*/) const { return false; }
  // The model objects' state (sched/state.h, model/state.h), for the trace: asked after every
  // step of a traced run only. Nothing by default (the scheduler still records its own).
  virtual void visit_state(StateVisitor&) const {}
  // For state caching (explore --state-cache, docs/design.md "State caching"), in a scenario
  // whose complete_state() is true: everything the run's future depends on that the scheduler
  // does not hold itself (Sched::hash_state has the tasks' run states, labels and step counts,
  // the clock and the timers): every model object's full contents, not the trace's summary of
  // them, and every value a task keeps across a scheduling point (a coroutine local), with the
  // task's position where its label and step count do not pin it down, and any bookkeeping the
  // scenario's invariants and final checks keep for themselves (a history, a high-water mark).
  // Anything left out makes two different states look equal and the cache cut schedules it
  // should have explored.
  virtual void visit_complete_state(StateVisitor&) const {}
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view summary() const = 0;
  virtual const std::vector<ParamSpec>& params() const = 0;
  virtual std::unique_ptr<World> setup(Sched& s, const Params& p) const = 0;
  virtual RunLimits default_limits() const { return {}; }
  // Whether its worlds' visit_complete_state() reports the whole state (see there). False by
  // default, and then explore --state-cache refuses the scenario: a model whose tasks keep state
  // in coroutine locals cannot be hashed soundly.
  virtual bool complete_state() const { return false; }
  // How the scenario runs on a real kernel and is cross-checked against it (`kpsim kernel`,
  // `kpsim crosscheck`); nullptr: the scenario exists only as a model, or this build has no
  // real-kernel runners (KPSIM_REPLAY=OFF).
  virtual const KernelSide* kernel_side() const { return nullptr; }
  // The script file this scenario was read from; empty for a scenario built into kpsim. Traces
  // record it so that a replay finds the script again.
  virtual std::string_view source() const { return {}; }
  // For `kpsim list`: where the scenario is defined ("scenarios/x.kps (built in)", a script
  // path, or empty for a scenario written in C++).
  virtual std::string definition() const { return {}; }
};

const std::vector<const Scenario*>& all_scenarios();
// A built-in scenario by name, or, for a path (contains '/' or ends in .kps), the script in that
// file (throws script::ScriptError when it cannot be read or parsed). nullptr: no such name.
const Scenario* find_scenario(std::string_view name);

// Applies "key=value" settings over the defaults; throws ParamError naming the problem
// (unknown key, value not among the choices, not an integer, out of range, malformed).
Params resolve_params(const Scenario& sc, const std::vector<std::string>& sets);
// The same from a trace header's params object.
Params resolve_params(const Scenario& sc, const nlohmann::ordered_json& params);

}  // namespace kpsim
