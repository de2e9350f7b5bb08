// The xmit timer of a TCP socket and what arms it (net/ipv4/tcp_timer.c, include/net/tcp.h,
// include/net/inet_connection_sock.h; kernel 6.12): tcp_reset_xmit_timer /
// inet_csk_clear_xmit_timer, tcp_rearm_rto, tcp_check_probe_timer, tcp_probe0_base,
// tcp_probe0_when, tcp_write_timer (deferred to tcp_release_cb while the socket is owned),
// tcp_write_timer_handler, tcp_probe_timer; the delayed-ACK timer: tcp_delack_timer (deferred to
// tcp_release_cb while the socket is owned) and tcp_delack_timer_handler.
//
// The timer_list callback only marks the expiry and wakes the timer-softirq task; that task
// takes bh_lock_sock and either runs the handler or defers it, exactly as tcp_write_timer.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

void tcp_reset_xmit_timer(Sched& s, tcp_sock& tp, icsk_timer what, uint64_t when_jiffies);
// inet_csk_clear_xmit_timer(sk, ICSK_TIME_RETRANS or PROBE0): icsk_pending = 0.
void inet_csk_clear_xmit_timer(Sched& s, tcp_sock& tp);
void tcp_rearm_rto(Sched& s, tcp_sock& tp);
// Arms PROBE0 when nothing is in flight and no xmit timer is pending. The kernel cannot tell
// "window closed" from "corked": it arms it for both.
void tcp_check_probe_timer(Sched& s, tcp_sock& tp);
uint64_t tcp_probe0_base(const Sched& s, const tcp_sock& tp);  // jiffies: max(rto, TCP_RTO_MIN)
uint64_t tcp_probe0_when(const Sched& s, const tcp_sock& tp, uint64_t max_when);
void tcp_write_timer_handler(Sched& s, tcp_sock& tp);
void tcp_probe_timer(Sched& s, tcp_sock& tp);
// tcp_release_cb: the timer work deferred while the socket was owned.
void tcp_release_cb(Sched& s, tcp_sock& tp);

// The timer softirq for this socket's xmit timer (a daemon task): waits for expiries, then
// tcp_write_timer under bh_lock_sock.
Co<> tcp_write_timer_softirq(Sched& s, tcp_sock& tp);

// tcp_delack_timer, the timer_list callback: with no ACK owed under the timer (ICSK_ACK_TIMER,
// read without the lock as the kernel does) nothing happens; else the expiry goes to the delack
// softirq task.
void tcp_delack_timer(Sched& s, tcp_sock& tp);
// tcp_delack_timer_handler: the owed ACK goes out; the missed delayed ACK inflates ato (or
// leaves pingpong mode and deflates it). Counted as TcpExt DelayedACKs.
void tcp_delack_timer_handler(Sched& s, tcp_sock& tp);
// The delack timer's softirq (a daemon task of a receiver with tcp_acks::delayed): waits for
// expiries, then runs the handler under bh_lock_sock or defers it to tcp_release_cb.
Co<> tcp_delack_timer_softirq(Sched& s, tcp_sock& tp);

}  // namespace kpsim::model
