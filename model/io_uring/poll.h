// io_uring's async poll for a request whose non-blocking issue said -EAGAIN (io_uring/poll.c,
// kernel 6.12): io_arm_poll_handler / __io_arm_poll_handler, io_poll_wake (the wait-queue
// entry's wake function, in the waker's context: softirq, a kworker, another task),
// io_poll_check_events and io_apoll_task_func (the task work that decides, in the submitter,
// whether the event is there and re-issues the request).
#pragma once

#include "model/io_uring/io_uring.h"

namespace kpsim::model {

enum class io_apoll : uint8_t { ok, ready };

// Arms a oneshot poll for the opcode's event (IORING_OP_READ: EPOLLIN, IORING_OP_SEND:
// EPOLLOUT; io_issue_defs pollin/pollout): the entry goes on the file's wait queue
// (vfs_poll's poll_wait), then the mask vfs_poll returned decides: the event already there
// means the entry is taken off again and the caller retries (ready); else it stays armed (ok).
io_apoll io_arm_poll_handler(Sched& s, io_kiocb& req);
// The entry's wake function: takes ownership (poll_refs) and queues io_apoll_task_func as task
// work on the submitter (__io_poll_execute → io_req_task_work_add). The model's wake-ups carry
// no poll key, so it queues on every wake-up where the kernel skips those whose key lacks the
// request's events; the task work looks at the file again either way, as the kernel's does.
void io_poll_wake(Sched& s, io_kiocb& req);
// The task work: io_poll_check_events (vfs_poll & events; nothing: stay armed, no action),
// then io_poll_remove_entries and io_req_task_submit.
Co<> io_apoll_task_func(Sched& s, io_kiocb& req);

}  // namespace kpsim::model
