// Booting a Debian kernel in a qemu guest with a batch of scenario script jobs: the host half
// of the kTLS runs (scripts/guest/boot, replay/guest/main.cpp, docs/guest.md).
//
// One boot runs every job, one after another, and the guest prints one `KPSIM-RESULT {json}`
// line per job. A batch shares a boot because under TCG only ratios within one boot mean
// anything, and because a boot costs seconds.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kpsim::replay {

// The kernel versions scripts/guest/fetch-kernel resolves to a Debian package.
inline constexpr std::array<std::string_view, 2> kGuestKernels = {"6.12", "6.1"};

struct GuestBoot {
  int exit_code = 0;  // scripts/guest/boot's: 0, 77 cannot run here, 124 the guest hung, 1 other
  std::vector<nlohmann::ordered_json> results;  // the KPSIM-RESULT objects, in configuration order
  std::string error;  // the boot could not be started, or a result line did not parse

  // Empty when every one of `expected` configurations reported a result with "ok": true;
  // otherwise one line saying why not. It begins "the qemu guest cannot run here" when no
  // result came back at all (the ctests skip on that phrase).
  std::string failure(size_t expected) const;
};

// Runs `scripts/guest/boot VERSION --timeout TIMEOUT_S --jobs JOBS_DIR` (installed:
// <prefix>/share/kpsim/guest, else from the source tree kpsim was built from): the scenario
// scripts named in JOBS_DIR/jobs (replay/guest/script_exec.h), one result line per job.
GuestBoot boot_guest_jobs(std::string_view version, const std::string& jobs_dir, unsigned timeout_s);
// The directory boot_guest takes the guest scripts from.
std::string guest_script_dir();

}  // namespace kpsim::replay
