// io_uring/io_uring.c completion and task-work paths (kernel 6.12): see io_uring.h.
#include "model/io_uring/io_uring.h"

#include "model/include/linux/errno.h"
#include "model/io_uring/net.h"
#include "model/io_uring/poll.h"
#include "model/io_uring/rw.h"

namespace kpsim::model {

namespace {

// tctx_task_work: run the completions queued for this task, oldest first.
Co<> tctx_task_work(Sched& s, io_ring_ctx& ctx) {
  while (!ctx.tctx_task_list.empty()) {
    auto fn = std::move(ctx.tctx_task_list.front());
    ctx.tctx_task_list.pop_front();
    co_await fn();
  }
  (void)s;
}

Co<> io_run_local_work(Sched& s, io_ring_ctx& ctx) {
  while (!ctx.work_llist.empty()) {
    auto fn = std::move(ctx.work_llist.front());
    ctx.work_llist.pop_front();
    co_await s.point("io_run_local_work");
    co_await fn();
  }
}

}  // namespace

io_ring_ctx::io_ring_ctx(task_works& t, file_table& f, TaskId sub, io_setup st, uint32_t iowq_max_workers)
    : tw(t),
      ft(f),
      setup(st),
      notify_method(st == io_setup::normal ? task_work_notify_mode::twa_signal
                                           : task_work_notify_mode::twa_signal_no_ipi),
      submitter(sub),
      wq(t, sub, iowq_max_workers) {}

void io_req_task_work_add(Sched& s, io_ring_ctx& ctx, std::function<Co<>()> fn) {
  if (ctx.setup == io_setup::defer_taskrun) {
    // io_req_local_work_add: no task_work_add, no TIF_NOTIFY_SIGNAL; wake the submitter only
    // if it waits for completions in io_cqring_wait.
    ctx.work_llist.push_back(std::move(fn));
    ++ctx.stats.local_work_adds;
    s.note("io_uring", "io_req_local_work_add: onto ctx->work_llist (no signal)");
    ctx.cq_wait.wake_up_all(s);
    return;
  }
  // io_req_normal_work_add: only the add that finds the list empty notifies the task.
  const bool first = ctx.tctx_task_list.empty();
  ctx.tctx_task_list.push_back(std::move(fn));
  if (!first) return;
  ++ctx.stats.tw_adds;
  io_ring_ctx* cp = &ctx;
  Sched* sp = &s;
  task_work_add(s, ctx.tw, ctx.submitter, {"tctx_task_work", [sp, cp]() { return tctx_task_work(*sp, *cp); }},
                ctx.notify_method);
}

void io_post_cqe(Sched& s, io_ring_ctx& ctx, uint64_t user_data, int64_t res) {
  ctx.cq.push_back({user_data, res});
  ++ctx.stats.cqes;
  s.note("io_uring", "CQE user_data {} res {}", user_data, res);
  ctx.cq_wait.wake_up_all(s);  // io_cqring_wake
}

Co<> io_req_complete_iowq(Sched& s, io_ring_ctx& ctx, uint64_t user_data, int64_t res, file* held) {
  io_ring_ctx* cp = &ctx;
  Sched* sp = &s;
  // io_free_req's task work: io_req_task_complete → io_put_file.
  auto free_req = [sp, cp, held]() -> Co<> {
    if (held) fput(*sp, cp->ft, *held, "io_put_file");
    co_return;
  };
  if (ctx.lockless_cq()) {
    // DEFER_TASKRUN: the CQE itself is posted by the submitter.
    io_req_task_work_add(s, ctx, [sp, cp, user_data, res, free_req]() -> Co<> {
      io_post_cqe(*sp, *cp, user_data, res);
      co_await free_req();
    });
    co_return;
  }
  io_post_cqe(s, ctx, user_data, res);
  // io_wq_free_work drops io-wq's reference; the request is freed through task work.
  co_await s.point("io_wq_free_work");
  io_req_task_work_add(s, ctx, free_req);
}

void io_queue_iowq(Sched& s, io_ring_ctx& ctx, std::string_view name, std::function<Co<>()> issue) {
  io_wq_work w;
  w.name = name;
  w.concurrent = true;  // REQ_F_FORCE_ASYNC → IO_WQ_WORK_CONCURRENT
  w.fn = std::move(issue);
  io_wq_enqueue(s, ctx.wq, std::move(w));
}

Co<> io_cqring_wait(Sched& s, io_ring_ctx& ctx, size_t min_events, const std::function<bool()>& stop) {
  for (;;) {
    co_await io_run_task_work(s, ctx.tw);
    if (ctx.setup == io_setup::defer_taskrun) co_await io_run_local_work(s, ctx);
    if (ctx.cq.size() >= min_events || (stop && stop())) co_return;
    co_await ctx.cq_wait.sleep(s, "io_cqring_wait: woken", true);
  }
}

Co<> exit_to_user_mode(Sched& s, task_works& tw) {
  while (s.current().tif_notify_signal || task_work_pending(tw, s.current_id()))
    co_await io_run_task_work(s, tw);
}

void io_close(Sched& s, io_ring_ctx& ctx, uint64_t user_data, file& f) {
  fput(s, ctx.ft, f, "io_close");
  io_post_cqe(s, ctx, user_data, 0);
}

Co<> io_issue_sqe(Sched& s, io_kiocb& req, unsigned issue_flags) {
  const int ret = req.opcode == io_op::read ? co_await io_read(s, req, issue_flags)
                                            : co_await io_send(s, req, issue_flags);
  if (ret == -kerr::eagain && (issue_flags & IO_URING_F_NONBLOCK)) {
    io_queue_async(s, req);
    co_return;
  }
  io_req_complete(s, req, ret);
}

void io_queue_async(Sched& s, io_kiocb& req) {
  if (io_arm_poll_handler(s, req) == io_apoll::ready) {
    // io_req_task_queue: the event came between the issue and the arming: retry from task work.
    io_kiocb* r = &req;
    Sched* sp = &s;
    io_req_task_work_add(s, *req.ctx, [sp, r]() { return io_req_task_submit(*sp, *r); });
  }
}

Co<> io_req_task_submit(Sched& s, io_kiocb& req) {
  // io_queue_sqe from task work: issue_flags IO_URING_F_NONBLOCK (| COMPLETE_DEFER).
  co_await io_issue_sqe(s, req, IO_URING_F_NONBLOCK);
}

void io_req_complete(Sched& s, io_kiocb& req, int64_t res) {
  req.completed = true;
  req.res = res;
  io_post_cqe(s, *req.ctx, req.user_data, res);
}

}  // namespace kpsim::model
