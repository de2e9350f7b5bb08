// mm/filemap.c filemap_splice_read (kernel 6.12): see filemap.h.
#include "model/mm/filemap.h"

#include <algorithm>

namespace kpsim::model {

uint64_t filemap_splice_read(Sched& s, pipe_inode_info& pipe, uint64_t& pos, uint64_t len) {
  uint64_t moved = 0;
  while (moved < len && !pipe.full()) {
    const uint64_t take = std::min<uint64_t>(kPageSize - pos % kPageSize, len - moved);
    pipe.bufs.push_back(static_cast<uint32_t>(take));
    pos += take;
    moved += take;
  }
  s.note("pipe", "filemap_splice_read: +{} B, {} buffers in the pipe", moved, pipe.bufs.size());
  pipe.rd_wait.wake_up_all(s);
  return moved;
}

}  // namespace kpsim::model
