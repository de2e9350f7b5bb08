// net/ipv4/tcp_timer.c and the xmit-timer helpers of include/net/tcp.h (kernel 6.12): see
// tcp_timer.h.
#include "model/net/ipv4/tcp_timer.h"

#include <algorithm>

#include "model/drivers/net/loopback.h"
#include "model/net/ipv4/tcp_output.h"

namespace kpsim::model {

namespace {
const char* timer_name(icsk_timer t) {
  switch (t) {
    case icsk_timer::none: return "none";
    case icsk_timer::retrans: return "RTO";
    case icsk_timer::probe0: return "PROBE0";
  }
  return "?";
}
}  // namespace

void tcp_reset_xmit_timer(Sched& s, tcp_sock& tp, icsk_timer what, uint64_t when_jiffies) {
  when_jiffies = std::min(when_jiffies, usecs_to_jiffies(s, kTCP_RTO_MAX_US));
  tp.icsk_pending = what;
  tp.icsk_timeout_ns = s.now_ns() + s.jiffies_to_ns(when_jiffies);
  tp.icsk_retransmit_timer.mod_timer(s, tp.icsk_timeout_ns);
  if (what == icsk_timer::probe0) tp.probe0_armed_ns = s.now_ns();
  if (what == icsk_timer::probe0)
    s.note("tcp", "arm PROBE0 (persist) timer: {} jiffies = {} ms", when_jiffies,
           jiffies_to_msecs(s, when_jiffies));
}

void inet_csk_clear_xmit_timer(Sched& s, tcp_sock& tp) {
  // The kernel leaves the timer_list queued and lets the handler find icsk_pending == 0;
  // deleting it is observably the same and keeps the clock from stopping there.
  if (tp.icsk_pending == icsk_timer::probe0) s.note("tcp", "PROBE0 timer cleared");
  tp.icsk_pending = icsk_timer::none;
  tp.icsk_retransmit_timer.del_timer(s);
}

void tcp_rearm_rto(Sched& s, tcp_sock& tp) {
  if (!tp.packets_out) inet_csk_clear_xmit_timer(s, tp);
  else tcp_reset_xmit_timer(s, tp, icsk_timer::retrans, tp.icsk_rto_jiffies);
}

uint64_t tcp_probe0_base(const Sched& s, const tcp_sock& tp) {
  return std::max<uint64_t>(tp.icsk_rto_jiffies, usecs_to_jiffies(s, kTCP_RTO_MIN_US));
}

uint64_t tcp_probe0_when(const Sched& s, const tcp_sock& tp, uint64_t max_when) {
  // ilog2(TCP_RTO_MAX / TCP_RTO_MIN) + 1 = 10
  const uint32_t backoff = std::min<uint32_t>(tp.icsk_backoff, 10);
  return std::min(tcp_probe0_base(s, tp) << backoff, max_when);
}

void tcp_check_probe_timer(Sched& s, tcp_sock& tp) {
  if (!tp.packets_out && tp.icsk_pending == icsk_timer::none)
    tcp_reset_xmit_timer(s, tp, icsk_timer::probe0, tcp_probe0_base(s, tp));
}

void tcp_probe_timer(Sched& s, tcp_sock& tp) {
  if (tp.packets_out || tp.write_queue.empty()) {
    tp.icsk_probes_out = 0;
    tp.icsk_probes_tstamp_ns = 0;
    return;
  }
  ++tp.stats.persist_expiries;
  tp.stats.persist_wait_ns += s.now_ns() - tp.probe0_armed_ns;
  const tcp_skb& head = tp.write_queue.front();
  // The fact the no-stall property is about: data waited for this timer although the window
  // had room for it (it was held by cork or Nagle, not by the peer).
  if (head.seq < tp.tcp_wnd_end()) {
    if (!tp.stats.persist_open_window) tp.stats.first_persist_open_ns = s.now_ns();
    ++tp.stats.persist_open_window;
    s.note("tcp", "tcp_probe_timer: {} B held with the window open ({} B free), packets_out 0",
           tp.notsent_bytes(), tp.tcp_wnd_end() - head.seq);
  }
  if (!tp.icsk_probes_tstamp_ns) tp.icsk_probes_tstamp_ns = s.now_ns();
  if (tp.icsk_probes_out >= kTcpRetries2) {
    tp.sk_err = kerr::etimedout;  // tcp_write_err
    s.note("tcp", "tcp_write_err: ETIMEDOUT after {} probes", tp.icsk_probes_out);
    tp.sk_wq.wake_up_all(s);
    return;
  }
  tcp_send_probe0(s, tp);
}

void tcp_write_timer_handler(Sched& s, tcp_sock& tp) {
  if (tp.icsk_pending == icsk_timer::none) return;
  if (tp.icsk_timeout_ns > s.now_ns()) {
    tp.icsk_retransmit_timer.mod_timer(s, tp.icsk_timeout_ns);
    return;
  }
  const icsk_timer event = tp.icsk_pending;
  tp.icsk_pending = icsk_timer::none;
  switch (event) {
    case icsk_timer::probe0:
      tcp_probe_timer(s, tp);
      break;
    case icsk_timer::retrans:
      // Loopback delivers and ACKs in zero virtual time, so data never outlives its RTO here.
      s.fail("model-assumption", "RTO fired on loopback: retransmission is not modelled");
      break;
    case icsk_timer::none:
      break;
  }
}

void tcp_release_cb(Sched& s, tcp_sock& tp) {
  if (tp.write_timer_deferred) {
    tp.write_timer_deferred = false;
    s.note("tcp", "tcp_release_cb: run the deferred write timer");
    tcp_write_timer_handler(s, tp);
  }
  if (tp.delack_timer_deferred) {  // TCPF_DELACK_TIMER_DEFERRED, after the write timer's
    tp.delack_timer_deferred = false;
    s.note("tcp", "tcp_release_cb: run the deferred delack timer");
    tcp_delack_timer_handler(s, tp);
  }
}

void tcp_delack_timer(Sched& s, tcp_sock& tp) {
  if (!(tp.icsk_ack_pending & kICSK_ACK_TIMER)) return;
  tp.delack_timer_fired = true;
  tp.delack_timer_wq.wake_up_all(s);
}

void tcp_delack_timer_handler(Sched& s, tcp_sock& tp) {
  // No SACK compression on loopback (nothing arrives out of order): compressed_ack is 0.
  if (!(tp.icsk_ack_pending & kICSK_ACK_TIMER)) return;
  if (tp.icsk_ack_timeout_ns > s.now_ns()) {
    tp.icsk_delack_timer.mod_timer(s, tp.icsk_ack_timeout_ns);
    return;
  }
  tp.icsk_ack_pending &= static_cast<uint8_t>(~kICSK_ACK_TIMER);
  if (!(tp.icsk_ack_pending & kICSK_ACK_SCHED)) return;
  if (!tp.icsk_ack_pingpong) {
    // Delayed ACK missed: inflate ATO.
    tp.icsk_ack_ato = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{tp.icsk_ack_ato} << 1, tp.icsk_rto_jiffies));
  } else {
    // Delayed ACK missed: leave pingpong mode and deflate ATO.
    tp.icsk_ack_pingpong = 0;
    tp.icsk_ack_ato = static_cast<uint32_t>(tcp_ato_min(s));
  }
  ++tp.stats.delayed_acks;  // LINUX_MIB_DELAYEDACKS
  tp.stats.delack_wait_ns += s.now_ns() - tp.delack_since_ns;
  s.note("tcp", "tcp_delack_timer: delayed ACK of rcv_nxt {} after {} ms, ato now {} jiffies", tp.rcv_nxt,
         (s.now_ns() - tp.delack_since_ns) / 1000000, tp.icsk_ack_ato);
  tcp_send_ack(s, tp);
  // The ACK is a loopback packet: its netif_rx raises NET_RX. The model hands it to the peer
  // at once, so once the sender has finished (its FIN marked) it wakes the NET_RX task itself,
  // whose run finds the transfer over when this ACK emptied the peer's rtx queue (else the run
  // would end as a deadlock with every byte delivered and acknowledged).
  if (tp.lo && tp.lo->sender_done) tp.lo->napi.wake_up_all(s);
}

