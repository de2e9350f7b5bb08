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

// How redirect-to-self (p1's verdict redirecting p1's own skb to p1 with BPF_F_INGRESS) is
// handled. via_backlog: as any redirect, through ingress_skb and the backlog worker (the mainline
// skmsg.c verdict code, and what the real 6.18 kernel here was measured doing). direct: normalised
// to SK_PASS and queued synchronously by sk_psock_skb_ingress_self (as kernel-paths.md describes
// 6.12.117). The real-kernel cross-check decides which one a kernel does.
enum class self_redirect { via_backlog, direct };

struct skmsg_config {
  self_redirect self = self_redirect::via_backlog;
};

// sk->sk_data_ready in verdict mode: read queued skbs off the native receive queue (one
// datagram for UDP, all skbs for TCP), run the verdict on each, then wake readers.
Co<> sk_psock_verdict_data_ready(Sched& s, sock& sk, const skmsg_config& cfg);

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
