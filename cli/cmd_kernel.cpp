// kpsim kernel / kpsim crosscheck: run a scenario on the real kernel (replay/) and compare the
// outcomes with the model's.
//
// An outcome is (schedule class, first recv value, first FIONREAD sample). The schedule class
// says whether p1's backlog worker had delivered the redirected data when the first recv
// began; the model reports it (metrics.kworker_class), the kernel runner observes it with raw
// tracepoints. crosscheck: every outcome the model can produce (dfs, exhaustive) must be
// produced by the kernel under the schedule that forces its class, and every outcome the
// kernel produces (natural and forced runs) must be one the model can produce.
#include <sys/utsname.h>

#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/guest_crosscheck.h"
#include "cli/trace_file.h"
#include "replay/sockmap_runner.h"
#include "scenarios/runner.h"
#include "scenarios/sockmap_script.h"
#include "sched/strategy_dfs.h"

namespace kpsim::cli {
namespace {

using replay::Schedule;

struct Outcome3 {
  std::string kworker_class;
  int first_recv;
  int first_fionread;
  std::string key() const {
    return fmt::format("{} recv={} fionread0={}", kworker_class, first_recv, first_fionread);
  }
  std::string class_recv() const { return fmt::format("{} recv={}", kworker_class, first_recv); }
};

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

const Scenario& sockmap_scenario(const std::string& name) {
  const Scenario* sc = find_scenario(name);
  if (!sc) throw ParamError("unknown scenario '" + name + "' (see: kpsim list)");
  if (name != "sockmap-multi-channels")
    throw ParamError("scenario '" + name + "' needs kTLS, which this machine's kernel lacks: "
                     "run it in a qemu guest with --kernel 6.12 or --kernel 6.1");
  return *sc;
}

sockmap::Script script_for(const Params& p) {
  if (p.get("fionread") != "current")
    throw ParamError("fionread=" + p.get("fionread") + " cannot be replayed: the running kernel "
                     "has the FIONREAD semantics it has");
  return sockmap::make_multi_channels_script(
      p.get("proto") == "tcp" ? sockmap::Proto::tcp : sockmap::Proto::udp, p.get("test"),
      static_cast<uint32_t>(p.get_int("c1_bytes")), static_cast<uint32_t>(p.get_int("c0_bytes")));
}

int require_kernel() {
  const auto a = replay::check_available();
  if (a.ok) return kExitOk;
  std::cerr << "kpsim: the real-kernel runner cannot run here: " << a.reason << "\n";
  return kExitUsage;
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
  std::string error;
};

KernelStats run_kernel(const sockmap::Script& script, Schedule sched, uint64_t runs) {
  KernelStats st;
  for (uint64_t i = 0; i < runs && !replay::interrupted(); ++i) {
    const auto r = replay::run_sockmap_script(script, sched);
    if (!r.error.empty()) {
      st.error = r.error;
      break;
    }
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

std::optional<Schedule> schedule_from_arg(const std::string& s) {
  if (s.rfind("from:", 0) == 0) {
    const Trace t = load_trace(s.substr(5));
    const auto& m = t.footer.metrics;
    if (!m.contains("kworker_class")) throw ParamError(s + ": trace has no kworker_class metric");
    return m["kworker_class"] == "kworker-after-recv" ? Schedule::kworker_late : Schedule::kworker_first;
  }
  std::string n = s;
  for (auto& c : n) c = c == '-' ? '_' : c;
  return replay::parse_schedule(n);
}

// ---- kpsim kernel ------------------------------------------------------------------------

struct KernelArgs {
  std::string scenario, schedule = "natural", kernel = "host";
  std::vector<std::string> sets;
  uint64_t runs = 100;
  bool json = false;
};

int run_kernel_cmd(const KernelArgs& a) {
  if (a.kernel != "host") return guest_kernel(a.scenario, a.sets, a.kernel, a.json);
  const Scenario& sc = sockmap_scenario(a.scenario);
  const Params p = resolve_params(sc, a.sets);
  const auto sched = schedule_from_arg(a.schedule);
  if (!sched) throw ParamError("unknown schedule '" + a.schedule + "' (natural, kworker-late, kworker-first, from:TRACE)");
  const auto script = script_for(p);
  if (int rc = require_kernel()) return rc;
  replay::install_interrupt_handler();
  const KernelStats st = run_kernel(script, *sched, a.runs);
  if (!st.error.empty()) {
    std::cerr << "kpsim: kernel run failed: " << st.error << "\n";
    return kExitUsage;
  }
  const double per_run = st.runs ? static_cast<double>(st.total_us) / static_cast<double>(st.runs) : 0;
  if (a.json) {
    nlohmann::ordered_json j;
    j["scenario"] = a.scenario;
    j["params"] = p.to_json();
    j["schedule"] = replay::schedule_name(*sched);
    j["kernel"] = kernel_release();
    j["runs"] = st.runs;
    j["outcomes"] = st.outcomes;
    j["classes"] = st.classes;
    j["detailed"] = st.keys;
    j["failed_assertions"] = st.failed_assertions;
    j["per_run_us"] = per_run;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("kernel {}  {} {}  schedule {}  runs {}\n", kernel_release(),
                             a.scenario, p.to_line(), replay::schedule_name(*sched), st.runs);
    for (auto& [k, v] : st.keys) std::cout << fmt::format("  {:>6}  {}\n", v, k);
    std::cout << fmt::format("test assertion failed in {} of {} runs; {:.0f} us per run (steps only)\n",
                             st.failed_assertions, st.runs, per_run);
  }
  return kExitOk;
}

// ---- kpsim crosscheck --------------------------------------------------------------------

struct CrossArgs {
  std::string scenario, kernel = "host";
  std::vector<std::string> sets;
  uint64_t natural_runs = 200, forced_runs = 20;
  std::string annotate;
  bool json = false;
};

std::set<std::string> model_outcomes(const Scenario& sc, const Params& p, bool& exhaustive) {
  DfsStrategy dfs;
  std::set<std::string> keys;
  RunOptions o;
  o.limits = sc.default_limits();
  uint64_t n = 0;
  while (n < 1000000 && dfs.begin_run()) {
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

int run_crosscheck(const CrossArgs& a) {
  if (a.kernel != "host") return guest_crosscheck(a.scenario, a.sets, a.kernel, a.json);
  const Scenario& sc = sockmap_scenario(a.scenario);
  const Params p = resolve_params(sc, a.sets);
  const auto script = script_for(p);
  if (int rc = require_kernel()) return rc;
  replay::install_interrupt_handler();

  bool exhaustive = false;
  const std::set<std::string> model = model_outcomes(sc, p, exhaustive);
  std::set<std::string> model_class_recv;
  for (auto& k : model) model_class_recv.insert(k.substr(0, k.find(" fionread0=")));

  // Kernel: the natural schedule, then each class forced.
  std::map<std::string, uint64_t> kernel;  // full key -> runs
  const KernelStats natural = run_kernel(script, Schedule::natural, a.natural_runs);
  const KernelStats late = run_kernel(script, Schedule::kworker_late, a.forced_runs);
  const KernelStats first = run_kernel(script, Schedule::kworker_first, a.forced_runs);
  for (auto* st : {&natural, &late, &first}) {
    if (!st->error.empty()) {
      std::cerr << "kpsim: kernel run failed: " << st->error << "\n";
      return kExitUsage;
    }
    for (auto& [k, v] : st->keys) kernel[k] += v;
  }
  std::set<std::string> kernel_class_recv;
  for (auto& [k, v] : kernel) kernel_class_recv.insert(k.substr(0, k.find(" fionread0=")));

  // Verdicts.
  nlohmann::ordered_json verdicts = nlohmann::ordered_json::array();
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
  const auto rate = [](const KernelStats& st) {
    return st.runs ? static_cast<double>(st.failed_assertions) / static_cast<double>(st.runs) : 0.0;
  };
  nlohmann::ordered_json j;
  j["scenario"] = a.scenario;
  j["params"] = p.to_json();
  j["kernel"] = kernel_release();
  j["model_exhaustive"] = exhaustive;
  j["model_outcomes"] = model;
  j["kernel_outcomes"] = kernel;
  j["verdicts"] = verdicts;
  j["natural"] = {{"runs", natural.runs}, {"failure_rate", rate(natural)}};
  j["kworker_late"] = {{"runs", late.runs}, {"failure_rate", rate(late)}};
  j["kworker_first"] = {{"runs", first.runs}, {"failure_rate", rate(first)}};
  j["agree"] = agree;
  if (!a.annotate.empty()) {
    Trace t = load_trace(a.annotate);
    t.footer.crosscheck = {{"kernel", kernel_release()}, {"agree", agree}, {"verdicts", verdicts},
                           {"natural_failure_rate", rate(natural)}};
    save_trace(a.annotate, t);
  }
  if (a.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("crosscheck {} {} on kernel {}\n", a.scenario, p.to_line(), kernel_release());
    std::cout << fmt::format("model (dfs, exhaustive {}): {} outcomes\n", exhaustive ? "yes" : "no", model.size());
    for (auto& k : model) std::cout << "    " << k << "\n";
    std::cout << "kernel runs (natural + forced):\n";
    for (auto& [k, v] : kernel) std::cout << fmt::format("  {:>6}  {}\n", v, k);
    for (auto& v : verdicts)
      std::cout << fmt::format("  {:<16} {}\n", v["verdict"].get<std::string>(), v["outcome"].get<std::string>());
    std::cout << fmt::format("test failure rate: natural {:.1f}% ({} runs), kworker-late {:.1f}%, kworker-first {:.1f}%\n",
                             100 * rate(natural), natural.runs, 100 * rate(late), 100 * rate(first));
    std::cout << (agree ? "model and kernel agree\n" : "model and kernel DISAGREE\n");
  }
  return agree ? kExitOk : kExitFinding;
}

}  // namespace

Command add_kernel(CLI::App& app) {
  auto a = std::make_shared<KernelArgs>();
  auto* sub = app.add_subcommand("kernel", "Run a scenario on this machine's kernel (root, BPF)");
  sub->footer("Exit status: 0 ran, 2 bad input or no root/BPF/sockmap (the reason is printed).");
  sub->add_option("scenario", a->scenario, "scenario name")->required();
  sub->add_option("--set", a->sets, "scenario parameter key=value (repeatable)");
  sub->add_option("--schedule", a->schedule,
                  "natural | kworker-late | kworker-first | from:TRACE (the class the trace took)");
  sub->add_option("--runs", a->runs, "runs (default 100)")->check(kUnsigned & CLI::Range(1, 1000000));
  sub->add_option("--kernel", a->kernel,
                  "host (this machine's kernel) or 6.12 / 6.1 (a Debian kernel in a qemu guest, "
                  "for the kTLS scenarios)")
      ->check(CLI::IsMember({"host", "6.12", "6.1"}));
  sub->add_flag("--json", a->json, "one JSON object");
  return {sub, [a] { return run_kernel_cmd(*a); }};
}

Command add_crosscheck(CLI::App& app) {
  auto a = std::make_shared<CrossArgs>();
  auto* sub = app.add_subcommand("crosscheck", "Compare the model's outcomes with the real kernel's");
  sub->footer("Exit status: 0 model and kernel agree, 1 they disagree, 2 bad input or no root/BPF.");
  sub->add_option("scenario", a->scenario, "scenario name")->required();
  sub->add_option("--set", a->sets, "scenario parameter key=value (repeatable)");
  sub->add_option("--runs", a->natural_runs, "natural-schedule kernel runs (default 200)")
      ->check(kUnsigned & CLI::Range(1, 1000000));
  sub->add_option("--forced-runs", a->forced_runs, "runs per forced schedule class (default 20)")
      ->check(kUnsigned & CLI::Range(1, 1000000));
  sub->add_option("--annotate", a->annotate, "record the result in this trace's footer");
  sub->add_option("--kernel", a->kernel, "host, or 6.12 / 6.1 in a qemu guest (kTLS scenarios)")
      ->check(CLI::IsMember({"host", "6.12", "6.1"}));
  sub->add_flag("--json", a->json, "one JSON object");
  return {sub, [a] { return run_crosscheck(*a); }};
}

}  // namespace kpsim::cli
