// The sk_skb verdict path, the backlog worker and the psock reader (net/core/skmsg.c):
// sk_psock_verdict_data_ready, sk_psock_verdict_recv, sk_psock_verdict_apply,
// sk_psock_skb_ingress_self, sk_psock_skb_ingress, sk_psock_skb_redirect, sk_psock_backlog,
// __sk_msg_recvmsg.
#pragma once

#include <cstdint>
#include <string>

#include "model/include/net/sock.h"
#include "sched/co.h"

namespace kpsim::model {


// sk->sk_data_ready in verdict mode: read queued skbs off the native receive queue (one
// datagram for UDP, all skbs for TCP), run the verdict on each, then wake readers.
// How a redirect to the socket itself goes is the kernel switch sk->kc->self (model/kconfig.h).
// Runs in softirq context: it never sleeps.
void sk_psock_verdict_data_ready(Sched& s, sock& sk);

// Queues bytes [off, off+len) of the socket's own skb on its ingress_msg, now; wakes readers.
int sk_psock_skb_ingress_self(Sched& s, sk_psock& psock, const sk_buff& skb, uint32_t off,
                              uint32_t len);

// psock->work: deliver ingress_skb into ingress_msg (kworker context).
Co<> sk_psock_backlog(Sched& s, sk_psock& psock);

// Reads up to len bytes across queued messages into out; never sleeps. Returns bytes copied.
// copied_from_self: how many came from the socket's own stream (for copied_seq).
Co<int> __sk_msg_recvmsg(Sched& s, sock& sk, sk_psock& psock, std::string& out, uint32_t len,
                         bool peek, uint32_t* copied_from_self);

}  // namespace kpsim::model
