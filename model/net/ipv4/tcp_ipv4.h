// A loopback TCP connection's wire and its NET_RX softirq (kernel 6.12): tcp_transmit_skb →
// ip_queue_xmit → loopback_xmit (skb_orphan, netif_rx) → net_rx_action → tcp_v4_rcv on the
// receiver (tcp_rcv_established → tcp_data_queue; the reader drains at once, so
// tcp_cleanup_rbuf ACKs every pushed segment immediately) → the ACK back through loopback →
// tcp_v4_rcv on the sender: sk_add_backlog if the socket is owned by a process, else
// tcp_v4_do_rcv → tcp_rcv_established (net/ipv4/tcp_ipv4.c, drivers/net/loopback.c).
//
// The receiver is reduced to rcv_nxt and, when it has a receive buffer (rcvbuf > 0, seed 002),
// the bytes it holds unread: the window it advertises is what is left of the buffer, a reader
// task drains it (tcp_recvmsg) and sends a window update when the window has at least doubled
// (tcp_cleanup_rbuf). Without a buffer (seed 001) the reader drains at once and the window never
// closes. Segments are delivered in the order sent, each exactly once; the receiver checks that
// on sequence numbers. tcp_close's FIN is modelled as an end-of-stream mark at write_seq.
#pragma once

#include <deque>
#include <functional>

#include "model/include/linux/tcp.h"

namespace kpsim::model {

struct tcp_segment {
  uint64_t seq = 0, end_seq = 0;  // seq == end_seq: a zero-window probe (old sequence number)
  bool psh = false;
};

struct loopback {
  std::deque<tcp_segment> wire;  // netif_rx's backlog queue: transmitted, not yet received
  WaitQueue napi;                // the NET_RX softirq task waits here until raised
  uint64_t rcv_nxt = 0;          // the receiver's next expected byte
  uint64_t rcv_wnd = 1114112;    // what the receiver advertises
  bool sender_done = false;      // the sending process has no more syscalls to make
  uint64_t rcvbuf = 0;           // 0: drained at once; else the receive buffer in bytes
  uint64_t rcv_queued = 0;       // received, not yet read (Invariant: <= rcvbuf when rcvbuf)
  uint64_t rcv_wnd_advertised = 0;  // the window in the last ACK sent
  uint64_t copied_seq = 0;       // the reader's position: bytes read so far
  bool fin = false;              // the sender queued its FIN after fin_seq
  uint64_t fin_seq = 0;
  WaitQueue rcv_wq;              // the reader's sk_sleep
  uint64_t window() const { return rcvbuf ? rcvbuf - rcv_queued : rcv_wnd; }
  bool eof() const { return fin && copied_seq == fin_seq; }
  // Called for every in-order data segment the receiver accepts (the checkers' hook).
  std::function<void(Sched&, const tcp_segment&)> on_receive;
};

// The sender's half of tcp_transmit_skb: the segment goes on the wire and NET_RX is raised.
void loopback_xmit(Sched& s, loopback& lo, const tcp_segment& seg);

// The NET_RX softirq: delivers what is on the wire, ACKs it back to the sender. Finishes once
// the sender is done and everything it queued is acknowledged.
Co<> net_rx_action(Sched& s, loopback& lo, tcp_sock& tp);

// The reader's side of tcp_recvmsg on a receiver with a buffer: takes up to `len` queued bytes,
// then tcp_cleanup_rbuf's window update. Returns the bytes read (0: nothing queued).
uint64_t tcp_recvmsg_read(Sched& s, loopback& lo, tcp_sock& tp, uint64_t len);
// tcp_send_fin: the FIN after everything queued; wakes the reader if it is already all there.
void tcp_send_fin(Sched& s, loopback& lo, tcp_sock& tp);

}  // namespace kpsim::model
