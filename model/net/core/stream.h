// Stream socket memory: the writer's predicates, its wait and the waker (net/core/stream.c,
// include/net/sock.h, net/ipv4/tcp.c tcp_stream_memory_free; kernel 6.12):
// __sk_stream_memory_free / sk_stream_memory_free, tcp_stream_memory_free (notsent_lowat),
// sk_stream_wspace / sk_stream_min_wspace / __sk_stream_is_writeable, sk_stream_write_space,
// sk_stream_wait_memory with sk_wait_event, sk_stream_error.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

// (notsent << wake) < lowat. wake = 0: the writer's test; wake = 1: the waker's (half lowat).
bool tcp_stream_memory_free(const tcp_sock& tp, int wake);
// false if sk_wmem_queued >= sk_sndbuf, else the protocol's test.
bool __sk_stream_memory_free(const tcp_sock& tp, int wake);
inline bool sk_stream_memory_free(const tcp_sock& tp) { return __sk_stream_memory_free(tp, 0); }
bool __sk_stream_is_writeable(const tcp_sock& tp, int wake);

// The default sk->sk_write_space of a TCP socket: wakes sk_sleep sleepers when writeable.
void sk_stream_write_space(Sched& s, tcp_sock& tp);

// Waits for send space with the socket lock dropped, sleeping TASK_INTERRUPTIBLE up to *timeo.
// Returns 0, -EPIPE (error/shutdown), -EAGAIN (timeout / non-blocking) or sock_intr_errno
// (-ERESTARTSYS without SO_SNDTIMEO) when signal_pending(), which includes TIF_NOTIFY_SIGNAL.
// Called and returns with the socket owned.
Co<int> sk_stream_wait_memory(Sched& s, tcp_sock& tp, std::optional<uint64_t>& timeo);

// -EPIPE → sock_error or -EPIPE (SIGPIPE unless MSG_NOSIGNAL: not modelled).
int sk_stream_error(const tcp_sock& tp, int flags, int err);

}  // namespace kpsim::model
