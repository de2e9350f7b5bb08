// ktls-sendfile-stall on Debian kernels in a qemu guest (mode=ktls-sendfile-stall of
// replay/guest/kpsim_guest_runner.cpp): how the scenario's parameters become the runner's, and
// the cells a cross-check compares. The judging is in ktls_sendfile_stall_kernel.cpp.
#pragma once

#include <string>
#include <vector>

#include "scenarios/kernel_side.h"

namespace kpsim {

// The runner configuration that reproduces `p`. Reproduced: mss (the model's mss_cache; the
// guest sets TCP_MAXSEG = mss + the timestamp option on the listener, or nothing for the
// loopback default), notsent_lowat (the sysctl; the disabled value leaves the kernel's
// default), bytes, call_bytes (the runner's chunk), api, tls. Refused: sndbuf, nodelay (the
// runner sets neither), fix (the Debian kernels carry none), an mss above TCP_MAXSEG's limit,
// and call sizes the guest's unlooped file cannot repeat. Throws ParamError.
std::string stall_guest_config(const Scenario& sc, const Params& p);

// MSS {loopback default, the report's TCP_MAXSEG 1448} x notsent_lowat {disabled, the report's
// 16384}, in that order; a parameter the user set with --set is not varied.
std::vector<Params> stall_crosscheck_cells(const KernelRequest& r);

}  // namespace kpsim
