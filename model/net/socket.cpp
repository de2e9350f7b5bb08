// net/socket.c sock_sendmsg / sock_write_iter / sock_poll (kernel 6.12): see socket.h.
#include "model/net/socket.h"

#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/udp.h"

namespace kpsim::model {

uint32_t sock_poll(sock& sk) { return sk.is_tcp() ? tcp_poll(tcp_sk(sk)) : udp_poll(sk); }

std::string msg_flags_str(int flags) {
  std::string r;
  auto add = [&](int bit, const char* name) {
    if (!(flags & bit)) return;
    if (!r.empty()) r += '|';
    r += name;
  };
  add(kMSG_MORE, "MORE");
  add(kMSG_SPLICE_PAGES, "SPLICE_PAGES");
  add(kMSG_DONTWAIT, "DONTWAIT");
  add(kMSG_EOR, "EOR");
  add(kMSG_NOSIGNAL, "NOSIGNAL");
  add(kMSG_SENDPAGE_NOPOLICY, "SENDPAGE_NOPOLICY");
  add(kMSG_SENDPAGE_NOTLAST, "SENDPAGE_NOTLAST");
  return r.empty() ? "0" : r;
}

// Hands back the protocol's coroutine rather than awaiting it in a frame of its own: callers
// await it at once, so the send runs at the same point, one frame cheaper.
Co<int64_t> sock_sendmsg(Sched& s, socket& sock, msghdr& msg) { return sock.sendmsg(s, msg); }

Co<int64_t> sock_write_iter(Sched& s, socket& sock, uint64_t count) {
  msghdr msg;
  msg.left = count;
  msg.iter = iter_type::ubuf;
  msg.flags = sock.o_nonblock ? kMSG_DONTWAIT : 0;
  co_return co_await sock_sendmsg(s, sock, msg);
}

}  // namespace kpsim::model
