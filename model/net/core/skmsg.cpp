// net/core/skmsg.c (6.12.117 / 2026 mainline, after 929e30f93125), in the order of the kernel
// file: the psock and its queue helpers (include/linux/skmsg.h inlines), the sk_skb verdict path,
// the backlog worker and the psock reader. Declarations: include/linux/skmsg.h, skmsg.h.
//
// The verdict path (sk_psock_verdict_data_ready, sk_psock_verdict_recv, sk_psock_map_verd,
// sk_psock_verdict_apply, sk_psock_skb_ingress_self, sk_psock_skb_redirect; udp_read_skb and
// tcp_read_skb, tcp_eat_skb of net/ipv4) runs in the context that called sk_data_ready: the
// NET_RX softirq, which on loopback runs inside the sender's send().
//
// The backlog worker (sk_psock_backlog, sk_psock_handle_skb, sk_psock_skb_ingress,
// sk_psock_create_ingress_msg) runs in a kworker (psock->work on the per-CPU system workqueue),
// a process context that may sleep.
//
// The reader (__sk_msg_recvmsg) runs in process context with the socket lock held by the
// caller. It copies across message boundaries (also for UDP) and never waits: whatever is
// queued now is what it returns.

#include <algorithm>

#include "model/include/linux/tcp.h"
#include "model/include/linux/errno.h"
#include "model/net/core/skmsg.h"
#include "model/net/core/skbuff.h"
#include "model/net/core/sock.h"

