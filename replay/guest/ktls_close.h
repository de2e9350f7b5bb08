// The keys both seed-002 workloads (async_close.cpp, async_close_forced.cpp) read the same way:
// how many runs, which AEAD kTLS gets, how the ring notifies, the sender's buffer, the TLS
// version. Only the defaults of runs and sndbuf differ between them.
#pragma once

#include "config.h"

namespace kpsim::guest {

struct CloseCommon {
  long long runs = 0;          // runs of the configuration, each on fresh sockets and a fresh ring
  bool cryptd = true;          // bind cryptd(gcm(aes)) first so kTLS gets an async AEAD (ktls.h)
  bool defer_taskrun = false;  // ring with IORING_SETUP_DEFER_TASKRUN (io_uring_ring.h)
  long long sndbuf = 0;        // SO_SNDBUF of the kTLS socket (0: the default)
  int tls = 13;                // TLS_TX version: 13 or 12
};

// Reads runs, cryptd (default 1), defer_taskrun (0), sndbuf and tls (13) into c.
inline void parse_close_common(const KV& kv, long long runs_default, long long sndbuf_default,
                               CloseCommon& c) {
  c.runs = get_num(kv, "runs", runs_default);
  c.cryptd = get_num(kv, "cryptd", 1) != 0;
  c.defer_taskrun = get_num(kv, "defer_taskrun", 0) != 0;
  c.sndbuf = get_num(kv, "sndbuf", sndbuf_default);
  c.tls = static_cast<int>(get_num(kv, "tls", 13));
}

}  // namespace kpsim::guest
