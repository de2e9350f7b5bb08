// The loopback device (drivers/net/loopback.c loopback_xmit; net/core/dev.c netif_rx →
// enqueue_to_backlog, kernel 6.12): what a socket transmits is queued on the CPU's backlog
// (softnet_data.input_pkt_queue) and NET_RX is raised; net_rx_action (net/core/dev.c) delivers
// it to the receiving socket. Every loopback connection in every scenario goes through this one
// device: UDP datagrams and TCP segments alike.
//
// Who runs NET_RX. On a real kernel the softirq runs at the sender's local_bh_enable, inside
// send(). `softirq_inline` models exactly that (do_softirq in the sender's task, after one
// scheduling point: the sockmap scenarios, where the receive path must interleave with the
// backlog kworker). Without it, NET_RX is a task of its own (net_rx_softirq in dev.h) that the
// scheduler interleaves with the sender, which is how the kTLS scenarios let ACK processing
// race with a sender holding the socket lock.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "model/include/linux/skbuff.h"
#include "sched/footprint.h"
#include "sched/ring_queue.h"
#include "sched/waitqueue.h"

namespace kpsim::model {

struct tcp_sock;
struct sock;

struct loopback {
  Shared<RingQueue<skb_ptr>> input_pkt_queue;  // transmitted, not yet received
  WaitQueue napi;                       // the NET_RX task waits here until raised
  bool softirq_inline = false;          // see above
  // The TCP sockets transmitting on this device (tcp_init_sock registers them): the NET_RX
  // task ends once `sender_done` and none of them has anything left to send or to be acked.
  std::vector<tcp_sock*> socks;
  Shared<bool> sender_done = false;  // the sending process has no more syscalls to make
  // What `tcpdump -i lo` would show: every data segment or datagram as it is delivered, in
  // order. The checkers' hook (a TLS receiver parses record boundaries from it); no model reads it.
  std::function<void(Sched&, const sk_buff&)> tap;
  // Every payload byte the kernel frees undelivered on a socket of this device (sock_drop, a
  // zapped psock queue): the checkers' hook, so that a drop is counted and not taken for a loss.
  std::function<void(Sched&, const sock&, std::string_view bytes)> drop_tap;
};

// The device's ndo_start_xmit: queue on the backlog and raise NET_RX.
void loopback_xmit(Sched& s, loopback& lo, skb_ptr skb);

}  // namespace kpsim::model
