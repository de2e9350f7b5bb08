// TCP input (net/ipv4/tcp_input.c; kernel 6.12). The receiver: tcp_rcv_established's data path,
// tcp_data_queue, and when to ACK (tcp_acks::delayed): tcp_initialize_rcv_mss,
// tcp_measure_rcv_mss, tcp_incr_quickack, tcp_event_data_recv, tcp_in_quickack_mode
// (include/net/tcp.h), __tcp_ack_snd_check, tcp_ack_snd_check. The sender's ACK processing: tcp_ack with
// tcp_clean_rtx_queue, the slow-start cwnd growth, tcp_ack_probe; then tcp_data_snd_check,
// tcp_check_space, tcp_new_space, tcp_should_expand_sndbuf, tcp_sndbuf_expand; tcp_ack_update_window
// (the MSS re-sync on a larger window); the handshake's tcp_rcv_synsent_state_process and
// tcp_init_buffer_space (their window and MSS part).
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
// tcp_ack_update_window: the ACK's window becomes snd_wnd; a window larger than any before
// raises max_window and re-syncs the MSS (tcp_sync_mss), lifting the handshake's half-window
// bound. snd_una follows the ACK.
void tcp_ack_update_window(tcp_sock& tp, const ack_skb& ack);
// The MSS and window part of tcp_rcv_synsent_state_process for the connecting side on the
// server's SYN-ACK (its MSS and window scale options, its window synack_wnd, unscaled):
// mss_clamp from the MSS option, the peer's window scale, snd_wnd = max_window = the SYN-ACK's window, tcp_sync_mss (so the MSS is at most
// half of it), tcp_initialize_rcv_mss, then tcp_finish_connect's tcp_init_buffer_space.
void tcp_rcv_synsent_state_process(tcp_sock& tp, uint32_t synack_mss, uint8_t synack_wscale, uint32_t synack_wnd);
// tcp_init_buffer_space's window part: window_clamp at most the buffer's window less one
// segment's reserve (tcp_app_win), rcv_ssthresh at most window_clamp. (The sndbuf part is
// tcp_init_sock's tcp_sndbuf_expand.)
void tcp_init_buffer_space(tcp_sock& tp);
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