namespace kpsim::model {

sk_psock::sk_psock(sock& owner, Sched& s)
    : sk(owner),
      work("kworker/0:" + owner.name + ".backlog", "sk_psock_backlog",
           [this, &s]() { return sk_psock_backlog(s, *this); }) {}

sk_psock::~sk_psock() {
  ingress_msg.mut().clear_and_dispose([](sk_msg* m) { delete m; });
}

void sk_psock_msg_len_add(sk_psock& psock, int64_t diff) {
  psock.msg_tot_len = static_cast<uint32_t>(static_cast<int64_t>(psock.msg_tot_len) + diff);
}

// Appends under ingress_lock if the psock still accepts data; otherwise frees the message.
bool sk_psock_queue_msg(Sched& s, sk_psock& psock, sk_msg* msg) {
  if (!psock.tx_enabled) {
    s.note({psock.sk.name, ".ingress_msg"}, "dropped {} bytes: psock not TX_ENABLED", msg->sg_size());
    sock_drop_bytes(s, psock.sk, std::string_view(msg->data).substr(msg->start));  // sk_msg_free
    delete msg;
    return false;
  }
  const uint32_t before = psock.msg_tot_len;
  psock.ingress_msg.mut().push_back(*msg);
  sk_psock_msg_len_add(psock, msg->sg_size());
  s.note({psock.sk.name, ".ingress_msg"}, "+{} bytes \"{}\", msg_tot_len {}→{}", msg->sg_size(),
         msg->data.substr(msg->start), before, psock.msg_tot_len);
  return true;
}

sk_msg* sk_psock_peek_msg(sk_psock& psock) {
  return psock.ingress_msg->empty() ? nullptr : &psock.ingress_msg.mut().front();
}

sk_msg* sk_psock_next_msg(sk_psock& psock, sk_msg* msg) {
  auto it = psock.ingress_msg.mut().iterator_to(*msg);
  ++it;
  return it == psock.ingress_msg.mut().end() ? nullptr : &*it;
}

// The reader has already subtracted the bytes it consumed; what remains of the message (normally
// nothing) is subtracted here, under ingress_lock.
void sk_psock_dequeue_msg(Sched& s, sk_psock& psock) {
  sk_msg* msg = &psock.ingress_msg.mut().front();
  psock.ingress_msg.mut().pop_front();
  sk_psock_msg_len_add(psock, -static_cast<int64_t>(msg->sg_size()));
  s.note({psock.sk.name, ".ingress_msg"}, "dequeued consumed msg, msg_tot_len {}", psock.msg_tot_len);
  delete msg;
}

uint32_t sk_psock_msg_inq(const sk_psock& psock) { return psock.msg_tot_len; }

// Datagram semantics: only the head message's remaining bytes, under ingress_lock.
uint32_t sk_msg_first_len(sk_psock& psock) {
  const sk_msg_list& q = psock.ingress_msg;  // a read: peek_msg hands out the head to change
  return q.empty() ? 0 : q.front().sg_size();
}

bool sk_psock_queue_empty(const sk_psock* psock) { return !psock || psock->ingress_msg->empty(); }

bool psock_has_data(const sk_psock& psock) {
  return !psock.ingress_skb->empty() || !psock.ingress_msg->empty();
}

bool sk_msg_is_readable(const sk_psock* psock) { return !sk_psock_queue_empty(psock); }

void sk_psock_data_ready(Sched& s, sock& sk) {
  if (!sk.sk_wq.empty()) s.note({sk.name, ".sk_sleep"}, "sock_def_readable: wake readers");
  sk.sk_wq.wake_up_all(s);
}

uint64_t ingress_msg_bytes(const sk_psock& psock) {
  uint64_t n = 0;
  for (const sk_msg& m : psock.ingress_msg.get()) n += m.sg_size();
  return n;
}

namespace {

sk_verdict sk_psock_map_verd(int ret, const sk_buff& skb) {
  if (ret != SK_PASS) return sk_verdict::drop;
  return skb.sk_redir ? sk_verdict::redirect : sk_verdict::pass;
}

// TCP: the source socket counts redirected/dropped bytes as consumed (copied_seq advances).
void tcp_eat_skb(Sched& s, sock& sk, const sk_buff& skb) {
  if (!sk.is_tcp()) return;
  tcp_sk(sk).copied_seq += skb.len();
  s.note({sk.name, ".copied_seq"}, "tcp_eat_skb: +{} → {}", skb.len(), tcp_sk(sk).copied_seq);
}

// Enqueue an ingress message built from skb bytes [off, off+len), then wake readers.
int sk_psock_skb_ingress_enqueue(Sched& s, sk_psock& psock, const sk_buff& skb, uint32_t off,
                                 uint32_t len, bool from_self) {
  auto* msg = new sk_msg;
  msg->data = skb.data.substr(off, len);
  msg->sk = from_self ? &psock.sk : nullptr;
  msg->fin = skb.fin;  // msg->skb = skb: a FIN skb makes an empty message that remembers it
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
    sock_drop(s, from.sk, *skb, 0, skb->len());
    return -kerr::eio;
  }
  sk_psock& psock_other = *other->psock;
  if (!psock_other.tx_enabled) {
    s.note(from.sk.name, "redirect target not TX_ENABLED: drop {} bytes", skb->len());
    sock_drop(s, from.sk, *skb, 0, skb->len());
    return -kerr::eio;
  }
  s.note({other->name, ".ingress_skb"}, "+{} bytes \"{}\" redirected from {} (waits for backlog)",
         skb->len(), skb->data, from.sk.name);
  psock_other.ingress_skb.mut().push_back(std::move(skb));
  queue_delayed_work(s, psock_other.work, 0);
  return 0;
}

static int sk_psock_verdict_apply(Sched& s, sk_psock& psock, skb_ptr skb, sk_verdict verdict) {
  sock& sk = psock.sk;
  if (verdict == sk_verdict::redirect && sk.kc->self == self_redirect::direct && skb->redir_ingress &&
      skb->sk_redir == &sk)
    verdict = sk_verdict::pass;
  switch (verdict) {
    case sk_verdict::pass: {
      if (sk.sock_dead || !psock.tx_enabled) {
        tcp_eat_skb(s, sk, *skb);
        sock_drop(s, sk, *skb, 0, skb->len());  // out_free
        return -kerr::eio;
      }
      // Direct delivery only when nothing is waiting in ingress_skb, to keep order.
      if (psock.ingress_skb->empty()) {
        s.note(sk.name, "SK_PASS: ingress_skb empty, deliver directly");
        return sk_psock_skb_ingress_self(s, psock, *skb, 0, skb->len()) < 0 ? -kerr::eagain : 0;
      }
      s.note({sk.name, ".ingress_skb"}, "+{} bytes (SK_PASS behind queued skbs)", skb->len());
      psock.ingress_skb.mut().push_back(std::move(skb));
      queue_delayed_work(s, psock.work, 0);
      return 0;
    }
    case sk_verdict::redirect:
      tcp_eat_skb(s, sk, *skb);
      return sk_psock_skb_redirect(s, psock, std::move(skb));
    case sk_verdict::drop:
      tcp_eat_skb(s, sk, *skb);
      s.note(sk.name, "SK_DROP: {} bytes dropped", skb->len());
      sock_drop(s, sk, *skb, 0, skb->len());
      return 0;
  }
  return 0;
}

static int sk_psock_verdict_recv(Sched& s, sock& sk, skb_ptr skb) {
  sk_psock* psock = sk.psock.get();
  if (!psock) return 0;
  int ret = SK_DROP;
  if (psock->stream_verdict.get()) {
    skb->sk_redir = nullptr;
    skb->redir_ingress = false;
    ret = psock->stream_verdict.get()(*skb);
  }
  const sk_verdict v = sk_psock_map_verd(ret, *skb);
  s.note(sk.name, "verdict on {} bytes: {}{}", skb->len(),
         v == sk_verdict::pass ? "SK_PASS" : v == sk_verdict::redirect ? "SK_REDIRECT to " : "SK_DROP",
         v == sk_verdict::redirect ? skb->sk_redir->name : "");
  return sk_psock_verdict_apply(s, *psock, std::move(skb), v);
}

// ops->read_skb: UDP hands over one datagram per call, TCP everything queued.
void sk_psock_verdict_data_ready(Sched& s, sock& sk) {
  int read = 0;
  while (!sk.sk_receive_queue->empty()) {
    skb_ptr skb = std::move(sk.sk_receive_queue.mut().front());
    sk.sk_receive_queue.mut().pop_front();
    // udp_read_skb dequeues through skb_recv_udp, which uncharges the datagram (udp_rcv
    // charged it); TCP's receive queue is not charged in the model.
    if (!sk.is_tcp()) sk.sk_rmem_alloc -= std::min(sk.sk_rmem_alloc.get(), skb->len());
    skb->sk = &sk;  // skb_set_owner_r by read_skb
    const bool fin = skb->fin;
    sk_psock_verdict_recv(s, sk, std::move(skb));
    ++read;
    if (!sk.is_tcp() || fin) break;  // tcp_read_skb stops after a FIN
  }
  if (read > 0 && sk.psock) sk_psock_data_ready(s, sk);
}

namespace {

// Delivery of an skb that came from another socket: charged to the target, refused while the
// target's receive buffer is over its limit (the worker then retries one jiffy later).
int sk_psock_skb_ingress(Sched& s, sk_psock& psock, const sk_buff& skb, uint32_t off, uint32_t len) {
  sock& sk = psock.sk;
  if (skb.sk == &sk) return sk_psock_skb_ingress_self(s, psock, skb, off, len);
  if (sk.sk_rmem_alloc > sk.sk_rcvbuf) {
    s.note(sk.name, "sk_psock_create_ingress_msg: rmem {} > rcvbuf {}: -EAGAIN", sk.sk_rmem_alloc,
           sk.sk_rcvbuf);
    return -kerr::eagain;
  }
  auto* msg = new sk_msg;
  msg->data = skb.data.substr(off, len);
  msg->fin = skb.fin;
  sk.sk_rmem_alloc += len;
  sk_psock_queue_msg(s, psock, msg);
  sk_psock_data_ready(s, sk);
  return static_cast<int>(len);
}

}  // namespace

Co<> sk_psock_backlog(Sched& s, sk_psock& psock) {
  if (!psock.tx_enabled) co_return;
  co_await psock.work_mutex.lock(s, "sk_psock_backlog: work_mutex");
  while (!psock.ingress_skb->empty()) {
    sk_buff& skb = *psock.ingress_skb.mut().front();
    uint32_t len = skb.len(), off = 0;
    if (psock.work_state->len) {
      len = psock.work_state->len;
      off = psock.work_state->off;
    }
    const bool ingress = skb.redir_ingress || !skb.sk_redir;  // SK_PASS skbs are ingress too
    skb.sk_redir = nullptr;
    skb.redir_ingress = false;
    // do-while as the kernel's: a FIN skb (no bytes) is handled once, and its 0 is an error.
    do {
      int ret = -kerr::eio;
      // sk_psock_handle_skb: ingress goes to this socket's ingress_msg at once; egress (a
      // redirect without BPF_F_INGRESS) is sent out of this socket to its peer, which may sleep
      // (the socket lock, the send softirq).
      if (!psock.sk.sock_dead && ingress) {
        ret = sk_psock_skb_ingress(s, psock, skb, off, len);
      } else if (!psock.sk.sock_dead) {
        if (!len) {
          ret = 0;  // skb_send_sock of no bytes (a FIN skb) sends nothing and returns 0
        } else if (!sock_writeable(psock.sk)) {
          ret = -kerr::eagain;
        } else {
          // The bytes go by value: the head skb may be zapped (sk_psock_stop) while the send sleeps.
          const std::string bytes = skb.data.substr(off, len);
          psock.send_inflight = skb.len();  // until the skb is done with (see skmsg.h)
          ret = co_await skb_send_sock(s, psock.sk, bytes);
          if (!psock.tx_enabled || psock.ingress_skb->empty()) {
            // Stopped meanwhile: the queue it was sending from is gone (sk_psock_stop zapped it).
            s.note({psock.sk.name, ".backlog"}, "psock stopped during skb_send_sock ({})", ret);
            psock.send_inflight = 0;
            psock.work_mutex.unlock(s);
            co_return;
          }
        }
      }
      if (ret <= 0) psock.send_inflight = 0;
      if (ret == -kerr::eagain) {
        psock.work_state = sk_psock::work_state_t{len, off};
        if (psock.tx_enabled) queue_delayed_work(s, psock.work, 1);  // retry after a jiffy
        s.note({psock.sk.name, ".backlog"}, "-EAGAIN: retry in 1 jiffy at off {}", off);
        psock.work_mutex.unlock(s);
        co_return;
      }
      if (ret <= 0) {
        // sk_psock_report_error(ret ? -ret : EPIPE) + stop accepting data. A FIN skb lands here
        // with ret 0 after its empty message is queued: the psock stops taking redirects. (The
        // sk_err the report sets is not modelled.)
        psock.tx_enabled = false;
        s.note({psock.sk.name, ".backlog"}, "error {}: TX_ENABLED cleared", ret);
        psock.work_mutex.unlock(s);
        co_return;
      }
      off += static_cast<uint32_t>(ret);
      len -= static_cast<uint32_t>(ret);
    } while (len);
    psock.work_state = sk_psock::work_state_t{};
    psock.send_inflight = 0;
    psock.ingress_skb.mut().pop_front();  // kfree_skb for egress; ingress_msg holds the bytes now
    // Another CPU may queue more skbs while this one is being delivered.
    if (!psock.ingress_skb->empty()) co_await s.point("sk_psock_backlog: next skb");
  }
  psock.work_mutex.unlock(s);
}

void sk_psock_stop(Sched& s, sk_psock& psock) {
  // Under ingress_lock: TX_ENABLED off, then __sk_psock_zap_ingress. The kernel frees
  // ingress_skb before it purges ingress_msg; inside the one locked section the order cannot be
  // seen, and freeing the older bytes (ingress_msg) first keeps the drop tap in stream order.
  psock.tx_enabled = false;
  sock& sk = psock.sk;
  // __sk_psock_purge_ingress_msg: sk_msg_free uncharges what the messages held.
  while (!psock.ingress_msg->empty()) {
    sk_msg* msg = &psock.ingress_msg.mut().front();
    psock.ingress_msg.mut().pop_front();
    sk.sk_rmem_alloc -= std::min(sk.sk_rmem_alloc.get(), msg->sg_size());
    sk_psock_msg_len_add(psock, -static_cast<int64_t>(msg->sg_size()));
    sock_drop_bytes(s, sk, std::string_view(msg->data).substr(msg->start));
    delete msg;
  }
  bool head = true;
  while (!psock.ingress_skb->empty()) {
    skb_ptr skb = std::move(psock.ingress_skb.mut().front());
    psock.ingress_skb.mut().pop_front();
    // The head skb may be partly delivered already (work_state): only its rest is lost.
    const uint32_t off = head && psock.work_state->len ? psock.work_state->off : 0;
    s.note({sk.name, ".ingress_skb"}, "sk_psock_stop: drop {} bytes", skb->len() - off);
    sock_drop(s, sk, *skb, off, skb->len() - off);
    head = false;
  }
  psock.work_state = sk_psock::work_state_t{};
}

void sk_psock_drop(Sched& s, sock& sk, std::vector<std::unique_ptr<sk_psock>>& rcu) {
  // Under sk_callback_lock: the protocol restored, sk_user_data cleared, the verdict stopped
  // (sk_data_ready back to sock_def_readable: sk_data_ready() reads sk.psock).
  std::unique_ptr<sk_psock> psock = sk.psock.release();
  psock->stream_verdict = nullptr;
  s.note(sk.name, "sk_psock_drop: psock detached");
  sk_psock_stop(s, *psock);
  rcu.push_back(std::move(psock));  // queue_rcu_work(sk_psock_destroy)
}

Co<int> __sk_msg_recvmsg(Sched& s, sock& sk, sk_psock& psock, std::string& out, uint32_t len,
                         bool peek, uint32_t* copied_from_self) {
  uint32_t copied = 0;
  if (copied_from_self) *copied_from_self = 0;
  sk_msg* msg = sk_psock_peek_msg(psock);
  while (copied < len && msg) {
    // An empty message (a FIN skb's): nothing to copy, and the kernel's copy loop stops there
    // with -EFAULT if it copied nothing (tcp_bpf_recvmsg_parser then asks is_next_msg_fin).
    // The message stays queued.
    if (msg->sg_size() == 0) co_return copied ? static_cast<int>(copied) : -kerr::efault;
    const bool from_self = msg->sk == &sk;
    const uint32_t copy = std::min(msg->sg_size(), len - copied);
    out.append(msg->data, msg->start, copy);
    copied += copy;
    if (from_self && copied_from_self) *copied_from_self += copy;
    if (peek) {
      if (copy < msg->sg_size()) break;  // a partly peeked message ends the peek
      msg = sk_psock_next_msg(psock, msg);
    } else {
      msg->start += copy;
      sk.sk_rmem_alloc -= std::min(sk.sk_rmem_alloc.get(), copy);
      const uint32_t before = psock.msg_tot_len;
      sk_psock_msg_len_add(psock, -static_cast<int64_t>(copy));  // under ingress_lock
      s.note({sk.name, ".ingress_msg"}, "read {} bytes, msg_tot_len {}→{}", copy, before,
             psock.msg_tot_len);
      if (msg->sg_size() == 0) sk_psock_dequeue_msg(s, psock);
      msg = sk_psock_peek_msg(psock);
    }
    // The next peek takes ingress_lock again: another CPU's backlog may have queued meanwhile.
    if (copied < len && msg) co_await s.point("__sk_msg_recvmsg: next msg");
    else if (copied < len && !msg) {
      co_await s.point("__sk_msg_recvmsg: peek next msg");
      msg = peek ? nullptr : sk_psock_peek_msg(psock);
    }
  }
  co_return static_cast<int>(copied);
}

}  // namespace kpsim::model
