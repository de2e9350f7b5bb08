// fs/pipe.c pipe_wait_readable / pipe_wait_writable (kernel 6.12): see pipe.h.
#include "model/fs/pipe.h"

#include "model/include/linux/errno.h"

namespace kpsim::model {

Co<> pipe_wait_readable(Sched& s, pipe_inode_info& pipe) {
  co_await pipe.rd_wait.sleep(s, "pipe_wait_readable: woken", true);
}

Co<int> pipe_wait_writable(Sched& s, pipe_inode_info& pipe) {
  while (pipe.full()) {
    if (s.current().signal_pending()) co_return -kerr::erestartsys;
    co_await pipe.wr_wait.sleep(s, "pipe_wait_writable: woken", true);
  }
  co_return 0;
}

}  // namespace kpsim::model
