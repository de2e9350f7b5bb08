// The sk_skb verdict path, the backlog worker and the psock reader (net/core/skmsg.c):
// sk_psock_verdict_data_ready, sk_psock_verdict_recv, sk_psock_verdict_apply,
// sk_psock_skb_ingress_self, sk_psock_skb_ingress, sk_psock_skb_redirect, sk_psock_backlog,
// __sk_msg_recvmsg.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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

// psock->work: deliver ingress_skb into ingress_msg, or for an egress redirect send it out of
// the psock's socket with skb_send_sock (kworker context).
Co<> sk_psock_backlog(Sched& s, sk_psock& psock);

// sk_psock_stop(psock, wait=false): clear TX_ENABLED and zap the queues — the skbs waiting in
// ingress_skb are dropped (sock_drop) and ingress_msg is purged (sk_msg_free): those bytes are
// gone. Does not wait for a running backlog.
void sk_psock_stop(Sched& s, sk_psock& psock);
// sk_psock_drop: detach the psock from its socket (sk_user_data = NULL, the protocol's
// callbacks restored, the verdict stopped), stop it, and hand it to RCU for sk_psock_destroy.
// The model keeps the detached psock alive in `rcu` until the end of the run (the destroy
// only frees it once its work is cancelled; nothing reads it after the drop).
void sk_psock_drop(Sched& s, sock& sk, std::vector<std::unique_ptr<sk_psock>>& rcu);

// Reads up to len bytes across queued messages into out; never sleeps. Returns bytes copied.
// copied_from_self: how many came from the socket's own stream (for copied_seq).
Co<int> __sk_msg_recvmsg(Sched& s, sock& sk, sk_psock& psock, std::string& out, uint32_t len,
                         bool peek, uint32_t* copied_from_self);

}  // namespace kpsim::model
