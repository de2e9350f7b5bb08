// net/ipv4/tcp_output.c (kernel 6.12): see tcp_output.h.
#include "model/net/ipv4/tcp_output.h"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "model/drivers/net/loopback.h"
#include "model/net/ipv4/tcp_input.h"
#include "model/net/ipv4/tcp_ipv4.h"
#include "model/net/ipv4/tcp_timer.h"

namespace kpsim::model {

bool tcp_minshall_check(const tcp_sock& tp) {
  return tp.snd_sml > tp.snd_una && tp.snd_sml <= tp.snd_nxt;
}

static void tcp_minshall_update(tcp_sock& tp, uint32_t mss_now, const tcp_skb& skb) {
  if (skb.len() < tcp_skb_pcount(skb, mss_now) * mss_now) tp.snd_sml = skb.end_seq;
}

bool tcp_nagle_check(bool partial, const tcp_sock& tp, int nonagle) {
  return partial && ((nonagle & kTCP_NAGLE_CORK) ||
                     (!nonagle && tp.packets_out && tcp_minshall_check(tp)));
}

bool tcp_nagle_test(const tcp_sock& tp, const tcp_skb& skb, uint32_t cur_mss, int nonagle) {
  if (nonagle & kTCP_NAGLE_PUSH) return true;
  // No urgent mode and no FIN on this path.
  return !tcp_nagle_check(skb.len() < cur_mss, tp, nonagle);
}

uint32_t tcp_cwnd_test(const tcp_sock& tp) {
  const uint32_t in_flight = tp.packets_out;  // no losses, no retransmits on loopback
  if (in_flight >= tp.snd_cwnd) return 0;
  // At least two GSO packets in flight, for better scheduling.
  const uint32_t halfcwnd = std::max(tp.snd_cwnd >> 1, 1u);
  return std::min(halfcwnd, tp.snd_cwnd - in_flight);
}

bool tcp_snd_wnd_test(const tcp_sock& tp, const tcp_skb& skb, uint32_t cur_mss) {
  uint64_t end_seq = skb.end_seq;
  if (skb.len() > cur_mss) end_seq = skb.seq + cur_mss;
  return end_seq <= tp.tcp_wnd_end();
}

uint32_t tcp_skb_pcount(const tcp_skb& skb, uint32_t mss) {
  return std::max(1u, (skb.len() + mss - 1) / mss);
}

uint32_t tcp_mss_split_point(const tcp_sock& tp, const tcp_skb& skb, bool is_tail, uint32_t mss_now,
                             uint32_t max_segs, int nonagle) {
  const uint64_t window = tp.tcp_wnd_end() - skb.seq;
  const uint64_t max_len = uint64_t{mss_now} * max_segs;
  if (max_len <= window && !is_tail) return static_cast<uint32_t>(max_len);
  const uint64_t needed = std::min<uint64_t>(skb.len(), window);
  if (max_len <= needed) return static_cast<uint32_t>(max_len);
  const uint64_t partial = needed % mss_now;
  // A sub-MSS last segment goes only if Nagle/cork allow it now.
  if (tcp_nagle_check(partial != 0, tp, nonagle)) return static_cast<uint32_t>(needed - partial);
  return static_cast<uint32_t>(needed);
}

bool forced_push(const tcp_sock& tp) { return tp.write_seq > tp.pushed_seq + (tp.max_window >> 1); }

uint32_t tcp_current_mss(const tcp_sock& tp) { return tp.mss_cache; }

uint32_t tcp_xmit_size_goal(tcp_sock& tp, uint32_t mss_now) {
  const uint64_t new_size_goal = tcp_bound_to_half_wnd(tp, kLoopbackGsoMaxSize);
  uint64_t size_goal = uint64_t{tp.gso_segs} * mss_now;
  if (new_size_goal < size_goal || new_size_goal >= size_goal + mss_now) {
    tp.gso_segs = static_cast<uint32_t>(std::min<uint64_t>(new_size_goal / mss_now, kGsoMaxSegs));
    size_goal = uint64_t{tp.gso_segs} * mss_now;
  }
  return static_cast<uint32_t>(std::max<uint64_t>(size_goal, mss_now));
}

uint32_t tcp_mtu_to_mss(const tcp_sock& tp, uint32_t pmtu) {
  // __tcp_mtu_to_mss: the MTU less the IP and TCP headers, at most mss_clamp (no IP options:
  // icsk_ext_hdr_len 0), at least tcp_min_snd_mss; then less the options every segment
  // carries (tcp_header_len - sizeof(tcphdr): the timestamp option on loopback).
  int64_t mss_now = int64_t{pmtu} - kIpHdrLen - kTcpHdrLen;
  mss_now = std::min<int64_t>(mss_now, tp.mss_clamp);
  mss_now = std::max<int64_t>(mss_now, kTcpMinSndMss);
  return static_cast<uint32_t>(mss_now - kTCPOLEN_TSTAMP_ALIGNED);
}

uint32_t tcp_sync_mss(tcp_sock& tp, uint32_t pmtu) {
  uint32_t mss_now = tcp_mtu_to_mss(tp, pmtu);
  mss_now = tcp_bound_to_half_wnd(tp, mss_now);
  tp.icsk_pmtu_cookie = pmtu;
  // MTU probing (icsk_mtup.enabled) is off: net.ipv4.tcp_mtu_probing 0.
  tp.mss_cache = mss_now;
  return mss_now;
}

void tcp_select_initial_window(uint32_t space, uint32_t mss, uint32_t& rcv_wnd, uint32_t& window_clamp,
                               uint8_t& rcv_wscale) {
  constexpr uint32_t kU16Max = 65535;
  if (window_clamp == 0) window_clamp = kU16Max << kTCP_MAX_WSCALE;
  space = std::min(window_clamp, space);
  if (space > mss) space = space / mss * mss;  // a whole number of segments
  // tcp_workaround_signed_windows 0; no initial-window route metric (init_rcv_wnd 0).
  rcv_wnd = std::min(space, kU16Max);
  // Window scaling (both loopback SYNs offer it) sized for the largest buffer it may grow to.
  space = std::max({space, kTcpRmemMax, kNetCoreRmemMax});
  space = std::min(space, window_clamp);
  const int ilog2 = std::bit_width(space) - 1;
  rcv_wscale = static_cast<uint8_t>(std::clamp(ilog2 - 15, 0, static_cast<int>(kTCP_MAX_WSCALE)));
  window_clamp = std::min<uint32_t>(kU16Max << rcv_wscale, window_clamp);
}

uint32_t __tcp_select_window(const tcp_sock& tp) {
  // The handshake's ACK: nothing received yet, so free space is the whole buffer (tcp_space is
  // tcp_full_space), never below half of it, and no window is shrunk.
  uint32_t mss = tp.icsk_ack_rcv_mss;
  uint32_t free_space = tcp_full_space();
  const uint32_t full_space = std::min(tp.window_clamp, tcp_full_space());
  mss = std::min(mss, full_space);
  free_space = std::min(free_space, tp.rcv_ssthresh);
  if (tp.rcv_wscale) {
    // ALIGN up to the scale, so that the window is not scaled away.
    const uint32_t unit = 1u << tp.rcv_wscale;
    return (free_space + unit - 1) / unit * unit;
  }
  uint32_t window = tp.rcv_wnd_syn;
  if (window + mss <= free_space || window > free_space) window = free_space / mss * mss;
  else if (mss == full_space && free_space > window + (full_space >> 1)) window = free_space;
  return window;
}

void tcp_connect_init(tcp_sock& tp) {
  tp.max_window = 0;
  if (tp.user_mss) tp.mss_clamp = tp.user_mss;
  tcp_sync_mss(tp, kLoopbackMtu);
  // tcp_mss_clamp(dst_metric_advmss): loopback's 65495, or TCP_MAXSEG if smaller.
  tp.advmss = tcp_mss_clamp(tp, kLoopbackAdvmss);
  // No timestamp seen from the peer yet (ts_recent_stamp 0): the whole advmss.
  tcp_select_initial_window(tcp_full_space(), tp.advmss, tp.rcv_wnd_syn, tp.window_clamp, tp.rcv_wscale);
  tp.rcv_ssthresh = tp.rcv_wnd_syn;
}

void tcp_mark_push(tcp_sock& tp, tcp_skb& skb) {
  skb.psh = true;
  tp.pushed_seq = tp.write_seq;
}

// tso_fragment / tcp_fragment: the first `len` bytes stay, the rest becomes a new skb right
// after it in the write queue (with its own head truesize).
static void tcp_fragment(tcp_sock& tp, size_t idx, uint32_t len) {
  auto skb = tp.write_queue.edit_at(idx);
  tcp_skb buff;
  buff.seq = skb->seq + len;
  buff.end_seq = skb->end_seq;
  buff.eor = skb->eor;
  buff.psh = skb->psh;
  const uint64_t moved = buff.end_seq - buff.seq;
  buff.truesize = kSkbHeadTruesize + moved;
  skb->truesize -= std::min<uint64_t>(moved, skb->truesize - kSkbHeadTruesize);
  skb->end_seq = buff.seq;
  skb->eor = false;
  skb->psh = false;
  skb.done();
  tp.sk_wmem_queued += kSkbHeadTruesize;
  tp.write_queue.insert_after(idx, buff);
}

// tcp_transmit_skb → ip_queue_xmit → the device. The payload goes along when the socket
// carries bytes (snd_data, indexed by sequence number from ISN 0).
static void tcp_transmit_skb(Sched& s, tcp_sock& tp, uint64_t seq, uint64_t end_seq, bool psh,
                             uint32_t gso_size = 0) {
  account_cpu(s, *tp.kc, tp.stats.cpu, cpu_work::skb_out, 1);
  auto skb = std::make_unique<sk_buff>();
  skb->gso_size = gso_size;
  skb->dst = tp.peer;
  skb->seq = seq;
  skb->end_seq = end_seq;
  skb->psh = psh;
  if (end_seq > seq && !tp.snd_data.empty()) skb->data = tp.snd_data.substr(seq, end_seq - seq);
  loopback_xmit(s, *tp.lo, std::move(skb));
}

// tcp_transmit_skb for the send head, then tcp_event_new_data_sent.
static void tcp_transmit_head(Sched& s, tcp_sock& tp, uint32_t mss_now, const char* why) {
  tcp_skb skb = tp.write_queue.pop_front();
  const uint32_t pcount = tcp_skb_pcount(skb, mss_now);
  skb.pcount = pcount;  // tcp_set_skb_tso_segs: what tcp_clean_rtx_queue takes back
  ++tp.stats.segments;
  tp.stats.wire_packets += pcount;
  ++tp.stats.segment_sizes[skb.len()];
  s.note("tcp", "{}: transmit [{}, {}) {} B{}, notsent {} B", why, skb.seq, skb.end_seq, skb.len(),
         skb.psh ? " PSH" : "", tp.write_seq - skb.end_seq);
  // tcp_set_skb_tso_segs: gso_size is the MSS only when the skb is more than one segment.
  tcp_transmit_skb(s, tp, skb.seq, skb.end_seq, skb.psh, pcount > 1 ? mss_now : 0);
  // tcp_event_new_data_sent
  const uint32_t prior_packets = tp.packets_out;
  tp.snd_nxt = skb.end_seq;
  tp.rtx_queue.push_back(skb);
  tp.packets_out += pcount;
  tp.max_packets_out = std::max(tp.max_packets_out, tp.packets_out);
  if (!prior_packets) tcp_rearm_rto(s, tp);
  // Sent data is no longer notsent: a writer blocked on notsent_lowat may go on.
  tcp_check_space(s, tp);
}

// Never defers on this path. With nothing in flight it sends now (no rtx head); with data in
// flight on loopback the window and cwnd admit the whole skb or a large fraction of the window
// (tcp_tso_win_divisor), which also sends now.
static bool tcp_tso_should_defer(const tcp_sock&, const tcp_skb&) { return false; }

bool tcp_write_xmit(Sched& s, tcp_sock& tp, uint32_t mss_now, int nonagle, int push_one) {
  uint32_t sent_pkts = 0;
  const uint32_t max_segs = kGsoMaxSegs;  // tcp_tso_autosize at loopback pacing rates
  while (!tp.write_queue.empty()) {
    const tcp_skb& skb = tp.write_queue.front();
    const bool is_last = tp.write_queue.size() == 1;
    const uint32_t tso_segs = tcp_skb_pcount(skb, mss_now);
    uint32_t cwnd_quota = tcp_cwnd_test(tp);
    if (!cwnd_quota) {
      s.note("tcp", "tcp_write_xmit: cwnd full ({} in flight)", tp.packets_out);
      break;
    }
    cwnd_quota = std::min(cwnd_quota, max_segs);
    if (!tcp_snd_wnd_test(tp, skb, mss_now)) {
      s.note("tcp", "tcp_write_xmit: receive window limited");
      break;
    }
    if (tso_segs == 1) {
      if (!tcp_nagle_test(tp, skb, mss_now, is_last ? nonagle : kTCP_NAGLE_PUSH)) {
        s.note("tcp", "tcp_write_xmit: hold {} B skb < mss {} ({}), packets_out {}", skb.len(), mss_now,
               (nonagle & kTCP_NAGLE_CORK) ? "corked" : "Nagle", tp.packets_out);
        break;
      }
    } else if (!push_one && tcp_tso_should_defer(tp, skb)) {
      break;
    }
    uint32_t limit = mss_now;
    if (tso_segs > 1) limit = tcp_mss_split_point(tp, skb, is_last, mss_now, cwnd_quota, nonagle);
    if (limit == 0) break;
    if (skb.len() > limit) tcp_fragment(tp, 0, limit);
    tcp_transmit_head(s, tp, mss_now, push_one ? "tcp_push_one" : "tcp_write_xmit");
    tcp_minshall_update(tp, mss_now, tp.rtx_queue.back());
    sent_pkts += tcp_skb_pcount(tp.rtx_queue.back(), mss_now);
    if (push_one) break;
  }
  if (sent_pkts) return false;
  return !tp.packets_out && !tp.write_queue.empty();
}

void __tcp_push_pending_frames(Sched& s, tcp_sock& tp, uint32_t cur_mss, int nonagle) {
  if (tcp_write_xmit(s, tp, cur_mss, nonagle, 0)) tcp_check_probe_timer(s, tp);
}

void tcp_push_pending_frames(Sched& s, tcp_sock& tp) {
  if (tp.tcp_send_head()) __tcp_push_pending_frames(s, tp, tcp_current_mss(tp), tp.nonagle);
}

void tcp_push_one(Sched& s, tcp_sock& tp, uint32_t mss_now) {
  tcp_write_xmit(s, tp, mss_now, kTCP_NAGLE_PUSH, 1);
}

// Zero-window probe: a zero-length segment with an old sequence number; its ACK carries the
// window (tcp_ack → tcp_ack_probe).
static int tcp_xmit_probe_skb(Sched& s, tcp_sock& tp) {
  ++tp.stats.zero_window_probes;
  s.note("tcp", "tcp_xmit_probe_skb: zero-window probe");
  tcp_transmit_skb(s, tp, tp.snd_una, tp.snd_una, false);
  return 0;
}

int tcp_write_wakeup(Sched& s, tcp_sock& tp) {
  if (tp.write_queue.empty() || tp.write_queue.front().seq >= tp.tcp_wnd_end())
    return tcp_xmit_probe_skb(s, tp);
  const tcp_skb& skb = tp.write_queue.front();
  const uint32_t mss = tcp_current_mss(tp);
  uint64_t seg_size = tp.tcp_wnd_end() - skb.seq;
  if (tp.pushed_seq < skb.end_seq) tp.pushed_seq = skb.end_seq;
  if (seg_size < skb.len() || skb.len() > mss) {
    seg_size = std::min<uint64_t>(seg_size, mss);
    tp.write_queue.edit_front()->psh = true;
    tcp_fragment(tp, 0, static_cast<uint32_t>(seg_size));
  }
  tp.write_queue.edit_front()->psh = true;
  // Regardless of Nagle and cork: this is how a corked tail leaves when nothing else pushes it.
  tcp_transmit_head(s, tp, mss, "tcp_write_wakeup");
  return 0;
}

void tcp_send_probe0(Sched& s, tcp_sock& tp) {
  const int err = tcp_write_wakeup(s, tp);
  if (tp.packets_out || tp.write_queue.empty()) {
    // The probe carried data: the RTO covers it now.
    tp.icsk_probes_out = 0;
    tp.icsk_backoff = 0;
    tp.icsk_probes_tstamp_ns = 0;
    return;
  }
  ++tp.icsk_probes_out;
  uint64_t timeout;
  if (err <= 0) {
    if (tp.icsk_backoff < kTcpRetries2) ++tp.icsk_backoff;
    timeout = tcp_probe0_when(s, tp, usecs_to_jiffies(s, kTCP_RTO_MAX_US));
  } else {
    timeout = usecs_to_jiffies(s, kTCP_RESOURCE_PROBE_INTERVAL_US);
  }
  s.note("tcp", "tcp_send_probe0: window probe {}, backoff {}, next in {} jiffies", tp.icsk_probes_out,
         tp.icsk_backoff, timeout);
  tcp_reset_xmit_timer(s, tp, icsk_timer::probe0, timeout);
}

// include/net/tcp.h: an ACK for new data uses up one of the quick ACKs; the last one leaves
// quickack mode and deflates ato.
static void tcp_dec_quickack_mode(Sched& s, tcp_sock& tp) {
  if (!tp.icsk_ack_quick) return;
  const uint32_t pkts = (tp.icsk_ack_pending & kICSK_ACK_SCHED) ? 1 : 0;
  if (pkts >= tp.icsk_ack_quick) {
    tp.icsk_ack_quick = 0;
    tp.icsk_ack_ato = static_cast<uint32_t>(tcp_ato_min(s));
  } else {
    tp.icsk_ack_quick = static_cast<uint8_t>(tp.icsk_ack_quick - pkts);
  }
}

// tcp_event_ack_sent: whatever ACK was owed is sent; inet_csk_clear_xmit_timer(ICSK_TIME_DACK)
// clears every pending bit. The kernel leaves the timer_list queued for the handler to find
// nothing owed; the model deletes it (the same, and the clock does not stop there).
static void tcp_event_ack_sent(Sched& s, tcp_sock& tp) {
  tcp_dec_quickack_mode(s, tp);
  tp.icsk_ack_pending = 0;
  tp.icsk_delack_timer.del_timer(s);
}

void tcp_send_delayed_ack(Sched& s, tcp_sock& tp) {
  uint64_t ato = tp.icsk_ack_ato;
  if (ato > tcp_delack_min(s)) {
    uint64_t max_ato = s.hz() / 2;
    if (tp.icsk_ack_pingpong || (tp.icsk_ack_pending & kICSK_ACK_PUSHED)) max_ato = tcp_delack_max(s);
    // Slow path, the inter-segment interval is high: bound it by the RTT.
    if (tp.srtt_us) {
      const uint64_t rtt = std::max(usecs_to_jiffies(s, tp.srtt_us), tcp_delack_min(s));
      if (rtt < max_ato) max_ato = rtt;
    }
    ato = std::min(ato, max_ato);
  }
  ato = std::min(ato, tcp_delack_max(s));  // icsk_delack_max
  uint64_t timeout = s.now_ns() + s.jiffies_to_ns(ato);
  if (tp.icsk_ack_pending & kICSK_ACK_TIMER) {
    // If the delack timer is about to expire, send the ACK now.
    if (tp.icsk_ack_timeout_ns <= s.now_ns() + s.jiffies_to_ns(ato >> 2)) {
      tp.ack_pending = true;
      return;
    }
    timeout = std::min(timeout, tp.icsk_ack_timeout_ns);  // use the older deadline
  } else {
    tp.delack_since_ns = s.now_ns();
  }
  tp.icsk_ack_pending |= kICSK_ACK_SCHED | kICSK_ACK_TIMER;
  tp.icsk_ack_timeout_ns = timeout;
  tp.icsk_delack_timer.mod_timer(s, timeout);
  s.note("tcp", "tcp_send_delayed_ack: rcv_nxt {} ({} B unacked, rcv_mss {}), delack timer in {} ms", tp.rcv_nxt,
         tp.rcv_nxt - tp.rcv_wup, tp.icsk_ack_rcv_mss, (timeout - s.now_ns()) / 1000000);
}

void tcp_send_ack(Sched& s, tcp_sock& tp) {
  tp.ack_pending = false;
  const uint64_t wnd = tp.rcv_window();
  tp.rcv_wnd_advertised = wnd;
  tp.rcv_wup = tp.rcv_nxt;  // tcp_select_window
  ++tp.stats.acks_sent;
  account_cpu(s, *tp.kc, tp.stats.cpu, cpu_work::skb_out, 1);
  if (tp.kc->acks == tcp_acks::delayed) tcp_event_ack_sent(s, tp);
  if (tp.rcv_buf_bytes) s.note("rx", "tcp_rcv_established: rcv_nxt {}, ACK back, window {}", tp.rcv_nxt, wnd);
  else s.note("rx", "tcp_rcv_established: rcv_nxt {}, ACK back", tp.rcv_nxt);
  tcp_v4_rcv(s, tcp_sk(*tp.peer), ack_skb{tp.rcv_nxt, wnd});
}

void tcp_send_fin(Sched& s, tcp_sock& tp) {
  if (tp.fin_segment) {
    // The kernel sets TCPHDR_FIN on the tail skb while it is unsent, else queues a new FIN skb
    // and pushes it with Nagle off. Only the second case is modelled: with data still unsent
    // the FIN would ride on it, through tcp_write_xmit, which the model's FIN does not.
    if (!tp.write_queue.empty()) {
      s.fail("model-assumption", fmt::format("{}: tcp_send_fin with {} B unsent: a FIN on the tail "
                                             "skb is not modelled", tp.name, tp.notsent_bytes()));
      return;
    }
    auto skb = std::make_unique<sk_buff>();
    skb->dst = tp.peer;
    skb->seq = skb->end_seq = tp.write_seq;  // no sequence number for the FIN (skbuff.h)
    skb->fin = true;
    s.note("tcp", "tcp_send_fin: FIN after seq {} → {}", tp.write_seq, tp.peer->name);
    loopback_xmit(s, *tp.lo, std::move(skb));  // NET_RX runs at the caller's local_bh_enable
    return;
  }
  tcp_sock& peer = tcp_sk(*tp.peer);
  peer.fin = true;
  peer.fin_seq = tp.write_seq;
  tp.lo->sender_done = true;
  s.note("tcp", "tcp_send_fin: FIN after seq {} ({} B not yet sent)", tp.write_seq, tp.notsent_bytes());
  tp.lo->napi.wake_up_all(s);
  peer.sk_wq.wake_up_all(s);
}

}  // namespace kpsim::model
