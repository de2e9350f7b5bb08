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

void tcp_ack_update_window(tcp_sock& tp, const ack_skb& ack) {
  // Every ACK here may update the window (tcp_may_update_window: it is in order and newer):
  // the model's ACKs come one at a time, in sequence.
  const uint64_t nwin = ack.wnd;
  if (tp.snd_wnd != nwin) {
    tp.snd_wnd = nwin;
    if (nwin > tp.max_window) {
      // The largest window yet: the half-window bound on the MSS (tcp_bound_to_half_wnd)
      // moves up with it, which is how a connection leaves the MSS its handshake gave it.
      tp.max_window = nwin;
      tcp_sync_mss(tp, tp.icsk_pmtu_cookie);
    }
  }
  tp.snd_una = ack.ack_seq;  // tcp_snd_una_update
}

void tcp_rcv_synsent_state_process(tcp_sock& tp, uint32_t synack_mss, uint8_t synack_wscale, uint32_t synack_wnd) {
  // tcp_parse_options: the SYN-ACK's MSS option, at most TCP_MAXSEG; its window scale option.
  tp.mss_clamp = tcp_mss_clamp(tp, synack_mss);
  tp.snd_wscale = synack_wscale;
  // A SYN-ACK's window is never scaled: at most 65535, the largest window seen so far.
  tp.snd_wnd = synack_wnd;
  tp.max_window = tp.snd_wnd;
  tcp_sync_mss(tp, tp.icsk_pmtu_cookie);
  tcp_initialize_rcv_mss(tp);
  // tcp_finish_connect → tcp_init_transfer → tcp_init_buffer_space (its window part).
  tcp_init_buffer_space(tp);
}

void tcp_init_buffer_space(tcp_sock& tp) {
  // tcp_app_win 31 (net.ipv4.tcp_app_win): one segment of the buffer is reserved.
  constexpr uint32_t kTcpAppWin = 31;
  const uint32_t maxwin = tcp_full_space();
  if (tp.window_clamp >= maxwin) {
    tp.window_clamp = maxwin;
    if (maxwin > 4 * tp.advmss) tp.window_clamp = std::max(maxwin - (maxwin >> kTcpAppWin), 4 * tp.advmss);
  }
  if (tp.window_clamp > 2 * tp.advmss && tp.window_clamp + tp.advmss > maxwin)
    tp.window_clamp = std::max(2 * tp.advmss, maxwin - tp.advmss);
  tp.rcv_ssthresh = std::min(tp.rcv_ssthresh, tp.window_clamp);
}

