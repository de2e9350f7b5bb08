// The kernel side of every script scenario: the script's Program on this machine's kernel
// (replay/script_runner.h) and the cross-check of its outcomes against the model's
// (docs/crosscheck.md). The generalisation of sockmap_multi_channels_kernel.cpp to any script.
//
// An outcome, for any script: "<kworker_class> recv=<every recv return> fionread=<each
// fionread/wait_fionread step's value>" (replay::outcome_key). The kworker class says whether
// the psock backlog worker had delivered the redirected data when the first recv began; the
// model reports it (metrics.kworker_class), the runner observes it with raw tracepoints.
// crosscheck: every outcome the model can produce (dfs, exhaustive) must be produced by the
// kernel (natural runs, and runs under the schedules that force each class), and every outcome
// the kernel produces must be one the model can produce.
#include <sys/utsname.h>

#include <map>
#include <set>

#include <fmt/format.h>

#include "replay/script_runner.h"
#include "scenarios/kernel_side.h"
#include "scenarios/runner.h"
#include "scenarios/script/script_scenario.h"
#include "sched/strategy_dfs.h"

namespace kpsim::script {
namespace {

using replay::Schedule;
using json = nlohmann::ordered_json;

constexpr uint64_t kKernelRuns = 100, kNaturalRuns = 200, kForcedRuns = 20;
constexpr uint64_t kMaxModelSchedules = 1000000;

enum class Use : uint8_t { kernel, crosscheck };

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

void require_kernel() {
  const auto a = replay::check_available();
  if (!a.ok) throw KernelError("the real-kernel runner cannot run here: " + a.reason);
}

const ScriptScenario& script_of(const Scenario& sc) {
  const auto* s = dynamic_cast<const ScriptScenario*>(&sc);
  if (s == nullptr)
    throw KernelError(fmt::format("{}: not a script scenario, the script runner cannot run it", sc.name()));
  return *s;
}

// The Program for r.params, refused (ParamError, before the kernel is touched) where the host
// cannot reproduce it. fionread: the running kernel has the FIONREAD semantics it has, for
// kernel and crosscheck alike. Every other model setting is a reading of the kernel, not a
// setting of it: a cross-check judges it (the kernel may refute it); `kpsim kernel` cannot
// make the kernel behave so and refuses anything but the default.
Program host_program(const Scenario& sc, const Params& p, Use use) {
  const ScriptScenario& s = script_of(sc);
  for (const auto& spec : sc.params()) {
    if (!s.is_model_setting(spec.name)) continue;
    if (spec.name == "fionread")
      require_default(sc, p, spec.name,
                      "the running kernel has the FIONREAD semantics it has");
    else if (use == Use::kernel)
      require_default(sc, p, spec.name,
                      "it is the model's reading of the kernel, not a setting of it; crosscheck "
                      "judges it");
  }
  Program prog = s.program(p);
  // Settings fixed in the script itself rather than as parameters.
  const ModelSettings defaults;
  if (prog.model.fionread != defaults.fionread)
    throw ParamError(fmt::format("{}: model fionread={} cannot be reproduced on the kernel: the "
                                 "running kernel has the FIONREAD semantics it has",
                                 sc.name(), prog.model.fionread));
  if (use == Use::kernel && (prog.model.self_redirect != defaults.self_redirect ||
                             prog.model.kworker_cpu != defaults.kworker_cpu ||
                             prog.model.preempt != defaults.preempt))
    throw ParamError(fmt::format("{}: model self_redirect={} kworker_cpu={} preempt={} cannot be "
                                 "reproduced on the kernel: they are the model's readings of it; "
                                 "crosscheck judges them",
                                 sc.name(), prog.model.self_redirect, prog.model.kworker_cpu,
                                 prog.model.preempt));
  if (auto why = replay::unsupported_feature(prog); !why.empty())
    throw ParamError(fmt::format("{}: the host runner cannot do this: {}", sc.name(), why));
  return prog;
}

struct KernelStats {
  std::map<std::string, uint64_t> outcomes;  // first recv value -> runs
  std::map<std::string, uint64_t> classes;
  std::map<std::string, uint64_t> keys;  // full outcome key -> runs
  uint64_t runs = 0, failed_assertions = 0, total_us = 0, setup_us = 0;
  std::string first_failure;  // the first failed expectation seen
  double failure_rate() const {
    return runs ? static_cast<double>(failed_assertions) / static_cast<double>(runs) : 0.0;
  }
  double per_run_us() const {
    return runs ? static_cast<double>(total_us) / static_cast<double>(runs) : 0.0;
  }
};

KernelStats run_kernel(const Program& prog, Schedule sched, uint64_t runs) {
  KernelStats st;
  for (uint64_t i = 0; i < runs && !replay::interrupted(); ++i) {
    const auto r = replay::run_script(prog, sched);
    if (replay::interrupted()) break;  // a cut-short run is no outcome
    if (!r.error.empty()) throw KernelError("kernel run failed: " + r.error);
    ++st.runs;
    ++st.outcomes[r.recv_results.empty() ? "none" : std::to_string(r.recv_results.front())];
    ++st.classes[r.schedule_class];
    ++st.keys[replay::outcome_key(r)];
    if (!r.failed_expectations.empty()) {
      ++st.failed_assertions;
      if (st.first_failure.empty()) st.first_failure = r.failed_expectations.front();
    }
    st.total_us += r.run_us;
    st.setup_us += r.setup_us;
  }
  return st;
}

// --schedule: a steering of the runner, or from:TRACE — the class that trace's run took.
Schedule schedule_of(const Scenario& sc, const KernelRequest& r) {
  if (r.schedule_from) {
    const auto& m = *r.schedule_from;
    if (!m.contains("kworker_class") || !m["kworker_class"].is_string() ||
        m["kworker_class"].get<std::string>().empty())
      throw ParamError(r.schedule + ": the trace has no kworker_class metric");
    return m["kworker_class"] == "kworker-after-recv" ? Schedule::kworker_late : Schedule::kworker_first;
  }
  if (r.schedule.empty()) return Schedule::natural;
  std::string n = r.schedule;
  for (auto& c : n) c = c == '-' ? '_' : c;
  const auto s = replay::parse_schedule(n);
  if (!s)
    throw ParamError(fmt::format("{}: unknown schedule '{}' (natural, kworker-late, kworker-first, "
                                 "kworker-between, from:TRACE)", sc.name(), r.schedule));
  return *s;
}

template <typename T>
std::vector<T> int_list(const json& m, const char* key) {
  std::vector<T> out;
  if (!m.contains(key) || !m[key].is_array()) return out;
  for (const auto& v : m[key]) out.push_back(v.get<T>());
  return out;
}

struct ModelOutcomes {
  std::set<std::string> keys;
  // Outcomes only runs with a scheduler-tick reschedule reach (model preempt = tick): the
  // kernel shows them when a tick lands in a window of microseconds, so a cross-check of a few
  // hundred runs may well not. Subset of keys.
  std::set<std::string> tick_only;
  bool exhaustive = false;
  uint64_t schedules = 0;
  std::map<std::string, uint64_t> ends;  // run end (done, violation, step_limit, ...) -> runs
};

// Every outcome of the model, by exhaustive dfs over the scenario (as the seed's side does).
// Runs cut off by a limit or broken (model invariant) have no outcome and are only counted.
ModelOutcomes model_outcomes(const Scenario& sc, const Params& p) {
  DfsStrategy dfs;
  ModelOutcomes out;
  std::set<std::string> with_tick, without_tick;
  RunOptions o;
  o.limits = sc.default_limits();
  // An interrupt also ends the model's search (the command then reports and exits 130).
  while (out.schedules < kMaxModelSchedules && !replay::interrupted() && dfs.begin_run()) {
    RunResult r = run_once(sc, p, dfs, o);
    ++out.schedules;
    ++out.ends[std::string(to_string(r.end.outcome))];
    if (r.end.outcome != Outcome::done && r.end.outcome != Outcome::violation) continue;
    const auto& m = r.metrics;
    const std::string cls = m.contains("kworker_class") && m["kworker_class"].is_string()
                                ? m["kworker_class"].get<std::string>()
                                : std::string();
    const auto samples = int_list<int64_t>(m, "fionread_samples");
    std::string key = replay::outcome_key(cls, int_list<int>(m, "recv_results"),
                                          int_list<int64_t>(m, "fionread_results"),
                                          samples.empty() ? -1 : samples.front());
    const bool tick = m.contains("sched_ticks") && m["sched_ticks"].is_number() && m["sched_ticks"].get<int>() > 0;
    (tick ? with_tick : without_tick).insert(key);
    out.keys.insert(std::move(key));
  }
  for (const auto& k : with_tick)
    if (!without_tick.contains(k)) out.tick_only.insert(k);
  out.exhaustive = dfs.exhaustive();
  return out;
}

class ScriptKernelSide final : public KernelSide {
 public:
  std::vector<std::string> targets() const override { return {std::string(kHostTarget)}; }
  std::string_view summary() const override {
    return "host: BPF script runner (root); --schedule natural|kworker-late|kworker-first|kworker-between|from:TRACE";
  }

