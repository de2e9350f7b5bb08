#include "cli/check_suite.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "scenarios/params.h"
#include "scenarios/script/script.h"
#include "sched/splitmix64.h"

namespace kpsim::cli {

namespace fs = std::filesystem;

const char* to_string(CheckVerdict v) {
  switch (v) {
    case CheckVerdict::clean: return "clean";
    case CheckVerdict::inconclusive: return "inconclusive";
    case CheckVerdict::violation: return "violation";
    case CheckVerdict::model_invariant: return "model-invariant";
    case CheckVerdict::nondeterministic: return "nondeterministic";
    case CheckVerdict::bad_input: return "bad-input";
    case CheckVerdict::internal: return "internal-error";
    case CheckVerdict::not_run: return "not-run";
  }
  return "?";
}

uint64_t seed_from(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (const unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return SplitMix64(h).next();
}

int check_rank(int exit_code) {
  switch (exit_code) {
    case 0: return 0;
    case 3: return 1;
    case 1: return 2;
    case 4: return 3;
    case 6: return 4;
    case 2: return 5;
    default: return 6;  // 70, and anything explore does not exit with
  }
}

int worst_exit(const std::vector<CaseResult>& results) {
  int worst = 0;
  for (const CaseResult& r : results)
    if (r.verdict != CheckVerdict::not_run && check_rank(r.exit) > check_rank(worst)) worst = r.exit;
  return worst;
}

namespace {

// A file name from a case's set: "proto=udp n=3" -> "proto-udp.n-3"; anything but
// [A-Za-z0-9._-] becomes '_' so that every CI's artefact upload takes it.
std::string file_safe(const std::vector<std::string>& sets) {
  std::string out;
  for (const std::string& s : sets) {
    if (!out.empty()) out += '.';
    for (const char c : s) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
      out += c == '=' ? '-' : ok ? c : '_';
    }
  }
  return out;
}

std::vector<std::string> scripts_of(const std::string& arg) {
  std::error_code ec;
  const fs::file_status st = fs::status(arg, ec);
  if (ec || !fs::exists(st)) throw ParamError("check: no such file or directory: " + arg);
  if (!fs::is_directory(st)) return {arg};
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(arg, ec))
    if (e.path().extension() == ".kps") names.push_back(e.path().filename().string());
  if (ec) throw ParamError("check: cannot list " + arg + ": " + ec.message());
  if (names.empty()) throw ParamError("check: no .kps scripts in " + arg);
  std::sort(names.begin(), names.end());  // byte order: the same on every machine and locale
  std::vector<std::string> out;
  const std::string dir = arg.ends_with('/') ? arg : arg + "/";
  for (const std::string& n : names) out.push_back(dir + n);
  return out;
}

}  // namespace

std::vector<CheckCase> plan_cases(const std::vector<std::string>& inputs, const CheckDefaults& d,
                                  const std::string& artifacts_dir) {
  std::vector<CheckCase> cases;
  std::set<std::string> trace_names;
  for (const std::string& arg : inputs)
    for (const std::string& path : scripts_of(arg)) {
      CheckCase base;
      // explore takes a bare word for a built-in scenario's name: a script path always has a '/'.
      base.script = path.find('/') == std::string::npos ? "./" + path : path;
      base.stem = fs::path(path).stem().string();
      base.max_steps = d.max_steps;
      base.max_time_ms = d.max_time_ms;
      std::vector<std::vector<std::string>> sets{{}};
      try {
        const script::Script s = script::Script::load(base.script);
        const script::CheckPlan& p = s.check_plan();
        base.strategy = p.strategy.value_or(d.strategy);
        base.seed = p.seed.value_or(d.seed);
        base.budget = p.budget ? *p.budget : d.budget ? *d.budget : base.strategy == "dfs" || base.strategy == "dpor" ? 1000000 : 1000;
        base.require_exhaustive = p.require_exhaustive || d.require_exhaustive;
        if (!p.sets.empty()) sets = p.sets;
      } catch (const script::ScriptError& e) {
        base.load_error = e.what();
        base.strategy = d.strategy;
      }
      for (const auto& set : sets) {
        CheckCase c = base;
        c.sets = set;
        c.name = set.empty() ? (c.load_error.empty() ? "defaults" : "load") : fmt::format("{}", fmt::join(set, " "));
        // One artefact name per case, in case order: a second script of the same file name
        // (another directory) gets "-2".
        std::string tn = c.stem + (set.empty() ? "" : "." + file_safe(set));
        for (int k = 2; !trace_names.insert(tn).second; ++k)
          tn = c.stem + (set.empty() ? "" : "." + file_safe(set)) + "-" + std::to_string(k);
        c.trace = (fs::path(artifacts_dir) / (tn + ".trace.jsonl")).string();
        cases.push_back(std::move(c));
      }
    }
  return cases;
}

std::vector<std::string> explore_args(const CheckCase& c) {
  std::vector<std::string> a{"explore", c.script};
  for (const std::string& s : c.sets) a.insert(a.end(), {"--set", s});
  a.insert(a.end(), {"--strategy", c.strategy});
  // The exhaustive strategies have no seed.
  if (c.strategy != "dfs" && c.strategy != "dpor") a.insert(a.end(), {"--seed", std::to_string(c.seed)});
  a.insert(a.end(), {"--budget", std::to_string(c.budget)});
  if (c.require_exhaustive) a.push_back("--require-exhaustive");
  if (c.max_steps) a.insert(a.end(), {"--max-steps", std::to_string(c.max_steps)});
  if (c.max_time_ms) a.insert(a.end(), {"--max-time-ms", std::to_string(c.max_time_ms)});
  return a;
}

std::string shell_quote(const std::string& w) {
  const bool plain = !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_./=:,+@%").find(c) != std::string_view::npos;
  });
  if (plain) return w;
  std::string q = "'";
  for (const char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string reproduce_command(const CheckCase& c) {
  std::string cmd = "kpsim";
  for (const std::string& a : explore_args(c)) cmd += " " + shell_quote(a);
  return cmd;
}

}  // namespace kpsim::cli
