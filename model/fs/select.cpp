// fs/select.c do_select for one socket (kernel 6.12): see select.h.
#include "model/fs/select.h"

namespace kpsim::model {

// udp_poll / tcp_poll: EPOLLIN when the receive queue or the psock has data, or once
// RCV_SHUTDOWN is set (a TCP FIN: the read that follows returns 0).
static bool sock_poll_readable(const sock& sk) {
  return !sk.sk_receive_queue->empty() || sk_msg_is_readable(sk.psock.get()) || sk.rcv_shutdown;
}

Co<bool> do_select(Sched& s, sock& sk, uint64_t timeout_ns) {
  const uint64_t deadline = s.now_ns() + timeout_ns;
  while (!sock_poll_readable(sk)) {
    if (s.now_ns() >= deadline) co_return false;
    const WakeReason r = co_await sk.sk_wq.sleep(s, "do_select: woken", true, deadline - s.now_ns());
    if (r == WakeReason::interrupted) co_return false;
  }
  co_return true;
}

}  // namespace kpsim::model
