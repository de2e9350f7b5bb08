// A scenario script (.kps): parsed once into a syntax tree, instantiated into a Program
// (program.h) for each assignment of its parameters. docs/scripts.md is the grammar.
//
//   Script s = Script::load("scenarios/sockmap-multi-channels.kps");   // throws ScriptError
//   Params p = resolve_params(s.name(), s.params(), {"proto=tcp"});      // throws ParamError
//   Program prog = s.instantiate(p);                                     // throws ScriptError
//
// Every error is a ScriptError whose what() is "file:line:col: message"; what the runners cannot
// do is refused with a message starting "unsupported: ".
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/params.h"
#include "scenarios/script/program.h"

namespace kpsim::script {

struct ScriptError : std::runtime_error {
  ScriptError(Loc l, const std::string& message)
      : std::runtime_error(l.str() + ": " + message), loc(std::move(l)) {}
  Loc loc;
};

// Limits that keep instantiation bounded whatever the input.
inline constexpr uint64_t kMaxSteps = 100000;       // steps in all threads, after unrolling
inline constexpr uint64_t kMaxScriptBytes = 1u << 20;  // Script::load

struct Ast;  // script.cpp

// What `kpsim check` runs for this script: its `check` lines (docs/scripts.md). A field left
// unset takes check's command-line default; no `check set` line is one case, every parameter
// at its default. Every set is resolved and instantiated at parse time, so a script that loads
// runs each of its cases.
struct CheckPlan {
  std::optional<std::string> strategy;  // random | pct | dfs | dpor
  std::optional<uint64_t> budget;       // >= 1
  std::optional<uint64_t> seed;
  bool require_exhaustive = false;
  std::vector<std::vector<std::string>> sets;  // one case each: key=value settings, as --set
};

// What `kpsim crosscheck` runs for this script when no --sweep is given: its `crosscheck sweep
// KEY=V1,V2,...` lines, one axis each; the cells are every combination (docs/scripts.md).
struct SweepAxis {
  std::string key;
  std::vector<std::string> values;
};

class Script {
 public:
  // Parses `text` (read from `file`, used in locations) and checks that it instantiates with
  // every parameter at its default. Throws ScriptError.
  static Script parse(std::string file, std::string_view text);
  // Reads a regular file of at most kMaxScriptBytes, then parse(). Throws ScriptError
  // ("path:0:0: ...") for a file that cannot be read.
  static Script load(const std::string& path);

  const std::string& name() const;
  const std::string& summary() const;
  // The `param` and `model` declarations, in file order.
  const std::vector<ParamSpec>& params() const;
  // Declared with `model` (its value goes to Program::model).
  bool is_model_setting(std::string_view param) const;
  // Parameters missing from `p` take their defaults. Throws ScriptError at the statement or
  // expression that cannot be instantiated (a value of `p` out of its declaration: at the
  // declaration).
  Program instantiate(const Params& p) const;
  // The source text.
  const std::string& text() const;
  // The `check` lines.
  const CheckPlan& check_plan() const;
  // The `crosscheck sweep` lines, in file order.
  const std::vector<SweepAxis>& crosscheck_sweeps() const;

 private:
  std::shared_ptr<const Ast> ast_;
};

}  // namespace kpsim::script
