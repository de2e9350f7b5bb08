// A build without the real-kernel runners (KPSIM_REPLAY=OFF): script scenarios have no kernel
// side (scenarios/script/script_kernel.cpp is the one with them).
#include "scenarios/script/script_scenario.h"

namespace kpsim::script {

const KernelSide* script_kernel_side() { return nullptr; }
const KernelSide* script_guest_side() { return nullptr; }

}  // namespace kpsim::script
