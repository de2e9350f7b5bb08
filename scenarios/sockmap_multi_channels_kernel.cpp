// sockmap-multi-channels' kernel side: the Script on this machine's kernel (replay/sockmap_runner.h)
// and the cross-check of its outcomes against the model's (docs/crosscheck.md §5).
//
// An outcome is (schedule class, first recv value, first FIONREAD sample). The schedule class
// says whether p1's backlog worker had delivered the redirected data when the first recv
// began; the model reports it (metrics.kworker_class), the runner observes it with raw
// tracepoints. crosscheck: every outcome the model can produce (dfs, exhaustive) must be
// produced by the kernel under the schedule that forces its class, and every outcome the
// kernel produces (natural and forced runs) must be one the model can produce.
#include "scenarios/sockmap_multi_channels_kernel.h"

#include <sys/utsname.h>

#include <map>
#include <set>

#include <fmt/format.h>

#include "replay/sockmap_runner.h"
#include "scenarios/kernel_side.h"
#include "scenarios/kernel_sides.h"
#include "scenarios/runner.h"
#include "scenarios/sockmap_multi_channels.h"
#include "sched/strategy_dfs.h"

namespace kpsim {
namespace {

using replay::Schedule;
using json = nlohmann::ordered_json;

constexpr uint64_t kKernelRuns = 100, kNaturalRuns = 200, kForcedRuns = 20;
constexpr uint64_t kMaxModelSchedules = 1000000;

struct Outcome3 {
  std::string kworker_class;
  int first_recv;
  int first_fionread;
  std::string key() const {
    return fmt::format("{} recv={} fionread0={}", kworker_class, first_recv, first_fionread);
  }
};

std::string class_recv(const std::string& key) { return key.substr(0, key.find(" fionread0=")); }

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

void require_kernel() {
  const auto a = replay::check_available();
  if (!a.ok) throw KernelError("the real-kernel runner cannot run here: " + a.reason);
}

Outcome3 outcome_of(const replay::KernelRun& r) {
  return {r.schedule_class, r.recv_results.empty() ? -1 : r.recv_results.front(),
          r.fionread_samples.empty() ? -1 : static_cast<int>(r.fionread_samples.front())};
}

struct KernelStats {
  std::map<std::string, uint64_t> outcomes;  // first recv value -> runs
  std::map<std::string, uint64_t> classes;
  std::map<std::string, uint64_t> keys;  // full outcome key -> runs
  uint64_t runs = 0, failed_assertions = 0, total_us = 0;
  double failure_rate() const {
    return runs ? static_cast<double>(failed_assertions) / static_cast<double>(runs) : 0.0;
  }
};

KernelStats run_kernel(const sockmap::Script& script, Schedule sched, uint64_t runs) {
  KernelStats st;
  for (uint64_t i = 0; i < runs && !replay::interrupted(); ++i) {
    const auto r = replay::run_sockmap_script(script, sched);
    if (!r.error.empty()) throw KernelError("kernel run failed: " + r.error);
    const Outcome3 o = outcome_of(r);
    ++st.runs;
    ++st.outcomes[std::to_string(o.first_recv)];
    ++st.classes[o.kworker_class];
    ++st.keys[o.key()];
    st.failed_assertions += r.assertion_ok ? 0 : 1;
    st.total_us += r.run_us;
  }
  return st;
}

// --schedule: a steering of the runner, or from:TRACE — the class that trace's run took.
Schedule schedule_of(const Scenario& sc, const KernelRequest& r) {
  if (r.schedule_from) {
    const auto& m = *r.schedule_from;
    if (!m.contains("kworker_class"))
      throw ParamError(r.schedule + ": the trace has no kworker_class metric");
    return m["kworker_class"] == "kworker-after-recv" ? Schedule::kworker_late : Schedule::kworker_first;
  }
  if (r.schedule.empty()) return Schedule::natural;
  std::string n = r.schedule;
  for (auto& c : n) c = c == '-' ? '_' : c;
  const auto s = replay::parse_schedule(n);
  if (!s)
    throw ParamError(fmt::format("{}: unknown schedule '{}' (natural, kworker-late, kworker-first, "
                                 "from:TRACE)", sc.name(), r.schedule));
  return *s;
}

std::set<std::string> model_outcomes(const Scenario& sc, const Params& p, bool& exhaustive) {
  DfsStrategy dfs;
  std::set<std::string> keys;
  RunOptions o;
  o.limits = sc.default_limits();
  uint64_t n = 0;
  while (n < kMaxModelSchedules && dfs.begin_run()) {
    RunResult r = run_once(sc, p, dfs, o);
    ++n;
    const auto& m = r.metrics;
    if (!m.contains("kworker_class") || m["first_recv"].is_null()) continue;
    const auto& f = m["fionread_samples"];
    keys.insert(Outcome3{m["kworker_class"].get<std::string>(), m["first_recv"].get<int>(),
                         f.empty() ? -1 : f[0].get<int>()}
                    .key());
  }
  exhaustive = dfs.exhaustive();
  return keys;
}

class SockmapKernelSide final : public KernelSide {
 public:
  std::vector<std::string> targets() const override { return {std::string(kHostTarget)}; }
  std::string_view summary() const override {
    return "host: BPF sockmap runner (root); --schedule natural|kworker-late|kworker-first|from:TRACE";
  }

