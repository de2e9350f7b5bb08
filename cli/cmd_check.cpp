// kpsim check DIR|FILE...: run a suite of scenario scripts as test cases, -j N at a time, each
// in a child `kpsim explore` of this same binary (/proc/self/exe): a case that crashes or hangs
// its process is that case's result, not the suite's end, and the children's exit statuses are
// explore's, already defined. check_suite.h is the plan, check_report.h the reports.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/check_report.h"
#include "cli/check_suite.h"
#include "cli/commands.h"
#include "cli/stop_signals.h"
#include "cli/trace_file.h"
#include "traces/render.h"

namespace kpsim::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct CheckArgs {
  std::vector<std::string> inputs;
  unsigned jobs = 1;
  CheckDefaults defaults;
  uint64_t budget = 0;
  std::string seed_from_text;
  std::string junit;
  bool tap = false;
  std::string artifacts = "kpsim-artifacts";
  bool quiet = false;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// Starts `kpsim explore` for case `c`, its stdout and stderr going to files. Everything the
// child needs is prepared before fork(): between fork and exec it only calls dup2, execv, _exit.
pid_t launch(const CheckCase& c, const std::string& out_path, const std::string& err_path) {
  std::vector<std::string> args{"kpsim"};
  for (auto& a : explore_args(c)) args.push_back(a);
  for (const char* a : {"--trace-out", c.trace.c_str(), "--json", "--quiet"}) args.emplace_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || in < 0) throw std::runtime_error("check: cannot create " + out_path + ": " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  ::close(out);
  ::close(err);
  ::close(in);
  if (pid < 0) throw std::runtime_error(std::string("check: fork: ") + std::strerror(errno));
  return pid;
}

// A child's result from its exit status and its --json report.
CaseResult collect(const CheckCase& c, int status, const std::string& out_path, const std::string& err_path) {
  CaseResult r;
  const std::string err = slurp(err_path);
  if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT) &&
      stop_requested().load()) {
    // check forwarded its own SIGINT/SIGTERM, and this child got it before it had installed its
    // handler (it had just started): stopped by the interrupt, not a crash.
    r.verdict = CheckVerdict::not_run;
    r.exit = kExitInterrupted;
    r.message = "stopped: check was interrupted (the case had just started)";
    return r;
  }
  if (WIFSIGNALED(status)) {
    r.verdict = CheckVerdict::internal;
    r.exit = kExitInternal;
    r.message = fmt::format("kpsim explore died of signal {} ({}){}", WTERMSIG(status), strsignal(WTERMSIG(status)),
                            err.empty() ? "" : ": " + last_line(err));
    return r;
  }
  r.exit = WEXITSTATUS(status);
  nlohmann::json j;
  if (r.exit == 0 || r.exit == 1 || r.exit == 3 || r.exit == 4 || r.exit == 6) {
    try {
      j = nlohmann::json::parse(slurp(out_path));
      r.schedules = j.value("schedules", uint64_t{0});
      r.violations = j.value("violations", uint64_t{0});
      r.exhaustive = j.value("exhaustive", false);
    } catch (const nlohmann::json::exception& e) {
      r.verdict = CheckVerdict::internal;
      r.message = fmt::format("kpsim explore exited {} without a readable report: {}", r.exit, e.what());
      r.exit = kExitInternal;
      return r;
    }
  }
  std::error_code ec;
  if (fs::exists(c.trace, ec)) {
    r.trace = c.trace;
    try {
      r.chart = render_text(load_trace(c.trace));
    } catch (const std::exception& e) {
      r.chart = std::string("(the trace does not render: ") + e.what() + ")\n";
    }
  }
  switch (r.exit) {
    case kExitOk:
      r.verdict = CheckVerdict::clean;
      break;
    case kExitFinding: {
      r.verdict = CheckVerdict::violation;
      const auto& f = j.value("first_violation", nlohmann::json::object());
      r.message = fmt::format("{}: {} (schedule {} of {})", f.value("property", std::string("violation")),
                              f.value("message", std::string()), f.value("schedule", uint64_t{0}), r.schedules);
      break;
    }
    case kExitInconclusive: {
      r.verdict = CheckVerdict::inconclusive;
      const uint64_t n = j.value("inconclusive", uint64_t{0});
      r.message = n ? fmt::format("inconclusive: {} of {} schedules ended at a step/time limit or in a model error",
                                  n, r.schedules)
                    : fmt::format("inconclusive: --require-exhaustive, but {} schedules did not cover the space",
                                  r.schedules);
      break;
    }
    case kExitModelBug: {
      r.verdict = CheckVerdict::model_invariant;
      const auto& m = j.value("model_invariant", nlohmann::json::object());
      r.message = fmt::format("model invariant broken (a kpsim bug): {}: {}", m.value("invariant", std::string()),
                              m.value("message", std::string()));
      break;
    }
    case kExitNondeterministic: {
      r.verdict = CheckVerdict::nondeterministic;
      const auto& m = j.value("nondeterministic", nlohmann::json::object());
      r.message = fmt::format("nondeterministic (a kpsim bug): {} (traces {} and {})", m.value("what", std::string()),
                              m.value("trace_a", std::string()), m.value("trace_b", std::string()));
      break;
    }
    case kExitUsage:
      r.verdict = CheckVerdict::bad_input;
      r.message = err.empty() ? "bad input" : last_line(err);
      break;
    case kExitInterrupted:  // by check itself on SIGINT/SIGTERM, or a signal to its group
      r.verdict = CheckVerdict::not_run;
      r.message = "stopped: check was interrupted";
      break;
    default:
      r.verdict = CheckVerdict::internal;
      r.message = r.exit == 127 ? "cannot run /proc/self/exe"
                                : fmt::format("kpsim explore exited {}{}", r.exit, err.empty() ? "" : ": " + last_line(err));
      r.exit = kExitInternal;
  }
  return r;
}

