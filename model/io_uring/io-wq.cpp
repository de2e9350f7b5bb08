// io_uring/io-wq.c (kernel 6.12): see io-wq.h.
#include "model/io_uring/io-wq.h"

#include <string>

#include <fmt/format.h>

namespace kpsim::model {

namespace {

void create_io_worker(Sched& s, io_wq& wq);

Co<> io_wq_worker(Sched& s, io_wq& wq, io_worker& w) {
  for (;;) {
    while (!wq.work_list.empty()) {
      // io_worker_handle_work: take the head, __io_worker_busy.
      std::unique_ptr<io_wq_work> work = std::move(wq.work_list.front());
      wq.work_list.pop_front();
      w.free = false;
      w.cur_work = work.get();
      s.note("io-wq", "iou-wrk-{}: runs {}", w.index, work->name);
      co_await work->fn();
      w.cur_work = nullptr;
      co_await s.point("io_worker_handle_work");
    }
    // __io_worker_idle: onto the free list, sleep until io_wq_activate_free_worker.
    w.free = true;
    co_await w.idle.sleep(s, "io_wq_worker", false);
  }
}

// io_wq_inc_running / io_wq_dec_running via the scheduler hooks.
void io_wq_worker_running(io_wq& wq, io_worker& w) {
  if (w.running) return;
  w.running = true;
  ++wq.nr_running;
}

void create_worker_cb(Sched& s, io_wq& wq, io_worker& w) {
  w.create_pending = false;
  if (wq.nr_workers < wq.max_workers) {
    ++wq.nr_workers;
    ++wq.stats.created_from_tw;
    create_io_worker(s, wq);
  } else {
    --wq.nr_running;  // the creation this count was held for will not happen
    s.note("io-wq", "create_worker_cb: at max_workers {}, no worker created", wq.max_workers);
  }
}

void io_queue_worker_create(Sched& s, io_wq& wq, io_worker& w) {
  if (w.create_pending) {  // one queued create per worker
    --wq.nr_running;
    return;
  }
  w.create_pending = true;
  ++wq.stats.create_requests;
  s.note("io-wq", "iou-wrk-{} sleeps with work queued and none running: io_queue_worker_create", w.index);
  io_wq* wqp = &wq;
  io_worker* wp = &w;
  Sched* sp = &s;
  callback_head cb{"create_worker_cb", [sp, wqp, wp]() -> Co<> {
                     create_worker_cb(*sp, *wqp, *wp);
                     co_return;
                   }};
  // Always TWA_SIGNAL, whatever the ring's notify_method.
  if (!task_work_add(s, wq.tw, wq.task, std::move(cb), task_work_notify_mode::twa_signal)) {
    w.create_pending = false;
    --wq.nr_running;
  }
}

void io_wq_worker_sleeping(Sched& s, io_wq& wq, io_worker& w) {
  if (!w.running) return;
  w.running = false;
  // io_wq_dec_running
  if (--wq.nr_running) return;
  if (wq.work_list.empty()) return;  // io_acct_run_queue
  ++wq.nr_running;
  io_queue_worker_create(s, wq, w);
}

void create_io_worker(Sched& s, io_wq& wq) {
  auto w = std::make_unique<io_worker>();
  w->index = static_cast<int>(wq.workers.size()) + 1;
  io_worker& ref = *w;
  wq.workers.push_back(std::move(w));
  // create_io_thread: a PF_IO_WORKER thread of the submitter; counted as running from birth.
  // Concatenated, not fmt::format'ed: the same name at a fifth of the cost, twice a schedule.
  ref.task = s.spawn("iou-wrk-" + std::to_string(ref.index), TaskKind::iowq, io_wq_worker(s, wq, ref), true,
                     "io_wq_worker");
  io_wq* wqp = &wq;
  io_worker* wp = &ref;
  Sched* sp = &s;
  s.task(ref.task).on_sleep = [sp, wqp, wp] { io_wq_worker_sleeping(*sp, *wqp, *wp); };
  s.task(ref.task).on_running = [wqp, wp] { io_wq_worker_running(*wqp, *wp); };
  s.note("io-wq", "create_io_worker: iou-wrk-{} (nr_workers {})", ref.index, wq.nr_workers);
}

bool io_wq_activate_free_worker(Sched& s, io_wq& wq) {
  for (auto& w : wq.workers) {
    if (!w->free) continue;
    w->idle.wake_up_all(s);  // wake_up_process; it leaves the free list when it takes work
    return true;
  }
  return false;
}

}  // namespace

io_wq::io_wq(task_works& t, TaskId submitter, uint32_t max)
    : tw(t), task(submitter), max_workers(max ? max : UINT32_MAX) {}

void io_wq_enqueue(Sched& s, io_wq& wq, io_wq_work work) {
  const bool concurrent = work.concurrent;
  s.note("io-wq", "io_wq_enqueue: {}", work.name);
  wq.work_list.push_back(std::make_unique<io_wq_work>(std::move(work)));
  if (io_wq_activate_free_worker(s, wq)) return;
  if (!concurrent && wq.nr_running) return;
  // io_wq_create_worker, inline in the submitter: no task work, no signal.
  if (wq.nr_workers >= wq.max_workers) return;
  ++wq.nr_workers;
  ++wq.nr_running;
  ++wq.stats.created_inline;
  create_io_worker(s, wq);
}

}  // namespace kpsim::model
