// net/core/dev.c net_rx_action and the protocol dispatch of ip_local_deliver (kernel 6.12):
// see dev.h.
#include "model/net/core/dev.h"

#include "model/include/linux/tcp.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_ipv4.h"
#include "model/net/ipv4/tcp_output.h"
#include "model/net/ipv4/udp.h"

namespace kpsim::model {

bool net_rx_action(Sched& s, loopback& lo) {
  while (!lo.input_pkt_queue->empty()) {
    skb_ptr skb = std::move(lo.input_pkt_queue.mut().front());
    lo.input_pkt_queue.mut().pop_front();
    sock& sk = *skb->dst;
    if (sk.is_tcp()) {
      if (!tcp_v4_rcv(s, tcp_sk(sk), std::move(skb))) return false;
    } else {
      udp_rcv(s, sk, std::move(skb));
    }
  }
  // The ACKs scheduled during this run (icsk_ack.pending), in the device's socket order.
  for (tcp_sock* tp : lo.socks)
    if (tp->ack_pending) tcp_send_ack(s, *tp);
  // With delayed ACKs, a reader that reads everything as it arrives (app_reads_at_once) reads
  // now, after the run's ACK decisions, as a woken reader runs after the softirq: tcp_recvmsg,
  // whose tcp_cleanup_rbuf may send the ACK the softirq delayed.
  for (tcp_sock* tp : lo.socks)
    if (tp->kc->acks == tcp_acks::delayed && tp->app_reads_at_once && tp->rcv_queued())
      tcp_recvmsg(s, *tp, tp->rcv_queued());
  return true;
}

Co<> do_softirq(Sched& s, loopback& lo, std::string_view label) {
  if (!lo.softirq_inline || lo.input_pkt_queue->empty()) co_return;
  co_await s.point(label);
  while (!lo.input_pkt_queue->empty())
    if (!net_rx_action(s, lo)) co_return;
}

static bool transfer_finished(const loopback& lo) {
  if (!lo.sender_done || !lo.input_pkt_queue->empty()) return false;
  for (const tcp_sock* tp : lo.socks)
    if (!tp->write_queue.empty() || !tp->rtx_queue.empty() || !tp->sk_backlog.empty() || !tp->sk_backlog_data.empty())
      return false;
  return true;
}

Co<> net_rx_softirq(Sched& s, loopback& lo) {
  for (;;) {
    while (lo.input_pkt_queue->empty()) {
      if (transfer_finished(lo)) co_return;
      co_await lo.napi.sleep(s, "net_rx_action", false);
    }
    if (!net_rx_action(s, lo)) co_return;
    if (!lo.input_pkt_queue->empty()) co_await s.point("net_rx_action");
  }
}

}  // namespace kpsim::model
