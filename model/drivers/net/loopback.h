// Sending over loopback and the receive softirq it triggers: udp_sendmsg / tcp_sendmsg →
// ip_output → loopback_xmit → netif_rx, then NET_RX (net_rx_action) on the same CPU at
// local_bh_enable, still inside the sender's send(): __udp_enqueue_schedule_skb or
// tcp_rcv_established/tcp_data_queue queue the skb on the receiver and call its sk_data_ready.
// Also select()/poll() readability (udp_poll/datagram_poll, tcp_poll + sk_is_readable).
#pragma once

#include <optional>
#include <string>

#include "model/net/core/skmsg.h"

namespace kpsim::model {

// Returns the bytes sent. The whole payload is one datagram (UDP) or one segment (TCP).
Co<int> loopback_sendmsg(Sched& s, sock& from, const std::string& payload);

// select() for readability with a timeout: true when readable, false on timeout.
Co<bool> poll_readable(Sched& s, sock& sk, uint64_t timeout_ns);

}  // namespace kpsim::model
