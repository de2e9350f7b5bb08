// net/ipv4/udp_bpf.c (6.12.117 / 2026 mainline with udp_bpf_ioctl).
#include "model/net/ipv4/udp_bpf.h"

#include "model/include/linux/errno.h"
#include "model/net/core/skmsg.h"
#include "model/net/ipv4/udp.h"

namespace kpsim::model {

namespace {

bool udp_msg_has_data(const sock& sk, const sk_psock& psock) {
  return !sk.sk_receive_queue->empty() || psock_has_data(psock);
}

// Sleeps at most once (one wake-up or the timeout), dropping the socket lock meanwhile.
Co<bool> udp_msg_wait_data(Sched& s, sock& sk, sk_psock& psock, bool dontwait) {
  if (sk.rcv_shutdown) co_return true;
  if (dontwait) co_return false;
  bool ret = udp_msg_has_data(sk, psock);
  if (!ret) {
    sk.sk_lock.release_sock(s);
    co_await sk.sk_wq.sleep(s, "udp_msg_wait_data: woken", true);
    co_await sk.sk_lock.lock_sock(s);
    ret = udp_msg_has_data(sk, psock);
  }
  co_return ret;
}

}  // namespace

Co<int> udp_bpf_recvmsg(Sched& s, sock& sk, std::string& out, uint32_t len, bool dontwait,
                        bool peek) {
  if (len == 0) co_return 0;
  sk_psock* psock = sk.psock.get();
  if (!psock || !psock_has_data(*psock)) {
    s.note(sk.name, "udp_bpf_recvmsg: psock empty, native udp_recvmsg");
    co_return co_await udp_recvmsg(s, sk, out, len, dontwait, peek);
  }
  co_await sk.sk_lock.lock_sock(s, "udp_bpf_recvmsg: lock_sock");
  int copied = 0;
  for (;;) {  // msg_bytes_ready:
    copied = co_await __sk_msg_recvmsg(s, sk, *psock, out, len, peek, nullptr);
    if (copied) break;
    const bool data = co_await udp_msg_wait_data(s, sk, *psock, dontwait);
    if (data) {
      if (psock_has_data(*psock)) continue;
      sk.sk_lock.release_sock(s);
      co_return co_await udp_recvmsg(s, sk, out, len, dontwait, peek);
    }
    copied = -kerr::eagain;
    break;
  }
  s.note(sk.name, "udp_bpf_recvmsg returns {}", copied);
  sk.sk_lock.release_sock(s);
  co_return copied;
}

int udp_bpf_ioctl(sock& sk) {
  if (sk.kc->fionread == fionread_semantics::pre_929e30f93125 || !sk.psock)
    return sk.sk_receive_queue->empty() ? 0 : static_cast<int>(sk.sk_receive_queue.mut().front()->len());
  return static_cast<int>(sk_msg_first_len(*sk.psock));
}

}  // namespace kpsim::model
