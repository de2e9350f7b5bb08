// What every kernel side that runs in the qemu guest shares (scripts/guest/boot, docs/guest.md):
// its targets (the Debian kernels the guest boots) and one boot for a batch of configurations,
// every one of which must come back with a result.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenarios/kernel_side.h"

namespace kpsim {

class GuestKernelSide : public KernelSide {
 public:
  std::vector<std::string> targets() const override;

 protected:
  // Refuses, before the guest boots, the options a guest side cannot steer: each `*_why` says
  // why (empty: the option is accepted).
  static void refuse_options(const Scenario& sc, const KernelRequest& r, std::string_view runs_why,
                             std::string_view forced_runs_why, std::string_view schedule_why);
  // One boot running `configs` in order; their KPSIM-RESULT objects, or KernelError.
  static std::vector<nlohmann::ordered_json> run_in_guest(const std::string& version,
                                                          const std::vector<std::string>& configs);
};

}  // namespace kpsim
