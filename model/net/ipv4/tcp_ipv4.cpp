// The loopback wire and NET_RX softirq (net/ipv4/tcp_ipv4.c, drivers/net/loopback.c; kernel
// 6.12): see tcp_ipv4.h.
#include "model/net/ipv4/tcp_ipv4.h"

#include <algorithm>

#include "model/net/ipv4/tcp_input.h"

namespace kpsim::model {

void loopback_xmit(Sched& s, loopback& lo, const tcp_segment& seg) {
  lo.wire.push_back(seg);
  lo.napi.wake_up_all(s);  // raise NET_RX
}

bool tcp_process_backlog(Sched& s, tcp_sock& tp) {
  if (tp.sk_backlog.empty()) return false;
  while (!tp.sk_backlog.empty()) {
    const ack_skb ack = tp.sk_backlog.front();
    tp.sk_backlog.pop_front();
    s.note("tcp", "__release_sock: backlogged ACK {}", ack.ack_seq);
    tcp_rcv_ack(s, tp, ack);  // sk_backlog_rcv = tcp_v4_do_rcv
  }
  return true;
}

// tcp_v4_rcv on the sender for the receiver's ACK.
static void tcp_v4_rcv_ack(Sched& s, tcp_sock& tp, const ack_skb& ack) {
  if (tp.sk_lock.owned_by_user()) {
    tp.sk_backlog.push_back(ack);  // sk_add_backlog: the owner processes it in release_sock
    ++tp.stats.backlogged_acks;
    s.note("tcp", "tcp_v4_rcv: ACK {} to the backlog (socket owned by user)", ack.ack_seq);
    return;
  }
  tcp_rcv_ack(s, tp, ack);
}

static bool transfer_finished(const loopback& lo, const tcp_sock& tp) {
  return lo.sender_done && lo.wire.empty() && tp.write_queue.empty() && tp.rtx_queue.empty() &&
         tp.sk_backlog.empty();
}

Co<> net_rx_action(Sched& s, loopback& lo, tcp_sock& tp) {
  for (;;) {
    while (lo.wire.empty()) {
      if (transfer_finished(lo, tp)) co_return;
      co_await lo.napi.sleep(s, "net_rx_action", false);
    }
    // One softirq run drains what is on the wire (process_backlog), the receiver ACKs the last
    // in-order byte (tcp_cleanup_rbuf after the reader drained it), the ACK goes back.
    bool data = false, probe = false;
    while (!lo.wire.empty()) {
      const tcp_segment seg = lo.wire.front();
      lo.wire.pop_front();
      if (seg.end_seq == seg.seq) {
        probe = true;
        continue;
      }
      if (seg.seq != lo.rcv_nxt) {
        s.fail("byte-conservation",
               fmt::format("receiver expected seq {} but got [{}, {})", lo.rcv_nxt, seg.seq, seg.end_seq));
        co_return;
      }
      lo.rcv_nxt = seg.end_seq;
      data = true;
      if (lo.rcvbuf) {
        lo.rcv_queued += seg.end_seq - seg.seq;
        lo.rcv_wq.wake_up_all(s);  // sk_data_ready
      }
      if (lo.on_receive) lo.on_receive(s, seg);
    }
    if (data || probe) {
      lo.rcv_wnd_advertised = lo.window();
      if (lo.rcvbuf) s.note("rx", "tcp_rcv_established: rcv_nxt {}, ACK back, window {}", lo.rcv_nxt, lo.window());
      else s.note("rx", "tcp_rcv_established: rcv_nxt {}, ACK back", lo.rcv_nxt);
      tcp_v4_rcv_ack(s, tp, {lo.rcv_nxt, lo.window()});
    }
    if (!lo.wire.empty()) co_await s.point("net_rx_action");
  }
}

}  // namespace kpsim::model

namespace kpsim::model {

uint64_t tcp_recvmsg_read(Sched& s, loopback& lo, tcp_sock& tp, uint64_t len) {
  const uint64_t n = std::min(len, lo.rcv_queued);
  if (!n) return 0;
  lo.rcv_queued -= n;
  lo.copied_seq += n;
  // tcp_cleanup_rbuf: a window update once the window has grown to at least twice what was
  // last advertised (the ACK goes through loopback to the sender's softirq at once).
  const uint64_t wnd = lo.window();
  if (wnd >= 2 * lo.rcv_wnd_advertised) {
    s.note("rx", "tcp_recvmsg: read {} B, window update {} → {}", n, lo.rcv_wnd_advertised, wnd);
    lo.rcv_wnd_advertised = wnd;
    tcp_v4_rcv_ack(s, tp, {lo.rcv_nxt, wnd});
  } else {
    s.note("rx", "tcp_recvmsg: read {} B", n);
  }
  return n;
}

void tcp_send_fin(Sched& s, loopback& lo, tcp_sock& tp) {
  lo.fin = true;
  lo.fin_seq = tp.write_seq;
  lo.sender_done = true;
  s.note("tcp", "tcp_send_fin: FIN after seq {} ({} B not yet sent)", tp.write_seq, tp.notsent_bytes());
  lo.napi.wake_up_all(s);
  lo.rcv_wq.wake_up_all(s);
}

}  // namespace kpsim::model
