// struct sock: the fields every protocol's socket shares (include/net/sock.h), as far as the
// sockmap receive paths, the stream send path and kTLS read them. UDP sockets are a plain sock
// (struct udp_sock adds nothing the models read); TCP sockets are a struct tcp_sock
// (include/linux/tcp.h), which embeds this as the kernel's tcp_sock embeds inet_connection_sock,
// inet_sock and sock — tcp_sk(sk) is the downcast.
//
// A connected loopback pair is two socks pointing at each other through `peer`.
//
// Footprints (docs/design.md, "Partial-order reduction"): every field a step may write is a
// Shared (or a scheduler primitive), so that each access reaches the running step's footprint;
// what only setup writes (name, type, peer, lo, kc, the buffer sizes set by setsockopt, the
// write-space callback) stays plain: a read of a constant commutes with everything.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "model/include/linux/skbuff.h"
#include "model/include/linux/skmsg.h"
#include "model/kconfig.h"
#include "sched/footprint.h"
#include "sched/ring_queue.h"
#include "sched/socklock.h"
#include "sched/waitqueue.h"

namespace kpsim::model {

struct loopback;

// sk->sk_type: SOCK_DGRAM (UDP) or SOCK_STREAM (TCP).
enum class sock_type : uint8_t { dgram, stream };

inline constexpr uint32_t kRmemDefault = 212992;       // net.core.rmem_default
inline constexpr int64_t kTcpWmemDefault = 16384;      // tcp_wmem[1]: a new TCP socket's sk_sndbuf

struct sock {
  sock(std::string name_, sock_type type_) : name(std::move(name_)), type(type_) {}
  virtual ~sock() = default;
  sock(const sock&) = delete;
  sock& operator=(const sock&) = delete;

  std::string name;  // "p1": used in trace notes
  sock_type type;
  sock* peer = nullptr;  // the other end of the loopback connection
  loopback* lo = nullptr;  // the device its packets go out on (dst->dev): always loopback here
  // The kernel this socket runs in: version and candidate fixes (model/kconfig.h). Never null
  // once the socket is set up; a default-configured kernel otherwise.
  const kernel_config* kc = &kDefaultKernel;

  SockLock sk_lock;
  WaitQueue sk_wq;  // sk_sleep(sk): readers, pollers and writers waiting for memory sleep here
  Shared<int> sk_err = 0;
  Shared<bool> sock_dead = false;       // SOCK_DEAD
  Shared<bool> rcv_shutdown = false;    // sk_shutdown & RCV_SHUTDOWN
  Shared<bool> send_shutdown = false;   // sk_shutdown & SEND_SHUTDOWN
  Shared<bool> sock_done = false;       // SOCK_DONE: tcp_fin saw the peer's FIN

  // ---- receive side -------------------------------------------------------------------------
  Shared<RingQueue<skb_ptr>> sk_receive_queue;
  SharedPtr<sk_psock> psock;  // sk_user_data when in a sockmap
  Shared<uint32_t> sk_rmem_alloc = 0;       // bytes charged to this socket's receive side
  uint32_t sk_rcvbuf = kRmemDefault;  // written only in setup (SO_RCVBUF)
  Shared<uint32_t> sk_drops = 0;            // packets freed undelivered (sk_drops_add, by sock_drop)
  // sk->sk_data_ready when a ULP replaced it (kTLS RX: tls_data_ready); empty: sock_def_readable,
  // or the psock's verdict.
  std::function<void(Sched&)> sk_data_ready_fn;

  // ---- send side ----------------------------------------------------------------------------
  Shared<bool> sock_nospace = false;    // SOCK_NOSPACE in sk->sk_socket->flags: a writer ran out
  Shared<uint32_t> sk_write_pending = 0;
  // Invariant (TCP): sk_wmem_queued == sum of truesize over write_queue and rtx_queue.
  Shared<int64_t> sk_wmem_queued = 0;
  Shared<int64_t> sk_sndbuf = kTcpWmemDefault;  // autotuned by steps (tcp_sndbuf_expand)
  bool sndbuf_locked = false;   // SOCK_SNDBUF_LOCK: SO_SNDBUF set, no autotuning
  std::optional<uint64_t> sk_sndtimeo_ns;  // nullopt: MAX_SCHEDULE_TIMEOUT (no SO_SNDTIMEO)
  // sk->sk_write_space: sk_stream_write_space, or tls_write_space once kTLS is installed.
  std::function<void(Sched&)> sk_write_space;
  // sk->sk_frag: the per-socket 32 KiB page fragment that tls_alloc_encrypted_msg carves.
  Shared<uint64_t> sk_frag_page = 0;
  Shared<uint32_t> sk_frag_offset = 0;

  bool is_tcp() const { return type == sock_type::stream; }
};

}  // namespace kpsim::model
