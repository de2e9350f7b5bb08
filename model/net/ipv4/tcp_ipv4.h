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

struct tcp_request_sock;
// tcp_v4_syn_recv_sock's window and MSS part for the accepted socket: tcp_create_openreq_child
// (snd_wnd = max_window = the final ACK's window), tcp_sync_mss (so the MSS is at most half of
// it), advmss, tcp_initialize_rcv_mss.
void tcp_v4_syn_recv_sock(tcp_sock& newtp, const tcp_sock& listener, const tcp_request_sock& req,
                          uint32_t ack_window);
// The three-way handshake over loopback, as far as windows and the MSS go (not a kernel
// function: connect() on `client`, the SYN, SYN-ACK and ACK in turn, accept() returning
// `server`, whose TCP_MAXSEG and TCP_WINDOW_CLAMP stand for its listener's). Called after
// tcp_init_sock on both with user_mss and window_clamp set: it leaves each side's snd_wnd and
// max_window at the window the other's handshake segment offered, and mss_cache at most half
// of it (tcp_bound_to_half_wnd). On loopback's defaults: the SYN-ACK offers 65483 (tcp_rmem[1]'s
// 65536-byte window in whole segments of 65483), so the client's MSS is 32741; the final ACK
// offers 65495 rounded up to the window scale (128), 65536, so the server's is 32768. The
// first ACK of data carrying a larger window lifts the bound again (tcp_ack_update_window).
void tcp_handshake(tcp_sock& client, tcp_sock& server);

}  // namespace kpsim::model
