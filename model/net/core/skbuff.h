// net/core/skbuff.c skb_send_sock (kernel 6.12): the bytes of an skb sent out of a socket
// through its protocol's sendmsg — how a psock's backlog delivers an egress redirect.
#pragma once

#include <string_view>

#include "model/include/net/sock.h"
#include "sched/co.h"

namespace kpsim::model {

// skb_send_sock(sk, skb, offset, len) → __skb_send_sock with sendmsg_unlocked: sock_sendmsg
// with MSG_DONTWAIT, repeated while it makes progress. `bytes` are skb bytes [offset,
// offset+len). Returns the bytes sent, or the first call's error when none went.
Co<int> skb_send_sock(Sched& s, sock& sk, std::string_view bytes);

}  // namespace kpsim::model
