// IORING_OP_SEND (io_uring/net.c io_send, kernel 6.12) on a socket.
#pragma once

#include "model/io_uring/io_uring.h"

namespace kpsim::model {

// sock_sendmsg with the SQE's msg_flags, | MSG_DONTWAIT when issued non-blocking. Without
// MSG_WAITALL min_ret is 0: a short send completes as it is (io_net_retry only retries
// MSG_WAITALL); -EAGAIN when non-blocking goes back for armed poll; -ERESTARTSYS becomes
// -EINTR. Returns the bytes sent or -errno.
Co<int> io_send(Sched& s, io_kiocb& req, unsigned issue_flags);

}  // namespace kpsim::model
