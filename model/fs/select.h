// poll(2) and select(2) of one socket with a timeout (fs/select.c do_poll / do_pollfd and
// do_select → vfs_poll → sock_poll → tcp_poll / udp_poll, whose readability includes
// sk_is_readable: a psock's ingress_msg; kernel 6.12).
#pragma once

#include <cstdint>

#include "model/include/linux/poll.h"
#include "model/include/net/sock.h"
#include "sched/co.h"

namespace kpsim::model {

// select(2) for readability: true when readable (POLLIN_SET: EPOLLIN|EPOLLRDNORM|EPOLLRDBAND|
// EPOLLHUP|EPOLLERR), false on timeout or a signal.
Co<bool> do_select(Sched& s, sock& sk, uint64_t timeout_ns);

// poll(2) of one pollfd asking for `events` (EPOLLIN and/or EPOLLOUT): the revents, the
// socket's mask filtered by events | EPOLLERR | EPOLLHUP (do_pollfd), or 0 on timeout or a
// signal. Between tests the caller sleeps on the socket's wait queue, which both the
// receive path (sk_data_ready) and the send path (sk_write_space) wake.
Co<__poll_t> do_poll(Sched& s, sock& sk, __poll_t events, uint64_t timeout_ns);

}  // namespace kpsim::model
