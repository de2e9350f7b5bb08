#include "scenarios/script/script_scenario.h"

#include "scenarios/script/model_world.h"
#include "scenarios/script/script.h"

namespace kpsim::script {

ScriptScenario::ScriptScenario(std::shared_ptr<const Script> script, std::string source)
    : script_(std::move(script)), source_(std::move(source)) {
  // The limits do not depend on parameters: take them from the defaults' Program.
  const Program p = script_->instantiate(resolve_params(*this, std::vector<std::string>{}));
  if (p.max_steps) limits_.max_steps = p.max_steps;
  if (p.max_time_ns) limits_.max_time_ns = p.max_time_ns;
}

std::string_view ScriptScenario::name() const { return script_->name(); }
std::string_view ScriptScenario::summary() const { return script_->summary(); }
const std::vector<ParamSpec>& ScriptScenario::params() const { return script_->params(); }
RunLimits ScriptScenario::default_limits() const { return limits_; }
// A script of the stream world (kTLS, files, pipes, io_uring) runs in the qemu guest, whose
// runner interprets it (this machine's kernel has no kTLS); a sockmap script on the host.
const KernelSide* ScriptScenario::kernel_side() const {
  if (script_->instantiate(resolve_params(*this, std::vector<std::string>{})).stream()) return script_guest_side();
  return script_kernel_side();
}

std::string ScriptScenario::definition() const {
  if (!source_.empty()) return source_;
  return "scenarios/" + std::string(name()) + ".kps (built in)";
}

Program ScriptScenario::program(const Params& p) const { return script_->instantiate(p); }

bool ScriptScenario::is_model_setting(std::string_view param) const {
  return script_->is_model_setting(param);
}

// A search runs one parameter set many times: instantiate once and share the Program (copying
// it per schedule cost 12 % of the seed's schedules/s). One entry: the last parameters seen.
std::unique_ptr<World> ScriptScenario::setup(Sched& s, const Params& p) const {
  std::shared_ptr<const Program> prog;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (!cached_ || cached_params_ != p) {
      cached_ = std::make_shared<const Program>(script_->instantiate(p));
      cached_params_ = p;
    } else if (!cached_params_.same_version(p)) {
      cached_params_ = p;  // an equal value built anew: its copies compare by version from now on
    }
    prog = cached_;
  }
  return build_script_world(s, std::move(prog));
}

}  // namespace kpsim::script
