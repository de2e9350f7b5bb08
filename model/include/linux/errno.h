// The kernel error numbers the models return (include/uapi/asm-generic/errno*.h,
// include/linux/errno.h): return -kerr::eagain where the kernel returns -EAGAIN. Lower case
// because <errno.h> defines the upper-case names as macros.
#pragma once

namespace kpsim::kerr {
// An unscoped enum: -kerr::eagain is an int, as -EAGAIN is.
enum : int {
  enoent = 2, eintr = 4, eio = 5, e2big = 7, ebadf = 9, eagain = 11, enomem = 12, efault = 14, einval = 22, enospc = 28, epipe = 32,
  emsgsize = 90,
  enotconn = 107, etimedout = 110, einprogress = 115,
  erestartsys = 512,  // kernel-internal: restart the syscall
};
}  // namespace kpsim::kerr
