// TCP input (net/ipv4/tcp_input.c; kernel 6.12). The receiver: tcp_rcv_established's data path,
// tcp_data_queue. The sender's ACK processing: tcp_ack with
// tcp_clean_rtx_queue, the slow-start cwnd growth, tcp_ack_probe; then tcp_data_snd_check,
// tcp_check_space, tcp_new_space, tcp_should_expand_sndbuf, tcp_sndbuf_expand.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

// tcp_rcv_established for a data segment or zero-window probe: tcp_data_queue, and an ACK
// scheduled (__tcp_ack_snd_check; sent at the end of the NET_RX run, see net/core/dev.h).
// false: the segment is not the next in sequence — never so on loopback, so the run fails.
bool tcp_rcv_established(Sched& s, tcp_sock& tp, skb_ptr skb);
// In-order data: rcv_nxt advances, the skb is queued if it carries bytes or a psock will read
// it (a count-only segment carries nothing a reader needs), sk_data_ready.
bool tcp_data_queue(Sched& s, tcp_sock& tp, skb_ptr skb);
// tcp_fin: the peer's FIN arrived in order: RCV_SHUTDOWN, SOCK_DONE, readers woken.
void tcp_fin(Sched& s, tcp_sock& tp);
// tcp_rcv_established's pure-ACK path: tcp_ack, then tcp_data_snd_check.
void tcp_rcv_ack(Sched& s, tcp_sock& tp, const ack_skb& ack);
void tcp_ack(Sched& s, tcp_sock& tp, const ack_skb& ack);
// tcp_push_pending_frames + tcp_check_space.
void tcp_data_snd_check(Sched& s, tcp_sock& tp);
// If a writer ran out of space (SOCK_NOSPACE): tcp_new_space → sk->sk_write_space.
void tcp_check_space(Sched& s, tcp_sock& tp);
void tcp_sndbuf_expand(tcp_sock& tp);

}  // namespace kpsim::model
