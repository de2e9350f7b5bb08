// The TCP output engine (net/ipv4/tcp_output.c, include/net/tcp.h; kernel 6.12):
// tcp_minshall_check/update, tcp_nagle_check, tcp_nagle_test, tcp_cwnd_test, tcp_snd_wnd_test,
// tcp_mss_split_point, tcp_tso_should_defer, tcp_write_xmit, __tcp_push_pending_frames,
// tcp_push_pending_frames, tcp_push_one, tcp_event_new_data_sent, tcp_transmit_skb (to the
// loopback), tcp_fragment/tso_fragment, tcp_write_wakeup, tcp_send_probe0, tcp_xmit_probe_skb;
// the receiver's ACKs: tcp_send_ack with tcp_event_ack_sent (and include/net/tcp.h's
// tcp_dec_quickack_mode), tcp_send_delayed_ack.
//
// All of it runs with the socket held (lock_sock or bh_lock_sock) and never sleeps: plain
// functions, no scheduling points.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

// ---- predicates (pure) ---------------------------------------------------------------------
// An unacked sub-MSS segment is in flight: snd_sml after snd_una and not after snd_nxt.
bool tcp_minshall_check(const tcp_sock& tp);
// true = hold the skb back: partial and (corked, or Nagle on with a small segment in flight).
bool tcp_nagle_check(bool partial, const tcp_sock& tp, int nonagle);
// true = the skb may go now.
bool tcp_nagle_test(const tcp_sock& tp, const tcp_skb& skb, uint32_t cur_mss, int nonagle);
// Segments cwnd admits now (0: cwnd full).
uint32_t tcp_cwnd_test(const tcp_sock& tp);
// The skb's first MSS fits the peer's window.
bool tcp_snd_wnd_test(const tcp_sock& tp, const tcp_skb& skb, uint32_t cur_mss);
uint32_t tcp_skb_pcount(const tcp_skb& skb, uint32_t mss);
// Bytes of a multi-segment last skb to send: whole MSS multiples if Nagle/cork holds the tail.
uint32_t tcp_mss_split_point(const tcp_sock& tp, const tcp_skb& skb, bool is_tail, uint32_t mss_now,
                             uint32_t max_segs, int nonagle);
// tp->write_seq beyond pushed_seq by more than half the largest window ever offered.
bool forced_push(const tcp_sock& tp);
uint32_t tcp_current_mss(const tcp_sock& tp);
// tcp_xmit_size_goal(): the largest skb tcp_sendmsg builds (a multiple of the MSS): the GSO
// limit bounded to half the peer's largest window (tcp_bound_to_half_wnd).
uint32_t tcp_xmit_size_goal(tcp_sock& tp, uint32_t mss_now);

// ---- the MSS and the handshake's windows ------------------------------------------------------
// tcp_mtu_to_mss (with __tcp_mtu_to_mss): the MSS a path MTU allows, without the options.
uint32_t tcp_mtu_to_mss(const tcp_sock& tp, uint32_t pmtu);
// tcp_sync_mss: mss_cache from the path MTU, at most half the largest window the peer offered
// (tcp_bound_to_half_wnd). Called at connect, when the handshake sets max_window, and by
// tcp_ack_update_window whenever the peer offers a larger window than ever before.
uint32_t tcp_sync_mss(tcp_sock& tp, uint32_t pmtu);
// tcp_select_initial_window: the window a SYN offers from `space` (tcp_full_space), a whole
// number of `mss` and at most 65535 (a SYN's window is never scaled), the window scale for
// the largest buffer, and the clamp.
void tcp_select_initial_window(uint32_t space, uint32_t mss, uint32_t& rcv_wnd, uint32_t& window_clamp,
                               uint8_t& rcv_wscale);
// __tcp_select_window for the handshake's last ACK (nothing received yet): the free space at
// most rcv_ssthresh, rounded up to the window scale; unscaled, rcv_wnd_syn kept or a whole
// number of rcv_mss. Later ACKs carry the model's established window (tcp_send_ack).
uint32_t __tcp_select_window(const tcp_sock& tp);
// tcp_connect_init's MSS and window part: max_window 0, TCP_MAXSEG into mss_clamp, mss_cache
// synced (not yet bounded: no window seen), advmss, the SYN's window (rcv_wnd_syn), the
// scale and rcv_ssthresh.
void tcp_connect_init(tcp_sock& tp);

// ---- actions (atomic) -------------------------------------------------------------------------
// push_one: 0 normal, 1 tcp_push_one, 2 (loss probe) not used here. Returns true when nothing
// was sent, nothing is in flight and data is queued: the caller arms the probe timer.
bool tcp_write_xmit(Sched& s, tcp_sock& tp, uint32_t mss_now, int nonagle, int push_one);
void __tcp_push_pending_frames(Sched& s, tcp_sock& tp, uint32_t cur_mss, int nonagle);
// With the socket's own nonagle (not the per-call MSG_MORE cork): the ACK path's push.
void tcp_push_pending_frames(Sched& s, tcp_sock& tp);
void tcp_push_one(Sched& s, tcp_sock& tp, uint32_t mss_now);
void tcp_mark_push(tcp_sock& tp, tcp_skb& skb);
// Transmits (up to one MSS of) the send head regardless of Nagle/cork if the window is open,
// else a zero-window probe. Returns tcp_transmit_skb's error (0 sent, <0 failed).
int tcp_write_wakeup(Sched& s, tcp_sock& tp);
void tcp_send_probe0(Sched& s, tcp_sock& tp);
// The receiver's ACK of everything in order, with its window. It goes back over loopback and is
// processed in the same NET_RX run, so the model hands it to the peer's tcp_v4_rcv directly.
void tcp_send_ack(Sched& s, tcp_sock& tp);
// tcp_send_delayed_ack: arms the delack timer at now + ato (ato bounded by the RTT, HZ/2, or
// TCP_DELACK_MAX when pushed or pingpong; never later than a deadline already set). An armed
// timer about to expire (within ato/4) is not re-armed: the ACK goes now, which in the model is
// at the end of this NET_RX run (ack_pending).
void tcp_send_delayed_ack(Sched& s, tcp_sock& tp);
// tcp_send_fin: the FIN after everything queued; wakes the reader if it is already all there.
// Modelled as an end-of-stream mark at write_seq on the peer (a FIN segment is not sent),
// unless tp.fin_segment: then a FIN skb goes out over loopback (the caller runs the softirq).
void tcp_send_fin(Sched& s, tcp_sock& tp);

}  // namespace kpsim::model