void tcp_ack(Sched& s, tcp_sock& tp, const ack_skb& ack) {
  ++tp.stats.acks;
  if (ack.ack_seq > tp.snd_nxt || ack.ack_seq < tp.snd_una) return;  // invalid / old
  const uint32_t prior_packets = tp.packets_out;
  tcp_ack_update_window(tp, ack);
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

void tcp_initialize_rcv_mss(tcp_sock& tp) {
  uint64_t hint = std::min<uint64_t>(tp.mss_cache, tp.rcv_window() / 2);  // advmss >= mss_cache here
  hint = std::min<uint64_t>(hint, kTCP_MSS_DEFAULT);
  tp.icsk_ack_rcv_mss = static_cast<uint32_t>(std::max<uint64_t>(hint, kTCP_MIN_MSS));
}

// The quick ACKs: up to half the window's worth of full segments, at most max_quickacks. The
// kernel divides its current rcv_wnd; the model's window is the constant it advertises.
static void tcp_incr_quickack(tcp_sock& tp, uint32_t max_quickacks) {
  uint64_t quickacks = tp.rcv_window() / (2 * uint64_t{tp.icsk_ack_rcv_mss});
  if (quickacks == 0) quickacks = 2;
  quickacks = std::min<uint64_t>(quickacks, max_quickacks);
  if (quickacks > tp.icsk_ack_quick) tp.icsk_ack_quick = static_cast<uint8_t>(quickacks);
}

// The peer's full segment size, from what arrives: a segment at least rcv_mss long (a GSO skb
// counts as its gso_size) raises it; two same-sized shorter ones in a row lower it; any other
// short segment marks the ACK "pushed" (PUSHED, then PUSHED2), which tcp_cleanup_rbuf reads.
// A full-sized segment with PSH marks it PUSHED too (6.12's tcp_measure_rcv_mss: likely the
// end of an application write), so a sender waiting for the ACK (a record alone in flight, its
// writer asleep on notsent_lowat) gets it as soon as the reader has emptied the queue, not
// from the delack timer.
static void tcp_measure_rcv_mss(tcp_sock& tp, const sk_buff& skb) {
  const uint32_t lss = tp.icsk_ack_last_seg_size;
  tp.icsk_ack_last_seg_size = 0;
  const uint32_t len = skb.gso_size ? skb.gso_size : skb.len();
  if (len >= tp.icsk_ack_rcv_mss) {
    // The kernel also re-derives scaling_ratio (len/truesize) and window_clamp here; the
    // model's receive window is a constant, so only rcv_mss and the PSH mark are kept.
    // advmss: the loopback MSS less the timestamp option, as the sender's largest mss_cache.
    tp.icsk_ack_rcv_mss = std::min(len, kLoopbackMss);
    if (skb.psh) tp.icsk_ack_pending |= kICSK_ACK_PUSHED;
    return;
  }
  // The kernel compares the segment with its TCP header (20 bytes + the 12-byte timestamp
  // option, tcp_header_len) against TCP_MSS_DEFAULT + 20, or TCP_MIN_MSS + 20 when no PSH (a
  // remnant flag) is set, and keeps the length without the header.
  constexpr uint32_t kTcphdr = 20, kTcpHeaderLen = kTcphdr + kTCPOLEN_TSTAMP_ALIGNED;
  const uint32_t with_hdr = len + kTcpHeaderLen;
  if (with_hdr >= kTCP_MSS_DEFAULT + kTcphdr || (with_hdr >= kTCP_MIN_MSS + kTcphdr && !skb.psh && !skb.fin)) {
    tp.icsk_ack_last_seg_size = len;
    if (len == lss) {
      tp.icsk_ack_rcv_mss = len;
      return;
    }
  }
  if (tp.icsk_ack_pending & kICSK_ACK_PUSHED) tp.icsk_ack_pending |= kICSK_ACK_PUSHED2;
  tp.icsk_ack_pending |= kICSK_ACK_PUSHED;
}

// In-order data arrived: an ACK is owed; rcv_mss and ato follow the arrivals (ato: half-way to
// the inter-arrival gap; a gap longer than the RTO restarts the quick ACKs). The receive
// window's growth (tcp_grow_window) is not modelled: the model's window is constant.
static void tcp_event_data_recv(Sched& s, tcp_sock& tp, const sk_buff& skb) {
  tp.icsk_ack_pending |= kICSK_ACK_SCHED;  // inet_csk_schedule_ack
  tcp_measure_rcv_mss(tp, skb);
  const uint64_t now = s.jiffies();
  const uint64_t ato_min = tcp_ato_min(s);
  if (!tp.icsk_ack_ato) {
    // The first data segment: start the delayed-ACK engine.
    tcp_incr_quickack(tp, kTCP_MAX_QUICKACKS);
    tp.icsk_ack_ato = static_cast<uint32_t>(ato_min);
  } else {
    const uint64_t m = now - tp.icsk_ack_lrcvtime;
    if (m <= ato_min / 2) {
      tp.icsk_ack_ato = static_cast<uint32_t>((tp.icsk_ack_ato >> 1) + ato_min / 2);
    } else if (m < tp.icsk_ack_ato) {
      tp.icsk_ack_ato = static_cast<uint32_t>(std::min<uint64_t>((tp.icsk_ack_ato >> 1) + m, tp.icsk_rto_jiffies));
    } else if (m > tp.icsk_rto_jiffies) {
      // Too long a gap: the sender failed to restart its window; ACK quickly.
      tcp_incr_quickack(tp, kTCP_MAX_QUICKACKS);
    }
  }
  tp.icsk_ack_lrcvtime = now;
}

// include/net/tcp.h (no dst_quick_ack on loopback routes).
static bool tcp_in_quickack_mode(const tcp_sock& tp) { return tp.icsk_ack_quick && !tp.icsk_ack_pingpong; }

static void __tcp_ack_snd_check(Sched& s, tcp_sock& tp) {
  // More than one full frame received, and the window's right edge would not move back
  // (sk_rcvlowat 1: unread data is never below it while data is queued).
  const bool full_frames = tp.rcv_nxt - tp.rcv_wup > tp.icsk_ack_rcv_mss &&
                           (tp.rcv_nxt - tp.copied_seq < 1 || tp.rcv_window() >= tp.rcv_wnd_advertised);
  const bool quick = !full_frames && tcp_in_quickack_mode(tp);
  if (full_frames || quick || (tp.icsk_ack_pending & kICSK_ACK_NOW)) {
    if (quick) ++tp.stats.quick_acks;
    tp.ack_pending = true;  // tcp_send_ack, at the end of this NET_RX run
    return;
  }
  tcp_send_delayed_ack(s, tp);  // the out-of-order queue is always empty on loopback
}

void tcp_ack_snd_check(Sched& s, tcp_sock& tp) {
  if (!(tp.icsk_ack_pending & kICSK_ACK_SCHED)) return;  // we sent a data segment already
  __tcp_ack_snd_check(s, tp);
}

bool tcp_rcv_established(Sched& s, tcp_sock& tp, skb_ptr skb) {
  if (skb->seq == skb->end_seq && !skb->fin) {  // a zero-window probe: answered by an ACK with the window
    tp.ack_pending = true;
    return true;
  }
  if (tp.kc->acks == tcp_acks::immediate) return tcp_data_queue(s, tp, std::move(skb));
  if (!tcp_data_queue(s, tp, std::move(skb))) return false;
  tcp_ack_snd_check(s, tp);
  return true;
}

bool tcp_data_queue(Sched& s, tcp_sock& tp, skb_ptr skb) {
  if (skb->seq != tp.rcv_nxt) {
    s.fail("byte-conservation",
           fmt::format("receiver expected seq {} but got [{}, {})", tp.rcv_nxt, skb->seq, skb->end_seq));
    return false;
  }
  tp.rcv_nxt = skb->end_seq;
  const bool delayed = tp.kc->acks == tcp_acks::delayed;
  if (!delayed) {
    tp.ack_pending = true;
    // With delayed ACKs the reader reads after the run's ACK decisions (net_rx_action).
    if (tp.app_reads_at_once) {
      // The drained reader's copy_to_user, on its own CPU (model/kernel/sched/cputime.h).
      account_cpu(s, *tp.kc, tp.stats.cpu, cpu_work::copy, tp.rcv_nxt - tp.copied_seq, on_cpu::other);
      tp.copied_seq = tp.rcv_nxt;
    }
  } else if (skb->len()) {
    tcp_event_data_recv(s, tp, *skb);
  }
  if (tp.lo->tap) tp.lo->tap(s, *skb);
  const bool fin = skb->fin;
  if (!skb->data.empty() || tp.psock || fin) {
    // tcp_queue_rcv: a FIN skb is queued too (tcp_read_skb hands it to the verdict; tcp_recvmsg
    // steps over it).
    if (fin) s.note({tp.name, ".sk_receive_queue"}, "+FIN");
    else s.note({tp.name, ".sk_receive_queue"}, "+{} bytes", skb->len());
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
  if (tp.kc->acks == tcp_acks::delayed) {
    tp.icsk_ack_pending |= kICSK_ACK_SCHED;  // inet_csk_schedule_ack
    tp.icsk_ack_pingpong = 1;                 // TCP_CLOSE_WAIT: inet_csk_enter_pingpong_mode
  }
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
