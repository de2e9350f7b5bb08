// The runner's workloads, one per file, each taking one parsed configuration and returning its
// KPSIM-RESULT object (always with "ok", and "error" when ok is false). main.cpp dispatches.
#pragma once

#include <string>

#include "config.h"

namespace kpsim::guest {

// mode=ktls-sendfile-stall: seed 001, sendfile/write into kTLS at a large MSS (sendfile_stall.cpp).
std::string run_sendfile_stall(const KV& kv);

// mode=ktls-async-close: seed 002 as it happens by itself, io_uring splices then close
// (async_close.cpp).
std::string run_async_close(const KV& kv);

// mode=ktls-async-close,force=window: seed 002's window built step by step
// (async_close_forced.cpp).
std::string run_async_close_forced(const KV& kv);

}  // namespace kpsim::guest
