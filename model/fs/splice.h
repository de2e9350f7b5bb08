// fs/splice.c (kernel 6.12): splice_file_to_pipe (splice(2) from a file into a pipe),
// splice_to_socket (a pipe into a socket: splice(2) and sendfile's actor), and
// splice_direct_to_actor (sendfile: the file through the task's internal pipe into the socket).
//
// splice_to_socket sends up to 16 pipe buffers per sock_sendmsg(MSG_SPLICE_PAGES), with
// MSG_MORE when the caller passed SPLICE_F_MORE or more of the request waits in the pipe.
// splice_direct_to_actor sets SPLICE_F_MORE on every actor call but the one that completes the
// request (unless its caller asked for MORE).
#pragma once

#include "model/include/linux/pipe_fs_i.h"
#include "model/net/socket.h"

namespace kpsim::model {

struct splice_stats {
  uint64_t actor_calls = 0;     // splice_to_socket calls from splice_direct_to_actor
  uint64_t calls_with_more = 0;
};

// file → pipe: waits (interruptibly) while the pipe is full, then filemap_splice_read.
// Returns bytes moved, or -ERESTARTSYS.
Co<int64_t> splice_file_to_pipe(Sched& s, pipe_inode_info& pipe, uint64_t& pos, uint64_t len);
// pipe → socket: waits while the pipe is empty unless something was spliced already. Returns
// bytes or a negative error.
Co<int64_t> splice_to_socket(Sched& s, pipe_inode_info& pipe, socket& out, uint64_t len, int flags);
// Kernel 6.1's socket splice_write, generic_splice_sendpage = splice_from_pipe with the
// pipe_to_sendpage actor: each pipe buffer to ->sendpage, MSG_MORE for SPLICE_F_MORE, and
// MSG_SENDPAGE_NOTLAST while the buffer is not the request's last and more buffers are queued.
Co<int64_t> pipe_to_sendpage(Sched& s, socket& out, uint64_t len, uint64_t total_len, size_t occupancy, int flags);
Co<int64_t> generic_splice_sendpage(Sched& s, pipe_inode_info& pipe, socket& out, uint64_t len, int flags);
// `pos` is the file offset (advanced by what the socket took). The actor is splice_to_socket,
// or generic_splice_sendpage on kernel 6.1.
Co<int64_t> splice_direct_to_actor(Sched& s, socket& out, uint64_t& pos, uint64_t len, int flags,
                                   splice_stats& st);

}  // namespace kpsim::model
