// sk_psock: the per-socket state of a socket in a sockmap (include/linux/skmsg.h), and its
// queue helpers sk_psock_queue_msg, sk_psock_dequeue_msg, sk_psock_peek_msg,
// sk_psock_next_msg, sk_psock_msg_inq / msg_tot_len, sk_msg_first_len, psock_has_data,
// sk_psock_data_ready. Kernel: include/linux/skmsg.h, net/core/skmsg.c (6.12 / 6.18).
//
// Two queues: ingress_skb holds skbs waiting for the backlog worker (redirect targets, and
// pass-to-self that could not be delivered directly); ingress_msg holds what recvmsg reads.
// msg_tot_len is the FIONREAD figure added by 929e30f93125: invariant
//   msg_tot_len == sum of sg_size() over ingress_msg   (checked after every step).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/intrusive/list.hpp>

#include "model/include/linux/skbuff.h"
#include "sched/footprint.h"
#include "sched/mutex.h"
#include "sched/ring_queue.h"
#include "sched/work.h"

namespace kpsim::model {

struct sock;

// sk_msg: one message in a psock's ingress_msg queue (include/linux/skmsg.h, struct sk_msg).
//
// The kernel keeps a ring of scatterlist entries; the reader consumes the head entry in place
// and advances sg.start. The model keeps the bytes and a consumed offset: sg.size is what is
// left. `list` links it into sk_psock::ingress_msg like the kernel's struct list_head.
using msg_list_hook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

struct sk_msg {
  msg_list_hook list;
  std::string data;     // the bytes this message was built from
  uint32_t start = 0;   // bytes already consumed by the reader (sg.start, in bytes)
  // Set only for ingress-to-self messages (sk_psock_skb_ingress_self): lets
  // tcp_bpf_recvmsg_parser advance copied_seq for the socket's own bytes only.
  sock* sk = nullptr;
  // msg->skb carries TCPHDR_FIN: the empty message a FIN skb becomes on its way through the
  // psock (is_next_msg_fin in tcp_bpf.c reads it).
  bool fin = false;

  uint32_t sg_size() const { return static_cast<uint32_t>(data.size()) - start; }
};

using sk_msg_list = boost::intrusive::list<
    sk_msg, boost::intrusive::member_hook<sk_msg, msg_list_hook, &sk_msg::list>>;


// BPF program return codes (include/uapi/linux/bpf.h) and the internal verdicts
// (include/linux/skmsg.h __SK_*).
enum sk_action { SK_DROP = 0, SK_PASS = 1 };
enum class sk_verdict { pass, redirect, drop };

// The verdict program: a C++ callable standing for the sk_skb stream-verdict BPF program.
using bpf_prog = std::function<int(sk_buff& skb)>;

struct sk_psock {
  explicit sk_psock(sock& owner, Sched& s);
  ~sk_psock();
  sk_psock(const sk_psock&) = delete;
  sk_psock& operator=(const sk_psock&) = delete;

  sock& sk;
  // The queue and its messages are one object: a reader consumes the head message in place.
  Shared<sk_msg_list> ingress_msg;   // owns its messages (freed in the destructor)
  Shared<uint32_t> msg_tot_len = 0;  // bytes in ingress_msg; written under ingress_lock
  // ingress_lock (spin_lock_bh): every section that takes it in the model is free of
  // scheduling points, as a bh-disabled spinlock section is non-preemptible; so it is never
  // contended and is documented at each use instead of being taken.
  Shared<RingQueue<skb_ptr>> ingress_skb;
  Shared<bool> tx_enabled = true;  // SK_PSOCK_TX_ENABLED: set by sk_psock_init, cleared by stop/error
  Work work;               // psock->work: runs sk_psock_backlog
  Mutex work_mutex;
  struct work_state_t {
    uint32_t len = 0, off = 0;
  };
  Shared<work_state_t> work_state;  // resume point of a partially delivered skb
  Shared<bpf_prog> stream_verdict;  // progs.stream_verdict
  // Bytes the running backlog has handed to skb_send_sock and not yet seen returned: they are
  // in the head skb and in the target's send path at once until the call returns. Model
  // bookkeeping for the checkers (the kernel keeps it in sk_psock_backlog's locals).
  Shared<uint32_t> send_inflight = 0;
};

// Queue helpers (include/linux/skmsg.h).
bool sk_psock_queue_msg(Sched& s, sk_psock& psock, sk_msg* msg);
sk_msg* sk_psock_peek_msg(sk_psock& psock);
sk_msg* sk_psock_next_msg(sk_psock& psock, sk_msg* msg);
void sk_psock_dequeue_msg(Sched& s, sk_psock& psock);  // unlinks and frees the head
void sk_psock_msg_len_add(sk_psock& psock, int64_t diff);
uint32_t sk_psock_msg_inq(const sk_psock& psock);  // FIONREAD for TCP
uint32_t sk_msg_first_len(sk_psock& psock);         // FIONREAD for UDP: the head message only
bool sk_psock_queue_empty(const sk_psock* psock);
bool psock_has_data(const sk_psock& psock);  // ingress_skb or ingress_msg non-empty
bool sk_msg_is_readable(const sk_psock* psock);
// Wakes readers through the saved sk_data_ready (sock_def_readable).
void sk_psock_data_ready(Sched& s, sock& sk);
// Sum of sg_size() over ingress_msg: what msg_tot_len must equal.
uint64_t ingress_msg_bytes(const sk_psock& psock);

}  // namespace kpsim::model
