// net/core/sock.c __release_sock, sock_def_readable (kernel 6.12): see sock.h.
#include "model/net/core/sock.h"

#include "model/drivers/net/loopback.h"
#include "model/net/core/skmsg.h"
#include "model/net/ipv4/tcp_input.h"
#include "model/net/ipv4/tcp_output.h"

namespace kpsim::model {

bool __release_sock(Sched& s, tcp_sock& tp) {
  if (tp.sk_backlog.empty() && tp.sk_backlog_data.empty()) return false;
  while (!tp.sk_backlog.empty()) {
    const ack_skb ack = tp.sk_backlog.front();
    tp.sk_backlog.pop_front();
    s.note("tcp", "__release_sock: backlogged ACK {}", ack.ack_seq);
    tcp_rcv_ack(s, tp, ack);  // sk_backlog_rcv = tcp_v4_do_rcv
  }
  // A socket receives either data or ACKs on the model's one-way connections, so the two
  // queues never hold interleaved segments.
  const bool had_data = !tp.sk_backlog_data.empty();
  while (!tp.sk_backlog_data.empty()) {
    skb_ptr skb = std::move(tp.sk_backlog_data.front());
    tp.sk_backlog_data.pop_front();
    s.note("tcp", "__release_sock: backlogged data [{}, {})", skb->seq, skb->end_seq);
    // tcp_v4_do_rcv → tcp_rcv_established: the segment is queued, sk_data_ready runs with the
    // socket still owned (a ULP's parser defers to its work), and the ACK goes out from here.
    if (!tcp_rcv_established(s, tp, std::move(skb))) break;
    if (tp.ack_pending) tcp_send_ack(s, tp);
  }
  // The model's NET_RX task ends once the transfer is finished (net_rx_softirq), and looks only
  // when woken: the ACK just sent from process context may have finished it.
  if (had_data && tp.lo) tp.lo->napi.wake_up_all(s);
  return true;
}

void sk_data_ready(Sched& s, sock& sk) {
  if (sk.sk_data_ready_fn) {
    sk.sk_data_ready_fn(s);
    return;
  }
  if (sk.psock && sk.psock->stream_verdict.get()) sk_psock_verdict_data_ready(s, sk);
  else sk.sk_wq.wake_up_all(s);  // sock_def_readable
}

void sock_drop(Sched& s, sock& sk, const sk_buff& skb, uint32_t off, uint32_t len) {
  (void)s;
  ++sk.sk_drops;  // sk_drops_add: one segment (the callers' notes say why)
  if (len && sk.lo && sk.lo->drop_tap)
    sk.lo->drop_tap(s, sk, std::string_view(skb.data).substr(off, len));
}

void sock_drop_bytes(Sched& s, sock& sk, std::string_view bytes) {
  s.note(sk.name, "freed {} undelivered bytes", bytes.size());
  if (!bytes.empty() && sk.lo && sk.lo->drop_tap) sk.lo->drop_tap(s, sk, bytes);
}

}  // namespace kpsim::model
