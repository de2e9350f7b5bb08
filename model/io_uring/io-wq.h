// io-wq: io_uring's worker pool (io_uring/io-wq.c, kernel 6.12): io_wq_enqueue,
// io_wq_activate_free_worker, io_wq_create_worker / create_io_worker, the worker loop
// (io_wq_worker, io_worker_handle_work, __io_worker_busy / __io_worker_idle), and the
// scheduler hooks io_wq_worker_sleeping → io_wq_dec_running → io_queue_worker_create →
// create_worker_cb, io_wq_worker_running → io_wq_inc_running.
//
// Why it matters here: a worker that goes to sleep while it was the last one running and work
// is queued asks for a new worker — not directly, but as task work on the ring's submitter
// task with TWA_SIGNAL. That sets TIF_NOTIFY_SIGNAL on the submitter whatever the ring's setup
// (DEFER_TASKRUN included), and whether or not a worker can then be created.
#pragma once

#include <memory>
#include <vector>

#include "model/kernel/task_work.h"
#include "sched/ring_queue.h"
#include "sched/waitqueue.h"

namespace kpsim::model {

struct io_wq_work {
  std::string_view name;   // the request: "SPLICE pipe→sock"
  bool concurrent = true;  // IO_WQ_WORK_CONCURRENT: REQ_F_FORCE_ASYNC requests may get a worker each
  std::function<Co<>()> fn;  // io_wq_submit_work: issue, then complete
};

struct io_worker {
  int index = 0;
  TaskId task = kNoTask;
  bool running = true;         // IO_WORKER_F_RUNNING: counted in nr_running
  bool free = false;           // IO_WORKER_F_FREE: on the free list
  bool create_pending = false; // create_state bit 0: a create_worker_cb is queued for this worker
  const io_wq_work* cur_work = nullptr;
  WaitQueue idle;              // the worker sleeps here when the work list is empty
};

struct io_wq_stats {
  uint64_t created_inline = 0;     // io_wq_create_worker from io_wq_enqueue
  uint64_t created_from_tw = 0;    // create_worker_cb that created one
  uint64_t create_requests = 0;    // io_queue_worker_create: task work with TWA_SIGNAL
};

struct io_wq {
  io_wq(task_works& tw, TaskId submitter, uint32_t max_workers);
  task_works& tw;
  TaskId task;  // wq->task: the ring's submitter, who creates workers
  // Invariant: nr_running counts workers with `running` set plus creations in flight.
  RingQueue<std::unique_ptr<io_wq_work>> work_list;
  uint32_t nr_workers = 0, nr_running = 0, max_workers = 0;
  std::vector<std::unique_ptr<io_worker>> workers;
  io_wq_stats stats;
};

void io_wq_enqueue(Sched& s, io_wq& wq, io_wq_work work);

}  // namespace kpsim::model
