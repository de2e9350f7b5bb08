// A build without the real-kernel runners (KPSIM_REPLAY=OFF): no scenario has a kernel side,
// and `kpsim kernel` / `crosscheck` say the build lacks the runner (cli/cmd_kernel_absent.cpp).
#include "scenarios/kernel_sides.h"

namespace kpsim {

const KernelSide* ktls_sendfile_stall_kernel_side() { return nullptr; }
const KernelSide* ktls_async_close_kernel_side() { return nullptr; }

}  // namespace kpsim
