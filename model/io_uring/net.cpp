// io_uring/net.c io_send (kernel 6.12): see net.h.
#include "model/io_uring/net.h"

#include "model/include/linux/errno.h"
#include "model/net/socket.h"

namespace kpsim::model {

Co<int> io_send(Sched& s, io_kiocb& req, unsigned issue_flags) {
  int flags = req.msg_flags;
  if (issue_flags & IO_URING_F_NONBLOCK) flags |= kMSG_DONTWAIT;
  int ret = co_await req.file.sendmsg(s, flags);
  if (ret < 0) {  // ret < min_ret (0)
    if (ret == -kerr::eagain && (issue_flags & IO_URING_F_NONBLOCK)) co_return -kerr::eagain;
    if (ret == -kerr::erestartsys) ret = -kerr::eintr;
  }
  co_return ret;
}

}  // namespace kpsim::model
