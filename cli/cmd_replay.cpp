// kpsim replay TRACE [--check]: re-execute a trace's choice sequence.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/trace_file.h"
#include "scenarios/runner.h"
#include "sched/strategy_replay.h"
#include "traces/render.h"

namespace kpsim::cli {

static int run_replay(const std::string& path, bool check, bool quiet) {
  const std::string original = read_file_bytes(path);
  const Trace t = load_trace(path);
  const Scenario* sc = &scenario_of(t, path);
  const Params params = resolve_params(*sc, t.header.params);

  ReplayStrategy replay(t.header.choices, /*strict=*/true);
  replay.begin_run();
  RunOptions o;
  o.limits = sc->default_limits();
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
  if (t.header.format < kTraceFormatVersion)
    std::cout << fmt::format(
        "note: {} is trace format {}: its choices do not record their kinds or option counts, "
        "so the replay could check only that each answer was in range\n",
        path, t.header.format);
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
      "block are annotations a replay cannot re-derive: not compared (a trace without\n"
      "kpsim_version, from before it existed, is compared without one). Parameters are part of the\n"
      "run: a trace edited to other parameter values passes --check only if those values give\n"
      "exactly the same run.");
  auto path = std::make_shared<std::string>();
  auto check = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  sub->add_option("trace", *path, "trace file written by explore --trace-out")->required();
  sub->add_flag("--check", *check, "fail unless the new trace is byte-identical to the file");
  sub->add_flag("--quiet", *quiet, "do not print the lane chart");
  return {sub, [path, check, quiet] { return run_replay(*path, *check, *quiet); }};
}

}  // namespace kpsim::cli
