// KernelSide: how a scenario runs on a real kernel, and how a kernel result is judged against
// the model's outcomes. `kpsim kernel` and `kpsim crosscheck` (cli/cmd_kernel.cpp) are generic
// over it; what is scenario-specific — which runner, how the scenario's parameters become the
// runner's, what an outcome is, when model and kernel agree — lives beside the scenario in
// scenarios/<scenario>_kernel.cpp.
//
// Contract of both commands: `params` are the scenario's parameters resolved exactly as for
// `kpsim explore` (defaults + --set), so a parameter means the same everywhere. A kernel side
// reproduces every value on the kernel or refuses it with ParamError before touching the
// kernel (exit 2); it never approximates silently. KernelError: the kernel could not be run
// here or a run failed (exit 2).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenarios/scenario.h"

namespace kpsim {

// A target is "host" (this machine's kernel) or a Debian kernel version booted in a qemu
// guest ("6.12", "6.1": scripts/guest/boot, docs/guest.md).
inline constexpr std::string_view kHostTarget = "host";

struct KernelRequest {
  std::string target{kHostTarget};
  Params params;
  // The keys given with --set. A cross-check that compares several cells varies only the
  // parameters the user left at their defaults.
  std::set<std::string> fixed;
  std::optional<uint64_t> runs;         // --runs: kernel runs (per cell); nullopt: the side's default
  std::optional<uint64_t> forced_runs;  // crosscheck --forced-runs: runs per steered schedule
  std::string schedule;                 // kernel --schedule; empty: the side's default
  // kernel --schedule from:TRACE: the footer metrics of that trace (of this scenario), whose
  // schedule the side steers the kernel toward.
  std::optional<nlohmann::ordered_json> schedule_from;
  // crosscheck --sweep KEY=V1,V2,...: the grid of cells (every combination), in one batch.
  // Empty: the side's default cells.
  std::vector<std::pair<std::string, std::vector<std::string>>> sweeps;
  bool verbose = false;  // --verbose: the kernel evidence behind each verdict
  // --run-timeout: a kernel run still going after this long is stopped and reported as such
  // (a permanent stall on 6.1 would otherwise hold a sweep for the side's default per run).
  std::optional<uint64_t> run_timeout_s;
};

// Resolves `sets` as explore does (throws ParamError) and records which keys they set.
KernelRequest make_kernel_request(const Scenario& sc, std::string target,
                                  const std::vector<std::string>& sets);

struct KernelReport {
  std::string text;             // for people: what ran, one line per outcome or cell, the verdict
  nlohmann::ordered_json json;  // the same as one JSON object (--json)
  bool agree = true;            // crosscheck: model and kernel agree (exit 0, else 1)
  // crosscheck: nothing disagreed, but nothing could be compared either (every cell "not
  // tested": a forced window that never formed): exit 3, inconclusive.
  bool inconclusive = false;
  nlohmann::ordered_json annotation;  // crosscheck: what --annotate records in a trace footer
  // SIGINT/SIGTERM stopped the runs early: text and json hold the runs that completed (a run
  // cut short is no outcome), and the command exits 130 instead of judging a partial result.
  bool interrupted = false;
};

struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class KernelSide {
 public:
  virtual ~KernelSide() = default;
  // The targets it runs on, e.g. {"host"} or {"6.12", "6.1"}.
  virtual std::vector<std::string> targets() const = 0;
  // One line for `kpsim list`: the runner, and the options it understands.
  virtual std::string_view summary() const = 0;
  // kpsim kernel: runs r.params on r.target and reports what the kernel did.
  virtual KernelReport run(const Scenario& sc, const KernelRequest& r) const = 0;
  // kpsim crosscheck: the model's outcomes, the kernel's, and a verdict on each.
  virtual KernelReport crosscheck(const Scenario& sc, const KernelRequest& r) const = 0;
};

// Refusals worded alike by every side. require_default: throws ParamError unless `key` has its
// declared default; `why` says what the target cannot do ("the guest sets no SO_SNDBUF").
void require_default(const Scenario& sc, const Params& p, std::string_view key, std::string_view why);
// refuse_option: throws ParamError naming an option this side does not take, and why.
void refuse_option(const Scenario& sc, std::string_view option, std::string_view why);

}  // namespace kpsim
