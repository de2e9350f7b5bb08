// A minimal io_uring: io_uring_setup/io_uring_enter by raw syscall and the three mmapped
// regions, no liburing (the runner is a static binary in an initramfs, and seed 002 needs
// nothing beyond a handful of opcodes).
//
// Single-threaded use only: the submitting thread is the one whose task work and final fput
// the ktls-async-close workloads are about, so one thread owns the ring and nothing else
// touches it. No SQPOLL: the kernel reads the SQ only inside io_uring_enter.
#pragma once

#include <linux/io_uring.h>
#include <linux/time_types.h>

#include <cstddef>
#include <string>

#include "posix.h"

namespace kpsim::guest {

// The user_data of every request the workloads submit. io_uring's tracepoints print them
// (docs/guest.md quotes "user_data 0x1 SPLICE", "0x3 CLOSE", "0x5 READ"), so the numbers stay.
inline constexpr __u64 kUserDataSplice = 1;          // IORING_OP_SPLICE pipe -> kTLS socket
inline constexpr __u64 kUserDataRaceTimeout = 2;     // natural close: timeouts beside the close
inline constexpr __u64 kUserDataClose = 3;           // force=window: IORING_OP_CLOSE of the socket
inline constexpr __u64 kUserDataTriggerRead = 5;     // force=window trigger=pipe: the pipe read
inline constexpr __u64 kUserDataTriggerTimeout = 6;  // force=window trigger=timeout

// SQ/CQ size: the workloads never have more than a few requests in flight.
inline constexpr unsigned kRingEntries = 16;

// Not copyable (it owns its fd and mappings): one ring per run.
class Ring {
 public:
  ~Ring();

  // io_uring_setup with kRingEntries and maps the rings. defer_taskrun adds
  // IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN: completions then wait in
  // ctx->work_llist instead of being queued as TWA_SIGNAL task work.
  bool init(bool defer_taskrun, std::string& err);
  // The same with any io_uring_setup flags (the host script runner: 0, COOP_TASKRUN, or
  // SINGLE_ISSUER | DEFER_TASKRUN).
  bool init_flags(unsigned setup_flags, std::string& err);

  // The next SQE, zeroed and already counted in the SQ tail (fill it before enter()).
  io_uring_sqe* get();

  // io_uring_enter(submit, wait_nr), GETEVENTS when wait_nr > 0; its return value (-1, errno).
  int enter(unsigned submit, unsigned wait_nr);

  // Pops one CQE if there is one.
  bool pop(io_uring_cqe& out);

  // Pops one CQE, waiting in io_uring_enter (EINTR retried); false, out untouched, when the
  // wait fails otherwise.
  bool wait(io_uring_cqe& out);

  // The SQEs the workloads use, each filled in and counted (submitted by the next enter()).
  void queue_splice(int fd_in, int fd_out, unsigned len, unsigned splice_flags, __u64 user_data);
  void queue_timeout(const __kernel_timespec* ts, __u64 user_data);  // count 0: a pure timeout
  void queue_read(int fd, void* buf, unsigned len, __u64 user_data);
  void queue_send(int fd, const void* buf, unsigned len, int msg_flags, __u64 user_data);
  void queue_close(int fd, __u64 user_data);

 private:
  Fd fd_;
  void* sq_ = nullptr;
  void* cq_ = nullptr;
  size_t sq_len_ = 0, cq_len_ = 0, sqe_len_ = 0;
  bool single_mmap_ = false;  // IORING_FEAT_SINGLE_MMAP: SQ and CQ share one mapping
  io_uring_sqe* sqes_ = nullptr;
  unsigned *sq_tail_ = nullptr, *sq_mask_ = nullptr, *sq_array_ = nullptr;
  unsigned *cq_head_ = nullptr, *cq_tail_ = nullptr, *cq_mask_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
};

}  // namespace kpsim::guest