  KernelReport run(const Scenario& sc, const KernelRequest& r) const override {
    const sockmap::Script script = sockmap_host_script(sc, r.params, KernelUse::kernel);
    const Schedule sched = schedule_of(sc, r);
    require_kernel();
    replay::install_interrupt_handler();
    const KernelStats st = run_kernel(script, sched, r.runs.value_or(kKernelRuns));
    const double per_run = st.runs ? static_cast<double>(st.total_us) / static_cast<double>(st.runs) : 0;
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
    j["per_run_us"] = per_run;
    rep.text = fmt::format("kernel {}  {} {}  schedule {}  runs {}\n", kernel_release(), sc.name(),
                           r.params.to_line(), replay::schedule_name(sched), st.runs);
    for (auto& [k, v] : st.keys) rep.text += fmt::format("  {:>6}  {}\n", v, k);
    rep.text += fmt::format("test assertion failed in {} of {} runs; {:.0f} us per run (steps only)\n",
                            st.failed_assertions, st.runs, per_run);
    return rep;
  }

  KernelReport crosscheck(const Scenario& sc, const KernelRequest& r) const override {
    const sockmap::Script script = sockmap_host_script(sc, r.params, KernelUse::crosscheck);
    require_kernel();
    replay::install_interrupt_handler();

    bool exhaustive = false;
    const std::set<std::string> model = model_outcomes(sc, r.params, exhaustive);
    std::set<std::string> model_class_recv;
    for (auto& k : model) model_class_recv.insert(class_recv(k));

    // Kernel: the natural schedule, then each class forced.
    const uint64_t forced = r.forced_runs.value_or(kForcedRuns);
    const KernelStats natural = run_kernel(script, Schedule::natural, r.runs.value_or(kNaturalRuns));
    const KernelStats late = run_kernel(script, Schedule::kworker_late, forced);
    const KernelStats first = run_kernel(script, Schedule::kworker_first, forced);
    std::map<std::string, uint64_t> kernel;  // full key -> runs
    for (auto* st : {&natural, &late, &first})
      for (auto& [k, v] : st->keys) kernel[k] += v;
    std::set<std::string> kernel_class_recv;
    for (auto& [k, v] : kernel) kernel_class_recv.insert(class_recv(k));

    // Verdicts: reproduced needs the (class, recv) pair; kernel-only compares full outcomes.
    json verdicts = json::array();
    bool agree = exhaustive;
    for (auto& cr : model_class_recv) {
      const bool ok = kernel_class_recv.count(cr) > 0;
      agree = agree && ok;
      verdicts.push_back({{"outcome", cr}, {"verdict", ok ? "reproduced" : "not reproduced"}});
    }
    for (auto& [k, v] : kernel) {
      if (model.count(k)) continue;
      agree = false;
      verdicts.push_back({{"outcome", k}, {"verdict", "kernel-only"}, {"runs", v}});
    }
    KernelReport rep;
    rep.agree = agree;
    json& j = rep.json;
    j["scenario"] = sc.name();
    j["params"] = r.params.to_json();
    j["kernel"] = kernel_release();
    j["model_exhaustive"] = exhaustive;
    j["model_outcomes"] = model;
    j["kernel_outcomes"] = kernel;
    j["verdicts"] = verdicts;
    j["natural"] = {{"runs", natural.runs}, {"failure_rate", natural.failure_rate()}};
    j["kworker_late"] = {{"runs", late.runs}, {"failure_rate", late.failure_rate()}};
    j["kworker_first"] = {{"runs", first.runs}, {"failure_rate", first.failure_rate()}};
    j["agree"] = agree;
    rep.annotation = {{"kernel", kernel_release()}, {"agree", agree}, {"verdicts", verdicts},
                      {"natural_failure_rate", natural.failure_rate()}};
    std::string& t = rep.text;
    t = fmt::format("crosscheck {} {} on kernel {}\n", sc.name(), r.params.to_line(), kernel_release());
    t += fmt::format("model (dfs, exhaustive {}): {} outcomes\n", exhaustive ? "yes" : "no", model.size());
    for (auto& k : model) t += "    " + k + "\n";
    t += "kernel runs (natural + forced):\n";
    for (auto& [k, v] : kernel) t += fmt::format("  {:>6}  {}\n", v, k);
    for (auto& v : verdicts)
      t += fmt::format("  {:<16} {}\n", v["verdict"].get<std::string>(), v["outcome"].get<std::string>());
    t += fmt::format("test failure rate: natural {:.1f}% ({} runs), kworker-late {:.1f}%, kworker-first {:.1f}%\n",
                     100 * natural.failure_rate(), natural.runs, 100 * late.failure_rate(),
                     100 * first.failure_rate());
    t += agree ? "model and kernel agree\n" : "model and kernel DISAGREE\n";
    return rep;
  }
};

}  // namespace

sockmap::Script sockmap_host_script(const Scenario& sc, const Params& p, KernelUse use) {
  if (p.get("fionread") != "current")
    throw ParamError(fmt::format("{}: fionread={} cannot be reproduced on the kernel: the running "
                                 "kernel has the FIONREAD semantics it has (only fionread=current)",
                                 sc.name(), p.get("fionread")));
  if (use == KernelUse::kernel)
    for (const char* reading : {"self_redirect", "kworker_cpu"})
      require_default(sc, p, reading,
                      "it is the model's reading of the kernel, not a setting of it; crosscheck "
                      "judges it");
  return multi_channels_script(p);
}

const KernelSide* sockmap_multi_channels_kernel_side() {
  static const SockmapKernelSide side;
  return &side;
}

}  // namespace kpsim
