// ktls-sendfile-stall: what its kernel side (ktls_sendfile_stall_kernel.cpp) needs to know of
// the model's sender to reproduce it in the guest.
#pragma once

#include <cstdint>

namespace kpsim {

// The reproducer's backing file. The model's sender loops it, and no sendfile()/write() call
// crosses its end, so a call is at most this long.
inline constexpr uint64_t kStallFileBytes = 4194304;

}  // namespace kpsim
