// mm/filemap.c filemap_splice_read (kernel 6.12): a page-cache file read into a pipe.
#pragma once

#include <cstdint>

#include "model/include/linux/pipe_fs_i.h"
#include "sched/sched.h"

namespace kpsim::model {

// Fills the pipe's free buffers from the file at `pos` in one go (page-sized pieces, split at
// page boundaries of the file offset), advances `pos` and wakes readers. Never sleeps: a full
// pipe is the caller's to wait for. Returns the bytes moved.
uint64_t filemap_splice_read(Sched& s, pipe_inode_info& pipe, uint64_t& pos, uint64_t len);

}  // namespace kpsim::model
