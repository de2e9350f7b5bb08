// io_uring/poll.c async poll (kernel 6.12): see poll.h.
#include "model/io_uring/poll.h"

#include <fmt/format.h>

namespace kpsim::model {

namespace {

void io_poll_remove_entries(io_kiocb& req) {
  if (!req.poll_armed) return;
  req.file.wq->remove_func(&req.poll_wait);
  req.poll_armed = false;
}

}  // namespace

io_apoll io_arm_poll_handler(Sched& s, io_kiocb& req) {
  // EPOLLONESHOT (not multishot); EPOLLERR|EPOLLHUP always count (vfs_poll's demangle).
  req.poll_events = (req.opcode == io_op::read ? EPOLLIN | EPOLLRDNORM : EPOLLOUT | EPOLLWRNORM) | EPOLLERR | EPOLLHUP;
  io_kiocb* r = &req;
  req.poll_wait.func = [r](Sched& sch) { io_poll_wake(sch, *r); };
  req.file.wq->add_func(s, &req.poll_wait);  // vfs_poll → sock_poll_wait → poll_wait
  req.poll_armed = true;
  const __poll_t mask = req.file.poll() & req.poll_events;
  if (mask) {
    io_poll_remove_entries(req);
    s.note("io_uring", "io_arm_poll_handler: {} {} ready at arming (0x{:x}): retry", req.file.name,
           req.opcode == io_op::read ? "READ" : "SEND", mask);
    return io_apoll::ready;
  }
  s.note("io_uring", "io_arm_poll_handler: {} on {}: poll armed for {}", req.opcode == io_op::read ? "READ" : "SEND",
         req.file.name, req.opcode == io_op::read ? "EPOLLIN" : "EPOLLOUT");
  return io_apoll::ok;
}

void io_poll_wake(Sched& s, io_kiocb& req) {
  if (req.tw_queued) return;  // io_poll_get_ownership fails: the queued task work looks again
  req.tw_queued = true;
  s.note("io_uring", "io_poll_wake: {} on {}: queue io_apoll_task_func", req.opcode == io_op::read ? "READ" : "SEND",
         req.file.name);
  io_kiocb* r = &req;
  Sched* sp = &s;
  io_req_task_work_add(s, *req.ctx, [sp, r]() { return io_apoll_task_func(*sp, *r); });
}

Co<> io_apoll_task_func(Sched& s, io_kiocb& req) {
  req.tw_queued = false;  // io_poll_check_events drops its references
  const __poll_t mask = req.file.poll() & req.poll_events;
  if (!mask) {
    s.note("io_uring", "io_apoll_task_func: {} not ready: stays armed", req.file.name);
    co_return;  // IOU_POLL_NO_ACTION
  }
  io_poll_remove_entries(req);
  co_await io_req_task_submit(s, req);
}

}  // namespace kpsim::model
