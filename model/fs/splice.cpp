// fs/read_write.c do_sendfile and fs/splice.c splice_direct_to_actor / splice_to_socket
// (kernel 6.12): see splice.h.
#include "model/fs/splice.h"

#include <algorithm>

#include "model/include/linux/errno.h"

namespace kpsim::model {

Co<int64_t> splice_to_socket(Sched& s, socket& out, uint64_t pos, uint64_t len, int flags) {
  int64_t spliced = 0;
  int64_t ret = 0;
  while (len > 0) {
    if (s.current().signal_pending()) {
      ret = -kerr::erestartsys;
      break;
    }
    // Up to 16 bio_vecs from consecutive pipe buffers (each at most one page, split at page
    // boundaries of the file offset).
    uint64_t batch = 0;
    uint32_t bufs = 0;
    for (uint64_t p = pos; bufs < kPIPE_DEF_BUFFERS && batch < len; ++bufs) {
      const uint64_t in_page = kPageSize - p % kPageSize;
      const uint64_t take = std::min(in_page, len - batch);
      batch += take;
      p += take;
    }
    msghdr msg;
    msg.left = batch;
    msg.iter = iter_type::bvec;
    msg.flags = kMSG_SPLICE_PAGES;
    if (flags & kSPLICE_F_MORE) msg.flags |= kMSG_MORE;
    if (batch < len) msg.flags |= kMSG_MORE;  // more pipe buffers beyond this batch
    if (out.o_nonblock) msg.flags |= kMSG_DONTWAIT;
    s.note("splice", "splice_to_socket: sock_sendmsg {} B [{}]", batch, msg_flags_str(msg.flags));
    ret = co_await sock_sendmsg(s, out, msg);
    if (ret <= 0) break;
    spliced += ret;
    pos += static_cast<uint64_t>(ret);
    len -= static_cast<uint64_t>(ret);
    if (static_cast<uint64_t>(ret) < batch) break;  // short send: the rest stays in the pipe
  }
  co_return spliced ? spliced : ret;
}

Co<int64_t> splice_direct_to_actor(Sched& s, socket& out, uint64_t& pos, uint64_t len, int flags,
                                   splice_stats& st) {
  const bool more = flags & kSPLICE_F_MORE;  // the caller's own MORE
  flags &= ~kSPLICE_F_NONBLOCK;
  flags |= kSPLICE_F_MORE;
  int64_t bytes = 0;
  int64_t ret = 0;
  while (len) {
    // do_splice_read into the empty internal pipe: at most 16 pages (64 KiB for a
    // page-aligned offset), split at page boundaries.
    uint64_t read_len = 0;
    for (uint32_t b = 0; b < kPIPE_DEF_BUFFERS && read_len < len; ++b)
      read_len += std::min(kPageSize - (pos + read_len) % kPageSize, len - read_len);
    // The chunk that fulfils the request goes without MORE unless the caller asked for it.
    if (read_len >= len && !more) flags &= ~kSPLICE_F_MORE;
    ++st.actor_calls;
    if (flags & kSPLICE_F_MORE) ++st.calls_with_more;
    // Between two actor calls the task may be preempted; nothing is held here.
    co_await s.point("splice_to_socket");
    ret = co_await splice_to_socket(s, out, pos, read_len, flags);
    if (ret <= 0) break;
    bytes += ret;
    pos += static_cast<uint64_t>(ret);
    len -= static_cast<uint64_t>(ret);
    if (static_cast<uint64_t>(ret) < read_len) break;
  }
  co_return bytes ? bytes : ret;
}

Co<int64_t> do_sendfile(Sched& s, socket& out, uint64_t& pos, uint64_t count, splice_stats& st) {
  const uint64_t max_rw_count = 0x7ffff000;  // MAX_RW_COUNT: INT_MAX & PAGE_MASK
  count = std::min(count, max_rw_count);
  // The input is a regular file: never SPLICE_F_NONBLOCK. No EOF inside the request, so
  // do_splice_eof is not reached.
  co_return co_await splice_direct_to_actor(s, out, pos, count, 0, st);
}

}  // namespace kpsim::model
