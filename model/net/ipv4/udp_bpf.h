// UDP with a psock: net/ipv4/udp_bpf.c udp_bpf_recvmsg, udp_msg_wait_data, udp_msg_has_data,
// udp_bpf_ioctl; the native fallbacks udp_recvmsg and udp_ioctl (net/ipv4/udp.c).
#pragma once

#include <string>

#include "model/include/net/sock.h"

namespace kpsim::model {

// Returns bytes read, or -EAGAIN / -EINTR. timeo_ns: the receive timeout (0 with MSG_DONTWAIT).
// MSG_PEEK (peek) copies without consuming; MSG_WAITALL is not looked at by udp_bpf_recvmsg.
Co<int> udp_bpf_recvmsg(Sched& s, sock& sk, std::string& out, uint32_t len, bool dontwait,
                        bool peek = false);
// FIONREAD. With sk->kc->fionread == pre_929e30f93125: the semantics before 929e30f93125 (native udp_ioctl: the first datagram
// still on sk_receive_queue, which the verdict path has already emptied).
int udp_bpf_ioctl(sock& sk);

}  // namespace kpsim::model
