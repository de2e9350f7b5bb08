// The kpsim subcommands. Each returns the process exit code: 0 success / no violation,
// 1 a violation (or a failed check), 2 bad input.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

namespace kpsim::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFinding = 1;
inline constexpr int kExitUsage = 2;
// Nothing violated, but not everything was checked: a schedule ended at a step or time limit
// or in a model exception, or --require-exhaustive was asked and the search did not finish.
inline constexpr int kExitInconclusive = 3;
// A model's own invariant broke (Outcome::model_invariant): a kpsim bug, not a kernel finding.
inline constexpr int kExitModelBug = 4;
// The same choices did not reproduce the trace (replay --check, or another outcome): the run is
// not deterministic, or the model changed since the trace was recorded.
inline constexpr int kExitNotReproduced = 5;
// explore --check-determinism: two re-runs of the same schedule wrote different traces (or the
// re-run did not end as the searched run did). Both traces are written to a temporary directory.
inline constexpr int kExitNondeterministic = 6;
// SIGINT/SIGTERM: what was done so far is printed (128 + SIGINT, as a shell reports it).
inline constexpr int kExitInterrupted = 130;
// A failure kpsim did not expect (a bug in kpsim): one line, "please report", the command line.
inline constexpr int kExitInternal = 70;  // EX_SOFTWARE

// Unsigned options: CLI11 would wrap "-1" into a huge unsigned value; refuse anything but digits.
// Nor may a value too large for 64 bits be clamped: it is refused.
inline const CLI::Validator kUnsigned(
    [](std::string& v) -> std::string {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
        return "must be a non-negative integer, got '" + v + "'";
      uint64_t x = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec != std::errc() || end != v.data() + v.size()) return "'" + v + "' does not fit in 64 bits";
      return {};
    },
    "UINT");

// An unsigned option with bounds: kUnsigned's refusal, else the range's, as one message.
// (`kUnsigned & CLI::Range(lo, hi)` ran both and joined their messages with "AND" when the
// value was not a number at all.)
inline CLI::Validator unsigned_in(uint64_t lo, uint64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        if (std::string err = kUnsigned(v); !err.empty()) return err;
        const uint64_t x = std::stoull(v);  // kUnsigned has checked digits and width
        if (x < lo || x > hi) return "must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + v;
        return {};
      },
      "[" + std::to_string(lo) + " - " + std::to_string(hi) + "]");  // --help: "UINT:[1 - 16]"
}

// explore's and merge's "exhaustive ..." on the text line: what the search covered. A bound
// (--preemption-bound) limits "yes" to the schedules within it; a budgeted iterative dfs that
// stopped short says which bound it finished (DfsStrategy::preemptions_covered).
inline std::string exhaustive_text(bool exhaustive, std::optional<uint64_t> bound, std::optional<uint64_t> covered) {
  const auto within = [](uint64_t b) {
    return "every schedule with at most " + std::to_string(b) + (b == 1 ? " preemption" : " preemptions");
  };
  if (exhaustive) return bound ? "yes (" + within(*bound) + ")" : "yes";
  return covered ? "no, but " + within(*covered) + " ran" : "no";
}

// Each registers its subcommand and returns the function that runs it after parsing.
using Runner = std::function<int()>;
using Command = std::pair<CLI::App*, Runner>;
Command add_list(CLI::App& app);
Command add_explore(CLI::App& app);
Command add_replay(CLI::App& app);
Command add_render(CLI::App& app);
Command add_docgen(CLI::App& app);
Command add_kernel(CLI::App& app);
Command add_crosscheck(CLI::App& app);
Command add_merge(CLI::App& app);
Command add_calibrate(CLI::App& app);
Command add_check(CLI::App& app);
Command add_sweep(CLI::App& app);

}  // namespace kpsim::cli
