// net/ipv4/tcp.c (kernel 6.12; do_tcp_sendpages and tcp_sendpage of 6.1): see tcp.h. Also
// tcp_init_sock, tcp_stream_is_readable and tcp_poll.
#include "model/net/ipv4/tcp.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "model/drivers/net/loopback.h"
#include "model/net/core/dev.h"
#include "model/net/core/sock.h"
#include "model/net/core/stream.h"
#include "model/net/ipv4/tcp_input.h"
#include "model/net/ipv4/tcp_ipv4.h"
#include "model/net/ipv4/tcp_output.h"
#include "model/net/ipv4/tcp_timer.h"

namespace kpsim::model {

tcp_sock::tcp_sock(std::string name_)
    : sock(std::move(name_), sock_type::stream),
      icsk_retransmit_timer("tcp_write_timer", [this] {
        // The timer_list callback: hand the expiry to the timer-softirq task.
        write_timer_fired = true;
        write_timer_wq.wake_up_all(*sched);
      }),
      icsk_delack_timer("tcp_delack_timer", [this] { tcp_delack_timer(*sched, *this); }) {}

// release_sock's work as the owner: __release_sock, then tcp_release_cb. Atomic with respect to
// the other contexts, which find the socket still owned until it returns.
static void tcp_release_hook(Sched& s, tcp_sock& tp) {
  __release_sock(s, tp);
  tcp_release_cb(s, tp);
}

void tcp_skb_queue::edit_conflict() {
  throw std::logic_error("tcp_skb_queue: push, pop or insert while an skb of the queue is open for an edit");
}

bool tcp_accounting_holds(const tcp_sock& tp) {
  // Not checked: copied_seq <= rcv_nxt. The kernel code modelled breaks it itself (sockmap TCP,
  // a redirect to self through the backlog: tcp_eat_skb at the verdict and copied_from_self in
  // tcp_bpf_recvmsg_parser both count the bytes), so it is a property of the kernel, not of
  // the model's bookkeeping.
  const uint64_t truesize = tp.write_queue.truesize_sum() + tp.rtx_queue.truesize_sum();
  return static_cast<int64_t>(truesize) == tp.sk_wmem_queued && tp.rtx_queue.pcount_sum() == tp.packets_out &&
         tp.snd_una <= tp.snd_nxt && tp.snd_nxt <= tp.write_seq;
}

// Out of line and cold: the check runs after every step of every schedule, the message only
// when it fails.
[[gnu::cold, gnu::noinline]] std::string tcp_accounting_message(const tcp_sock& tp) {
  const uint64_t truesize = tp.write_queue.truesize_sum() + tp.rtx_queue.truesize_sum();
  if (static_cast<int64_t>(truesize) != tp.sk_wmem_queued)
    return fmt::format("{}: sk_wmem_queued {} but the queues' truesize is {}", tp.name, tp.sk_wmem_queued, truesize);
  if (tp.rtx_queue.pcount_sum() != tp.packets_out)
    return fmt::format("{}: packets_out {} but the rtx queue holds {} segments", tp.name, tp.packets_out,
                       tp.rtx_queue.pcount_sum());
  return fmt::format("{}: snd_una {} snd_nxt {} write_seq {}", tp.name, tp.snd_una, tp.snd_nxt, tp.write_seq);
}

std::optional<std::string> tcp_accounting_error(const tcp_sock& tp) {
  if (tcp_accounting_holds(tp)) return std::nullopt;
  return tcp_accounting_message(tp);
}

void tcp_init_sock(Sched& s, tcp_sock& tp, loopback& lo, const tcp_config& cfg) {
  tp.sched = &s;
  tp.lo = &lo;
  lo.socks.push_back(&tp);
  tp.rcv_wnd = cfg.rcv_wnd;
  tp.mss_cache = std::max(cfg.mss, kTCP_MIN_MSS);
  tp.mss_clamp = tp.mss_cache + kTCPOLEN_TSTAMP_ALIGNED;  // timestamps come off the clamp
  // A smaller MSS than loopback's is TCP_MAXSEG (user_mss), which the handshake applies
  // (tcp_handshake); without one the socket keeps mss_cache as given.
  if (tp.mss_clamp < kLoopbackAdvmss) tp.user_mss = tp.mss_clamp;
  tp.snd_wnd = tp.max_window = cfg.rcv_wnd;
  tp.sysctl_notsent_lowat = cfg.sysctl_notsent_lowat;
  if (cfg.nodelay) tp.nonagle |= kTCP_NAGLE_OFF;
  // __tcp_set_rto: srtt/8 + rttvar, rttvar floored at TCP_RTO_MIN, rounded up to jiffies. On
  // loopback that is 200 ms + a few µs: 51 jiffies at HZ=250 (204 ms).
  const uint64_t rto_us = cfg.srtt_us + kTCP_RTO_MIN_US;
  tp.icsk_rto_jiffies = static_cast<uint32_t>(usecs_to_jiffies(s, rto_us));
  tp.srtt_us = static_cast<uint32_t>(cfg.srtt_us);
  tcp_initialize_rcv_mss(tp);
  if (cfg.so_sndbuf) {
    // sock_setsockopt(SO_SNDBUF): doubled for overhead, at least SOCK_MIN_SNDBUF, locked.
    tp.sk_sndbuf = std::max<int64_t>(2 * int64_t{cfg.so_sndbuf}, 2 * (2048 + 256));
    tp.sndbuf_locked = true;
  } else {
    tcp_sndbuf_expand(tp);  // tcp_init_buffer_space
  }
  tp.sk_write_space = [&tp](Sched& sch) { sk_stream_write_space(sch, tp); };
  tp.sk_lock.set_backlog_hook([&s, &tp] { tcp_release_hook(s, tp); });
  s.add_model_invariant<tcp_accounting_holds, tcp_accounting_message>("tcp-accounting", tp);
}

uint32_t tcp_send_mss(tcp_sock& tp, uint32_t& size_goal, int /*flags*/) {
  const uint32_t mss_now = tcp_current_mss(tp);
  size_goal = tcp_xmit_size_goal(tp, mss_now);
  return mss_now;
}

bool tcp_should_autocork(const tcp_sock& tp, const tcp_skb& skb, uint32_t size_goal) {
  const uint64_t sk_wmem_alloc = 0;  // loopback_xmit orphans: nothing stays in the qdisc/NIC
  return skb.len() < size_goal && tp.sysctl_autocorking && !tp.rtx_queue.empty() &&
         sk_wmem_alloc > skb.truesize && !skb.eor;
}

void tcp_push(Sched& s, tcp_sock& tp, int flags, uint32_t mss_now, int nonagle, uint32_t size_goal) {
  if (tp.write_queue.empty()) return;
  if (!(flags & kMSG_MORE) || forced_push(tp)) tcp_mark_push(tp, *tp.write_queue.edit_back());
  if (tcp_should_autocork(tp, tp.write_queue.back(), size_goal)) return;  // TSQ would push at TX completion
  if (flags & kMSG_MORE) nonagle = kTCP_NAGLE_CORK;
  __tcp_push_pending_frames(s, tp, mss_now, nonagle);
}

// sk_flush_backlog: process ACKs queued while we own the socket, without releasing it.
static bool sk_flush_backlog(Sched& s, tcp_sock& tp) { return __release_sock(s, tp); }

Co<int64_t> tcp_sendmsg_locked(Sched& s, tcp_sock& tp, msghdr& msg) {
  const int flags = msg.flags;
  int64_t copied = 0;
  int err = 0;
  std::optional<uint64_t> timeo = sock_sndtimeo(tp, flags & kMSG_DONTWAIT);
  uint32_t size_goal = 0;
  uint32_t mss_now = tcp_send_mss(tp, size_goal, flags);

  if (tp.sk_err || tp.send_shutdown) {
    err = -kerr::epipe;
  } else {
    while (msg.left) {
      int64_t copy = 0;
      if (!tp.write_queue.empty()) copy = int64_t{size_goal} - tp.write_queue.back().len();
      bool need_space = false;
      if (copy <= 0 || tp.write_queue.back().eor) {
        // new_segment:
        if (!sk_stream_memory_free(tp)) {
          need_space = true;
        } else {
          if (++tp.skbs_since_backlog_flush >= 16) {
            tp.skbs_since_backlog_flush = 0;
            if (sk_flush_backlog(s, tp)) mss_now = tcp_send_mss(tp, size_goal, flags);  // restart
          }
          tcp_skb skb;  // tcp_stream_alloc_skb + tcp_skb_entail
          skb.seq = skb.end_seq = tp.write_seq;
          skb.truesize = kSkbHeadTruesize;
          tp.sk_wmem_queued += kSkbHeadTruesize;
          tp.write_queue.push_back(skb);
          tp.nonagle &= ~kTCP_NAGLE_PUSH;
          copy = size_goal;
        }
      }
      if (!need_space) {
        copy = std::min<int64_t>(copy, static_cast<int64_t>(msg.left));
        // Copy or splice: the pages are charged to the socket either way
        // (sk_wmem_queued_add + sk_mem_charge). Global TCP memory pressure is not modelled.
        auto skb = tp.write_queue.edit_back();
        // copy_from_user (skb_copy_to_page_nocache) costs the sender's CPU; spliced pages are
        // only referenced.
        if (!(flags & kMSG_SPLICE_PAGES) && msg.iter != iter_type::bvec)
          account_cpu(s, *tp.kc, tp.stats.cpu, cpu_work::copy, static_cast<uint64_t>(copy));
        if (!copied) skb->psh = false;
        skb->end_seq += static_cast<uint64_t>(copy);
        skb->truesize += static_cast<uint64_t>(copy);
        tp.sk_wmem_queued += copy;
        tp.write_seq += static_cast<uint64_t>(copy);
        copied += copy;
        msg.left -= static_cast<uint64_t>(copy);
        if (!msg.left) {
          if (flags & kMSG_EOR) skb->eor = true;
          break;
        }
        if (skb->len() < size_goal) continue;
        // The pushes below send from the queue: the edit ends first.
        if (forced_push(tp)) {
          tcp_mark_push(tp, *skb);
          skb.done();
          __tcp_push_pending_frames(s, tp, mss_now, kTCP_NAGLE_PUSH);
        } else if (tp.write_queue.size() == 1) {  // the skb is the send head
          skb.done();
          tcp_push_one(s, tp, mss_now);
        }
        continue;
      }
      // wait_for_space: push what this call queued, ignoring MSG_MORE, then sleep.
      tp.sock_nospace = true;
      if (!tp.write_queue.empty() && tp.write_queue.back().len() == 0) {  // tcp_remove_empty_skb
        tp.sk_wmem_queued -= static_cast<int64_t>(tp.write_queue.pop_back().truesize);
      }
      if (copied) tcp_push(s, tp, flags & ~kMSG_MORE, mss_now, kTCP_NAGLE_PUSH, size_goal);
      // Each transmission above ran NET_RX at its local_bh_enable (__dev_queue_xmit). An inline
      // device (the sockmap world) runs it at the end of the send instead, which a writer asleep
      // here would not reach: its segments would never arrive and no ACK free the memory.
      if (tp.lo->softirq_inline) co_await do_softirq(s, *tp.lo, "softirq: tcp_rcv_established");
      err = co_await sk_stream_wait_memory(s, tp, timeo);
      if (err) break;
      mss_now = tcp_send_mss(tp, size_goal, flags);
    }
  }
  if (copied) {
    // out: (a partial send after an error also ends here). 6.1's do_tcp_sendpages skips the
    // push for a page that is not a splice's last: nothing is transmitted and no probe timer
    // is armed for it (the wait_for_space push above still happens).
    if (!(flags & kMSG_SENDPAGE_NOTLAST))
      tcp_push(s, tp, flags, mss_now, tp.nonagle, size_goal);
    else
      s.note("tcp", "do_tcp_sendpages: SENDPAGE_NOTLAST, no tcp_push: {} B queued unsent, no probe timer armed",
             tp.notsent_bytes());
    co_return copied;
  }
  co_return sk_stream_error(tp, flags, err);
}

Co<int64_t> tcp_sendmsg(Sched& s, tcp_sock& tp, msghdr& msg) {
  if (!msg.payload.empty())
    s.note(tp.name, "tcp_sendmsg: {} bytes \"{}\" → {}", msg.payload.size(), msg.payload, tp.peer->name);
  co_await tp.sk_lock.lock_sock(s, "tcp_sendmsg_locked");
  // The bytes are appended before the copy loop transmits any of them, and trimmed to what
  // the loop took (write_seq) after it.
  if (!msg.payload.empty()) tp.snd_data.append(msg.payload);
  const int64_t ret = co_await tcp_sendmsg_locked(s, tp, msg);
  if (!tp.snd_data.empty()) tp.snd_data.resize(tp.write_seq);
  tp.sk_lock.release_sock(s);
  // local_bh_enable at the end of the send path: NET_RX runs here on an inline device.
  if (tp.lo->softirq_inline) co_await do_softirq(s, *tp.lo, "softirq: tcp_rcv_established");
  co_return ret;
}

Co<int64_t> do_tcp_sendpages(Sched& s, tcp_sock& tp, uint64_t size, int flags) {
  // The 6.1 loop is tcp_sendmsg_locked's with a page for an iterator: the same size_goal,
  // new_segment, forced_push and wait_for_space steps, then the push only without NOTLAST
  // (tcp_sendmsg_locked reads the flag).
  msghdr msg;
  msg.left = size;
  msg.flags = flags | kMSG_SPLICE_PAGES;
  msg.iter = iter_type::bvec;
  co_return co_await tcp_sendmsg_locked(s, tp, msg);
}

Co<int64_t> tcp_sendpage(Sched& s, tcp_sock& tp, uint64_t size, int flags) {
  co_await tp.sk_lock.lock_sock(s, "tcp_sendpage_locked");
  const int64_t ret = co_await do_tcp_sendpages(s, tp, size, flags);
  tp.sk_lock.release_sock(s);
  if (tp.lo->softirq_inline) co_await do_softirq(s, *tp.lo, "softirq: tcp_rcv_established");
  co_return ret;
}

uint64_t tcp_recvmsg(Sched& s, tcp_sock& tp, uint64_t len) {
  const uint64_t n = std::min(len, tp.rcv_queued());
  if (!n) return 0;
  tp.copied_seq += n;
  account_cpu(s, *tp.kc, tp.stats.cpu, cpu_work::copy, n, on_cpu::other);  // copy_to_user: the reader's CPU
  tcp_cleanup_rbuf(s, tp, n);
  return n;
}

Co<int> tcp_recvmsg_data(Sched& s, tcp_sock& tp, std::string& out, uint32_t len, bool dontwait,
                         bool peek, bool waitall) {
  if (len == 0) co_return 0;
  co_await tp.sk_lock.lock_sock(s, "tcp_recvmsg: lock_sock");
  const uint32_t target = waitall ? len : 1;
  uint64_t seq = tp.copied_seq;  // peek: peek_seq, a copy
  uint32_t copied = 0;
  int err = 0;
  for (;;) {
    for (const skb_ptr& skb : tp.sk_receive_queue.get()) {
      if (copied >= len) break;
      if (skb->end_seq <= seq) continue;
      const auto off = static_cast<uint32_t>(seq - skb->seq);
      const uint32_t n = std::min(skb->len() - off, len - copied);
      out.append(skb->data, off, n);
      seq += n;
      copied += n;
    }
    if (!peek) {
      tp.copied_seq = seq;
      while (!tp.sk_receive_queue->empty() && tp.sk_receive_queue.mut().front()->end_seq <= seq)
        tp.sk_receive_queue.mut().pop_front();  // tcp_eat_recv_skb
    }
    if (copied >= target) break;
    if (tp.sk_err || tp.rcv_shutdown || tp.rcv_eof()) break;
    if (dontwait) {  // timeo == 0
      if (!copied) err = -kerr::eagain;
      break;
    }
    if (s.current().signal_pending()) {
      if (!copied) err = -kerr::erestartsys;
      break;
    }
    // sk_wait_data
    tp.sk_lock.release_sock(s);
    const WakeReason r = co_await tp.sk_wq.sleep(s, "sk_wait_data: woken", true);
    co_await tp.sk_lock.lock_sock(s, "tcp_recvmsg: lock_sock");
    if (r == WakeReason::interrupted && !copied) {
      err = -kerr::erestartsys;
      break;
    }
  }
  account_cpu(s, *tp.kc, tp.stats.cpu, cpu_work::copy, copied, on_cpu::other);  // the reader's CPU
  s.note(tp.name, "tcp_recvmsg returns {}", copied ? static_cast<int>(copied) : err);
  tp.sk_lock.release_sock(s);
  co_return copied ? static_cast<int>(copied) : err;
}

static void tcp_cleanup_rbuf_delayed(Sched& s, tcp_sock& tp, uint64_t copied) {
  bool time_to_ack = false;
  if (tp.icsk_ack_pending & kICSK_ACK_SCHED) {
    const bool pushed = (tp.icsk_ack_pending & kICSK_ACK_PUSHED2) ||
                        ((tp.icsk_ack_pending & kICSK_ACK_PUSHED) && !tp.icsk_ack_pingpong);
    // sk_rmem_alloc == 0: nothing left unread (a count-only receiver queues no skbs).
    if (tp.rcv_nxt - tp.rcv_wup > tp.icsk_ack_rcv_mss || (copied > 0 && pushed && tp.rcv_queued() == 0))
      time_to_ack = true;
  }
  // A window raised "significantly" (at least doubled) is worth an ACK, unless the peer has
  // finished sending. window_clamp: the model's largest window.
  if (copied > 0 && !time_to_ack && !tp.rcv_shutdown) {
    const uint64_t rcv_window_now = tp.rcv_wup + tp.rcv_wnd_advertised - std::min(tp.rcv_nxt, tp.rcv_wup + tp.rcv_wnd_advertised);
    const uint64_t window_clamp = tp.rcv_buf_bytes ? tp.rcv_buf_bytes : tp.rcv_wnd;
    if (2 * rcv_window_now <= window_clamp) {
      const uint64_t new_window = tp.rcv_window();
      if (new_window && new_window >= 2 * rcv_window_now) time_to_ack = true;
    }
  }
  if (!time_to_ack) return;
  ++tp.stats.cleanup_rbuf_acks;
  s.note("rx", "tcp_cleanup_rbuf: read {} B, ACK now", copied);
  tcp_send_ack(s, tp);
}

void tcp_cleanup_rbuf(Sched& s, tcp_sock& tp, uint64_t copied) {
  if (tp.kc->acks == tcp_acks::delayed) return tcp_cleanup_rbuf_delayed(s, tp, copied);
  // A window update once the window has grown to at least twice what was last advertised (the
  // ACK goes through loopback to the sender's softirq at once).
  const uint64_t wnd = tp.rcv_window();
  if (wnd >= 2 * tp.rcv_wnd_advertised) {
    s.note("rx", "tcp_recvmsg: read {} B, window update {} → {}", copied, tp.rcv_wnd_advertised, wnd);
    tp.rcv_wnd_advertised = wnd;
    tcp_v4_rcv(s, tcp_sk(*tp.peer), ack_skb{tp.rcv_nxt, wnd});
  } else {
    s.note("rx", "tcp_recvmsg: read {} B", copied);
  }
}

Co<> tcp_close(Sched& s, tcp_sock& tp) {
  co_await tp.sk_lock.lock_sock(s, "tcp_close");
  // __tcp_close: sk_shutdown = SHUTDOWN_MASK; unread data on the receive queue turns the FIN
  // into a RST (data_was_unread), which the model does not send.
  for (const skb_ptr& skb : tp.sk_receive_queue.get()) {
    if (skb->end_seq > tp.copied_seq) {
      s.fail("model-assumption", fmt::format("{}: tcp_close with unread data: the RST is not modelled", tp.name));
      tp.sk_lock.release_sock(s);
      co_return;
    }
  }
  tp.rcv_shutdown = true;
  tp.send_shutdown = true;
  // tcp_send_fin: the FIN rides on the tail skb, which no cork or Nagle holds back any more,
  // and every later push sees a FIN tail: nonagle OFF stands for that.
  tp.nonagle |= kTCP_NAGLE_OFF;
  tcp_send_fin(s, tp);
  tcp_push_pending_frames(s, tp);
  // sock_orphan: SOCK_DEAD (a verdict or a redirect onto it now drops).
  if (tp.fin_segment) tp.sock_dead = true;
  tp.sk_lock.release_sock(s);
  // local_bh_enable: the FIN segment's NET_RX on an inline device.
  if (tp.fin_segment) co_await do_softirq(s, *tp.lo, "softirq: tcp_fin");
}

bool tcp_stream_is_readable(const tcp_sock& tp) {
  return !tp.sk_receive_queue->empty() || sk_msg_is_readable(tp.psock.get());
}

__poll_t tcp_poll(tcp_sock& tp) {
  __poll_t mask = 0;
  if (tp.rcv_shutdown && tp.send_shutdown) mask |= EPOLLHUP;  // SHUTDOWN_MASK
  if (tp.rcv_shutdown) mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
  if (tcp_stream_is_readable(tp)) mask |= EPOLLIN | EPOLLRDNORM;
  if (!tp.send_shutdown) {
    if (__sk_stream_is_writeable(tp, 1)) {
      mask |= EPOLLOUT | EPOLLWRNORM;
    } else {
      // set_bit(SOCK_NOSPACE) then test again: the bit makes the next ACK's tcp_check_space
      // call sk_stream_write_space, which wakes this poller once writeable (wake = 1).
      tp.sock_nospace = true;
      if (__sk_stream_is_writeable(tp, 1)) mask |= EPOLLOUT | EPOLLWRNORM;
    }
  } else {
    mask |= EPOLLOUT | EPOLLWRNORM;
  }
  if (tp.sk_err) mask |= EPOLLERR;
  return mask;
}

Co<int> tcp_shutdown(Sched& s, tcp_sock& tp) {
  // inet_shutdown(SHUT_WR): lock_sock, sk_shutdown |= SEND_SHUTDOWN, then tcp_shutdown: an
  // established socket moves to FIN_WAIT1 (tcp_close_state) and sends its FIN; release_sock.
  co_await tp.sk_lock.lock_sock(s, "inet_shutdown");
  const bool first = !tp.send_shutdown;
  tp.send_shutdown = true;
  if (first) {
    tp.nonagle |= kTCP_NAGLE_OFF;  // as in tcp_close: the FIN tail is never held back
    tcp_send_fin(s, tp);
  }
  tp.sk_lock.release_sock(s);
  if (tp.fin_segment) co_await do_softirq(s, *tp.lo, "softirq: tcp_fin");
  co_return 0;
}

Co<> tcp_splice_eof(Sched& s, tcp_sock& tp) {
  co_await tp.sk_lock.lock_sock(s, "tcp_splice_eof");
  tcp_push_pending_frames(s, tp);
  tp.sk_lock.release_sock(s);
}

void tcp_sock_set_cork(Sched& s, tcp_sock& tp, bool on) {
  if (on) {
    tp.nonagle |= kTCP_NAGLE_CORK;
    return;
  }
  tp.nonagle &= ~kTCP_NAGLE_CORK;
  if (tp.nonagle & kTCP_NAGLE_OFF) tp.nonagle |= kTCP_NAGLE_PUSH;
  tcp_push_pending_frames(s, tp);
}

void tcp_sock_set_nodelay(Sched& s, tcp_sock& tp, bool on) {
  if (!on) {
    tp.nonagle &= ~kTCP_NAGLE_OFF;
    return;
  }
  tp.nonagle |= kTCP_NAGLE_OFF | kTCP_NAGLE_PUSH;
  tcp_push_pending_frames(s, tp);
}

}  // namespace kpsim::model
