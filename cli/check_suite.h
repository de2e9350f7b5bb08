// `kpsim check`: a suite of scenario scripts as test cases (docs/ci.md). This file is the plan
// and the verdicts; check_report.h writes them out, cmd_check.cpp runs them.
//
// One case is one script with one parameter set (its `check set` lines, docs/scripts.md; none:
// the defaults), run by a child `kpsim explore` with the strategy, seed and budget the script
// declares or check's command line gives. A script that does not load is one case that fails
// with exit 2 and is not run. Cases are numbered in a fixed order, the command-line arguments in
// turn, a directory's *.kps sorted by name, a script's sets in file order, so every report is
// the same whatever order the children finish in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kpsim::cli {

// What the command line gives every case that does not declare its own.
struct CheckDefaults {
  std::string strategy = "random";
  uint64_t seed = 1;
  std::optional<uint64_t> budget;  // unset: explore's default (random/pct 1000, dfs 1000000)
  bool require_exhaustive = false;
  uint64_t max_steps = 0;    // 0: the script's limit
  uint64_t max_time_ms = 0;  // 0: the script's limit
};

struct CheckCase {
  std::string script;    // the path as found (argument, or directory/name)
  std::string stem;      // the file name without .kps: the JUnit classname
  std::string name;      // the set as "k=v k=v", or "defaults"
  std::vector<std::string> sets;
  std::string strategy;  // resolved: script's, else the default
  uint64_t seed = 1;
  uint64_t budget = 0;
  bool require_exhaustive = false;
  uint64_t max_steps = 0, max_time_ms = 0;
  std::string load_error;  // non-empty: the script did not load (the ScriptError's text)
  std::string trace;       // where a failing run's trace goes (in the artefacts directory)
};

// The verdicts, worst last (see check_rank).
enum class CheckVerdict : uint8_t { clean, inconclusive, violation, model_invariant, nondeterministic, bad_input, internal, not_run };
const char* to_string(CheckVerdict v);

struct CaseResult {
  CheckVerdict verdict = CheckVerdict::not_run;
  int exit = 0;  // the explore child's exit status (2 for a script that did not load)
  uint64_t schedules = 0, violations = 0;
  bool exhaustive = false;
  std::string message;  // one line: what failed, or why the result is not a pass
  std::string trace;    // the trace artefact, when one was written
  std::string chart;    // the trace drawn as a lane chart (render_text), for the JUnit body
  double seconds = 0;   // wall time of the child: reports' time= only, never compared
};

// Expands DIR|FILE arguments into cases (a directory: every *.kps in it, sorted; not
// recursive). Throws ParamError for an argument that is neither, or a directory without
// scripts: a CI job pointed at the wrong folder must not pass with nothing run.
std::vector<CheckCase> plan_cases(const std::vector<std::string>& inputs, const CheckDefaults& d,
                                  const std::string& artifacts_dir);

// A seed from any string (a commit id): FNV-1a 64 of its bytes through one splitmix64 round,
// the same on every platform and build.
uint64_t seed_from(const std::string& text);

// The suite's exit status, worst first: internal error 70, bad input 2, nondeterministic 6,
// model invariant 4, violation 1, inconclusive 3, clean 0. The further down, the more the other
// cases can be trusted: a suite with a bad script did not run as written; a kpsim bug (70, 6, 4)
// makes its findings suspect; a violation is a definite finding; inconclusive is only "not
// proved". A case that was not run (interrupted) counts as nothing here; the interrupt itself
// makes check exit 130.
int check_rank(int exit_code);
int worst_exit(const std::vector<CaseResult>& results);

// The explore arguments of a case (without the program name), and the command line that
// reproduces it, shell-quoted, starting "kpsim explore".
std::vector<std::string> explore_args(const CheckCase& c);
std::string reproduce_command(const CheckCase& c);
std::string shell_quote(const std::string& word);

}  // namespace kpsim::cli
