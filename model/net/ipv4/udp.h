// UDP over loopback (net/ipv4/udp.c; kernel 6.12): udp_sendmsg → ip_output → the loopback
// device; on input udp_rcv → udp_queue_rcv_skb → __udp_enqueue_schedule_skb, which queues the
// datagram on the receiver and calls its sk_data_ready (the psock verdict in a sockmap).
#pragma once

#include <string>

#include "model/include/linux/poll.h"
#include "model/include/net/sock.h"
#include "sched/co.h"

namespace kpsim::model {

// IPv4 UDP's largest datagram: 0xFFFF less the IP and UDP headers (ip_append_data's limit).
inline constexpr uint32_t kUdpMaxPayload = 65535 - 20 - 8;

// The whole payload is one datagram to sk->peer (-EMSGSIZE above kUdpMaxPayload). NET_RX runs
// at the end of the call when the device runs it inline. Returns the bytes sent.
Co<int> udp_sendmsg(Sched& s, sock& sk, const std::string& payload);
// Input from the device (softirq context): __udp_enqueue_schedule_skb drops the datagram when
// the receive memory is already over sk_rcvbuf, else charges and queues it.
void udp_rcv(Sched& s, sock& sk, skb_ptr skb);
// Native udp_recvmsg: the head datagram of sk_receive_queue (its excess is discarded, MSG_TRUNC);
// waits when blocking; MSG_PEEK leaves it queued. MSG_WAITALL means nothing to a datagram.
Co<int> udp_recvmsg(Sched& s, sock& sk, std::string& out, uint32_t len, bool dontwait, bool peek);
// udp_poll: datagram_poll, plus EPOLLIN|EPOLLRDNORM while a psock's ingress_msg holds data
// (sk_is_readable). (udp_poll's reader_queue and checksum re-check have no model: the model
// queues on sk_receive_queue only and its datagrams never fail the checksum.)
__poll_t udp_poll(const sock& sk);
// udp_lib_close → sk_common_release: orphan the socket, free its receive queue (dropped bytes).
void udp_lib_close(Sched& s, sock& sk);

}  // namespace kpsim::model
