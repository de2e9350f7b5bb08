#include "scenarios/guest_kernel_side.h"

#include "replay/guest_boot.h"
#include "replay/script_runner.h"

namespace kpsim {

std::vector<std::string> GuestKernelSide::targets() const {
  std::vector<std::string> t(replay::kGuestKernels.begin(), replay::kGuestKernels.end());
  for (auto& s : self_built_guest_targets()) t.push_back(s);
  return t;
}

void GuestKernelSide::refuse_options(const Scenario& sc, const KernelRequest& r, std::string_view runs_why,
                                     std::string_view forced_runs_why, std::string_view schedule_why) {
  if (r.runs && !runs_why.empty()) refuse_option(sc, "--runs", runs_why);
  if (r.forced_runs && !forced_runs_why.empty()) refuse_option(sc, "--forced-runs", forced_runs_why);
  if ((!r.schedule.empty() || r.schedule_from) && !schedule_why.empty()) refuse_option(sc, "--schedule", schedule_why);
}

void GuestKernelSide::require_built(const GuestKernelTarget& t) {
  const KernelBuildStatus st = kernel_build_status(t, replay::guest_script_dir());
  if (!st.built) throw KernelError("the self-built guest kernel is not ready: " + st.message);
}

}  // namespace kpsim
