// What every kernel side that runs in the qemu guest shares (scripts/guest/boot, docs/guest.md):
// its targets (the Debian kernels the guest boots, and the ones scripts/guest/build-kernel
// patched with a fix of the model) and the options it refuses.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenarios/kernel_fixes.h"
#include "scenarios/kernel_side.h"

namespace kpsim {

class GuestKernelSide : public KernelSide {
 public:
  // Debian's stock kernels ("6.12", "6.1") and the self-built ones ("6.12+none", "6.12+<fix>"
  // per row of scripts/guest/patches/fixes.tsv, docs/patched-kernels.md).
  std::vector<std::string> targets() const override;

  // A self-built target must be in the guest cache before a boot is worth starting: KernelError
  // naming the build-kernel command otherwise (a stock kernel is fetched on demand).
  static void require_built(const GuestKernelTarget& t);

 protected:
  // Refuses, before the guest boots, the options a guest side cannot steer: each `*_why` says
  // why (empty: the option is accepted).
  static void refuse_options(const Scenario& sc, const KernelRequest& r, std::string_view runs_why,
                             std::string_view forced_runs_why, std::string_view schedule_why);
};

}  // namespace kpsim
