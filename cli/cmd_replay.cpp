// kpsim replay TRACE [--check]: re-execute a trace's choice sequence.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/trace_file.h"
#include "scenarios/runner.h"
#include "sched/strategy_replay.h"
#include "traces/render.h"

namespace kpsim::cli {

struct ReplayArgs {
  std::string path;
  bool check = false, quiet = false;
  uint64_t max_steps = 0, max_time_ms = 0;  // 0: the trace's limits (or the scenario's)
};

static int run_replay(const ReplayArgs& a) {
  const std::string& path = a.path;
  const bool check = a.check, quiet = a.quiet;
  const std::string original = read_file_bytes(path);
  const Trace t = load_trace(path);
  const Scenario* sc = &scenario_of(t, path);
  const Params params = resolve_params(*sc, t.header.params);

  ReplayStrategy replay(t.header.choices, /*strict=*/true);
  replay.begin_run();
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
  RunResult r = run_once(*sc, params, replay, o);
  r.trace->footer.crosscheck = t.footer.crosscheck;  // an annotation, not part of the run
  // So is the version that wrote the trace: another kpsim (or none recorded, an old trace) may
  // reproduce it byte for byte. Absent in the input, absent in the comparison.
  r.trace->header.kpsim_version = t.header.kpsim_version;
  // An old trace is compared in its own format: the same run writes the same bytes there too.
  r.trace->header.format = t.header.format;

  if (!quiet) std::cout << render_text(*r.trace);
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
      "overridden by --max-steps/--max-time-ms. Unknown keys are refused (exit 2).");
  auto a = std::make_shared<ReplayArgs>();
  sub->add_option("trace", a->path, "trace file written by explore --trace-out")->required();
  sub->add_flag("--check", a->check, "fail unless the new trace is byte-identical to the file");
  sub->add_flag("--quiet", a->quiet, "do not print the lane chart");
  sub->add_option("--max-steps", a->max_steps,
                  "step limit (default: the trace's recorded limit, else the scenario's); another "
                  "limit than the recorded one is part of the run, so --check then fails")
      ->check(kUnsigned & CLI::Range(uint64_t{1}, uint64_t{1000000000000}));
  sub->add_option("--max-time-ms", a->max_time_ms, "virtual-time limit in ms (default as for --max-steps)")
      ->check(kUnsigned & CLI::Range(uint64_t{1}, uint64_t{1000000000000}));
  return {sub, [a] { return run_replay(*a); }};
}

}  // namespace kpsim::cli
