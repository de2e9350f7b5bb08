// fs/pipe.c and fs/splice.c pipe paths (kernel 6.12): see pipe.h.
#include "model/fs/pipe.h"

#include <algorithm>
#include <numeric>

#include "model/include/linux/errno.h"

namespace kpsim::model {

uint64_t pipe_inode_info::bytes() const { return std::accumulate(bufs.begin(), bufs.end(), uint64_t{0}); }

Co<int64_t> splice_file_to_pipe(Sched& s, pipe_inode_info& pipe, uint64_t& pos, uint64_t len) {
  while (pipe.bufs.size() >= pipe.max_usage) {  // wait_for_space → pipe_wait_writable
    if (s.current().signal_pending()) co_return -kerr::erestartsys;
    co_await pipe.wr_wait.sleep(s, "pipe_wait_writable: woken", true);
  }
  uint64_t moved = 0;
  while (moved < len && pipe.bufs.size() < pipe.max_usage) {
    const uint64_t take = std::min<uint64_t>(kPageSize - pos % kPageSize, len - moved);
    pipe.bufs.push_back(static_cast<uint32_t>(take));
    pos += take;
    moved += take;
  }
  s.note("pipe", "filemap_splice_read: +{} B, {} buffers in the pipe", moved, pipe.bufs.size());
  pipe.rd_wait.wake_up_all(s);
  co_return static_cast<int64_t>(moved);
}

Co<int64_t> splice_to_socket(Sched& s, pipe_inode_info& pipe, socket& out, uint64_t len, int flags) {
  int64_t spliced = 0;
  int64_t ret = 0;
  while (len > 0) {
    if (s.current().signal_pending()) {
      ret = -kerr::erestartsys;
      break;
    }
    while (pipe.bufs.empty()) {
      if (spliced) co_return spliced;
      if (flags & kSPLICE_F_NONBLOCK) co_return -kerr::eagain;
      if (s.current().signal_pending()) co_return -kerr::erestartsys;
      co_await pipe.rd_wait.sleep(s, "pipe_wait_readable: woken", true);
    }
    uint64_t batch = 0;
    size_t nbufs = 0;
    for (; nbufs < pipe.bufs.size() && nbufs < kPIPE_DEF_BUFFERS && batch < len; ++nbufs)
      batch += std::min<uint64_t>(pipe.bufs[nbufs], len - batch);
    const uint64_t remain = len - batch;
    msghdr msg;
    msg.left = batch;
    msg.iter = iter_type::bvec;
    msg.flags = kMSG_SPLICE_PAGES;
    if (flags & kSPLICE_F_MORE) msg.flags |= kMSG_MORE;
    if (remain && pipe.bufs.size() > nbufs) msg.flags |= kMSG_MORE;
    if (out.o_nonblock) msg.flags |= kMSG_DONTWAIT;
    s.note("splice", "splice_to_socket: sock_sendmsg {} B [{}]", batch, msg_flags_str(msg.flags));
    ret = co_await sock_sendmsg(s, out, msg);
    if (ret <= 0) break;
    spliced += ret;
    len -= static_cast<uint64_t>(ret);
    // Consume what the socket took and wake writers.
    for (uint64_t left = static_cast<uint64_t>(ret); left;) {
      const uint64_t take = std::min<uint64_t>(left, pipe.bufs.front());
      pipe.bufs.front() -= static_cast<uint32_t>(take);
      if (!pipe.bufs.front()) pipe.bufs.pop_front();
      left -= take;
    }
    pipe.wr_wait.wake_up_all(s);
  }
  co_return spliced ? spliced : ret;
}

}  // namespace kpsim::model
