// The kernel sides of the scenarios that have one, for their Scenario::kernel_side().
// Defined in scenarios/<scenario>_kernel.cpp when the real-kernel runners are built
// (KPSIM_REPLAY=ON), and as nullptr in scenarios/kernel_sides_absent.cpp otherwise.
#pragma once

namespace kpsim {

class KernelSide;

const KernelSide* ktls_sendfile_stall_kernel_side();     // qemu guest: Debian 6.12 / 6.1
const KernelSide* ktls_async_close_kernel_side();        // qemu guest, the window forced

}  // namespace kpsim
