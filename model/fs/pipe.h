// fs/pipe.c pipe_wait_readable / pipe_wait_writable (kernel 6.12).
#pragma once

#include "model/include/linux/pipe_fs_i.h"
#include "sched/co.h"

namespace kpsim::model {

// Sleeps interruptibly until woken by a writer (rd_wait).
Co<> pipe_wait_readable(Sched& s, pipe_inode_info& pipe);
// Waits (interruptibly) while the pipe is full: 0, or -ERESTARTSYS on a signal.
Co<int> pipe_wait_writable(Sched& s, pipe_inode_info& pipe);

}  // namespace kpsim::model
