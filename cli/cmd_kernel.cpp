// kpsim kernel / kpsim crosscheck: a scenario on a real kernel, through the scenario's kernel
// side (scenarios/kernel_side.h). This file is generic: options, finding the scenario, its
// kernel side and the target, the trace files of --schedule from:TRACE and --annotate, and
// printing. What runs, how parameters translate and how a result is judged is the scenario's.
#include <algorithm>
#include <functional>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/trace_file.h"
#include "replay/guest_boot.h"
#include "replay/script_runner.h"
#include "scenarios/kernel_side.h"

namespace kpsim::cli {
namespace {

struct KernelArgs {
  // kernel: "" until given: the scenario's kernel side picks (its first target: the host for a
  // sockmap script, 6.12 in a qemu guest for a kTLS one).
  std::string scenario, kernel, schedule, annotate;
  std::vector<std::string> sets, sweeps;
  uint64_t runs = 0, forced_runs = 0, run_timeout_s = 0;
  bool json = false, verbose = false;
  // Given or not: an absent --runs means the kernel side's default.
  CLI::Option* runs_opt = nullptr;
  CLI::Option* forced_runs_opt = nullptr;
  CLI::Option* run_timeout_opt = nullptr;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

const Scenario& scenario_of(const std::string& name) {
  const Scenario* sc = find_scenario(name);
  if (!sc) throw ParamError("unknown scenario '" + name + "' (see: kpsim list)");
  return *sc;
}

// The scenario's kernel side, if it runs on the requested target; ParamError (exit 2) if not.
// No --kernel: the side's first target.
const KernelSide& kernel_side_of(const Scenario& sc, std::string& target) {
  const KernelSide* ks = sc.kernel_side();
  if (!ks) {
    std::vector<std::string> with;
    for (auto* s : all_scenarios())
      if (s->kernel_side()) with.emplace_back(s->name());
    throw ParamError(fmt::format("{} has no kernel side: it runs only on the model (scenarios that "
                                 "have one: {})", sc.name(), with.empty() ? "none" : join(with)));
  }
  const auto targets = ks->targets();
  if (target.empty()) target = targets.front();
  if (std::find(targets.begin(), targets.end(), target) == targets.end())
    throw ParamError(fmt::format("{} does not run on --kernel {} (it runs on --kernel {})", sc.name(),
                                 target, join(targets)));
  return *ks;
}

// A trace given to --schedule from: or --annotate must be one of this scenario.
Trace trace_of(const Scenario& sc, const std::string& path) {
  Trace t = load_trace(path);
  if (t.header.scenario != sc.name())
    throw ParamError(fmt::format("{} is a trace of {}, not of {}", path, t.header.scenario, sc.name()));
  return t;
}

KernelRequest request_of(const Scenario& sc, const KernelArgs& a) {
  KernelRequest r = make_kernel_request(sc, a.kernel, a.sets);
  if (a.runs_opt && a.runs_opt->count()) r.runs = a.runs;
  if (a.forced_runs_opt && a.forced_runs_opt->count()) r.forced_runs = a.forced_runs;
  r.schedule = a.schedule;
  r.verbose = a.verbose;
  if (a.run_timeout_opt && a.run_timeout_opt->count()) r.run_timeout_s = a.run_timeout_s;
  // --sweep KEY=V1,V2,...: every value resolved as --set would be, before anything runs.
  for (const std::string& sw : a.sweeps) {
    const auto eq = sw.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == sw.size())
      throw ParamError("--sweep " + sw + ": expected KEY=V1,V2,...");
    const std::string key = sw.substr(0, eq);
    if (r.fixed.count(key)) throw ParamError("--sweep " + key + ": also given with --set");
    for (const auto& [k, v] : r.sweeps)
      if (k == key) throw ParamError("--sweep " + key + " given twice");
    std::vector<std::string> values;
    std::string rest = sw.substr(eq + 1);
    for (size_t at = 0; at <= rest.size();) {
      const size_t comma = std::min(rest.find(',', at), rest.size());
      std::string v = rest.substr(at, comma - at);
      if (v.empty()) throw ParamError("--sweep " + sw + ": an empty value");
      (void)make_kernel_request(sc, a.kernel, {key + "=" + v});  // refused here, not mid-sweep
      if (std::find(values.begin(), values.end(), v) != values.end())
        throw ParamError("--sweep " + key + ": value " + v + " twice");
      values.push_back(std::move(v));
      at = comma + 1;
    }
    r.sweeps.emplace_back(key, std::move(values));
  }
  if (a.schedule.rfind("from:", 0) == 0) r.schedule_from = trace_of(sc, a.schedule.substr(5)).footer.metrics;
  return r;
}

void print(const KernelReport& rep, bool json) {
  if (json) std::cout << rep.json.dump(2) << "\n";
  else std::cout << rep.text;
}

// Interrupts: SIGINT/SIGTERM set replay::interrupted(). The host runner's loops stop after the
// current run and report the completed ones; a guest's boot_guest stops its boot script (its
// own handler calls this one) and the side then fails for want of results. Either way the
// command prints what completed and exits 130, never 2 (bad input) or a verdict on half a run.
// With --json the line goes to stderr, so that stdout stays one JSON object (it has
// "interrupted": true).
int interrupted_exit(const std::string& what, bool json) {
  (json ? std::cerr : std::cout) << "interrupted (SIGINT/SIGTERM): " << what << "\n";
  return kExitInterrupted;
}

// KernelError: the kernel could not be run here, or a run failed. Said in one line, exit 2;
// exit 130 when it failed because an interrupt stopped it.
int guarded(const std::function<int()>& body, bool json) {
  replay::install_interrupt_handler();
  try {
    return body();
  } catch (const KernelError& e) {
    if (replay::interrupted()) return interrupted_exit(e.what(), json);
    std::cerr << "kpsim: " << e.what() << "\n";
    return kExitUsage;
  }
}

int run_kernel_cmd(KernelArgs a) {
  const Scenario& sc = scenario_of(a.scenario);
  const KernelSide& ks = kernel_side_of(sc, a.kernel);
  const KernelRequest r = request_of(sc, a);
  return guarded([&] {
    const KernelReport rep = ks.run(sc, r);
    print(rep, a.json);
    if (rep.interrupted || replay::interrupted())
      return interrupted_exit("the runs that completed are reported above", a.json);
    return kExitOk;
  }, a.json);
}

int run_crosscheck(KernelArgs a) {
  const Scenario& sc = scenario_of(a.scenario);
  const KernelSide& ks = kernel_side_of(sc, a.kernel);
  const KernelRequest r = request_of(sc, a);
  // Read the trace to annotate before the kernel runs, so that a bad path fails at once.
  std::optional<Trace> annotated;
  if (!a.annotate.empty()) annotated = trace_of(sc, a.annotate);
  return guarded([&] {
    const KernelReport rep = ks.crosscheck(sc, r);
    print(rep, a.json);
    // A partial comparison is no verdict: nothing is recorded in the annotated trace.
    if (rep.interrupted || replay::interrupted())
      return interrupted_exit(annotated ? "the runs that completed are reported above; " + a.annotate +
                                              " was left unchanged"
                                        : std::string("the runs that completed are reported above"),
                              a.json);
    if (annotated) {
      annotated->footer.crosscheck = rep.annotation;
      save_trace(a.annotate, *annotated);
    }
    return rep.agree ? kExitOk : rep.inconclusive ? kExitInconclusive : kExitFinding;
  }, a.json);
}

void add_common(CLI::App* sub, KernelArgs& a) {
  sub->add_option("scenario", a.scenario, "scenario: a name (kpsim list) or a script file (.kps, docs/scripts.md)")->required();
  sub->add_option("--set", a.sets,
                  "scenario parameter key=value (repeatable), as for explore; a value the kernel "
                  "cannot reproduce is refused");
  sub->add_option("--kernel", a.kernel,
                  "host: this machine's kernel; 6.12 or 6.1: a Debian kernel booted in a qemu guest; "
                  "6.12+FIX: Debian's 6.12 source patched with the model's fix=FIX (the model runs that fix), "
                  "built by scripts/guest/build-kernel (docs/patched-kernels.md). "
                  "Default: where the scenario runs (host for sockmap scripts, 6.12 for kTLS ones; "
                  "`kpsim list` shows each one's targets)");
  sub->add_flag("--json", a.json, "one JSON object");
  a.run_timeout_opt = sub->add_option("--run-timeout", a.run_timeout_s,
                                      "seconds after which a kernel run still going is stopped and reported "
                                      "as timed out (qemu guest; default 120)")
                          ->check(unsigned_in(1, 86400));
}

}  // namespace

Command add_kernel(CLI::App& app) {
  auto a = std::make_shared<KernelArgs>();
  auto* sub = app.add_subcommand("kernel", "Run a scenario on a real kernel (this machine's, or one in a qemu guest)");
  sub->footer(
      "The scenario's kernel side decides what runs and how (`kpsim list` shows each one's targets "
      "and options). --set means what it means for explore; a parameter value the kernel cannot "
      "reproduce is refused, never approximated.\n"
      "Exit status: 0 ran, 2 bad input, a value the kernel cannot reproduce, no kernel side, or the "
      "kernel cannot be run here (root/BPF/sockmap, qemu; the reason is printed); 130 interrupted "
      "(SIGINT/SIGTERM): the runs that completed are printed, a guest and its qemu are stopped.\n"
      "qemu guest scripts: " + replay::guest_script_dir());
  add_common(sub, *a);
  sub->add_option("--schedule", a->schedule,
                  "how the kernel side steers the run, where it steers one (e.g. natural | "
                  "kworker-late | kworker-first), or from:TRACE: the schedule a trace of this "
                  "scenario took");
  a->runs_opt = sub->add_option("--runs", a->runs, "kernel runs (default: the kernel side's, e.g. 100 on the host)")
                    ->check(unsigned_in(1, 1000000));
  return {sub, [a] { return run_kernel_cmd(*a); }};
}

Command add_crosscheck(CLI::App& app) {
  auto a = std::make_shared<KernelArgs>();
  auto* sub = app.add_subcommand("crosscheck", "Compare the model's outcomes with a real kernel's");
  sub->footer(
      "The scenario's kernel side computes the model's outcomes, runs the kernel and judges each "
      "outcome or cell. Scenarios that compare several cells vary only the parameters left at "
      "their defaults: a parameter set with --set holds in every cell.\n"
      "Exit status: 0 model and kernel agree, 1 they disagree, 2 bad input, a value the kernel "
      "cannot reproduce, or the kernel cannot be run here; 3 nothing could be compared (every "
      "cell not tested: a forced window never formed, or the AEAD asked for was not had); 130 interrupted (SIGINT/SIGTERM): the "
      "runs that completed are printed, no verdict is given and --annotate's trace is left unchanged.");
  add_common(sub, *a);
  a->runs_opt = sub->add_option("--runs", a->runs,
                                "kernel runs: natural-schedule runs on the host (default 200), runs "
                                "per cell in a guest where the scenario repeats them")
                    ->check(unsigned_in(1, 1000000));
  a->forced_runs_opt = sub->add_option("--forced-runs", a->forced_runs,
                                       "runs per forced schedule class, where the kernel side steers "
                                       "them (default 20)")
                           ->check(unsigned_in(1, 1000000));
  sub->add_option("--annotate", a->annotate, "record the result in this trace's footer");
  sub->add_option("--sweep", a->sweeps,
                  "KEY=V1,V2,...: cross-check every combination of these values (repeatable; the "
                  "other parameters as --set gives them), in one guest boot; default: the "
                  "script's `crosscheck sweep` lines")
      ->type_name("KEY=V1,V2,...");
  sub->add_flag("--verbose", a->verbose, "print the kernel evidence behind each verdict (stacks seen, AEAD used)");
  return {sub, [a] { return run_crosscheck(*a); }};
}

}  // namespace kpsim::cli
