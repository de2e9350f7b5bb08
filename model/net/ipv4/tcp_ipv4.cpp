// net/ipv4/tcp_ipv4.c tcp_v4_rcv / tcp_v4_do_rcv (kernel 6.12): see tcp_ipv4.h.
#include "model/net/ipv4/tcp_ipv4.h"

#include <fmt/format.h>

#include "model/net/ipv4/tcp_input.h"

namespace kpsim::model {

bool tcp_v4_rcv(Sched& s, tcp_sock& tp, skb_ptr skb) {
  account_cpu(s, *tp.kc, tp.stats.cpu, cpu_work::skb_in, 1);  // NET_RX on the sender's CPU (loopback)
  // The backlog holds ACKs only: on the paths modelled, no process owns a receiving socket when
  // data arrives. Should a scenario make one, say so rather than deliver it out of turn.
  if (tp.sk_lock.owned_by_user() && tp.data_backlog) {
    s.note("tcp", "tcp_v4_rcv: data [{}, {}) to the backlog (socket owned by user)", skb->seq, skb->end_seq);
    tp.sk_backlog_data.push_back(std::move(skb));  // sk_add_backlog
    return true;
  }
  if (tp.sk_lock.owned_by_user()) {
    s.fail("model-assumption", fmt::format("{}: data [{}, {}) for a socket owned by a process: the backlog "
                                           "of data segments is not modelled", tp.name, skb->seq, skb->end_seq));
    return false;
  }
  // Data for a closed (orphaned) socket is answered with a RST (tcp_rcv_state_process in
  // FIN_WAIT/CLOSE: "data after close"), which the model does not send.
  if (tp.sock_dead && skb->len()) {
    s.fail("model-assumption", fmt::format("{}: {} bytes for a closed socket: the RST is not modelled",
                                           tp.name, skb->len()));
    return false;
  }
  return tcp_rcv_established(s, tp, std::move(skb));
}

void tcp_v4_rcv(Sched& s, tcp_sock& tp, const ack_skb& ack) {
  account_cpu(s, *tp.kc, tp.stats.cpu, cpu_work::skb_in, 1);
  if (tp.sk_lock.owned_by_user()) {
    tp.sk_backlog.push_back(ack);  // sk_add_backlog: the owner processes it in release_sock
    ++tp.stats.backlogged_acks;
    s.note("tcp", "tcp_v4_rcv: ACK {} to the backlog (socket owned by user)", ack.ack_seq);
    return;
  }
  tcp_rcv_ack(s, tp, ack);  // tcp_v4_do_rcv → tcp_rcv_established's ACK path
}

}  // namespace kpsim::model
