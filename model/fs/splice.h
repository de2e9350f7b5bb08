// sendfile(2) into a socket (fs/read_write.c do_sendfile, fs/splice.c do_splice_direct →
// splice_direct_to_actor → direct_splice_actor → splice_to_socket, do_splice_eof; kernel 6.12).
//
// The input is a page-cache file read into the task's internal 16-buffer pipe (64 KiB with
// 4 KiB pages); SPLICE_F_MORE is set on every actor call but the one that completes the
// request, and splice_to_socket turns it into MSG_MORE next to MSG_SPLICE_PAGES.
#pragma once

#include "model/net/socket.h"

namespace kpsim::model {

inline constexpr int kSPLICE_F_NONBLOCK = 0x02;
inline constexpr int kSPLICE_F_MORE = 0x04;
inline constexpr uint32_t kPIPE_DEF_BUFFERS = 16;
inline constexpr uint32_t kPageSize = 4096;

struct splice_stats {
  uint64_t actor_calls = 0;     // splice_to_socket calls
  uint64_t calls_with_more = 0;
};

// Returns bytes sent or a negative error. `pos` is the file offset (advanced).
Co<int64_t> do_sendfile(Sched& s, socket& out, uint64_t& pos, uint64_t count, splice_stats& st);
Co<int64_t> splice_direct_to_actor(Sched& s, socket& out, uint64_t& pos, uint64_t len, int flags,
                                   splice_stats& st);
// Sends `len` bytes held in pipe buffers starting at file offset `pos`.
Co<int64_t> splice_to_socket(Sched& s, socket& out, uint64_t pos, uint64_t len, int flags);

}  // namespace kpsim::model
