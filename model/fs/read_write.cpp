// fs/read_write.c do_sendfile (kernel 6.12): see read_write.h.
#include "model/fs/read_write.h"

#include <algorithm>

namespace kpsim::model {

Co<int64_t> do_sendfile(Sched& s, socket& out, uint64_t& pos, uint64_t count, splice_stats& st) {
  const uint64_t max_rw_count = 0x7ffff000;  // MAX_RW_COUNT: INT_MAX & PAGE_MASK
  count = std::min(count, max_rw_count);
  // The input is a regular file: never SPLICE_F_NONBLOCK.
  co_return co_await splice_direct_to_actor(s, out, pos, count, 0, st);
}

}  // namespace kpsim::model
