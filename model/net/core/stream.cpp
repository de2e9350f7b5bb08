// net/core/stream.c and the memory predicates of include/net/sock.h / net/ipv4/tcp.c
// (kernel 6.12): see stream.h.
#include "model/net/core/stream.h"

#include <algorithm>

namespace kpsim::model {

bool tcp_stream_memory_free(const tcp_sock& tp, int wake) {
  return (tp.notsent_bytes() << wake) < tp.tcp_notsent_lowat();
}

bool __sk_stream_memory_free(const tcp_sock& tp, int wake) {
  if (tp.sk_wmem_queued >= tp.sk_sndbuf) return false;
  return tcp_stream_memory_free(tp, wake);
}

bool __sk_stream_is_writeable(const tcp_sock& tp, int wake) {
  const int64_t wspace = tp.sk_sndbuf - tp.sk_wmem_queued;  // sk_stream_wspace
  const int64_t min_wspace = tp.sk_wmem_queued >> 1;        // sk_stream_min_wspace
  return wspace >= min_wspace && __sk_stream_memory_free(tp, wake);
}

void sk_stream_write_space(Sched& s, tcp_sock& tp) {
  if (!__sk_stream_is_writeable(tp, 1)) return;
  tp.sock_nospace = false;
  if (tp.sk_wq.has_waiters()) {
    s.note("sk", "sk_stream_write_space: writeable (notsent {} B, wmem {}/{}), wake writer", tp.notsent_bytes(),
           tp.sk_wmem_queued, tp.sk_sndbuf);
    tp.sk_wq.wake_up_all(s);  // wake_up_interruptible_poll(EPOLLOUT)
  }
}

int sk_stream_error(const tcp_sock& tp, int /*flags*/, int err) {
  if (err == -kerr::epipe) err = tp.sk_err ? -tp.sk_err : -kerr::epipe;
  return err;
}

namespace {

bool wait_cond(const tcp_sock& tp, bool vm_wait) {
  return tp.sk_err || tp.send_shutdown || (sk_stream_memory_free(tp) && !vm_wait);
}

}  // namespace

// DEFINE_WAIT_FUNC + add_wait_queue at the start of sk_stream_wait_memory, remove_wait_queue
// on every way out (a coroutine frame destroyed at the end of a run included).
struct WokenWait {
  WaitQueue& wq;
  WaitQueue::WokenEntry entry;
  WokenWait(Sched& s, WaitQueue& q) : wq(q) { wq.add_woken(s, &entry); }
  ~WokenWait() { wq.remove_woken(&entry); }
  WokenWait(const WokenWait&) = delete;
  WokenWait& operator=(const WokenWait&) = delete;
};

Co<int> sk_stream_wait_memory(Sched& s, tcp_sock& tp, std::optional<uint64_t>& timeo) {
  WokenWait wait(s, tp.sk_wq);
  bool vm_wait = false;
  std::optional<uint64_t> current_timeo = timeo;
  if (sk_stream_memory_free(tp)) {
    // Memory looked free: a VM-pressure wait of 2..HZ/5+1 jiffies. Only its endpoints are
    // offered as choices (the kernel draws a random value).
    const size_t pick = s.choose(2, ChoiceKind::model, "sk_stream_wait_memory vm_wait");
    current_timeo = s.jiffies_to_ns(pick ? s.hz() / 5 + 1 : 2);
    vm_wait = true;
    ++tp.stats.vm_waits;
    s.note("sk", "sk_stream_wait_memory: memory is free on entry: VM-pressure wait of {} jiffies",
           pick ? s.hz() / 5 + 1 : 2);
  }
  for (;;) {
    if (tp.sk_err || tp.send_shutdown) co_return -kerr::epipe;
    if (timeo && *timeo == 0) {
      tp.sock_nospace = true;
      co_return -kerr::eagain;
    }
    const Task& cur = s.current();
    if (tp.kc->fix == kfix::task_sigpending ? cur.task_sigpending() : cur.signal_pending()) {
      ++tp.stats.wait_memory_interrupted;
      s.note("sk", "sk_stream_wait_memory: signal_pending ({}) → {}",
             cur.sigpending ? "a signal" : "TIF_NOTIFY_SIGNAL", timeo ? "-EINTR" : "-ERESTARTSYS");
      co_return sock_intr_errno(timeo);
    }
    if (sk_stream_memory_free(tp) && !vm_wait) co_return 0;
    tp.sock_nospace = true;
    ++tp.sk_write_pending;
    const std::optional<uint64_t> before = current_timeo;
    // sk_wait_event (a macro in include/net/sock.h, so written out here rather than a coroutine
    // of its own): release_sock, which runs the backlog (ACKs that arrived while we owned the
    // socket are processed here), re-check, sleep interruptibly, lock_sock. current_timeo is the
    // time left (nullopt: MAX_SCHEDULE_TIMEOUT).
    tp.sk_lock.release_sock(s);
    // Another CPU (the softirq, the timer) may run between the release and the re-check.
    co_await s.point("sk_wait_event");
    if (!wait_cond(tp, vm_wait) && wait.entry.woken) {
      // wait_woken finds WQ_FLAG_WOKEN: a wake-up came since the entry went on the queue (the
      // ACKs release_sock just ran, or the softirq's). It returns without sleeping and clears
      // the flag. This is what cuts the VM-pressure wait short on a busy connection.
      wait.entry.woken = false;
      s.note("sk", "sk_stream_wait_memory: woken while awake (WQ_FLAG_WOKEN): wait_woken returns at once");
    } else if (!wait_cond(tp, vm_wait)) {
      const uint64_t t0 = s.now_ns();
      ++tp.stats.wait_memory_calls;
      s.note("sk", "sk_stream_wait_memory: writer sleeps (notsent {} B >= lowat {} or wmem {} >= sndbuf {})",
             tp.notsent_bytes(), tp.tcp_notsent_lowat(), tp.sk_wmem_queued, tp.sk_sndbuf);
      WakeReason why;
      if (tp.kc->fix == kfix::task_sigpending && cur.tif_notify_signal && !cur.pf_no_notify_signal && !cur.sigpending) {
        // With the patch the check passes, but the sleep cannot: wait_woken() in
        // TASK_INTERRUPTIBLE returns at once while TIF_NOTIFY_SIGNAL is set, and only the task
        // itself clears it (after this close returns). The task spins; in virtual time that is
        // a poll every jiffy (or sooner if sk_stream_write_space wakes the queue).
        ++tp.stats.notify_signal_spins;
        s.note("sk", "sk_stream_wait_memory: TIF_NOTIFY_SIGNAL set, wait_woken cannot sleep: busy-poll");
        const uint64_t jiffy = s.jiffy_ns();
        why = co_await tp.sk_wq.sleep(s, "sk_stream_wait_memory: poll", false,
                                      current_timeo ? std::min(*current_timeo, jiffy) : jiffy);
        if (why == WakeReason::timeout && (!current_timeo || *current_timeo > jiffy)) why = WakeReason::woken;
      } else {
        why = co_await tp.sk_wq.sleep(s, "sk_stream_wait_memory: woken", true, current_timeo);
      }
      wait.entry.woken = false;  // wait_woken clears WQ_FLAG_WOKEN once it returns
      const uint64_t slept = s.now_ns() - t0;
      tp.stats.wait_memory_ns += slept;
      if (current_timeo)
        *current_timeo = why == WakeReason::timeout ? 0 : *current_timeo - std::min(*current_timeo, slept);
    }
    co_await tp.sk_lock.lock_sock(s, "sk_stream_wait_memory: locked");
    --tp.sk_write_pending;
    if (vm_wait) {
      // The VM wait is charged to the caller's timeout once, then the loop waits normally.
      const uint64_t waited = *before - *current_timeo;
      tp.stats.vm_wait_ns += waited;
      current_timeo = timeo;
      if (current_timeo) *current_timeo -= std::min(*current_timeo, waited);
      vm_wait = false;
    }
    timeo = current_timeo;
  }
}

}  // namespace kpsim::model
