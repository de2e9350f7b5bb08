// UDP over loopback (net/ipv4/udp.c; kernel 6.12): udp_sendmsg → ip_output → the loopback
// device; on input udp_rcv → udp_queue_rcv_skb → __udp_enqueue_schedule_skb, which queues the
// datagram on the receiver and calls its sk_data_ready (the psock verdict in a sockmap).
#pragma once

#include <string>

#include "model/include/net/sock.h"
#include "sched/co.h"

namespace kpsim::model {

// The whole payload is one datagram to sk->peer. NET_RX runs at the end of the call when the
// device runs it inline. Returns the bytes sent.
Co<int> udp_sendmsg(Sched& s, sock& sk, const std::string& payload);
// Input from the device (softirq context).
void udp_rcv(Sched& s, sock& sk, skb_ptr skb);

}  // namespace kpsim::model
