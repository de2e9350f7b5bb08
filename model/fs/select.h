// select(2) for readability on one socket with a timeout (fs/select.c do_select → sock_poll →
// udp_poll / tcp_poll, whose readability includes sk_is_readable: a psock's ingress_msg;
// kernel 6.12).
#pragma once

#include <cstdint>

#include "model/include/net/sock.h"
#include "sched/co.h"

namespace kpsim::model {

// true when readable, false on timeout or a signal.
Co<bool> do_select(Sched& s, sock& sk, uint64_t timeout_ns);

}  // namespace kpsim::model
