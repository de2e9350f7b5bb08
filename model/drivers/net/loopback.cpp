#include "model/include/linux/tcp.h"
#include "model/drivers/net/loopback.h"

namespace kpsim::model {

namespace {

// sk_data_ready of the receiver: the psock verdict callback when it is in a sockmap with a
// verdict program, else sock_def_readable.
Co<> sk_data_ready(Sched& s, sock& sk) {
  if (sk.psock && sk.psock->stream_verdict) {
    co_await sk_psock_verdict_data_ready(s, sk);
  } else {
    sk.sk_wq.wake_up_all(s);
  }
}

bool sock_readable(const sock& sk) {
  return !sk.sk_receive_queue.empty() || sk_msg_is_readable(sk.psock.get());
}

}  // namespace

Co<int> loopback_sendmsg(Sched& s, sock& from, const std::string& payload) {
  sock& to = *from.peer;
  auto skb = std::make_unique<sk_buff>();
  skb->data = payload;
  s.note(from.name, "{}: {} bytes \"{}\" → {}", from.is_tcp() ? "tcp_sendmsg" : "udp_sendmsg",
         payload.size(), payload, to.name);
  // The receive softirq runs at the sender's local_bh_enable; other CPUs run meanwhile.
  co_await s.point(from.is_tcp() ? "softirq: tcp_rcv_established" : "softirq: __udp_enqueue_schedule_skb");
  if (to.is_tcp()) tcp_sk(to).rcv_nxt += skb->len();
  s.note(to.name + ".sk_receive_queue", "+{} bytes", skb->len());
  to.sk_receive_queue.push_back(std::move(skb));
  co_await sk_data_ready(s, to);
  co_return static_cast<int>(payload.size());
}

Co<bool> poll_readable(Sched& s, sock& sk, uint64_t timeout_ns) {
  const uint64_t deadline = s.now_ns() + timeout_ns;
  while (!sock_readable(sk)) {
    if (s.now_ns() >= deadline) co_return false;
    const WakeReason r =
        co_await sk.sk_wq.sleep(s, "do_select: woken", true, deadline - s.now_ns());
    if (r == WakeReason::interrupted) co_return false;
  }
  co_return true;
}

}  // namespace kpsim::model
