// net/ipv4/udp.c udp_sendmsg, udp_rcv / __udp_enqueue_schedule_skb (kernel 6.12): see udp.h.
#include "model/net/ipv4/udp.h"

#include "model/drivers/net/loopback.h"
#include "model/net/core/dev.h"
#include "model/net/core/sock.h"

namespace kpsim::model {

Co<int> udp_sendmsg(Sched& s, sock& sk, const std::string& payload) {
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
  // __udp_enqueue_schedule_skb
  s.note(sk.name + ".sk_receive_queue", "+{} bytes", skb->len());
  if (sk.lo && sk.lo->tap) sk.lo->tap(s, *skb);
  sk.sk_receive_queue.push_back(std::move(skb));
  sk_data_ready(s, sk);
}

}  // namespace kpsim::model
