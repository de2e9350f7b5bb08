// A pipe between two splices (fs/pipe.c, fs/splice.c, include/linux/pipe_fs_i.h; kernel 6.12):
// the ring of PIPE_DEF_BUFFERS page buffers, pipe_wait_readable / pipe_wait_writable,
// splice_file_to_pipe (filemap_splice_read from a page-cache file) and splice_to_socket reading
// from a pipe that another task fills — the webserver's file → pipe → kTLS socket.
#pragma once

#include <deque>

#include "model/net/socket.h"
#include "model/fs/splice.h"
#include "sched/waitqueue.h"

namespace kpsim::model {

struct pipe_inode_info {
  std::deque<uint32_t> bufs;  // bytes in each buffer (one page at most), oldest first
  uint32_t max_usage = kPIPE_DEF_BUFFERS;  // Invariant: bufs.size() <= max_usage
  WaitQueue rd_wait, wr_wait;
  uint64_t bytes() const;
};

// file → pipe: waits (interruptibly) while the pipe is full, then fills the free buffers from
// the file at `pos` in one go (page-sized, split at page boundaries) and wakes readers.
// Returns bytes moved, or -ERESTARTSYS.
Co<int64_t> splice_file_to_pipe(Sched& s, pipe_inode_info& pipe, uint64_t& pos, uint64_t len);
// pipe → socket: up to 16 buffers per sock_sendmsg(MSG_SPLICE_PAGES [| MSG_MORE]); waits while
// the pipe is empty unless something was spliced already. Returns bytes or a negative error.
Co<int64_t> splice_to_socket(Sched& s, pipe_inode_info& pipe, socket& out, uint64_t len, int flags);

}  // namespace kpsim::model
