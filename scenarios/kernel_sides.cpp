#include "scenarios/kernel_sides.h"

namespace kpsim {

const KernelSide* builtin_script_guest_side(std::string_view scenario) {
  if (scenario == "ktls-sendfile-stall") return ktls_sendfile_stall_kernel_side();
  if (scenario == "ktls-async-close") return ktls_async_close_kernel_side();
  return nullptr;
}

}  // namespace kpsim
