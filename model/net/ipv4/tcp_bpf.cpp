// net/ipv4/tcp_bpf.c (6.12.117 / 2026 mainline): the RX variant used when a stream verdict
// program is attached.
#include "model/include/linux/tcp.h"
#include "model/net/ipv4/tcp_bpf.h"

#include "model/include/linux/errno.h"
#include "model/net/core/skmsg.h"

namespace kpsim::model {

namespace {

// sk_wait_event until ingress_msg or the native queue has data, shutdown, or the timeout.
// Returns 1 (data), 0 (none), or -ERESTARTSYS (signal).
Co<int> tcp_msg_wait_data(Sched& s, sock& sk, sk_psock& psock, bool dontwait) {
  if (sk.rcv_shutdown) co_return 1;
  if (dontwait) co_return 0;
  auto cond = [&] { return !psock.ingress_msg->empty() || !sk.sk_receive_queue->empty(); };
  if (cond()) co_return 1;
  sk.sk_lock.release_sock(s);
  const WakeReason r = co_await sk.sk_wq.sleep(s, "tcp_msg_wait_data: woken", true);
  co_await sk.sk_lock.lock_sock(s);
  if (r == WakeReason::interrupted && !cond()) co_return -kerr::erestartsys;
  co_return cond() ? 1 : 0;
}

// The head message is empty and came from a FIN skb.
bool is_next_msg_fin(sk_psock& psock) {
  const sk_msg* msg = sk_psock_peek_msg(psock);
  return msg && msg->sg_size() == 0 && msg->fin;
}

}  // namespace

Co<int> tcp_bpf_recvmsg_parser(Sched& s, sock& sk, std::string& out, uint32_t len, bool dontwait,
                               bool peek) {
  if (len == 0) co_return 0;
  sk_psock* psock = sk.psock.get();
  co_await sk.sk_lock.lock_sock(s, "tcp_bpf_recvmsg_parser: lock_sock");
  uint64_t seq = tcp_sk(sk).copied_seq;
  int copied = 0;
  if (!sk.sk_receive_queue->empty()) {
    // Data that arrived before the verdict callback was installed goes through it now.
    sk_psock_verdict_data_ready(s, sk);
    if (!sk.sk_receive_queue->empty()) copied = -kerr::eagain;
  }
  while (copied == 0) {  // msg_bytes_ready:
    uint32_t from_self = 0;
    copied = co_await __sk_msg_recvmsg(s, sk, *psock, out, len, peek, &from_self);
    // -EFAULT with nothing copied: the head message is empty. A FIN's (is_next_msg_fin) is the
    // end of the stream: 0 (the kernel also counts the FIN into copied_seq; the model's FIN
    // has no sequence number, skbuff.h). The empty message stays, so every later read ends here.
    if (copied == -kerr::efault) {
      if (is_next_msg_fin(*psock)) copied = 0;
      break;
    }
    seq += from_self;
    if (copied) break;
    if (sk.sock_done) break;  // SOCK_DONE: the FIN has been received
    if (sk.rcv_shutdown) break;
    if (dontwait) {
      copied = -kerr::eagain;
      break;
    }
    if (s.current().signal_pending()) {
      copied = -kerr::erestartsys;
      break;
    }
    const int data = co_await tcp_msg_wait_data(s, sk, *psock, dontwait);
    if (data < 0) {
      copied = data;
      break;
    }
    if (data && !psock->ingress_msg->empty()) continue;
    copied = -kerr::eagain;
  }
  if (!peek) tcp_sk(sk).copied_seq = seq;
  s.note(sk.name, "tcp_bpf_recvmsg_parser returns {}", copied);
  sk.sk_lock.release_sock(s);
  co_return copied;
}

int tcp_bpf_ioctl(sock& sk) {
  if (sk.kc->fionread == fionread_semantics::pre_929e30f93125 || !sk.psock) {
    const tcp_sock& tp = tcp_sk(sk);
    const int64_t inq = static_cast<int64_t>(tp.rcv_nxt) - static_cast<int64_t>(tp.copied_seq);
    return inq > 0 ? static_cast<int>(inq) : 0;
  }
  // A stream verdict program is attached, so tcp_inq() is not added.
  return static_cast<int>(sk_psock_msg_inq(*sk.psock));
}

}  // namespace kpsim::model
