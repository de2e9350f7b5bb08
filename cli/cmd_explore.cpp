// kpsim explore SCENARIO: search the scenario's orderings for a property violation.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/stop_signals.h"
#include "cli/strategy_factory.h"
#include "cli/trace_file.h"
#include "scenarios/runner.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_dpor.h"
#include "sched/strategy_follow.h"
#include "traces/render.h"

namespace kpsim::cli {
namespace {

struct ExploreArgs {
  std::string scenario;
  std::vector<std::string> sets;
  StrategyOptions strategy;
  uint32_t preemption_bound = 0;
  uint64_t budget = 0;
  uint64_t max_steps = 0;
  uint64_t max_time_ms = 0;
  std::string trace_out;
  bool json = false;
  bool first = false;
  bool no_shrink = false;
  bool quiet = false;
  bool require_exhaustive = false;
  uint64_t check_determinism = 0;  // 0: off; else every Nth schedule (and every violating one)
  std::string shard;               // "I/N", empty: no sharding
  std::string choices;             // --choices: run this one schedule
  bool has_choices = false;
  bool no_figures = false;
};

// "--shard I/N": 0 <= I < N <= 1000000.
void parse_shard(const std::string& text, StrategyOptions& o) {
  const auto slash = text.find('/');
  auto number = [&](std::string_view part) -> uint32_t {
    uint32_t v = 0;
    if (part.empty() || part.size() > 7 || part.find_first_not_of("0123456789") != std::string_view::npos)
      throw ParamError("--shard " + text + ": expected I/N, two decimal numbers, e.g. 0/4");
    for (const char c : part) v = v * 10 + static_cast<uint32_t>(c - '0');
    return v;
  };
  if (slash == std::string::npos)
    throw ParamError("--shard " + text + ": expected I/N, two decimal numbers, e.g. 0/4");
  const std::string_view sv(text);
  o.shard_index = number(sv.substr(0, slash));
  o.shard_count = number(sv.substr(slash + 1));
  if (o.shard_count == 0 || o.shard_count > 1000000 || o.shard_index >= o.shard_count)
    throw ParamError(fmt::format("--shard {}: needs 0 <= I < N <= 1000000", text));
}

// Schedules that ended without checking the properties to their end: a limit or a model error.
uint64_t inconclusive_runs(const ExploreResult& r) {
  uint64_t n = 0;
  for (const Outcome o : {Outcome::step_limit, Outcome::time_limit, Outcome::error}) {
    const auto it = r.outcomes.find(std::string(to_string(o)));
    if (it != r.outcomes.end()) n += it->second;
  }
  return n;
}

nlohmann::ordered_json trace_as_json(const Trace& t) {
  nlohmann::ordered_json lines = nlohmann::ordered_json::array();
  std::istringstream in(trace_to_string(t));
  for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::ordered_json::parse(l));
  return lines;
}

std::string reproduce_command(const ExploreArgs& a, const Params& p) {
  std::string cmd = "kpsim explore " + a.scenario;
  const auto params = p.to_json();
  for (auto& [k, v] : params.items()) cmd += " --set " + k + "=" + v.get<std::string>();
  if (a.has_choices) return cmd + " --choices " + choices_arg(parse_choices_arg(a.choices));
  cmd += " --strategy " + a.strategy.name;
  if (a.strategy.name != "dfs" && a.strategy.name != "dpor") cmd += fmt::format(" --seed {}", a.strategy.seed);
  if (a.strategy.name == "pct") cmd += fmt::format(" --depth {}", a.strategy.pct_depth);
  if (a.strategy.preemption_bound) cmd += fmt::format(" --preemption-bound {}", a.preemption_bound);
  if (a.strategy.name == "dfs" && a.strategy.dfs_order != "iterative") cmd += " --dfs-order plain";
  if (a.strategy.state_cache) cmd += " --state-cache";
  cmd += fmt::format(" --budget {}", a.budget);
  if (a.strategy.shard_count > 1) {
    cmd += fmt::format(" --shard {}/{}", a.strategy.shard_index, a.strategy.shard_count);
    if (a.strategy.name == "dfs") cmd += fmt::format(" --shard-depth {}", a.strategy.shard_depth);
  }
  return cmd;
}

// A model invariant broke: the model, not the kernel, is wrong. Say so apart from findings.
int report_model_bug(const ExploreArgs& a, const Params& params, const ExploreResult& r) {
  const RunResult& b = *r.model_bug;
  if (!a.trace_out.empty()) save_trace(a.trace_out, *b.trace);
  const std::string reproduce = !a.trace_out.empty() ? "kpsim replay " + a.trace_out : reproduce_command(a, params);
  if (a.json) {
    nlohmann::ordered_json j;
    j["scenario"] = a.scenario;
    j["params"] = params.to_json();
    j["verdict"] = "model_invariant";
    j["schedules"] = r.schedules;
    j["model_invariant"] = {{"schedule", r.model_bug_schedule}, {"invariant", b.end.property},
                            {"message", b.end.message}, {"trace", trace_as_json(*b.trace)},
                            {"reproduce", reproduce}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << render_text(*b.trace);
    std::cout << fmt::format("MODEL INVARIANT BROKEN at schedule {}: {} — {}\n", r.model_bug_schedule,
                             b.end.property, b.end.message);
    std::cout << "This is a bug in kpsim's model, not a finding about the kernel; please report it.\n";
    std::cout << "reproduce: " << reproduce << "\n";
  }
  return kExitModelBug;
}

// Two re-runs of a schedule differed: keep both traces (a temporary directory) and say so.
int report_nondeterminism(const ExploreArgs& a, const Params& params, const ExploreResult& r) {
  const DeterminismFailure& f = *r.nondeterminism;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/kpsim-determinism.XXXXXX";
  if (!mkdtemp(dir.data())) throw std::runtime_error("cannot create a temporary directory " + dir);
  const std::string pa = dir + "/run-a.trace.jsonl", pb = dir + "/run-b.trace.jsonl";
  write_file_bytes(pa, f.trace_a);
  write_file_bytes(pb, f.trace_b);
  if (a.json) {
    nlohmann::ordered_json j;
    j["scenario"] = a.scenario;
    j["params"] = params.to_json();
    j["verdict"] = "nondeterministic";
    j["schedules"] = r.schedules;
    j["nondeterministic"] = {{"schedule", f.schedule}, {"what", f.what}, {"trace_a", pa}, {"trace_b", pb},
                             {"reproduce", reproduce_command(a, params) + fmt::format(" --check-determinism={}", a.check_determinism)}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("NONDETERMINISTIC at schedule {}: {}\n", f.schedule, f.what);
    std::cout << "  first re-run:  " << pa << "\n  second re-run: " << pb << "\n";
    std::cout << "The same choices must give the same run; this is a bug in kpsim (compare the two traces).\n";
    std::cout << "reproduce: " << reproduce_command(a, params)
              << fmt::format(" --check-determinism={}", a.check_determinism) << "\n";
  }
  return kExitNondeterministic;
}

// --choices: one run of the given schedule, traced, as if a search had run it alone. A choice
// that does not fit the run (an answer out of range, too many answers) is bad input; a list
// shorter than the run's choice points is completed with first options (the default schedule),
// as docgen's choices= and a lenient replay complete it.
std::optional<RunResult> run_chosen(const Scenario& sc, const Params& params, const ExploreArgs& a,
                                    const RunOptions& base, ExploreResult& r) {
  FollowStrategy follow(parse_choices_arg(a.choices));
  follow.begin_run();
  RunOptions o = base;
  o.trace = true;
  o.strategy_label = "replay";
  RunResult run = run_once(sc, params, follow, o);
  if (const auto& d = follow.divergence(); d && d->kind != FollowStrategy::Divergence::ran_out)
    throw ParamError("--choices: " + d->why);
  r.schedules = 1;
  ++r.outcomes[std::string(to_string(run.end.outcome))];
  r.first_metrics = run.metrics;
  r.first_run_choices = run.choices;
  r.metric_summary.add(run.metrics);
  if (run.end.outcome == Outcome::model_invariant) {
    r.model_bug_schedule = 1;
    r.model_bug = run;
    return run;
  }
  if (is_finding(run.end)) {
    r.violations = 1;
    r.first_violation_schedule = 1;
    r.first_choices = run.choices;
    r.first_violation = run;
  }
  return run;
}

// A clean (or inconclusive) search's figures: each metric over the schedules explored.
void print_figures(const ExploreResult& r) {
  const auto summary = r.metric_summary.to_json();
  if (summary.empty()) return;
  std::cout << (r.schedules == 1 ? "\nmetrics:\n" : fmt::format("\nmetrics over {} schedules (min / median / max):\n", r.schedules));
  size_t w = 0;
  for (auto& [k, v] : summary.items()) w = std::max(w, k.size());
  for (auto& [k, v] : summary.items()) {
    std::string text;
    if (v.contains("min")) {
      text = v["min"] == v["max"] ? v["min"].dump()
                                  : fmt::format("{} / {} / {}", v["min"].dump(), v["median"].dump(), v["max"].dump());
    } else {
      for (auto& [x, n] : v["values"].items())
        text += fmt::format("{}{}{}", text.empty() ? "" : ", ", x, r.schedules == 1 ? "" : fmt::format(" ({})", n.get<uint64_t>()));
    }
    std::cout << fmt::format("  {:<{}}  {}\n", k, w, text);
  }
}

int run_explore(ExploreArgs a, CLI::App* sub) {
  const Scenario* sc = find_scenario(a.scenario);
  if (!sc) throw ParamError("unknown scenario '" + a.scenario + "' (see: kpsim list)");
  const Params params = resolve_params(*sc, a.sets);
  if (sub->count("--preemption-bound")) a.strategy.preemption_bound = a.preemption_bound;
  // A state cache needs the plain order; it is chosen for the user unless they asked otherwise
  // (then the strategy refuses, naming why).
  if (a.strategy.state_cache && !sub->count("--dfs-order")) a.strategy.dfs_order = "plain";
  if (a.strategy.state_cache && !sc->complete_state()) {
    std::string able;
    for (const Scenario* s : all_scenarios())
      if (s->complete_state()) able += (able.empty() ? "" : ", ") + std::string(s->name());
    throw ParamError(fmt::format("--state-cache: scenario '{}' does not report its complete state (its tasks keep "
                                 "state in coroutine locals), so caching would be unsound; scenarios that do: {}",
                                 a.scenario, able.empty() ? "none" : able));
  }
  a.has_choices = sub->count("--choices") > 0;
  if (a.has_choices) {
    parse_choices_arg(a.choices);  // bad input before any run
    for (const char* o : {"--strategy", "--seed", "--depth", "--preemption-bound", "--budget", "--first", "--no-shrink",
                          "--require-exhaustive", "--check-determinism", "--dfs-order", "--shard", "--shard-depth"})
      if (sub->count(o)) throw ParamError(fmt::format("--choices runs one given schedule: {} does not apply", o));
    a.strategy.name = "replay";
  }
  if (!a.shard.empty()) parse_shard(a.shard, a.strategy);
  std::unique_ptr<Strategy> strategy;
  try {
    if (!a.has_choices) strategy = make_strategy(a.strategy);
  } catch (const std::invalid_argument& e) {
    throw ParamError(e.what());  // an impossible shard
  }
  if (a.budget == 0) a.budget = a.strategy.name == "dfs" || a.strategy.name == "dpor" ? 1000000 : 1000;

  ExploreOptions o;
  o.budget = a.budget;
  o.run.limits = sc->default_limits();
  if (a.max_steps) o.run.limits.max_steps = a.max_steps;
  if (a.max_time_ms) o.run.limits.max_time_ns = a.max_time_ms * 1000000;
  o.run.strategy_label = a.strategy.name;
  o.run.seed = a.strategy.seed;
  o.stop_on_first = a.first;
  o.shrink = !a.no_shrink;
  o.check_determinism_every = a.check_determinism;
  // Wall-clock time is measured for the report and progress only; it never reaches a run.
  const auto t0 = std::chrono::steady_clock::now();
  // Every schedule's metrics, for their min/median/max (--json, and the figures of a clean run).
  // A world with a metrics key (World::metrics_key) builds them once per distinct key: about 2 %
  // of the cheapest (sockmap) search; others once per schedule. --no-figures saves it.
  o.summarize_metrics = !a.no_figures;
  // Progress on stderr: a line at least every second on a terminal, every 10 s otherwise (CI
  // logs), while searching and while shrinking. The clock is read after every schedule: a
  // schedule of the slowest scenarios takes ~10 ms (~100 per second), so reading it every 256
  // left a terminal silent for seconds. Not with --json, whose reader may merge the streams.
  auto progress = std::make_shared<Progress>(!a.quiet && !a.json);
  const auto* dfs = dynamic_cast<const DfsStrategy*>(strategy.get());
  o.progress_every = 1;
  o.progress = [progress, dfs](uint64_t n, uint64_t v) {
    if (!progress->due()) return;
    const double s = progress->elapsed_s();
    std::string where;
    if (dfs) {
      // Two significant digits below 0.1 % (a huge tree), so that a line still shows progress.
      const double pct = 100 * dfs->explored_fraction();
      const std::string p = pct >= 0.1 || pct == 0 ? fmt::format("{:.1f}", pct) : fmt::format("{:.2g}", pct);
      where = dfs->iterative() ? fmt::format(", dfs iteration {} (schedules with {} preemptions) ~{}% explored",
                                             dfs->iteration(), dfs->iteration(), p)
                               : fmt::format(", dfs ~{}% of the tree explored", p);
    }
    progress->line(fmt::format("{} schedules ({:.0f}/s), {} violations, {:.0f} s{}", n, static_cast<double>(n) / s,
                               v, s, where));
  };
  o.shrink_progress = [progress](size_t attempts, size_t shortest) {
    if (progress->due())
      progress->line(fmt::format("shrinking: {} candidate runs, shortest failing sequence {} choices, {:.0f} s",
                                 attempts, shortest, progress->elapsed_s()));
  };
  // SIGINT/SIGTERM end the search after the current schedule (a run is never cut in half).
  const StopOnSignals on_signals;
  o.stop = &stop_requested();
  ExploreResult r;
  std::optional<RunResult> chosen;  // --choices: the one run, traced
  if (a.has_choices) {
    chosen = run_chosen(*sc, params, a, o.run, r);
  } else {
    r = explore(*sc, params, *strategy, o);
  }
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  if (r.model_bug) return report_model_bug(a, params, r);
  if (r.nondeterminism) return report_nondeterminism(a, params, r);
  if (r.interrupted) {
    // Nothing was shrunk; say what was done and how to see the rest.
    std::cout << fmt::format("interrupted after {} schedules ({:.1f} ms): {} violations{}\n", r.schedules,
                             elapsed_ms, r.violations,
                             r.violations ? fmt::format(", the first at schedule {}", r.first_violation_schedule) : "");
    std::cout << "re-run without interrupting, or with --budget " << r.schedules
              << " to repeat exactly this part of the search: " << reproduce_command(a, params) << "\n";
    return kExitInterrupted;
  }
  // The trace written: the (shrunk) violating run; else the chosen schedule, or the first one.
  std::string trace_of;
  if (!a.trace_out.empty()) {
    if (r.first_violation) {
      save_trace(a.trace_out, *r.first_violation->trace);
      trace_of = a.has_choices ? "the chosen schedule (violating)" : "the violating schedule, shrunk";
    } else if (chosen) {
      save_trace(a.trace_out, *chosen->trace);
      trace_of = "the chosen schedule";
    } else if (r.schedules) {
      RunOptions traced = o.run;
      traced.trace = true;
      save_trace(a.trace_out, *run_choices(*sc, params, r.first_run_choices, traced).trace);
      trace_of = "the first schedule";
    }
  }
  // The verdict: a violation; else inconclusive when some schedule proved nothing or an
  // exhaustive search was required and not reached; else clean.
  const uint64_t inconclusive = inconclusive_runs(r);
  const bool unfinished = a.require_exhaustive && !r.exhaustive;
  const char* verdict = r.violations ? "violation" : inconclusive || unfinished ? "inconclusive" : "clean";
  // The iterative order's bounded proof short of exhaustion: every schedule with at most this
  // many preemptions ran.
  std::optional<uint64_t> covered;
  if (dfs && !r.exhaustive) covered = dfs->preemptions_covered();
  const std::string reproduce = !a.trace_out.empty() ? "kpsim replay " + a.trace_out
                                                     : reproduce_command(a, params);
  if (a.json) {
    nlohmann::ordered_json j;
    j["scenario"] = a.scenario;
    j["params"] = params.to_json();
    j["strategy"] = a.strategy.name;
    j["seed"] = a.strategy.seed;
    if (a.strategy.preemption_bound) j["preemption_bound"] = *a.strategy.preemption_bound;
    if (a.strategy.name == "dfs") j["dfs_order"] = a.strategy.dfs_order;
    j["budget"] = a.budget;
    // What `kpsim merge` needs to check that shards belong to one search and cover it.
    j["shard"] = {{"index", a.strategy.shard_index}, {"count", a.strategy.shard_count},
                  {"depth", a.strategy.shard_depth}, {"foreign_runs", r.foreign_runs}};
    j["schedules"] = r.schedules;
    j["violations"] = r.violations;
    j["exhaustive"] = r.exhaustive;
    // How far a search that stopped on its budget got (plain dfs: the uniform-choice measure of
    // the subtrees behind it; sched/strategy.h).
    if (dfs)
      if (const double f = dfs->explored_measure(); f >= 0 && !r.exhaustive) j["explored_fraction"] = f;
    if (covered) j["preemptions_covered"] = *covered;
    if (const auto* d = dynamic_cast<const DporStrategy*>(strategy.get())) j["sleep_blocked"] = d->sleep_blocked();
    if (const auto* d = dynamic_cast<const DfsStrategy*>(strategy.get()); d && d->caches_states())
      j["state_cache"] = {{"states", d->states()}, {"cut", r.cut}};
    if (r.commutation_checks) j["commutation_checks"] = r.commutation_checks;
    j["outcomes"] = r.outcomes;
    j["inconclusive"] = inconclusive;
    j["verdict"] = verdict;
    if (a.check_determinism) j["determinism_checks"] = r.determinism_checks;
    j["elapsed_ms"] = elapsed_ms;
    // The scenario's measurements: of the (shrunk) violating run if there is one, else of the
    // first schedule. Boolean verdicts (e.g. "stalled") are repeated at the top level.
    const auto& metrics = r.first_violation ? r.first_violation->metrics : r.first_metrics;
    j["metrics"] = metrics;
    if (metrics.is_object())
      for (auto& [k, v] : metrics.items())
        if (v.is_boolean()) j[k] = v;
    // Each metric over every schedule explored (the shrunk re-run is not one of them).
    if (!a.no_figures) j["metrics_over_schedules"] = r.metric_summary.to_json();
    if (!trace_of.empty()) j["trace_out"] = {{"path", a.trace_out}, {"of", trace_of}};
    if (r.first_violation) {
      const auto& f = *r.first_violation;
      j["first_violation"] = {{"schedule", r.first_violation_schedule},
                              {"property", f.end.property.empty() ? std::string(to_string(f.end.outcome)) : f.end.property},
                              {"message", f.end.message},
                              {"steps", f.steps},
                              {"choices", choices_to_json(f.choices)},
                              {"choices_before_shrink", r.first_choices.size()},
                              {"trace", trace_as_json(*f.trace)},
                              {"reproduce", reproduce}};
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("kpsim explore {}  {}\n", a.scenario, params.to_line());
    std::cout << fmt::format("strategy {}  seed {}  budget {}{}\n", a.strategy.name, a.strategy.seed, a.budget,
                             a.strategy.shard_count > 1
                                 ? fmt::format("  shard {}/{} ({} runs of other shards' subtrees)", a.strategy.shard_index,
                                               a.strategy.shard_count, r.foreign_runs)
                                 : "");
    std::string outs;
    for (auto& [k, v] : r.outcomes) outs += fmt::format("{}{} {}", outs.empty() ? "" : ", ", k, v);
    std::optional<uint64_t> bound;
    if (a.strategy.preemption_bound) bound = *a.strategy.preemption_bound;
    std::cout << fmt::format("schedules {}  violations {}  exhaustive {}  ({})  {:.1f} ms\n", r.schedules,
                             r.violations, exhaustive_text(r.exhaustive, bound, covered), outs, elapsed_ms);
    if (const auto* d = dynamic_cast<const DfsStrategy*>(strategy.get()); d && d->caches_states())
      std::cout << fmt::format("state cache: {} distinct states, {} runs cut at a state explored before\n",
                               d->states(), r.cut);
    if (a.check_determinism)
      std::cout << fmt::format("determinism: {} schedules re-run twice (every violating one and 1 in {}), "
                               "traces identical\n", r.determinism_checks, a.check_determinism);
    if (r.first_violation) {
      const auto& f = *r.first_violation;
      std::cout << fmt::format("\nfirst violation at schedule {}: {} — {}\n", r.first_violation_schedule,
                               f.end.property.empty() ? std::string(to_string(f.end.outcome)) : f.end.property,
                               f.end.message);
      if (a.has_choices)
        std::cout << fmt::format("the schedule --choices gave ({} choices), not shrunk\n\n", f.choices.size());
      else
        std::cout << fmt::format("shrunk from {} to {} choices ({} candidate runs)\n\n",
                                 r.first_choices.size(), f.choices.size(), r.shrink_attempts);
      std::cout << render_text(*f.trace);
      if (!a.trace_out.empty()) std::cout << "trace written to " << a.trace_out << "\n";
      std::cout << "reproduce: " << reproduce << "\n";
    } else {
      if (chosen) std::cout << "\n" << render_text(*chosen->trace);
      print_figures(r);
      if (!trace_of.empty()) std::cout << "trace of " << trace_of << " written to " << a.trace_out << "\n";
    }
    if (!r.violations && inconclusive)
      std::cout << fmt::format("inconclusive: {} of {} schedules ended at a step/time limit or in a model error, "
                               "so their properties were never checked to the end (raise --max-steps / "
                               "--max-time-ms)\n", inconclusive, r.schedules);
    if (!r.violations && unfinished)
      std::cout << fmt::format("inconclusive: --require-exhaustive, but the search stopped after {} schedules "
                               "without covering the space\n", r.schedules);
  }
  if (r.violations) return kExitFinding;
  return inconclusive || unfinished ? kExitInconclusive : kExitOk;
}

}  // namespace

Command add_explore(CLI::App& app) {
  auto a = std::make_shared<ExploreArgs>();
  auto* sub = app.add_subcommand("explore", "Search a scenario's interleavings for a property violation");
  sub->footer(
      "Strategies: random (seeded splitmix64 walk), pct (Burckhardt et al. 2010, --depth d),\n"
      "dfs (every interleaving; by default schedules with 0 preemptions first, then 1, 2, ...;\n"
      "--preemption-bound B caps it; --shard I/N runs part of it, docs/scale-out.md), dpor (source-DPOR\n"
      "with sleep sets: one schedule or close per class of orderings that differ only in independent\n"
      "steps; exhaustive like dfs; no --preemption-bound or --shard; docs/design.md). A violation is shrunk to a\n"
      "minimal choice sequence and printed as a lane chart; the last line reproduces it.\n"
      "A model may mark a decision unlikely (a scheduler tick ending a slice): random and pct take\n"
      "its rare options 1 time in 16, dfs and dpor explore them like any other.\n"
      "Exit status: 0 every schedule explored held every property (clean), 1 a violation (or\n"
      "deadlock) found, 2 bad input, 3 inconclusive: some schedule ended at a step/time limit or in\n"
      "a model error, or --require-exhaustive and the search did not cover the space; 4 a model\n"
      "invariant broke (a kpsim bug, not a kernel finding: the run is drawn and stops the search);\n"
      "6 --check-determinism found two re-runs of one schedule that differed (both traces kept).");
  sub->add_option("scenario", a->scenario, "scenario: a name (kpsim list) or a script file (.kps, docs/scripts.md)")->required();
  sub->add_option("--set", a->sets, "scenario parameter key=value (repeatable)");
  sub->add_option("--strategy", a->strategy.name, "random | pct | dfs | dpor (default random)")
      ->check(CLI::IsMember({"random", "pct", "dfs", "dpor"}));
  sub->add_option("--seed", a->strategy.seed, "seed for random and pct (default 1)")
      ->check(kUnsigned);
  sub->add_option("--depth", a->strategy.pct_depth, "pct bug depth d (default 2)")->check(unsigned_in(1, 16));
  sub->add_option("--preemption-bound", a->preemption_bound, "dfs: at most B preemptions per schedule")
      ->check(unsigned_in(0, 1000));
  sub->add_option("--budget", a->budget, "schedules to run at most (default 1000; dfs, dpor 1000000)")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_option("--max-steps", a->max_steps, "step limit per schedule (default: the scenario's)")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_option("--max-time-ms", a->max_time_ms, "virtual-time limit per schedule in ms")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_option("--trace-out", a->trace_out,
                  "write a trace here: the (shrunk) violating run; without a violation, the first schedule "
                  "(or the --choices one)");
  sub->add_option("--choices", a->choices,
                                  "run exactly this one schedule: the answers to its choice points, e.g. 0,1,0 "
                                  "(as a trace's pick or explore --json's choices give them; missing ones: 0; "
                                  "an answer out of range exits 2 naming the choice and step)");
  sub->add_flag("--json", a->json, "print one JSON object instead of the human summary");
  sub->add_flag("--first", a->first, "stop at the first violation");
  sub->add_flag("--no-shrink", a->no_shrink, "report the violation as found, unshrunk");
  sub->add_flag("--quiet", a->quiet, "no progress lines on stderr");
  sub->add_flag("--no-figures", a->no_figures,
                "do not summarize every schedule's metrics (their min/median/max: --json's "
                "metrics_over_schedules, a clean run's figures): a few percent faster where the "
                "scenario's world has a metrics key (one JSON per distinct outcome), more elsewhere");
  sub->add_flag("--require-exhaustive", a->require_exhaustive,
                "exit 3 (inconclusive) unless the search covered every schedule (dfs to its end)");
  sub->add_flag("--check-determinism{100}", a->check_determinism,
                "--check-determinism[=N]: re-run every violating schedule and every Nth one (1, N+1, "
                "2N+1, ...; N 100 by default) twice with tracing; exit 6 unless the two traces "
                "are byte-identical")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_option("--dfs-order", a->strategy.dfs_order,
                  "dfs: iterative (default: preemption bound 0, then 1, 2, ... as CHESS does, so "
                  "schedules with few preemptions come first; --preemption-bound caps it) or plain "
                  "(one walk, deepest choices varied first)")
      ->check(CLI::IsMember({"iterative", "plain"}));
  sub->add_flag("--state-cache", a->strategy.state_cache,
                "dfs: cut a run that reaches a state explored before (a hash of the whole model state at "
                "each choice point; plain order, no bound or shard; only scenarios that report their "
                "complete state: others are refused, naming those that do; docs/design.md)");
  sub->add_option("--shard", a->shard,
                  "I/N: run part I (0-based) of N of the search, for scale-out (docs/scale-out.md); "
                  "dfs parts are disjoint and together the whole tree; random/pct parts draw from "
                  "their own seeded streams; --budget is per part; `kpsim merge` combines the --json results");
  sub->add_option("--shard-depth", a->strategy.shard_depth,
                  "dfs --shard: choice points that name a subtree (default 8; deeper: more, smaller parts)")
      ->check(unsigned_in(1, 64));
  return {sub, [a, sub] { return run_explore(*a, sub); }};
}

}  // namespace kpsim::cli
