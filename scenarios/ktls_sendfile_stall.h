// ktls-sendfile-stall (seed 001, scenarios/ktls-sendfile-stall.kps): what its hand-written guest
// kernel side (ktls_sendfile_stall_kernel.cpp) needs to know of the script's sender to reproduce
// it in the guest. Goes with that kernel side once a guest runner interprets scripts (issue 12).
#pragma once

#include <cstdint>

namespace kpsim {

// The reproducer's backing file: the script's `f = file(4M)`. The sender loops it, and no
// sendfile()/write() call crosses its end, so a call is at most this long.
inline constexpr uint64_t kStallFileBytes = 4194304;

}  // namespace kpsim
