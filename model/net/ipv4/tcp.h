// The TCP send syscall path (net/ipv4/tcp.c; kernel 6.12): tcp_sendmsg / tcp_sendmsg_locked
// (MSG_MORE, MSG_SPLICE_PAGES, MSG_EOR, MSG_DONTWAIT), tcp_send_mss, tcp_push (MSG_MORE →
// TCP_NAGLE_CORK, autocorking), tcp_splice_eof, the TCP_CORK / TCP_NODELAY setsockopts, and
// the reader's side: tcp_recvmsg and tcp_cleanup_rbuf (__tcp_cleanup_rbuf: the ACK a read sends).
#pragma once

#include "model/net/socket.h"
#include "model/include/linux/poll.h"
#include "model/include/linux/tcp.h"

namespace kpsim::model {

// Called with the socket owned; may sleep in sk_stream_wait_memory (dropping the lock).
// Returns bytes queued (possibly short) or a negative error.
Co<int64_t> tcp_sendmsg_locked(Sched& s, tcp_sock& tp, msghdr& msg);
// lock_sock + tcp_sendmsg_locked + release_sock.
Co<int64_t> tcp_sendmsg(Sched& s, tcp_sock& tp, msghdr& msg);
// Kernel 6.1's page path (sendfile/splice into TCP, and kTLS's tls_push_sg): do_tcp_sendpages
// appends one page as tcp_sendmsg_locked appends spliced pages, and pushes at the end only
// without MSG_SENDPAGE_NOTLAST. tcp_sendpage = lock_sock + do_tcp_sendpages + release_sock.
Co<int64_t> do_tcp_sendpages(Sched& s, tcp_sock& tp, uint64_t size, int flags);
Co<int64_t> tcp_sendpage(Sched& s, tcp_sock& tp, uint64_t size, int flags);
Co<> tcp_splice_eof(Sched& s, tcp_sock& tp);
// The reader's side of tcp_recvmsg on a count-only receiver: takes up to `len` queued bytes,
// then tcp_cleanup_rbuf. Returns the bytes read (0: nothing queued). Never sleeps.
uint64_t tcp_recvmsg(Sched& s, tcp_sock& tp, uint64_t len);
// tcp_recvmsg for a reader of bytes (a socket without a verdict program, whose peer's sends
// carry payload): copies from the skbs on sk_receive_queue at copied_seq; the target is 1 byte,
// or len with MSG_WAITALL (sock_rcvlowat); below it, sleeps in sk_wait_data (socket lock
// dropped) unless dontwait; peek leaves copied_seq (peek_seq). No window update: the model's
// receive window is fixed (rcv_buf_bytes 0), so tcp_cleanup_rbuf would have nothing to open.
Co<int> tcp_recvmsg_data(Sched& s, tcp_sock& tp, std::string& out, uint32_t len, bool dontwait,
                         bool peek, bool waitall);
// The ACK a read may send (__tcp_cleanup_rbuf). tcp_acks::delayed: the owed ACK goes now if
// more than one full segment (rcv_mss) is unacknowledged, or this read emptied the queue and a
// short ("pushed") segment was in it (PUSHED2, or PUSHED outside pingpong mode); else a window
// update if the window doubled. tcp_acks::immediate: only the window update (every segment was
// ACKed on arrival already).
void tcp_cleanup_rbuf(Sched& s, tcp_sock& tp, uint64_t copied);
// tcp_close of a plain TCP socket (or TLS's saved proto close): the FIN after the queue.
Co<> tcp_close(Sched& s, tcp_sock& tp);
// tcp_stream_is_readable with the default target (SO_RCVLOWAT 1): bytes on the receive queue
// (the model's byte reader takes a fully read skb off the queue, so a queued skb is unread
// bytes, or the FIN) or a psock's ingress_msg (sk_is_readable).
bool tcp_stream_is_readable(const tcp_sock& tp);
// tcp_poll for an established connection (the model's pairs are connected in setup: no
// TCP_LISTEN/SYN states; TCP_CLOSE only comes with both directions shut, whose EPOLLHUP it
// reports): EPOLLHUP on SHUTDOWN_MASK, EPOLLIN|EPOLLRDNORM|EPOLLRDHUP on RCV_SHUTDOWN,
// EPOLLIN|EPOLLRDNORM when readable; EPOLLOUT|EPOLLWRNORM when SEND_SHUTDOWN or
// __sk_stream_is_writeable(sk, 1) (wspace >= wmem_queued/2, wmem_queued < sndbuf, and unsent
// bytes below half of notsent_lowat). Not writeable: sets SOCK_NOSPACE (so that the ACK that frees
// space calls sk_write_space, tcp_check_space) and tests again, as the kernel does; EPOLLERR on
// sk_err. Not const: SOCK_NOSPACE.
__poll_t tcp_poll(tcp_sock& tp);
// shutdown(SHUT_WR): inet_shutdown + tcp_shutdown, the FIN after what is queued. Returns 0.
Co<int> tcp_shutdown(Sched& s, tcp_sock& tp);

uint32_t tcp_send_mss(tcp_sock& tp, uint32_t& size_goal, int flags);
void tcp_push(Sched& s, tcp_sock& tp, int flags, uint32_t mss_now, int nonagle, uint32_t size_goal);
// sk_wmem_alloc > truesize never holds on loopback (loopback_xmit orphans every skb), so this
// is false there; kept for the structure.
bool tcp_should_autocork(const tcp_sock& tp, const tcp_skb& skb, uint32_t size_goal);

// setsockopt(TCP_CORK / TCP_NODELAY), with the pushes they do (__tcp_sock_set_cork/nodelay).
void tcp_sock_set_cork(Sched& s, tcp_sock& tp, bool on);
void tcp_sock_set_nodelay(Sched& s, tcp_sock& tp, bool on);

}  // namespace kpsim::model
