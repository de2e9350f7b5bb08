// io_uring's completion side and its task work (io_uring/io_uring.c, io_uring.h, openclose.c;
// kernel 6.12): the ring setups and ctx->notify_method (io_uring_create), io_req_task_work_add
// with io_req_normal_work_add (tctx->task_list + task_work_add(notify_method)) and
// io_req_local_work_add (DEFER_TASKRUN: ctx->work_llist, no task work, no signal),
// tctx_task_work, io_run_local_work, io_req_complete_post from io-wq (CQE posted by the worker
// unless the CQ is lockless, the request freed by task work: io_free_req), io_cqring_wait,
// io_close, and the submitter's syscall exit (task work run with TIF_NOTIFY_SIGNAL cleared).
// The issue path of IORING_OP_READ / IORING_OP_SEND on a socket: io_issue_sqe, io_queue_async
// (-EAGAIN: arm poll, io_arm_poll_handler in poll.cpp), io_req_task_submit (the retry, as task
// work on the submitter), io_req_complete (the CQE).
//
// Requests are not objects here: a completion is the CQE it posts and the references its
// io_kiocb still holds (req->file), which it drops when freed.
#pragma once

#include <memory>

#include "model/fs/file_table.h"
#include "model/include/linux/poll.h"
#include "model/io_uring/io-wq.h"
#include "sched/ring_queue.h"
#include "sched/waitqueue.h"

namespace kpsim::model {

enum class io_setup : uint8_t {
  normal,         // notify_method TWA_SIGNAL
  coop_taskrun,   // IORING_SETUP_COOP_TASKRUN: TWA_SIGNAL_NO_IPI (TIF_NOTIFY_SIGNAL all the same)
  defer_taskrun,  // IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN: local work list
};

struct io_uring_cqe {
  uint64_t user_data = 0;
  int64_t res = 0;
};

struct io_uring_stats {
  uint64_t cqes = 0;
  uint64_t tw_adds = 0;          // io_req_normal_work_add that called task_work_add
  uint64_t local_work_adds = 0;  // io_req_local_work_add
};

struct io_ring_ctx {
  io_ring_ctx(task_works& tw, file_table& ft, TaskId submitter, io_setup setup, uint32_t iowq_max_workers);
  task_works& tw;
  file_table& ft;
  io_setup setup;
  task_work_notify_mode notify_method;
  TaskId submitter;
  bool lockless_cq() const { return setup == io_setup::defer_taskrun; }
  RingQueue<io_uring_cqe> cq;
  WaitQueue cq_wait;  // io_cqring_wait sleeps here; io_cqring_wake and local work wake it
  // tctx->task_list: completions waiting for tctx_task_work in the submitter.
  RingQueue<std::function<Co<>()>> tctx_task_list;
  // ctx->work_llist (DEFER_TASKRUN): run only by the submitter in io_uring_enter/GETEVENTS.
  RingQueue<std::function<Co<>()>> work_llist;
  io_wq wq;
  io_uring_stats stats;
};

// ---- requests on a socket: IORING_OP_READ (rw.cpp io_read) and IORING_OP_SEND (net.cpp io_send)

enum class io_op : uint8_t { read, send };

// The socket file a request works on, through what io_uring calls of it: f_op->read_iter
// (sock_read_iter → sock_recvmsg), sock_sendmsg, f_op->poll (sock_poll → tcp_poll / udp_poll)
// and the wait queue that poll registers on (sk_sleep(sk)). Sockets are always pollable
// (io_file_can_poll) and support nowait (FMODE_NOWAIT).
struct io_sock_file {
  std::string name;
  // One call with these msg_flags (MSG_DONTWAIT when the issue is non-blocking). read_iter
  // reads at most the request's len; both return bytes or -errno.
  std::function<Co<int>(Sched&, int msg_flags)> read_iter;
  std::function<Co<int>(Sched&, int msg_flags)> sendmsg;
  std::function<__poll_t()> poll;
  WaitQueue* wq = nullptr;
};

// struct io_kiocb of a read or send, with its async poll (struct async_poll's io_poll): lives
// in the submitting step until its CQE is reaped.
struct io_kiocb {
  io_ring_ctx* ctx = nullptr;
  io_op opcode = io_op::read;
  uint64_t user_data = 0;
  io_sock_file file;
  int msg_flags = 0;  // sqe->msg_flags (send)
  // REQ_F_POLLED: the async poll entry on file.wq while armed; `events` what it waits for.
  WaitQueue::FuncEntry poll_wait;
  bool poll_armed = false;
  __poll_t poll_events = 0;
  bool tw_queued = false;  // poll_refs' ownership: the poll task work is queued, not yet run
  bool completed = false;
  int64_t res = 0;
};

// issue_flags
inline constexpr unsigned IO_URING_F_NONBLOCK = 1u << 31;

// io_issue_sqe: the opcode's issue (io_read / io_send) with `issue_flags`; a result other
// than -EAGAIN completes the request (io_req_complete), -EAGAIN goes to io_queue_async.
Co<> io_issue_sqe(Sched& s, io_kiocb& req, unsigned issue_flags);
// io_queue_async after a non-blocking -EAGAIN: io_arm_poll_handler; IO_APOLL_READY (the event
// is already there) queues the retry as task work (io_req_task_queue). A socket never takes the
// io-wq punt (IO_APOLL_ABORTED: files that cannot poll).
void io_queue_async(Sched& s, io_kiocb& req);
// io_req_task_submit: the retry, run as task work in the submitter: io_issue_sqe non-blocking.
Co<> io_req_task_submit(Sched& s, io_kiocb& req);
// io_req_set_res + the CQE (io_req_complete_defer, flushed before the submitter looks).
void io_req_complete(Sched& s, io_kiocb& req, int64_t res);

// io_req_task_work_add: `fn` runs in the submitter (tctx_task_work, or local work).
void io_req_task_work_add(Sched& s, io_ring_ctx& ctx, std::function<Co<>()> fn);
// io_fill_cqe_req + io_cqring_wake.
void io_post_cqe(Sched& s, io_ring_ctx& ctx, uint64_t user_data, int64_t res);
// An io-wq request is done (io_req_complete_post, then io_wq_free_work → io_free_req): posts
// its CQE and drops `held` (req->file) when the request is freed — both by task work in the
// submitter with a lockless CQ (DEFER_TASKRUN), else the CQE now and the free by task work.
Co<> io_req_complete_iowq(Sched& s, io_ring_ctx& ctx, uint64_t user_data, int64_t res, file* held);
// The ring's io-wq punt for a REQ_F_FORCE_ASYNC request (io_queue_iowq).
void io_queue_iowq(Sched& s, io_ring_ctx& ctx, std::string_view name, std::function<Co<>()> issue);
// io_cqring_wait: run task work (and local work), return once `min_events` CQEs are there or
// `stop()` holds; else sleep interruptibly (a CQE, local work or TIF_NOTIFY_SIGNAL wakes it).
Co<> io_cqring_wait(Sched& s, io_ring_ctx& ctx, size_t min_events, const std::function<bool()>& stop);
// The return to user space of every syscall of the submitter: TIF_NOTIFY_SIGNAL / NOTIFY_RESUME
// → task_work_run (a ____fput queued during the syscall, e.g. by io_close, runs here).
Co<> exit_to_user_mode(Sched& s, task_works& tw);
// IORING_OP_CLOSE of a file without ->flush: inline in the submitter (filp_close → fput).
void io_close(Sched& s, io_ring_ctx& ctx, uint64_t user_data, file& f);

}  // namespace kpsim::model