Co<> tcp_delack_timer_softirq(Sched& s, tcp_sock& tp) {
  for (;;) {
    while (!tp.delack_timer_fired) co_await tp.delack_timer_wq.sleep(s, "tcp_delack_timer", false);
    tp.delack_timer_fired = false;
    if (tp.sk_lock.owned_by_user()) {
      ++tp.stats.delayed_acks_locked;  // LINUX_MIB_DELAYEDACKLOCKED
      tp.delack_timer_deferred = true;
      s.note("tcp", "tcp_delack_timer: socket owned by user, deferred to tcp_release_cb");
      continue;
    }
    tcp_delack_timer_handler(s, tp);
  }
}

Co<> tcp_write_timer_softirq(Sched& s, tcp_sock& tp) {
  for (;;) {
    while (!tp.write_timer_fired) co_await tp.write_timer_wq.sleep(s, "tcp_write_timer", false);
    tp.write_timer_fired = false;
    // bh_lock_sock: a process owning the socket gets the work in release_sock.
    if (tp.sk_lock.owned_by_user()) {
      tp.write_timer_deferred = true;
      ++tp.stats.deferred_write_timers;
      s.note("tcp", "tcp_write_timer: socket owned by user, deferred to tcp_release_cb");
      continue;
    }
    s.note("tcp", "tcp_write_timer: {} expired", timer_name(tp.icsk_pending));
    tcp_write_timer_handler(s, tp);
  }
}

}  // namespace kpsim::model
