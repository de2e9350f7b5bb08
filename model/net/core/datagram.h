// net/core/datagram.c (kernel 6.12): datagram_poll, the ->poll of datagram sockets that UDP's
// udp_poll builds on.
#pragma once

#include "model/include/linux/poll.h"
#include "model/include/net/sock.h"

namespace kpsim::model {

// The socket's events: EPOLLERR on sk_err (the error queue is not modelled: always empty),
// EPOLLRDHUP|EPOLLIN|EPOLLRDNORM on RCV_SHUTDOWN, EPOLLHUP when both directions are shut,
// EPOLLIN|EPOLLRDNORM while sk_receive_queue holds a datagram, and EPOLLOUT|EPOLLWRNORM|
// EPOLLWRBAND while sock_writeable (sk_wmem_alloc below half of sk_sndbuf). UDP is not
// connection based: no TCP_CLOSE / TCP_SYN_SENT branch.
__poll_t datagram_poll(const sock& sk);

}  // namespace kpsim::model
