// net/ipv4/tcp_ipv4.c tcp_v4_rcv / tcp_v4_do_rcv (kernel 6.12): see tcp_ipv4.h.
#include "model/net/ipv4/tcp_ipv4.h"

#include "model/net/ipv4/tcp_input.h"

namespace kpsim::model {

bool tcp_v4_rcv(Sched& s, tcp_sock& tp, skb_ptr skb) {
  // A receiver is never owned by a process while data arrives on these paths (its reader takes
  // no socket lock in the model), so tcp_v4_do_rcv runs at once.
  return tcp_rcv_established(s, tp, std::move(skb));
}

void tcp_v4_rcv(Sched& s, tcp_sock& tp, const ack_skb& ack) {
  if (tp.sk_lock.owned_by_user()) {
    tp.sk_backlog.push_back(ack);  // sk_add_backlog: the owner processes it in release_sock
    ++tp.stats.backlogged_acks;
    s.note("tcp", "tcp_v4_rcv: ACK {} to the backlog (socket owned by user)", ack.ack_seq);
    return;
  }
  tcp_rcv_ack(s, tp, ack);  // tcp_v4_do_rcv → tcp_rcv_established's ACK path
}

}  // namespace kpsim::model