  // The options of the guest side that mean nothing here.
  static void refuse_host_only(const Scenario& sc, const KernelRequest& r) {
    if (!r.sweeps.empty())
      refuse_option(sc, "--sweep", "the host cross-check compares outcomes of one parameter set (the guest sweeps)");
    if (r.run_timeout_s) refuse_option(sc, "--run-timeout", "a host run takes milliseconds; its own limit is 120 s");
  }

  KernelReport run(const Scenario& sc, const KernelRequest& r) const override {
    refuse_host_only(sc, r);
    const Program prog = host_program(sc, r.params, Use::kernel);
    const Schedule sched = schedule_of(sc, r);
    require_kernel();
    replay::install_interrupt_handler();
    const KernelStats st = run_kernel(prog, sched, r.runs.value_or(kKernelRuns));
    KernelReport rep;
    json& j = rep.json;
    j["scenario"] = sc.name();
    j["params"] = r.params.to_json();
    j["schedule"] = replay::schedule_name(sched);
    j["kernel"] = kernel_release();
    j["runs"] = st.runs;
    j["outcomes"] = st.outcomes;
    j["classes"] = st.classes;
    j["detailed"] = st.keys;
    j["failed_assertions"] = st.failed_assertions;
    if (!st.first_failure.empty()) j["first_failure"] = st.first_failure;
    j["per_run_us"] = st.per_run_us();
    rep.interrupted = replay::interrupted();
    j["interrupted"] = rep.interrupted;
    rep.text = fmt::format("kernel {}  {} {}  schedule {}  runs {}\n", kernel_release(), sc.name(),
                           r.params.to_line(), replay::schedule_name(sched), st.runs);
    for (auto& [k, v] : st.keys) rep.text += fmt::format("  {:>6}  {}\n", v, k);
    rep.text += fmt::format("test assertion failed in {} of {} runs; {:.0f} us per run (steps only)\n",
                            st.failed_assertions, st.runs, st.per_run_us());
    if (!st.first_failure.empty()) rep.text += fmt::format("first failure: {}\n", st.first_failure);
    if (rep.interrupted)
      rep.text += fmt::format("interrupted: {} runs completed (shown above), the rest not run\n", st.runs);
    return rep;
  }

