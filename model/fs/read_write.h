// fs/read_write.c do_sendfile (kernel 6.12): sendfile(2) from a page-cache file into a socket
// (do_splice_direct → splice_direct_to_actor, fs/splice.h). No EOF inside the request, so
// do_splice_eof is not reached.
#pragma once

#include "model/fs/splice.h"

namespace kpsim::model {

// Returns bytes sent or a negative error. `pos` is the file offset (advanced).
Co<int64_t> do_sendfile(Sched& s, socket& out, uint64_t& pos, uint64_t count, splice_stats& st);

}  // namespace kpsim::model
