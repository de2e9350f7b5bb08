// The sk_skb verdict path, ingress side: net/core/skmsg.c sk_psock_verdict_data_ready,
// sk_psock_verdict_recv, sk_psock_map_verd, sk_psock_verdict_apply, sk_psock_skb_ingress_self,
// sk_psock_skb_redirect; net/ipv4/udp.c udp_read_skb and net/ipv4/tcp.c tcp_read_skb,
// tcp_eat_skb. Runs in the context that called sk_data_ready: the NET_RX softirq, which on
// loopback runs inside the sender's send().
#include "model/kerrno.h"
#include "model/skmsg.h"

namespace kpsim::model {

namespace {

sk_verdict sk_psock_map_verd(int ret, const sk_buff& skb) {
  if (ret != SK_PASS) return sk_verdict::drop;
  return skb.sk_redir ? sk_verdict::redirect : sk_verdict::pass;
}

// TCP: the source socket counts redirected/dropped bytes as consumed (copied_seq advances).
void tcp_eat_skb(Sched& s, sock& sk, const sk_buff& skb) {
  if (!sk.is_tcp()) return;
  sk.copied_seq += skb.len();
  s.note(sk.name + ".copied_seq", "tcp_eat_skb: +{} → {}", skb.len(), sk.copied_seq);
}

// Enqueue an ingress message built from skb bytes [off, off+len), then wake readers.
int sk_psock_skb_ingress_enqueue(Sched& s, sk_psock& psock, const sk_buff& skb, uint32_t off,
                                 uint32_t len, bool from_self) {
  auto* msg = new sk_msg;
  msg->data = skb.data.substr(off, len);
  msg->sk = from_self ? &psock.sk : nullptr;
  psock.sk.sk_rmem_alloc += len;
  sk_psock_queue_msg(s, psock, msg);
  sk_psock_data_ready(s, psock.sk);
  return static_cast<int>(len);
}

}  // namespace

// Delivery of this socket's own skb straight into ingress_msg, in the current context.
int sk_psock_skb_ingress_self(Sched& s, sk_psock& psock, const sk_buff& skb, uint32_t off,
                              uint32_t len) {
  return sk_psock_skb_ingress_enqueue(s, psock, skb, off, len, /*from_self=*/true);
}

// Redirected data never goes to the target synchronously: it is queued on the target psock's
// ingress_skb (under its ingress_lock) and the target's backlog work is scheduled.
static int sk_psock_skb_redirect(Sched& s, sk_psock& from, skb_ptr skb) {
  sock* other = skb->sk_redir;
  if (!other || !other->psock || other->sock_dead) {
    s.note(from.sk.name, "redirect target gone: drop {} bytes", skb->len());
    return -kerr::eio;
  }
  sk_psock& psock_other = *other->psock;
  if (!psock_other.tx_enabled) {
    s.note(from.sk.name, "redirect target not TX_ENABLED: drop {} bytes", skb->len());
    return -kerr::eio;
  }
  s.note(other->name + ".ingress_skb", "+{} bytes \"{}\" redirected from {} (waits for backlog)",
         skb->len(), skb->data, from.sk.name);
  psock_other.ingress_skb.push_back(std::move(skb));
  queue_delayed_work(s, psock_other.work, 0);
  return 0;
}

static int sk_psock_verdict_apply(Sched& s, sk_psock& psock, skb_ptr skb, sk_verdict verdict,
                                  const skmsg_config& cfg) {
  sock& sk = psock.sk;
  if (verdict == sk_verdict::redirect && cfg.self == self_redirect::direct && skb->redir_ingress &&
      skb->sk_redir == &sk)
    verdict = sk_verdict::pass;
  switch (verdict) {
    case sk_verdict::pass: {
      if (sk.sock_dead || !psock.tx_enabled) {
        tcp_eat_skb(s, sk, *skb);
        return -kerr::eio;
      }
      // Direct delivery only when nothing is waiting in ingress_skb, to keep order.
      if (psock.ingress_skb.empty()) {
        s.note(sk.name, "SK_PASS: ingress_skb empty, deliver directly");
        return sk_psock_skb_ingress_self(s, psock, *skb, 0, skb->len()) < 0 ? -kerr::eagain : 0;
      }
      s.note(sk.name + ".ingress_skb", "+{} bytes (SK_PASS behind queued skbs)", skb->len());
      psock.ingress_skb.push_back(std::move(skb));
      queue_delayed_work(s, psock.work, 0);
      return 0;
    }
    case sk_verdict::redirect:
      tcp_eat_skb(s, sk, *skb);
      return sk_psock_skb_redirect(s, psock, std::move(skb));
    case sk_verdict::drop:
      tcp_eat_skb(s, sk, *skb);
      s.note(sk.name, "SK_DROP: {} bytes dropped", skb->len());
      return 0;
  }
  return 0;
}

static int sk_psock_verdict_recv(Sched& s, sock& sk, skb_ptr skb, const skmsg_config& cfg) {
  sk_psock* psock = sk.psock.get();
  if (!psock) return 0;
  int ret = SK_DROP;
  if (psock->stream_verdict) {
    skb->sk_redir = nullptr;
    skb->redir_ingress = false;
    ret = psock->stream_verdict(*skb);
  }
  const sk_verdict v = sk_psock_map_verd(ret, *skb);
  s.note(sk.name, "verdict on {} bytes: {}{}", skb->len(),
         v == sk_verdict::pass ? "SK_PASS" : v == sk_verdict::redirect ? "SK_REDIRECT to " : "SK_DROP",
         v == sk_verdict::redirect ? skb->sk_redir->name : "");
  return sk_psock_verdict_apply(s, *psock, std::move(skb), v, cfg);
}

// ops->read_skb: UDP hands over one datagram per call, TCP everything queued.
Co<> sk_psock_verdict_data_ready(Sched& s, sock& sk, const skmsg_config& cfg) {
  int read = 0;
  while (!sk.sk_receive_queue.empty()) {
    skb_ptr skb = std::move(sk.sk_receive_queue.front());
    sk.sk_receive_queue.pop_front();
    skb->sk = &sk;  // skb_set_owner_r by read_skb
    sk_psock_verdict_recv(s, sk, std::move(skb), cfg);
    ++read;
    if (!sk.is_tcp()) break;
  }
  if (read > 0 && sk.psock) sk_psock_data_ready(s, sk);
  co_return;
}

}  // namespace kpsim::model
