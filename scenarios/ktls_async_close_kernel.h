// ktls-async-close on Debian kernels in a qemu guest, with the model's window forced
// (mode=ktls-async-close,force=window of replay/guest/kpsim_guest_runner.cpp; docs/guest.md):
// how the scenario's parameters become the runner's, and the cells a cross-check compares.
// The judging is in ktls_async_close_kernel.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/kernel_side.h"

namespace kpsim {

// Harness settings of one guest configuration; not model parameters.
struct CloseGuestRuns {
  uint64_t runs = 5;                       // forced runs of the configuration
  std::optional<uint64_t> client_wait_ms;  // how long the paused client waits at most (nullopt: the runner's 4 s)
};

// The runner configuration that reproduces `p`.
//   Reproduced: io (uring: a default ring; uring-defer: SINGLE_ISSUER|DEFER_TASKRUN), crypto
//   (async: cryptd=1, sync: cryptd=0), bytes (whole 16384-byte records: records=N), sndbuf,
//   more, tls (1.3, 1.2).
//   Refused: io=uring-coop (no COOP_TASKRUN ring in the runner) and io=plain (the window needs a
//   ring), tls=none (the window is kTLS's close-time flush), bytes that are not whole records,
//   kernel=6.6 (no 6.6 guest), fix (the Debian kernels carry none), and any value but the
//   default of the parameters the forced window replaces with its own construction: the
//   client's rcvbuf, read_bytes, read_ms (the guest pauses its client), mss (loopback's own),
//   others, others_at, iowq_max (the guest's ring carries nothing else).
// Throws ParamError naming the parameter.
std::string close_guest_config(const Scenario& sc, const Params& p, const CloseGuestRuns& runs);

// One cross-check cell: the model's parameters and the guest configuration that stands for them.
struct CloseCell {
  std::string what;  // "default ring, async crypto, MSG_MORE"
  Params params;
  std::string guest_config;
};

// The request's parameters (defaults + --set), and for each of DEFER_TASKRUN (io=uring-defer)
// and no MSG_MORE (more=0) a cell that differs in that one parameter, unless the user fixed it
// with --set. No --set: the three pairings of docs/crosscheck.md §6. --runs sets every cell's
// runs (default: 5 for the first cell, 3 for the others).
std::vector<CloseCell> close_crosscheck_cells(const Scenario& sc, const KernelRequest& r);

}  // namespace kpsim
