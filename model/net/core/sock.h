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

// sock_drop (include/net/sock.h): an skb the socket frees without delivering it counts in
// sk_drops; bytes [off, off+len) of it were still undelivered (lo->drop_tap hears of them).
void sock_drop(Sched& s, sock& sk, const sk_buff& skb, uint32_t off, uint32_t len);
// The same for bytes freed outside an skb (sk_msg_free of a purged ingress_msg): no sk_drops.
void sock_drop_bytes(Sched& s, sock& sk, std::string_view bytes);

// sock_writeable (include/net/sock.h): sk_wmem_alloc < sk_sndbuf / 2. On loopback every skb
// is orphaned at transmit (loopback_xmit), so sk_wmem_alloc is back to 0 whenever another
// context can look; what is left is the sndbuf term.
inline bool sock_writeable(const sock& sk) { return 0 < (sk.sk_sndbuf >> 1); }

}  // namespace kpsim::model
