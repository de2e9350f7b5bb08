// net/core/sock.c (kernel 6.12): __release_sock, the owner's processing of its backlog, and
// the sk_data_ready callback with its default, sock_def_readable.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

// release_sock's work as the owner: every segment queued to sk_backlog while the socket was
// owned goes through sk_backlog_rcv (tcp_v4_do_rcv). Returns whether there was anything
// (sk_flush_backlog's result).
bool __release_sock(Sched& s, tcp_sock& tp);

// sk->sk_data_ready: the psock verdict when the socket is in a sockmap with a verdict program
// (sk_psock_verdict_data_ready), else sock_def_readable (wakes sk_sleep(sk)).
void sk_data_ready(Sched& s, sock& sk);

}  // namespace kpsim::model
