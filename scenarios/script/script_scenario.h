// A Scenario defined by a script (.kps): the only definition of the scenario. The parser
// (scenarios/script/script.h) gives its name, summary and parameters; setup() instantiates the
// Program for the run's parameters and builds the model world from it
// (scenarios/script/model_world.h); kernel_side() runs the same Program on a real kernel
// (scenarios/script/script_kernel.cpp).
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>
#include <string>

#include "scenarios/scenario.h"
#include "scenarios/script/program.h"

namespace kpsim::script {

class Script;  // scenarios/script/script.h

class ScriptScenario final : public Scenario {
 public:
  // `source`: the file the script was read from ("" for a script built into kpsim).
  ScriptScenario(std::shared_ptr<const Script> script, std::string source);
  std::string_view name() const override;
  std::string_view summary() const override;
  const std::vector<ParamSpec>& params() const override;
  std::unique_ptr<World> setup(Sched& s, const Params& p) const override;
  RunLimits default_limits() const override;
  const KernelSide* kernel_side() const override;
  std::string_view source() const override { return source_; }
  std::string definition() const override;

  // The Program for these parameters (what the model and the kernel runners execute).
  Program program(const Params& p) const;
  const Script& script() const { return *script_; }
  // Parameters declared with `model` (readings of the kernel a real kernel cannot vary).
  bool is_model_setting(std::string_view param) const;

 private:
  std::shared_ptr<const Script> script_;
  std::string source_;
  mutable std::mutex cache_mu_;
  mutable std::shared_ptr<const Program> cached_;
  mutable Params cached_params_;
  RunLimits limits_;
};

// Scenarios from the scripts built into kpsim (scenarios/*.kps, embedded at build time), in
// file-name order.
const std::vector<const Scenario*>& builtin_script_scenarios();
// A script read from a file (a path containing '/' or ending in .kps). Loaded once per process;
// throws ScriptError for a missing, unreadable or invalid script.
const Scenario& load_script_scenario(const std::string& path);

// The generic real-kernel side of every script scenario (host sockmap runner).
const KernelSide* script_kernel_side();
// The guest side of every stream-world script (kTLS): scenarios/script/script_guest.cpp.
const KernelSide* script_guest_side();

}  // namespace kpsim::script
