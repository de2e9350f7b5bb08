// net/ipv4/tcp_ipv4.c tcp_v4_rcv / tcp_v4_do_rcv, tcp_v4_syn_recv_sock (kernel 6.12): see
// tcp_ipv4.h. Also tcp_handshake, the model's composition of the three-way handshake.
#include "model/net/ipv4/tcp_ipv4.h"

#include <algorithm>

#include <fmt/format.h>

#include "model/net/ipv4/tcp_input.h"
#include "model/net/ipv4/tcp_minisocks.h"
#include "model/net/ipv4/tcp_output.h"

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

void tcp_v4_syn_recv_sock(tcp_sock& newtp, const tcp_sock& listener, const tcp_request_sock& req,
                          uint32_t ack_window) {
  tcp_create_openreq_child(newtp, req, ack_window);
  tcp_sync_mss(newtp, kLoopbackMtu);
  newtp.advmss = tcp_mss_clamp(listener, kLoopbackAdvmss);
  tcp_initialize_rcv_mss(newtp);
}

void tcp_handshake(tcp_sock& client, tcp_sock& server) {
  // connect(): tcp_v4_connect → tcp_connect_init; the SYN offers rcv_wnd_syn (unscaled).
  tcp_connect_init(client);
  // The SYN at the listener: the request, the SYN-ACK's window (unscaled, at most 65535).
  const tcp_request_sock req = tcp_openreq_init_rwin(server, client);
  const uint32_t synack_wnd = std::min<uint32_t>(req.rsk_rcv_wnd, 65535);
  // The SYN-ACK at the client; its ACK carries the window __tcp_select_window picks.
  // Its MSS option: the listener's advmss (tcp_synack_options).
  tcp_rcv_synsent_state_process(client, tcp_mss_clamp(server, kLoopbackAdvmss), req.rcv_wscale, synack_wnd);
  const uint32_t ack_window = __tcp_select_window(client);
  // The ACK at the listener: the child socket, which accept() returns.
  tcp_v4_syn_recv_sock(server, server, req, ack_window);
}

}  // namespace kpsim::model
