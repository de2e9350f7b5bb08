// The socket layer between a syscall and the protocol (kernel 6.12): struct msghdr reduced to
// what the send paths read (the byte count left in msg_iter, its kind, msg_flags), the MSG_*
// flags (include/linux/socket.h), and sock_sendmsg → inet_sendmsg → sk->sk_prot->sendmsg
// (net/socket.c, net/ipv4/af_inet.c), plus write(2) on a socket (sock_write_iter).
//
// The transmit models carry byte counts and sequence ranges: what must be conserved is where
// every byte went, and that is checked on sequence numbers. A sender whose checkers look at the
// bytes themselves (the sockmap scenarios) passes them in msghdr::payload.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "sched/sched.h"

namespace kpsim::model {

// include/linux/socket.h (an unscoped enum: the flags combine as ints, as the macros do)
enum : int {
  kMSG_PEEK = 0x2,
  kMSG_DONTWAIT = 0x40,
  kMSG_EOR = 0x80,
  kMSG_WAITALL = 0x100,
  kMSG_NOSIGNAL = 0x4000,
  kMSG_MORE = 0x8000,
  kMSG_SENDPAGE_NOPOLICY = 0x10000,
  kMSG_SENDPAGE_NOTLAST = 0x20000,  // 6.1's ->sendpage: more pages of this splice follow
  kMSG_SPLICE_PAGES = 0x8000000,
};

// msg_iter's type decides the copy strategy in tls_sw_sendmsg_locked (kvec or not) and in
// tcp_sendmsg_locked (MSG_SPLICE_PAGES needs an ITER_BVEC).
enum class iter_type : uint8_t { ubuf, kvec, bvec };

struct msghdr {
  uint64_t left = 0;  // msg_data_left(msg)
  // The bytes themselves, when the caller carries them (the sockmap scenarios, whose checkers
  // look at every byte); empty: a byte count only. When set, payload.size() == left.
  std::string_view payload;
  int flags = 0;      // msg_flags
  iter_type iter = iter_type::ubuf;
};

std::string msg_flags_str(int flags);  // "MORE|SPLICE_PAGES": for trace notes
// msg_flags_str as a note argument: formatted only when the note is (a trace is recorded). A
// std::string argument is built before note() can skip it, on every untraced run.
struct msg_flags_names {
  int flags;
};

struct tcp_sock;

// struct socket: the file-level object; sendmsg is the protocol's (tcp_sendmsg, or
// tls_sw_sendmsg once the TLS ULP is installed), splice_eof likewise.
struct socket {
  tcp_sock* sk = nullptr;
  bool o_nonblock = false;  // the socket file's O_NONBLOCK
  std::function<Co<int64_t>(Sched&, msghdr&)> sendmsg;
  std::function<Co<>(Sched&)> splice_eof;
  // 6.1's proto_ops->sendpage (tcp_sendpage, tls_sw_sendpage): one page of `size` bytes.
  std::function<Co<int64_t>(Sched&, uint64_t size, int flags)> sendpage;
};

struct sock;
// sock_poll (net/socket.c): the file's ->poll, the protocol's sock->ops->poll: tcp_poll or udp_poll.
uint32_t sock_poll(sock& sk);

// sock_sendmsg(): no LSM hook in the model, straight to the protocol.
Co<int64_t> sock_sendmsg(Sched& s, socket& sock, msghdr& msg);
// write(2) on a socket: sock_write_iter builds a msghdr over the user buffer (ITER_UBUF),
// MSG_DONTWAIT if the file is O_NONBLOCK.
Co<int64_t> sock_write_iter(Sched& s, socket& sock, uint64_t count);

}  // namespace kpsim::model

template <>
struct fmt::formatter<kpsim::model::msg_flags_names> : fmt::formatter<std::string_view> {
  auto format(kpsim::model::msg_flags_names f, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(kpsim::model::msg_flags_str(f.flags), ctx);
  }
};
