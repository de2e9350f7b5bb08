// net/ipv4/tcp_input.c (kernel 6.12): see tcp_input.h.
#include "model/net/ipv4/tcp_input.h"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "model/drivers/net/loopback.h"
#include "model/net/core/sock.h"
#include "model/net/core/stream.h"
#include "model/net/ipv4/tcp_output.h"
#include "model/net/ipv4/tcp_timer.h"

namespace kpsim::model {

// Frees every fully acknowledged skb; returns the packets acked.
static uint32_t tcp_clean_rtx_queue(tcp_sock& tp, uint64_t ack_seq) {
  uint32_t acked = 0;
  while (!tp.rtx_queue.empty() && tp.rtx_queue.front().end_seq <= ack_seq) {
    const tcp_skb& skb = tp.rtx_queue.front();
    acked += skb.pcount;
    tp.packets_out -= skb.pcount;  // Invariant: packets_out == sum of pcount over rtx_queue
    tp.sk_wmem_queued -= static_cast<int64_t>(skb.truesize);  // sk_wmem_free_skb
    tp.rtx_queue.pop_front();
  }
  return acked;
}

// The head fits the window again: stop probing; tcp_data_snd_check sends it.
static void tcp_ack_probe(Sched& s, tcp_sock& tp) {
  const tcp_skb* head = tp.tcp_send_head();
  if (!head) return;
  if (head->end_seq <= tp.tcp_wnd_end()) {
    tp.icsk_backoff = 0;
    tp.icsk_probes_tstamp_ns = 0;
    inet_csk_clear_xmit_timer(s, tp);
  } else {
    tcp_reset_xmit_timer(s, tp, icsk_timer::probe0,
                         tcp_probe0_when(s, tp, usecs_to_jiffies(s, kTCP_RTO_MAX_US)));
  }
}

// Slow start (CUBIC never leaves it without loss): cwnd += acked while cwnd-limited.
static void tcp_cong_avoid(tcp_sock& tp, uint32_t acked) {
  const bool cwnd_limited = tp.snd_cwnd < 2 * tp.max_packets_out;
  if (cwnd_limited) tp.snd_cwnd = std::min(tp.snd_cwnd + acked, tp.snd_cwnd_clamp);
  tp.max_packets_out = tp.packets_out;
}

void tcp_ack(Sched& s, tcp_sock& tp, const ack_skb& ack) {
  ++tp.stats.acks;
  if (ack.ack_seq > tp.snd_nxt || ack.ack_seq < tp.snd_una) return;  // invalid / old
  const uint32_t prior_packets = tp.packets_out;
  tp.snd_wnd = ack.wnd;  // tcp_ack_update_window
  tp.max_window = std::max(tp.max_window, ack.wnd);
  tp.snd_una = ack.ack_seq;
  if (!prior_packets) {
    if (tp.tcp_send_head()) tcp_ack_probe(s, tp);
    return;
  }
  const uint32_t acked = tcp_clean_rtx_queue(tp, ack.ack_seq);
  if (acked) {
    tcp_rearm_rto(s, tp);  // FLAG_SET_XMIT_TIMER
    tcp_cong_avoid(tp, acked);
  }
  s.note("tcp", "tcp_ack {}: {} packets acked, packets_out {}, cwnd {}, wmem_queued {}", ack.ack_seq,
         acked, tp.packets_out, tp.snd_cwnd, tp.sk_wmem_queued);
}

bool tcp_rcv_established(Sched& s, tcp_sock& tp, skb_ptr skb) {
  if (skb->seq == skb->end_seq && !skb->fin) {  // a zero-window probe: answered by an ACK with the window
    tp.ack_pending = true;
    return true;
  }
  return tcp_data_queue(s, tp, std::move(skb));
}

bool tcp_data_queue(Sched& s, tcp_sock& tp, skb_ptr skb) {
  if (skb->seq != tp.rcv_nxt) {
    s.fail("byte-conservation",
           fmt::format("receiver expected seq {} but got [{}, {})", tp.rcv_nxt, skb->seq, skb->end_seq));
    return false;
  }
  tp.rcv_nxt = skb->end_seq;
  tp.ack_pending = true;
  if (tp.app_reads_at_once) tp.copied_seq = tp.rcv_nxt;
  if (tp.lo->tap) tp.lo->tap(s, *skb);
  const bool fin = skb->fin;
  if (!skb->data.empty() || tp.psock || fin) {
    // tcp_queue_rcv: a FIN skb is queued too (tcp_read_skb hands it to the verdict; tcp_recvmsg
    // steps over it).
    if (fin) s.note(tp.name + ".sk_receive_queue", "+FIN");
    else s.note(tp.name + ".sk_receive_queue", "+{} bytes", skb->len());
    tp.sk_receive_queue.mut().push_back(std::move(skb));
  }
  if (fin) tcp_fin(s, tp);
  sk_data_ready(s, tp);  // tcp_data_ready, as the socket is not SOCK_DEAD here (see tcp_v4_rcv)
  return true;
}

void tcp_fin(Sched& s, tcp_sock& tp) {
  // The established case: RCV_SHUTDOWN and SOCK_DONE, then (not SOCK_DEAD) sk_state_change,
  // which wakes every sleeper on sk_sleep — a reader blocked in recv or select sees the end
  // of the stream.
  tp.rcv_shutdown = true;
  tp.sock_done = true;
  tp.fin = true;
  tp.fin_seq = tp.rcv_nxt;
  s.note(tp.name, "tcp_fin: RCV_SHUTDOWN, SOCK_DONE");
  tp.sk_wq.wake_up_all(s);
}

void tcp_rcv_ack(Sched& s, tcp_sock& tp, const ack_skb& ack) {
  tcp_ack(s, tp, ack);
  tcp_data_snd_check(s, tp);
}

void tcp_data_snd_check(Sched& s, tcp_sock& tp) {
  tcp_push_pending_frames(s, tp);
  tcp_check_space(s, tp);
}

void tcp_sndbuf_expand(tcp_sock& tp) {
  uint64_t per_mss = std::max(tp.mss_clamp, tp.mss_cache) + kMaxTcpHeader + kSkbSharedInfo;
  per_mss = std::bit_ceil(per_mss) + kSkbStruct;
  const uint64_t nr_segs = std::max<uint64_t>({kTCP_INIT_CWND, tp.snd_cwnd, 3 + 1});  // reordering + 1
  const uint64_t sndmem = 2 * nr_segs * per_mss;  // CUBIC has no sndbuf_expand hook: factor 2
  if (static_cast<uint64_t>(tp.sk_sndbuf) < sndmem)
    tp.sk_sndbuf = static_cast<int64_t>(std::min(sndmem, kTcpWmemMax));
}

static bool tcp_should_expand_sndbuf(const tcp_sock& tp) {
  if (tp.sndbuf_locked) return false;
  if (tp.packets_out >= tp.snd_cwnd) return false;  // filled the congestion window
  return true;
}

static void tcp_new_space(Sched& s, tcp_sock& tp) {
  if (tcp_should_expand_sndbuf(tp)) tcp_sndbuf_expand(tp);
  tp.sk_write_space(s);
}

void tcp_check_space(Sched& s, tcp_sock& tp) {
  if (tp.sock_nospace) tcp_new_space(s, tp);
}

}  // namespace kpsim::model
