// What each model object shows of its state (sched/state.h): the fields a reader of a trace
// asks about — queue bytes, msg_tot_len, sk_msg_first_len, TCP's sequence numbers and window,
// kTLS's open record and pending encryptions, io_uring's task-work lists — under a prefix the
// World chooses (the socket's name, "tls", "ring"). Only the trace recorder calls these (and a
// state hash later): never on the exploration hot path.
#pragma once

#include <string>

#include "sched/state.h"

namespace kpsim::model {

struct sock;
struct tcp_sock;
struct sk_psock;
struct tls_context;
struct tls_sw_context_rx;
struct cryptd_aead;
struct io_ring_ctx;
struct task_works;
struct pipe_inode_info;
struct file;

// Any socket: its receive queue and memory, shutdown and error flags, and its psock if it has
// one (UDP and TCP alike); a TCP socket adds visit_tcp_state's fields.
void visit_state(StateVisitor& v, const std::string& prefix, const sock& sk);
// sk_psock: ingress_msg (messages, msg_tot_len, sk_msg_first_len), ingress_skb, the backlog's
// resume point.
void visit_state(StateVisitor& v, const std::string& prefix, const sk_psock& psock);
// tcp_sock: send (write_seq, snd_nxt, snd_una, notsent, packets_out, cwnd, snd_wnd,
// wmem_queued, queue lengths), receive (rcv_nxt, copied_seq, window) and the xmit timer.
void visit_tcp_state(StateVisitor& v, const std::string& prefix, const tcp_sock& tp);
// kTLS TX: the open record's plaintext bytes, records on tx_list, encrypt_pending, the
// BIT_TX_* flags, the record sequence number.
void visit_state(StateVisitor& v, const std::string& prefix, const tls_context& ctx);
void visit_state(StateVisitor& v, const std::string& prefix, const cryptd_aead& cryptd);
// kTLS RX: the parser's ready record and its length, decrypted records on rx_list and their
// bytes, the record sequence number, whether a reader is inside recvmsg.
void visit_state(StateVisitor& v, const std::string& prefix, const tls_sw_context_rx& ctx);
// io_uring: CQEs, the submitter's task list and local work list, io-wq's queue and workers.
void visit_state(StateVisitor& v, const std::string& prefix, const io_ring_ctx& ring);
// task_work: each task's queued callbacks and TIF_NOTIFY_RESUME, named by `task_name`.
template <class TaskName>
void visit_task_works(StateVisitor& v, const task_works& tw, TaskName&& task_name);
void visit_state(StateVisitor& v, const std::string& prefix, const pipe_inode_info& pipe);
void visit_state(StateVisitor& v, const std::string& prefix, const file& f);

}  // namespace kpsim::model

#include "model/kernel/task_work.h"

namespace kpsim::model {

template <class TaskName>
void visit_task_works(StateVisitor& v, const task_works& tw, TaskName&& task_name) {
  for (const auto& [id, pt] : tw.by_task) {  // std::map: ordered by task id, deterministic
    StatePrefix p(v, "task_work." + std::string(task_name(id)));
    p.u("works", pt.works.size());
    p.flag("TIF_NOTIFY_RESUME", pt.tif_notify_resume);
  }
}

}  // namespace kpsim::model
