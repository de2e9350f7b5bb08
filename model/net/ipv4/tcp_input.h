// TCP input (net/ipv4/tcp_input.c; kernel 6.12). The receiver: tcp_rcv_established's data path,
// tcp_data_queue, and when to ACK (tcp_acks::delayed): tcp_initialize_rcv_mss,
// tcp_measure_rcv_mss, tcp_incr_quickack, tcp_event_data_recv, tcp_in_quickack_mode
// (include/net/tcp.h), __tcp_ack_snd_check, tcp_ack_snd_check. The sender's ACK processing: tcp_ack with
// tcp_clean_rtx_queue, the slow-start cwnd growth, tcp_ack_probe; then tcp_data_snd_check,
// tcp_check_space, tcp_new_space, tcp_should_expand_sndbuf, tcp_sndbuf_expand.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

// tcp_rcv_established for a data segment or zero-window probe: tcp_data_queue, and an ACK
// scheduled (sent at the end of the NET_RX run, see net/core/dev.h): with tcp_acks::immediate
// always; with tcp_acks::delayed as tcp_ack_snd_check decides (now, or the delack timer).
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
// tcp_initialize_rcv_mss: the first guess of the peer's segment size (at most TCP_MSS_DEFAULT).
void tcp_initialize_rcv_mss(tcp_sock& tp);
// tcp_ack_snd_check: an ACK is owed (ICSK_ACK_SCHED): __tcp_ack_snd_check sends it at once when
// more than one full segment (rcv_mss) is unacknowledged and the window would not shrink, in
// quickack mode, or when ICSK_ACK_NOW is set; else tcp_send_delayed_ack. Nothing arrives out
// of order on loopback (no SACK compression).
void tcp_ack_snd_check(Sched& s, tcp_sock& tp);

}  // namespace kpsim::model
