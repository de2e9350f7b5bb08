// TCP input from the device (net/ipv4/tcp_ipv4.c tcp_v4_rcv, tcp_v4_do_rcv; kernel 6.12): a
// segment for a socket owned by a process goes to its backlog (sk_add_backlog) and is processed
// by the owner at release_sock (__release_sock, net/core/sock.h); otherwise tcp_v4_do_rcv →
// tcp_rcv_established (net/ipv4/tcp_input.h) runs in the softirq.
//
// On the paths modelled here a socket either sends data and receives only ACKs, or receives
// data and sends only ACKs; a data segment or probe is an sk_buff, an ACK an ack_skb.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

// A data segment or zero-window probe for a receiver. false: the byte stream is broken (the run
// has failed).
bool tcp_v4_rcv(Sched& s, tcp_sock& tp, skb_ptr skb);
// An ACK for a sender: to the backlog if the socket is owned by a process, else tcp_rcv_ack.
void tcp_v4_rcv(Sched& s, tcp_sock& tp, const ack_skb& ack);

}  // namespace kpsim::model
