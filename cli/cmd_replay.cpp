// kpsim replay TRACE [--check]: re-execute a trace's choice sequence.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/trace_file.h"
#include "scenarios/runner.h"
#include "sched/strategy_follow.h"
#include "sched/strategy_replay.h"
#include "traces/render.h"

namespace kpsim::cli {

struct ReplayArgs {
  std::string path;
  bool check = false, quiet = false;
  uint64_t max_steps = 0, max_time_ms = 0;  // 0: the trace's limits (or the scenario's)
  std::vector<std::string> sets;            // --set: parameters changed from the trace's
  std::string choices;                      // --choices: another schedule of the trace's run
  bool has_choices = false;
  std::string trace_out;
};

namespace {

std::string json_value(const nlohmann::ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The exit status of a run that is not compared with a recording: what explore would say.
int verdict_exit(const RunEnd& e) {
  switch (e.outcome) {
    case Outcome::violation:
    case Outcome::deadlock: return kExitFinding;
    case Outcome::model_invariant: return kExitModelBug;
    case Outcome::step_limit:
    case Outcome::time_limit:
    case Outcome::error: return kExitInconclusive;
    default: return kExitOk;
  }
}

std::string outcome_words(const std::string& outcome, const std::string& property, uint64_t steps, uint64_t t_ns) {
  return fmt::format("{}{} after {} steps, {:.3f} ms virtual", outcome, property.empty() ? "" : " " + property, steps,
                     static_cast<double>(t_ns) / 1e6);
}

// replay --set / --choices: not a reproduction but another run. The trace's parameters with
// --set over them; its choices (or --choices') followed while they fit, then the default
// policy; where the run left them is reported, and the outcome is judged as explore judges it.
int run_changed(const ReplayArgs& a, const Trace& t, const Scenario& sc, const RunOptions& o) {
  std::vector<std::string> sets;
  for (auto& [k, v] : t.header.params.items()) sets.push_back(k + "=" + json_value(v));
  const Params recorded = resolve_params(sc, sets);
  for (const auto& s : a.sets) sets.push_back(s);
  const Params params = resolve_params(sc, sets);
  const ChoiceSeq seq = a.has_choices ? parse_choices_arg(a.choices) : t.header.choices;
  FollowStrategy follow(seq);
  follow.begin_run();
  RunResult r = run_once(sc, params, follow, o);
  const auto& d = follow.divergence();
  if (a.has_choices && d && d->kind != FollowStrategy::Divergence::ran_out) throw ParamError("--choices: " + d->why);

  if (!a.quiet) std::cout << render_text(*r.trace);
  std::string changed;
  const auto before = recorded.to_json(), after = params.to_json();
  for (auto& [k, v] : after.items())
    if (before[k] != v) changed += fmt::format("{}{}: {} → {}", changed.empty() ? "" : ", ", k, json_value(before[k]), json_value(v));
  std::cout << "parameters: " << (changed.empty() ? "as recorded" : changed) << "\n";
  const std::string source = a.has_choices ? "--choices" : "recorded";
  if (!d) {
    std::cout << fmt::format("schedule: followed all {} {} choices; the run asked no more\n", seq.size(), source);
  } else if (d->kind == FollowStrategy::Divergence::mismatch) {
    std::cout << fmt::format("schedule: followed {} of {} {} choices, then diverged: {}; the rest ({} "
                             "choice points) answered by the default policy (first option)\n",
                             follow.followed(), seq.size(), source, d->why, follow.defaulted());
  } else if (d->kind == FollowStrategy::Divergence::ran_out) {
    std::cout << fmt::format("schedule: followed all {} {} choices; the run asked {} more from step {}, answered "
                             "by the default policy (first option)\n",
                             seq.size(), source, follow.defaulted(), d->step);
  } else {
    std::cout << fmt::format("schedule: followed {} of {} {} choices; the run ended before the other {}\n",
                             follow.followed(), seq.size(), source, seq.size() - follow.followed());
  }
  std::cout << "outcome: " << outcome_words(std::string(to_string(r.end.outcome)), r.end.property, r.steps, r.t_ns);
  std::cout << fmt::format("  (recorded: {})\n",
                           outcome_words(t.footer.outcome, t.footer.property, t.footer.steps, t.footer.t_ns));
  if (!r.end.message.empty()) std::cout << "  " << r.end.message << "\n";
  if (!a.trace_out.empty()) {
    save_trace(a.trace_out, *r.trace);
    std::cout << "trace written to " << a.trace_out << " (kpsim replay " << a.trace_out << " reproduces it)\n";
  }
  return verdict_exit(r.end);
}

}  // namespace

static int run_replay(ReplayArgs a, CLI::App* sub) {
  a.has_choices = sub->count("--choices") > 0;
  if (a.check && (a.has_choices || !a.sets.empty()))
    throw ParamError("--check compares a reproduction byte for byte; with --set or --choices the run is another one");
  const std::string& path = a.path;
  const bool check = a.check, quiet = a.quiet;
  const std::string original = read_file_bytes(path);
  const Trace t = load_trace(path);
  const Scenario* sc = &scenario_of(t, path);
  const Params params = resolve_params(*sc, t.header.params);
  RunOptions o;
  // The limits the trace was recorded under (the scenario's unless it says otherwise), then the
  // command line's: a trace whose run went on and on (an edited parameter, say) stops there.
  const RunLimits recorded =
      t.header.has_limits() ? RunLimits{t.header.max_steps, t.header.max_time_ns} : sc->default_limits();
  o.limits = recorded;
  if (a.max_steps) o.limits.max_steps = a.max_steps;
  if (a.max_time_ms) o.limits.max_time_ns = a.max_time_ms * 1000000;
  o.trace = true;
  o.strategy_label = t.header.strategy;
  o.seed = t.header.seed;
  if (!a.sets.empty() || a.has_choices) {
    o.strategy_label = "replay";  // a schedule given here, not the recorded strategy's
    return run_changed(a, t, *sc, o);
  }

  ReplayStrategy replay(t.header.choices, /*strict=*/true);
  replay.begin_run();
  RunResult r = run_once(*sc, params, replay, o);
  r.trace->footer.crosscheck = t.footer.crosscheck;  // an annotation, not part of the run
  // So is the version that wrote the trace: another kpsim (or none recorded, an old trace) may
  // reproduce it byte for byte. Absent in the input, absent in the comparison.
  r.trace->header.kpsim_version = t.header.kpsim_version;
  // An old trace is compared in its own format: the same run writes the same bytes there too.
  r.trace->header.format = t.header.format;

  if (!quiet) std::cout << render_text(*r.trace);
  if (!a.trace_out.empty()) save_trace(a.trace_out, *r.trace);
  if (t.header.format == kOldestTraceFormat)
    std::cout << fmt::format(
        "note: {} is trace format {}: its choices do not record their kinds or option counts, "
        "so the replay could check only that each answer was in range\n",
        path, t.header.format);
  const bool limits_overridden =
      o.limits.max_steps != recorded.max_steps || o.limits.max_time_ns != recorded.max_time_ns;
  const bool at_limit = r.end.outcome == Outcome::step_limit || r.end.outcome == Outcome::time_limit;
  if (!replay.divergence().empty() && (limits_overridden || at_limit)) {
    // Other limits make another run: one cut short leaves choices unused, one let go further
    // asks for more. That is the limits' doing (given, or edited in the trace), not choices that
    // do not fit the model: not reproduced, as an edited outcome would be.
    std::cout << fmt::format("not reproduced under {} limits ({} steps, {} ns): the run ended {} after {} "
                             "steps, the trace {} after {} ({})\n",
                             limits_overridden ? "the given" : "the trace's", o.limits.max_steps, o.limits.max_time_ns, to_string(r.end.outcome), r.steps,
                             t.footer.outcome, t.footer.steps, replay.divergence());
    return kExitNotReproduced;
  }
  if (!replay.divergence().empty()) {
    // The trace's choices do not fit this run: not a kpsim trace of this model (bad input).
    std::cout << "replay diverged: " << replay.divergence() << "\n";
    return kExitUsage;
  }
  if (check) {
    if (trace_to_string(*r.trace) != original) {
      std::cout << "check FAILED: the replayed trace differs from " << path << "\n";
      return kExitNotReproduced;
    }
    std::cout << "check ok: replayed trace is byte-identical to " << path << "\n";
    // Said every time, so that nobody takes these for checked: the replay copies them from the input.
    std::cout << fmt::format("not compared (annotations a replay cannot re-derive): strategy, seed{}{}\n",
                             t.header.kpsim_version.empty() ? "" : ", kpsim_version",
                             t.footer.crosscheck.is_null() ? "" : ", crosscheck");
  }
  if (r.trace->footer.outcome != t.footer.outcome) {
    std::cout << fmt::format("outcome differs: recorded {}, replayed {}\n", t.footer.outcome,
                             r.trace->footer.outcome);
    return kExitNotReproduced;
  }
  return kExitOk;
}

Command add_replay(CLI::App& app) {
  auto* sub = app.add_subcommand("replay", "Re-run a trace's choice sequence and show it");
  sub->footer(
      "Exit status: 0 reproduced (and, with --check, byte-identical); 2 bad input, including a trace\n"
      "whose choices do not fit the run (replay diverged); 5 not reproduced: the same choices gave\n"
      "another outcome or, with --check, other bytes (nondeterminism, or the model changed since\n"
      "the trace was recorded: scripts/update-findings regenerates stored ones). The header's seed,\n"
      "strategy (one of random, pct, dfs, replay) and kpsim_version and the footer's crosscheck\n"
      "block are annotations a replay cannot re-derive: not compared, and --check says so (a trace\n"
      "without kpsim_version, from before it existed, is compared without one). Every other field\n"
      "is re-derived by the run and compared. Parameters and limits are part of the run: a trace\n"
      "edited to other values passes --check only if those values give exactly the same run. The\n"
      "run is bounded by the trace's recorded limits (header `limits`, else the scenario's),\n"
      "overridden by --max-steps/--max-time-ms. Unknown keys are refused (exit 2).\n"
      "--set k=v or --choices make another run, not a reproduction: it follows the choices while they\n"
      "fit (then the first option), says where it left them and exits as explore does: 0 every\n"
      "property held, 1 a violation or deadlock, 3 a step/time limit or model error, 4 a model invariant.");
  auto a = std::make_shared<ReplayArgs>();
  sub->add_option("trace", a->path, "trace file written by explore --trace-out")->required();
  sub->add_flag("--check", a->check, "fail unless the new trace is byte-identical to the file");
  sub->add_flag("--quiet", a->quiet, "do not print the lane chart");
  sub->add_option("--max-steps", a->max_steps,
                  "step limit (default: the trace's recorded limit, else the scenario's); another "
                  "limit than the recorded one is part of the run, so --check then fails")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_option("--max-time-ms", a->max_time_ms, "virtual-time limit in ms (default as for --max-steps)")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_option("--set", a->sets,
                  "key=value: re-run the trace's schedule with this parameter changed (repeatable), e.g. "
                  "fix=task-sigpending; the recorded choices are followed while they fit the run, then the "
                  "first option; prints where it diverged and the outcome; exit as explore (0 clean, 1 "
                  "violation, 3 inconclusive)");
  sub->add_option("--choices", a->choices,
                  "run this schedule instead of the recorded one (0,1,0: answers to the choice points; "
                  "missing ones: 0; one out of range exits 2 naming the choice and step)");
  sub->add_option("--trace-out", a->trace_out, "write the new run's trace here (whatever its outcome)");
  return {sub, [a, sub] { return run_replay(*a, sub); }};
}

}  // namespace kpsim::cli
