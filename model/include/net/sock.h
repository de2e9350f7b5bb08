// sock: the socket fields the sockmap paths touch (include/net/sock.h), for UDP and TCP over
// loopback. A connected pair is two socks pointing at each other through `peer`.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "model/include/linux/skbuff.h"
#include "model/include/linux/skmsg.h"
#include "sched/socklock.h"
#include "sched/waitqueue.h"

namespace kpsim::model {

enum class sock_type { dgram, stream };  // SOCK_DGRAM (UDP) / SOCK_STREAM (TCP)

struct sock {
  sock(std::string name_, sock_type type_) : name(std::move(name_)), type(type_) {}

  std::string name;  // "p1": used in trace notes
  sock_type type;
  sock* peer = nullptr;  // the other end of the loopback connection

  SockLock sk_lock;
  WaitQueue sk_sleep;  // sk_sleep(sk): readers and pollers wait here
  std::deque<skb_ptr> sk_receive_queue;
  std::unique_ptr<sk_psock> psock;  // sk_user_data when in a sockmap
  uint32_t sk_rmem_alloc = 0;       // bytes charged to this socket's receive side
  uint32_t sk_rcvbuf = 212992;      // net.core.rmem_default
  bool sock_dead = false;           // SOCK_DEAD
  bool rcv_shutdown = false;        // RCV_SHUTDOWN
  // TCP sequence bookkeeping, in bytes from the start of the connection.
  uint32_t rcv_nxt = 0;     // next byte expected from the peer
  uint32_t copied_seq = 0;  // next byte the reader will consume

  bool is_tcp() const { return type == sock_type::stream; }
};

}  // namespace kpsim::model
