// The kTLS scenarios on real Debian kernels in a qemu guest (scripts/guest/boot): the
// `--kernel 6.12|6.1` side of `kpsim kernel` and `kpsim crosscheck`.
#pragma once

#include <string>
#include <vector>

namespace kpsim::cli {

// kpsim kernel ktls-sendfile-stall --kernel V [--set ...]: one boot, one configuration.
int guest_kernel(const std::string& scenario, const std::vector<std::string>& sets,
                 const std::string& version, bool json);
// kpsim crosscheck ktls-sendfile-stall --kernel V: MSS {default, 1448} x lowat {default, 16384}
// in one boot. They agree when the model's verdict (over 100 random interleavings, which must
// be unanimous) equals the kernel's stall / no stall, and for stalled configurations when the
// kernel's number of persist-interval pauses lies within a factor of 3 of the model's range of
// PROBE0 expiries.
int guest_crosscheck(const std::string& scenario, const std::vector<std::string>& sets,
                     const std::string& version, bool json);

}  // namespace kpsim::cli
