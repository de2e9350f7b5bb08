// sk_psock queue helpers: include/linux/skmsg.h (6.12.117 / 2026 mainline, after 929e30f93125).
#include "model/sk_psock.h"

#include "model/skmsg.h"
#include "model/sock.h"

namespace kpsim::model {

sk_psock::sk_psock(sock& owner, Sched& s)
    : sk(owner),
      work("kworker/0:" + owner.name + ".backlog", "sk_psock_backlog",
           [this, &s]() { return sk_psock_backlog(s, *this); }) {}

sk_psock::~sk_psock() {
  ingress_msg.clear_and_dispose([](sk_msg* m) { delete m; });
}

void sk_psock_msg_len_add(sk_psock& psock, int64_t diff) {
  psock.msg_tot_len = static_cast<uint32_t>(static_cast<int64_t>(psock.msg_tot_len) + diff);
}

// Appends under ingress_lock if the psock still accepts data; otherwise frees the message.
bool sk_psock_queue_msg(Sched& s, sk_psock& psock, sk_msg* msg) {
  if (!psock.tx_enabled) {
    s.note(psock.sk.name + ".ingress_msg", "dropped {} bytes: psock not TX_ENABLED", msg->sg_size());
    delete msg;
    return false;
  }
  const uint32_t before = psock.msg_tot_len;
  psock.ingress_msg.push_back(*msg);
  sk_psock_msg_len_add(psock, msg->sg_size());
  s.note(psock.sk.name + ".ingress_msg", "+{} bytes \"{}\", msg_tot_len {}→{}", msg->sg_size(),
         msg->data.substr(msg->start), before, psock.msg_tot_len);
  return true;
}

sk_msg* sk_psock_peek_msg(sk_psock& psock) {
  return psock.ingress_msg.empty() ? nullptr : &psock.ingress_msg.front();
}

sk_msg* sk_psock_next_msg(sk_psock& psock, sk_msg* msg) {
  auto it = psock.ingress_msg.iterator_to(*msg);
  ++it;
  return it == psock.ingress_msg.end() ? nullptr : &*it;
}

// The reader has already subtracted the bytes it consumed; what remains of the message (normally
// nothing) is subtracted here, under ingress_lock.
void sk_psock_dequeue_msg(Sched& s, sk_psock& psock) {
  sk_msg* msg = &psock.ingress_msg.front();
  psock.ingress_msg.pop_front();
  sk_psock_msg_len_add(psock, -static_cast<int64_t>(msg->sg_size()));
  s.note(psock.sk.name + ".ingress_msg", "dequeued consumed msg, msg_tot_len {}", psock.msg_tot_len);
  delete msg;
}

uint32_t sk_psock_msg_inq(const sk_psock& psock) { return psock.msg_tot_len; }

// Datagram semantics: only the head message's remaining bytes, under ingress_lock.
uint32_t sk_msg_first_len(sk_psock& psock) {
  sk_msg* head = sk_psock_peek_msg(psock);
  return head ? head->sg_size() : 0;
}

bool sk_psock_queue_empty(const sk_psock* psock) { return !psock || psock->ingress_msg.empty(); }

bool psock_has_data(const sk_psock& psock) {
  return !psock.ingress_skb.empty() || !psock.ingress_msg.empty();
}

bool sk_msg_is_readable(const sk_psock* psock) { return !sk_psock_queue_empty(psock); }

void sk_psock_data_ready(Sched& s, sock& sk) {
  if (!sk.sk_sleep.empty()) s.note(sk.name + ".sk_sleep", "sock_def_readable: wake readers");
  sk.sk_sleep.wake_up_all(s);
}

uint64_t ingress_msg_bytes(const sk_psock& psock) {
  uint64_t n = 0;
  for (const sk_msg& m : psock.ingress_msg) n += m.sg_size();
  return n;
}

}  // namespace kpsim::model
