// TCP with a psock and a verdict program: net/ipv4/tcp_bpf.c tcp_bpf_recvmsg_parser,
// tcp_msg_wait_data, tcp_bpf_ioctl; native tcp_ioctl SIOCINQ (net/ipv4/tcp.c).
#pragma once

#include <string>

#include "model/include/net/sock.h"

namespace kpsim::model {

// MSG_PEEK (peek): copied_seq is left alone. MSG_WAITALL is not looked at: the call returns
// what one pass over ingress_msg copied (tcp_bpf_recvmsg_parser has no target/rcvlowat loop).
Co<int> tcp_bpf_recvmsg_parser(Sched& s, sock& sk, std::string& out, uint32_t len, bool dontwait,
                               bool peek = false);
// FIONREAD. With sk->kc->fionread == pre_929e30f93125: native tcp_ioctl, rcv_nxt - copied_seq, which in verdict mode counts bytes
// that read_skb already took off the receive queue (the reason for 929e30f93125).
int tcp_bpf_ioctl(sock& sk);

}  // namespace kpsim::model
