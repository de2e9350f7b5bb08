// net/ipv4/udp.c udp_sendmsg, udp_rcv / __udp_enqueue_schedule_skb, udp_recvmsg, udp_poll,
// udp_lib_close (kernel 6.12): see udp.h.
#include "model/net/ipv4/udp.h"

#include <algorithm>

#include <fmt/format.h>

#include "model/drivers/net/loopback.h"
#include "model/include/linux/errno.h"
#include "model/net/core/datagram.h"
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
  // A closed socket is no longer in the UDP hash: __udp4_lib_rcv finds nobody and answers with
  // ICMP port unreachable, which the sender's next call reports (ECONNREFUSED). Not modelled.
  if (sk.sock_dead) {
    s.fail("model-assumption", fmt::format("{}: a datagram for a closed UDP socket: the ICMP port "
                                           "unreachable is not modelled", sk.name));
    return;
  }
  // __udp_enqueue_schedule_skb. Charged by length (the model's psock paths charge the same way).
  if (sk.sk_rmem_alloc > sk.sk_rcvbuf) {
    s.note({sk.name, ".sk_receive_queue"}, "rmem {} > rcvbuf {}: drop {} bytes", sk.sk_rmem_alloc,
           sk.sk_rcvbuf, skb->len());
    sock_drop(s, sk, *skb, 0, skb->len());
    return;
  }
  sk.sk_rmem_alloc += skb->len();
  s.note({sk.name, ".sk_receive_queue"}, "+{} bytes", skb->len());
  if (sk.lo && sk.lo->tap) sk.lo->tap(s, *skb);
  sk.sk_receive_queue.mut().push_back(std::move(skb));
  sk_data_ready(s, sk);
}

Co<int> udp_recvmsg(Sched& s, sock& sk, std::string& out, uint32_t len, bool dontwait, bool peek) {
  while (sk.sk_receive_queue->empty()) {
    if (dontwait) co_return -kerr::eagain;
    const WakeReason r = co_await sk.sk_wq.sleep(s, "udp_recvmsg: woken", true);
    if (r == WakeReason::interrupted) co_return -kerr::erestartsys;
  }
  const sk_buff& head = *sk.sk_receive_queue.mut().front();
  const uint32_t n = std::min(len, head.len());
  out.append(head.data, 0, n);  // a datagram's excess is discarded (MSG_TRUNC)
  if (!peek) {
    sk.sk_rmem_alloc -= std::min(sk.sk_rmem_alloc.get(), head.len());  // skb_consume_udp
    sk.sk_receive_queue.mut().pop_front();
  }
  co_return static_cast<int>(n);
}

__poll_t udp_poll(const sock& sk) {
  __poll_t mask = datagram_poll(sk);
  if (sk_msg_is_readable(sk.psock.get())) mask |= EPOLLIN | EPOLLRDNORM;  // sk_is_readable
  return mask;
}

void udp_lib_close(Sched& s, sock& sk) {
  // sk_common_release: the socket leaves the UDP hash (udp_lib_unhash), is orphaned (SOCK_DEAD),
  // and what its receive queue still holds is freed undelivered. Nothing goes to the peer: UDP
  // has no FIN, a reader on the other end sees nothing.
  sk.sock_dead = true;
  sk.rcv_shutdown = sk.send_shutdown = true;
  while (!sk.sk_receive_queue->empty()) {
    skb_ptr skb = std::move(sk.sk_receive_queue.mut().front());
    sk.sk_receive_queue.mut().pop_front();
    sk.sk_rmem_alloc -= std::min(sk.sk_rmem_alloc.get(), skb->len());
    s.note({sk.name, ".sk_receive_queue"}, "udp_lib_close: drop {} bytes", skb->len());
    sock_drop(s, sk, *skb, 0, skb->len());
  }
}

}  // namespace kpsim::model
