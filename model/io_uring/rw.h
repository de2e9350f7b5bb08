// IORING_OP_READ (io_uring/rw.c io_read / __io_read, kernel 6.12) on a socket.
#pragma once

#include "model/io_uring/io_uring.h"

namespace kpsim::model {

// Non-blocking issue (IO_URING_F_NONBLOCK): IOCB_NOWAIT, which sock_read_iter turns into
// MSG_DONTWAIT; -EAGAIN from a file that can poll goes back to io_issue_sqe (then armed poll).
// Blocking issue (an io-wq worker: never for a socket here): a plain read. A short read of a
// socket completes as it is (not a regular file: no retry for the rest). Returns the bytes
// read or -errno.
Co<int> io_read(Sched& s, io_kiocb& req, unsigned issue_flags);

}  // namespace kpsim::model
