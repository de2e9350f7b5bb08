// net/ipv4/udp.c udp_sendmsg, udp_rcv / __udp_enqueue_schedule_skb (kernel 6.12): see udp.h.
#include "model/net/ipv4/udp.h"

#include <algorithm>

#include "model/drivers/net/loopback.h"
#include "model/include/linux/errno.h"
#include "model/net/core/dev.h"
#include "model/net/core/sock.h"

namespace kpsim::model {

Co<int> udp_sendmsg(Sched& s, sock& sk, const std::string& payload) {
  if (payload.size() > kUdpMaxPayload) co_return -kerr::emsgsize;  // ip_append_data
  auto skb = std::make_unique<sk_buff>();
  skb->dst = sk.peer;
  skb->end_seq = payload.size();
  skb->data = payload;
  s.note(sk.name, "udp_sendmsg: {} bytes \"{}\" → {}", payload.size(), payload, sk.peer->name);
  loopback_xmit(s, *sk.lo, std::move(skb));
  co_await do_softirq(s, *sk.lo, "softirq: __udp_enqueue_schedule_skb");
  co_return static_cast<int>(payload.size());
}

void udp_rcv(Sched& s, sock& sk, skb_ptr skb) {
  // __udp_enqueue_schedule_skb. Charged by length (the model's psock paths charge the same way).
  if (sk.sk_rmem_alloc > sk.sk_rcvbuf) {
    s.note(sk.name + ".sk_receive_queue", "rmem {} > rcvbuf {}: drop {} bytes", sk.sk_rmem_alloc,
           sk.sk_rcvbuf, skb->len());
    sock_drop(s, sk, *skb, 0, skb->len());
    return;
  }
  sk.sk_rmem_alloc += skb->len();
  s.note(sk.name + ".sk_receive_queue", "+{} bytes", skb->len());
  if (sk.lo && sk.lo->tap) sk.lo->tap(s, *skb);
  sk.sk_receive_queue.push_back(std::move(skb));
  sk_data_ready(s, sk);
}

Co<int> udp_recvmsg(Sched& s, sock& sk, std::string& out, uint32_t len, bool dontwait, bool peek) {
  while (sk.sk_receive_queue.empty()) {
    if (dontwait) co_return -kerr::eagain;
    const WakeReason r = co_await sk.sk_wq.sleep(s, "udp_recvmsg: woken", true);
    if (r == WakeReason::interrupted) co_return -kerr::erestartsys;
  }
  const sk_buff& head = *sk.sk_receive_queue.front();
  const uint32_t n = std::min(len, head.len());
  out.append(head.data, 0, n);  // a datagram's excess is discarded (MSG_TRUNC)
  if (!peek) {
    sk.sk_rmem_alloc -= std::min(sk.sk_rmem_alloc, head.len());  // skb_consume_udp
    sk.sk_receive_queue.pop_front();
  }
  co_return static_cast<int>(n);
}

}  // namespace kpsim::model
