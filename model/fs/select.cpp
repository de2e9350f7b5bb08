// fs/select.c do_select and do_poll / do_pollfd for one socket (kernel 6.12): see select.h.
#include "model/fs/select.h"

#include "model/net/socket.h"

namespace kpsim::model {

namespace {

// Sleeps until `ready(sock_poll(sk))` or the deadline; returns the last mask (0 on timeout).
template <class Ready>
Co<__poll_t> wait_for_mask(Sched& s, sock& sk, uint64_t timeout_ns, const char* label, Ready ready) {
  const uint64_t deadline = s.now_ns() + timeout_ns;
  for (;;) {
    const __poll_t mask = sock_poll(sk);
    if (ready(mask)) co_return mask;
    if (s.now_ns() >= deadline) co_return 0;
    const WakeReason r = co_await sk.sk_wq.sleep(s, label, true, deadline - s.now_ns());
    if (r == WakeReason::interrupted) co_return 0;
  }
}

}  // namespace

Co<bool> do_select(Sched& s, sock& sk, uint64_t timeout_ns) {
  constexpr __poll_t kPollinSet = EPOLLRDNORM | EPOLLIN | EPOLLHUP | EPOLLERR;  // (EPOLLRDBAND: none)
  const __poll_t m =
      co_await wait_for_mask(s, sk, timeout_ns, "do_select: woken", [](__poll_t x) { return (x & kPollinSet) != 0; });
  co_return (m & kPollinSet) != 0;
}

Co<__poll_t> do_poll(Sched& s, sock& sk, __poll_t events, uint64_t timeout_ns) {
  const __poll_t filter = events | EPOLLERR | EPOLLHUP;  // do_pollfd
  const __poll_t m =
      co_await wait_for_mask(s, sk, timeout_ns, "do_poll: woken", [filter](__poll_t x) { return (x & filter) != 0; });
  co_return m & filter;
}

}  // namespace kpsim::model
