// The kernel sides of the scenarios that have one, for their Scenario::kernel_side().
// Defined in scenarios/<scenario>_kernel.cpp when the real-kernel runners are built
// (KPSIM_REPLAY=ON), and as nullptr in scenarios/kernel_sides_absent.cpp otherwise.
#pragma once

#include <string_view>

namespace kpsim {

class KernelSide;

const KernelSide* ktls_sendfile_stall_kernel_side();     // qemu guest: Debian 6.12 / 6.1
const KernelSide* ktls_async_close_kernel_side();        // qemu guest, the window forced

// The hand-written guest kernel side of a built-in script, by the scenario name its script
// declares (scenarios/ktls-*.kps); nullptr for the others, which the host script runner takes.
// A guest runner that interprets the scripts themselves is issue 12: then these go.
const KernelSide* builtin_script_guest_side(std::string_view scenario);

}  // namespace kpsim
