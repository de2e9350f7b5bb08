// The receive softirq (net/core/dev.c net_rx_action → process_backlog →
// __netif_receive_skb → ip_rcv → ip_local_deliver, net/ipv4/ip_input.c; kernel 6.12), and the
// two ways it runs in the model (drivers/net/loopback.h says why): inline at the sender's
// local_bh_enable (do_softirq) or as a task of its own (net_rx_softirq).
#pragma once

#include "model/drivers/net/loopback.h"
#include "sched/co.h"

namespace kpsim::model {

// One softirq run: deliver everything on the device's backlog to its socket (udp_rcv or
// tcp_v4_rcv), then send the ACKs the TCP receivers scheduled to send at once (one per socket
// and run), then (tcp_acks::delayed) let a reader that reads as data arrives read it: its
// tcp_cleanup_rbuf may ACK what the softirq delayed. Never sleeps.
// false: a receiver found the byte stream broken and failed the run (Sched::fail).
bool net_rx_action(Sched& s, loopback& lo);

// The sender's local_bh_enable with NET_RX pending on an inline device: one scheduling point
// (`label`: other CPUs run meanwhile), then net_rx_action until the backlog is empty. Nothing
// on a device whose NET_RX is a task.
Co<> do_softirq(Sched& s, loopback& lo, std::string_view label);

// The NET_RX task of a device that does not run inline: waits until raised, runs
// net_rx_action, and ends once the sender is done and nothing is left to send or to be acked.
Co<> net_rx_softirq(Sched& s, loopback& lo);

}  // namespace kpsim::model
