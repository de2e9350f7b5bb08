// net/core/skbuff.c __skb_send_sock / skb_send_sock (kernel 6.12): see skbuff.h.
#include "model/net/core/skbuff.h"

#include "model/include/linux/tcp.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/udp.h"

namespace kpsim::model {

// The model's skbs are linear: the kernel sends the linear part as one kvec and each page
// fragment as a bvec with MSG_SPLICE_PAGES; for a TCP socket that only changes how the bytes
// are cut into calls, and a UDP target is restricted to linear-sized skbs by the scenario
// layer (a fragment would be a datagram of its own).
Co<int> skb_send_sock(Sched& s, sock& sk, std::string_view bytes) {
  const auto orig_len = static_cast<uint32_t>(bytes.size());
  uint32_t sent = 0;
  int ret = 0;
  while (sent < orig_len) {
    // sendmsg_unlocked → sock_sendmsg → sk->sk_prot->sendmsg, MSG_DONTWAIT.
    if (sk.is_tcp()) {
      msghdr msg;
      msg.payload = bytes.substr(sent);
      msg.left = msg.payload.size();
      msg.flags = kMSG_DONTWAIT;
      msg.iter = iter_type::kvec;
      ret = static_cast<int>(co_await tcp_sendmsg(s, tcp_sk(sk), msg));
    } else {
      ret = co_await udp_sendmsg(s, sk, std::string(bytes.substr(sent)));
    }
    if (ret <= 0) break;
    sent += static_cast<uint32_t>(ret);
  }
  co_return sent ? static_cast<int>(sent) : ret;
}

}  // namespace kpsim::model
