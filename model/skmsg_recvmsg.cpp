// The psock reader: net/core/skmsg.c __sk_msg_recvmsg. Process context, socket lock held by
// the caller. It copies across message boundaries (also for UDP) and never waits: whatever is
// queued now is what it returns.
#include "model/skmsg.h"

#include <algorithm>

namespace kpsim::model {

Co<int> __sk_msg_recvmsg(Sched& s, sock& sk, sk_psock& psock, std::string& out, uint32_t len,
                         bool peek, uint32_t* copied_from_self) {
  uint32_t copied = 0;
  if (copied_from_self) *copied_from_self = 0;
  sk_msg* msg = sk_psock_peek_msg(psock);
  while (copied < len && msg) {
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
      sk.sk_rmem_alloc -= std::min(sk.sk_rmem_alloc, copy);
      const uint32_t before = psock.msg_tot_len;
      sk_psock_msg_len_add(psock, -static_cast<int64_t>(copy));  // under ingress_lock
      s.note(sk.name + ".ingress_msg", "read {} bytes, msg_tot_len {}→{}", copy, before,
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
