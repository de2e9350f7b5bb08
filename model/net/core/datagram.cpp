// net/core/datagram.c datagram_poll (kernel 6.12): see datagram.h.
#include "model/net/core/datagram.h"

#include "model/net/core/sock.h"

namespace kpsim::model {

__poll_t datagram_poll(const sock& sk) {
  __poll_t mask = 0;
  if (sk.sk_err) mask |= EPOLLERR;  // (SOCK_SELECT_ERR_QUEUE's EPOLLPRI: no error queue here)
  if (sk.rcv_shutdown) mask |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
  if (sk.rcv_shutdown && sk.send_shutdown) mask |= EPOLLHUP;  // SHUTDOWN_MASK
  if (!sk.sk_receive_queue->empty()) mask |= EPOLLIN | EPOLLRDNORM;
  // The kernel sets SOCKWQ_ASYNC_NOSPACE when not writeable (for SIGIO, not modelled).
  if (sock_writeable(sk)) mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
  return mask;
}

}  // namespace kpsim::model
