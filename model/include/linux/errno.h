// The kernel error numbers the models return (include/uapi/asm-generic/errno*.h,
// include/linux/errno.h): return -kerr::eagain where the kernel returns -EAGAIN. Lower case
// because <errno.h> defines the upper-case names as macros.
#pragma once

namespace kpsim::kerr {
inline constexpr int eintr = 4;
inline constexpr int eio = 5;
inline constexpr int eagain = 11;
inline constexpr int enomem = 12;
inline constexpr int efault = 14;
inline constexpr int einval = 22;
inline constexpr int epipe = 32;
inline constexpr int enospc = 28;
inline constexpr int enotconn = 107;
inline constexpr int etimedout = 110;
inline constexpr int einprogress = 115;
inline constexpr int erestartsys = 512;  // kernel-internal: restart the syscall
}  // namespace kpsim::kerr
