// What every kernel side that runs in the qemu guest shares (scripts/guest/boot, docs/guest.md):
// its targets (the Debian kernels the guest boots) and the options it refuses.
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
};

}  // namespace kpsim
