// The sender's ACK processing (net/ipv4/tcp_input.c; kernel 6.12): tcp_ack with
// tcp_clean_rtx_queue, the slow-start cwnd growth, tcp_ack_probe; then tcp_data_snd_check,
// tcp_check_space, tcp_new_space, tcp_should_expand_sndbuf, tcp_sndbuf_expand.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

// tcp_rcv_established's pure-ACK path: tcp_ack, then tcp_data_snd_check.
void tcp_rcv_ack(Sched& s, tcp_sock& tp, const ack_skb& ack);
void tcp_ack(Sched& s, tcp_sock& tp, const ack_skb& ack);
// tcp_push_pending_frames + tcp_check_space.
void tcp_data_snd_check(Sched& s, tcp_sock& tp);
// If a writer ran out of space (SOCK_NOSPACE): tcp_new_space → sk->sk_write_space.
void tcp_check_space(Sched& s, tcp_sock& tp);
void tcp_sndbuf_expand(tcp_sock& tp);

}  // namespace kpsim::model
