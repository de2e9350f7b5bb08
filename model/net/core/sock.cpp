// net/core/sock.c __release_sock, sock_def_readable (kernel 6.12): see sock.h.
#include "model/net/core/sock.h"

#include "model/drivers/net/loopback.h"
#include "model/net/core/skmsg.h"
#include "model/net/ipv4/tcp_input.h"

namespace kpsim::model {

bool __release_sock(Sched& s, tcp_sock& tp) {
  if (tp.sk_backlog.empty()) return false;
  while (!tp.sk_backlog.empty()) {
    const ack_skb ack = tp.sk_backlog.front();
    tp.sk_backlog.pop_front();
    s.note("tcp", "__release_sock: backlogged ACK {}", ack.ack_seq);
    tcp_rcv_ack(s, tp, ack);  // sk_backlog_rcv = tcp_v4_do_rcv
  }
  return true;
}

void sk_data_ready(Sched& s, sock& sk) {
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
