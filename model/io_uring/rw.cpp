// io_uring/rw.c io_read (kernel 6.12): see rw.h.
#include "model/io_uring/rw.h"

#include "model/include/linux/errno.h"
#include "model/net/socket.h"

namespace kpsim::model {

Co<int> io_read(Sched& s, io_kiocb& req, unsigned issue_flags) {
  const bool force_nonblock = issue_flags & IO_URING_F_NONBLOCK;
  // kiocb->ki_flags |= IOCB_NOWAIT; sock_read_iter: msg_flags = MSG_DONTWAIT.
  const int ret = co_await req.file.read_iter(s, force_nonblock ? kMSG_DONTWAIT : 0);
  // -EAGAIN with a pollable file: "return -EAGAIN" to arm poll (io_file_can_poll).
  co_return ret;
}

}  // namespace kpsim::model
