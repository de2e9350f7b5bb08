// struct pipe_inode_info (include/linux/pipe_fs_i.h, kernel 6.12), reduced to its ring of page
// buffers and the two wait queues; the SPLICE_F_* flags (include/linux/splice.h).
//
// The same pipe serves both splice paths: a user pipe between two splice(2) calls (the
// webserver's file → pipe → kTLS socket, seed 002) and the task's internal pipe
// (current->splice_pipe) that sendfile(2) reads the file into (seed 001).
#pragma once

#include <cstdint>
#include <numeric>

#include "sched/ring_queue.h"
#include "sched/waitqueue.h"

namespace kpsim::model {

inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kPIPE_DEF_BUFFERS = 16;
inline constexpr int kSPLICE_F_NONBLOCK = 0x02;
inline constexpr int kSPLICE_F_MORE = 0x04;

struct pipe_inode_info {
  RingQueue<uint32_t> bufs;  // bytes in each buffer (one page at most), oldest first
  uint32_t max_usage = kPIPE_DEF_BUFFERS;  // Invariant: bufs.size() <= max_usage
  WaitQueue rd_wait, wr_wait;
  uint64_t bytes() const { return std::accumulate(bufs.begin(), bufs.end(), uint64_t{0}); }
  bool full() const { return bufs.size() >= max_usage; }
};

}  // namespace kpsim::model
