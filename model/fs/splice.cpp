// fs/splice.c splice_file_to_pipe, splice_to_socket, splice_direct_to_actor (kernel 6.12), and
// 6.1's generic_splice_sendpage and pipe_to_sendpage: see splice.h.
#include "model/fs/splice.h"

#include <algorithm>

#include "model/fs/pipe.h"
#include "model/include/linux/errno.h"
#include "model/include/linux/tcp.h"
#include "model/mm/filemap.h"

namespace kpsim::model {

Co<int64_t> splice_file_to_pipe(Sched& s, pipe_inode_info& pipe, uint64_t& pos, uint64_t len) {
  if (int err = co_await pipe_wait_writable(s, pipe)) co_return err;  // wait_for_space
  co_return static_cast<int64_t>(filemap_splice_read(s, pipe, pos, len));
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
      co_await pipe_wait_readable(s, pipe);
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
    s.note("splice", "splice_to_socket: sock_sendmsg {} B [{}]", batch, msg_flags_names{msg.flags});
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

Co<int64_t> pipe_to_sendpage(Sched& s, socket& out, uint64_t len, uint64_t total_len, size_t occupancy, int flags) {
  int more = (flags & kSPLICE_F_MORE) ? kMSG_MORE : 0;
  if (len < total_len && occupancy > 1) more |= kMSG_SENDPAGE_NOTLAST;
  if (out.o_nonblock) more |= kMSG_DONTWAIT;  // sock_sendpage
  co_return co_await out.sendpage(s, len, more);
}

Co<int64_t> generic_splice_sendpage(Sched& s, pipe_inode_info& pipe, socket& out, uint64_t len, int flags) {
  int64_t spliced = 0;  // sd->num_spliced
  uint64_t total_len = len;
  while (total_len > 0) {
    // splice_from_pipe_next
    if (s.current().signal_pending()) co_return spliced ? spliced : -kerr::erestartsys;
    while (pipe.bufs.empty()) {
      if (spliced) co_return spliced;
      if (flags & kSPLICE_F_NONBLOCK) co_return -kerr::eagain;
      if (s.current().signal_pending()) co_return -kerr::erestartsys;
      co_await pipe_wait_readable(s, pipe);
    }
    // splice_from_pipe_feed: the head buffer, at most what the request still wants.
    const uint64_t buf_len = std::min<uint64_t>(pipe.bufs.front(), total_len);
    s.note("splice", "pipe_to_sendpage: {} B{}", buf_len,
           buf_len < total_len && pipe.bufs.size() > 1 ? " [SENDPAGE_NOTLAST]" : "");
    const int64_t ret = co_await pipe_to_sendpage(s, out, buf_len, total_len, pipe.bufs.size(), flags);
    if (ret <= 0) co_return spliced ? spliced : ret;
    pipe.bufs.front() -= static_cast<uint32_t>(ret);
    if (!pipe.bufs.front()) pipe.bufs.pop_front();
    spliced += ret;
    total_len -= static_cast<uint64_t>(ret);
    pipe.wr_wait.wake_up_all(s);
  }
  co_return spliced;
}

Co<int64_t> splice_direct_to_actor(Sched& s, socket& out, uint64_t& pos, uint64_t len, int flags,
                                   splice_stats& st) {
  const bool more = flags & kSPLICE_F_MORE;  // the caller's own MORE
  flags &= ~kSPLICE_F_NONBLOCK;
  flags |= kSPLICE_F_MORE;
  pipe_inode_info pipe;  // current->splice_pipe: empty at every actor call
  int64_t bytes = 0;
  int64_t ret = 0;
  while (len) {
    const uint64_t prev_pos = pos;
    // do_splice_read into the empty internal pipe: at most its 16 buffers.
    const uint64_t read_len = filemap_splice_read(s, pipe, pos, len);
    // The chunk that fulfils the request goes without MORE unless the caller asked for it.
    if (read_len >= len && !more) flags &= ~kSPLICE_F_MORE;
    ++st.actor_calls;
    if (flags & kSPLICE_F_MORE) ++st.calls_with_more;
    // Between two actor calls the task may be preempted; nothing is held here.
    const bool sendpage = out.sk->kc->version == kernel_version::v6_1;
    co_await s.point(sendpage ? "generic_splice_sendpage" : "splice_to_socket");
    // direct_splice_actor → the socket file's splice_write: splice_to_socket since 6.5,
    // generic_splice_sendpage (a page at a time through ->sendpage) before.
    if (sendpage)
      ret = co_await generic_splice_sendpage(s, pipe, out, read_len, flags);
    else
      ret = co_await splice_to_socket(s, pipe, out, read_len, flags);
    // What the socket did not take is dropped with the pipe (out_release); the file offset
    // says how far the request got.
    pos = prev_pos + static_cast<uint64_t>(std::max<int64_t>(ret, 0));
    pipe.bufs.clear();
    if (ret <= 0) break;
    bytes += ret;
    len -= static_cast<uint64_t>(ret);
    if (static_cast<uint64_t>(ret) < read_len) break;
  }
  co_return bytes ? bytes : ret;
}

}  // namespace kpsim::model