// The directory of `path` (--junit), created if missing, now: a report that cannot be written is
// bad input before the suite runs, not after.
void make_parent_dir(const std::string& path, const char* what) {
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw ParamError(fmt::format("check: {} {}: cannot create the directory {}", what, path, parent.string()));
}

int run_check(CheckArgs a, CLI::App* sub) {
  CheckDefaults& d = a.defaults;
  if (sub->count("--budget")) d.budget = a.budget;
  std::string seed_note = fmt::format("seed {}", d.seed);
  if (sub->count("--seed-from")) {
    d.seed = seed_from(a.seed_from_text);
    seed_note = fmt::format("seed {} (from '{}')", d.seed, a.seed_from_text);
  }
  if (!a.junit.empty()) make_parent_dir(a.junit, "--junit");
  std::error_code ec;
  fs::create_directories(a.artifacts, ec);
  if (ec || !fs::is_directory(a.artifacts))
    throw ParamError(fmt::format("check: --artifacts {}: cannot create the directory", a.artifacts));
  const std::vector<CheckCase> cases = plan_cases(a.inputs, d, a.artifacts);

  const char* tmp = std::getenv("TMPDIR");
  std::string work = std::string(tmp && *tmp ? tmp : "/tmp") + "/kpsim-check.XXXXXX";
  if (!mkdtemp(work.data())) throw std::runtime_error("cannot create a temporary directory " + work);
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } remove_work{work};

  if (!a.quiet)
    std::cerr << fmt::format("kpsim check: {} cases, -j{}, {}, traces of failing cases in {}\n", cases.size(),
                             a.jobs, seed_note, a.artifacts);
  const auto t0 = Clock::now();
  std::vector<CaseResult> results(cases.size());
  size_t done = 0;
  auto progress = [&](size_t i) {
    ++done;
    if (a.quiet) return;
    const CaseResult& r = results[i];
    std::cerr << fmt::format("kpsim check: [{:>{}}/{}] {:<16} {} {}  ({:.2f} s)\n", done,
                             std::to_string(cases.size()).size(), cases.size(), to_string(r.verdict), cases[i].stem,
                             cases[i].name, r.seconds);
  };

  // SIGINT/SIGTERM: start no more cases, stop the running ones (they report what they did and
  // exit 130), write the reports with the rest marked not run, exit 130.
  const StopOnSignals on_signals;
  const std::atomic<bool>& stop = stop_requested();
  struct Running {
    size_t index;
    Clock::time_point start;
  };
  std::map<pid_t, Running> running;
  size_t next = 0;
  bool stopping = false;
  for (;;) {
    while (!stop.load() && running.size() < a.jobs && next < cases.size()) {
      const size_t i = next++;
      const CheckCase& c = cases[i];
      if (!c.load_error.empty()) {
        // As every command reports bad input: one "kpsim: file:line:col: ..." line, --quiet or not.
        std::cerr << "kpsim: " << c.load_error << "\n";
        results[i] = CaseResult{CheckVerdict::bad_input, kExitUsage, 0, 0, false, c.load_error, {}, {}, 0};
        progress(i);
        continue;
      }
      fs::remove(c.trace, ec);  // a stale trace of an earlier run must not be reported
      const pid_t pid = launch(c, fmt::format("{}/{}.out", work, i), fmt::format("{}/{}.err", work, i));
      running[pid] = Running{i, Clock::now()};
    }
    if (running.empty()) break;
    if (stop.load() && !stopping) {
      stopping = true;
      for (auto& [pid, r] : running) ::kill(pid, SIGTERM);
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("check: waitpid: ") + std::strerror(errno));
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t i = it->second.index;
    const double s = std::chrono::duration<double>(Clock::now() - it->second.start).count();
    running.erase(it);
    results[i] = collect(cases[i], status, fmt::format("{}/{}.out", work, i), fmt::format("{}/{}.err", work, i));
    results[i].seconds = s;
    progress(i);
  }
  const bool interrupted = stop.load();
  for (CaseResult& r : results)
    if (r.verdict == CheckVerdict::not_run && r.message.empty()) r.message = "not run: check was interrupted";

  SuiteSummary summary{seed_note, std::chrono::duration<double>(Clock::now() - t0).count(), a.jobs, interrupted};
  if (!a.junit.empty()) write_file_bytes(a.junit, junit_xml(cases, results, summary));
  const std::string table = summary_table(cases, results, summary);
  if (a.tap) {
    std::cout << tap_report(cases, results) << std::flush;
    std::cerr << table;  // stdout is the TAP stream
  } else {
    std::cout << table;
  }
  if (!a.junit.empty() && !a.quiet) std::cerr << "kpsim check: JUnit report written to " << a.junit << "\n";
  return interrupted ? kExitInterrupted : worst_exit(results);
}

}  // namespace