  KernelReport crosscheck(const Scenario& sc, const KernelRequest& r) const override {
    refuse_host_only(sc, r);
    const Program prog = host_program(sc, r.params, Use::crosscheck);
    require_kernel();
    replay::install_interrupt_handler();

    const ModelOutcomes model = model_outcomes(sc, r.params);

    // Kernel: the natural schedule, then each class forced.
    const uint64_t forced = r.forced_runs.value_or(kForcedRuns);
    const KernelStats natural = run_kernel(prog, Schedule::natural, r.runs.value_or(kNaturalRuns));
    const KernelStats late = run_kernel(prog, Schedule::kworker_late, forced);
    const KernelStats first = run_kernel(prog, Schedule::kworker_first, forced);
    const KernelStats between = run_kernel(prog, Schedule::kworker_between, forced);
    std::map<std::string, uint64_t> kernel;  // full key -> runs
    for (auto* st : {&natural, &late, &first, &between})
      for (auto& [k, v] : st->keys) kernel[k] += v;

    // Verdicts: a model outcome is reproduced when the kernel produced it up to its first
    // FIONREAD sample (how far the worker had got at the first poll is timing the steering
    // does not pin down); a kernel outcome is kernel-only unless the model has it in full. An
    // outcome the model reaches only through a scheduler tick's resched is not required of the
    // kernel (no steering forces the tick; naturally it comes about once in a thousand runs).
    const auto without_first_poll = [](const std::string& k) { return k.substr(0, k.find(" fionread0=")); };
    std::set<std::string> kernel_coarse;
    for (auto& [k, v] : kernel) kernel_coarse.insert(without_first_poll(k));
    json verdicts = json::array();
    bool agree = model.exhaustive && !replay::interrupted() && !model.ends.contains("model_invariant");
    for (auto& k : model.keys) {
      const bool ok = kernel_coarse.contains(without_first_poll(k));
      const bool rare = model.tick_only.contains(k);
      agree = agree && (ok || rare);
      verdicts.push_back({{"outcome", k},
                          {"verdict", ok ? "reproduced" : rare ? "not reproduced (tick)" : "not reproduced"}});
    }
    for (auto& [k, v] : kernel) {
      if (model.keys.contains(k)) continue;
      agree = false;
      verdicts.push_back({{"outcome", k}, {"verdict", "kernel-only"}, {"runs", v}});
    }
    KernelReport rep;
    rep.agree = agree;
    rep.interrupted = replay::interrupted();
    json& j = rep.json;
    j["scenario"] = sc.name();
    j["params"] = r.params.to_json();
    j["kernel"] = kernel_release();
    j["model_exhaustive"] = model.exhaustive;
    j["model_schedules"] = model.schedules;
    j["model_run_ends"] = model.ends;
    j["model_outcomes"] = model.keys;
    j["model_tick_only"] = model.tick_only;
    j["kernel_outcomes"] = kernel;
    j["verdicts"] = verdicts;
    j["natural"] = {{"runs", natural.runs}, {"failure_rate", natural.failure_rate()}};
    j["kworker_late"] = {{"runs", late.runs}, {"failure_rate", late.failure_rate()}};
    j["kworker_first"] = {{"runs", first.runs}, {"failure_rate", first.failure_rate()}};
    j["kworker_between"] = {{"runs", between.runs}, {"failure_rate", between.failure_rate()}};
    j["agree"] = agree;
    j["interrupted"] = rep.interrupted;
    rep.annotation = {{"kernel", kernel_release()}, {"agree", agree}, {"verdicts", verdicts},
                      {"natural_failure_rate", natural.failure_rate()}};
    std::string& t = rep.text;
    t = fmt::format("crosscheck {} {} on kernel {}\n", sc.name(), r.params.to_line(), kernel_release());
    t += fmt::format("model (dfs, exhaustive {}, {} schedules): {} outcomes\n",
                     model.exhaustive ? "yes" : "no", model.schedules, model.keys.size());
    for (auto& k : model.keys)
      t += "    " + k + (model.tick_only.contains(k) ? "   (only with a scheduler tick)\n" : "\n");
    t += "kernel runs (natural + forced):\n";
    for (auto& [k, v] : kernel) t += fmt::format("  {:>6}  {}\n", v, k);
    for (auto& v : verdicts)
      t += fmt::format("  {:<21} {}\n", v["verdict"].get<std::string>(), v["outcome"].get<std::string>());
    t += fmt::format("test failure rate: natural {:.1f}% ({} runs), kworker-late {:.1f}%, kworker-first "
                     "{:.1f}%, kworker-between {:.1f}%\n",
                     100 * natural.failure_rate(), natural.runs, 100 * late.failure_rate(),
                     100 * first.failure_rate(), 100 * between.failure_rate());
    if (rep.interrupted)
      t += fmt::format("interrupted: the runs above completed ({} natural, {} + {} + {} forced), the rest "
                       "not run; no verdict\n", natural.runs, late.runs, first.runs, between.runs);
    else
      t += agree ? "model and kernel agree\n" : "model and kernel DISAGREE\n";
    return rep;
  }
};

}  // namespace

const KernelSide* script_kernel_side() {
  static const ScriptKernelSide side;
  return &side;
}

}  // namespace kpsim::script