Command add_check(CLI::App& app) {
  auto a = std::make_shared<CheckArgs>();
  auto* sub = app.add_subcommand("check", "Run a suite of scenario scripts as test cases (CI: JUnit, TAP)");
  sub->footer(
      "Each script is one test case per `check set` line it declares (docs/scripts.md; none: one\n"
      "case with the defaults), run by `kpsim explore` with the strategy, seed, budget and\n"
      "require-exhaustive the script declares, else the ones given here. A directory stands for\n"
      "every *.kps in it (sorted by name). Progress goes to stderr, the summary table to stdout\n"
      "(stderr with --tap); the trace of each failing case is written to --artifacts.\n"
      "Exit status: the worst case's, worst first: 70 internal error, 2 bad input (a script that\n"
      "does not load, a bad option, a missing path), 6 nondeterministic, 4 model invariant broken,\n"
      "1 violation, 3 inconclusive, 0 every case clean; 130 interrupted (SIGINT/SIGTERM: the\n"
      "reports are written, cases not run are skipped). docs/ci.md: CI jobs that use it.");
  sub->add_option("inputs", a->inputs, "script files (.kps) and directories of them")->required();
  sub->add_option("-j,--jobs", a->jobs, "cases run at once, each in its own process (default 1)")
      ->check(unsigned_in(1, 256));
  sub->add_option("--strategy", a->defaults.strategy, "default strategy: random | pct | dfs | dpor (default random)")
      ->check(CLI::IsMember({"random", "pct", "dfs", "dpor"}));
  auto* seed = sub->add_option("--seed", a->defaults.seed, "default seed for random and pct (default 1)")->check(kUnsigned);
  sub->add_option("--seed-from", a->seed_from_text,
                  "derive the default seed from a string, e.g. a commit id (FNV-1a + splitmix64: the same "
                  "string gives the same seed everywhere)")
      ->excludes(seed);
  sub->add_option("--budget", a->budget, "default budget: schedules per case (default 1000; dfs and dpor 1000000)")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_flag("--require-exhaustive", a->defaults.require_exhaustive,
                "every case must cover its whole search space, else it is inconclusive (3)");
  sub->add_option("--max-steps", a->defaults.max_steps, "step limit per schedule, every case (default: the script's)")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_option("--max-time-ms", a->defaults.max_time_ms, "virtual-time limit per schedule in ms, every case")
      ->check(unsigned_in(1, 1000000000000));
  sub->add_option("--junit", a->junit, "write a JUnit XML report here (its directory created if missing; written whole, then renamed into place)");
  sub->add_flag("--tap", a->tap, "print TAP version 13 on stdout (the summary table then goes to stderr)");
  sub->add_option("--artifacts", a->artifacts, "directory for failing cases' traces (default kpsim-artifacts)");
  sub->add_flag("--quiet", a->quiet, "no progress lines on stderr");
  return {sub, [a, sub] { return run_check(*a, sub); }};
}

}  // namespace kpsim::cli
