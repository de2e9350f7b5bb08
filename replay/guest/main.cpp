// kpsim-guest-runner: the workload that runs *inside* the qemu guest (scripts/guest/boot,
// docs/guest.md).
//
// The host kernel of this project has no kTLS, so the kTLS scenarios are replayed on Debian
// kernels booted under qemu TCG. This program is the guest's only workload: it is linked
// statically (the initramfs has no libc), takes one configuration per argument and prints one
// machine-readable line per configuration on stdout (the serial console):
//
//     KPSIM-RESULT {"mode":"ktls-sendfile-stall", ...}
//
// Configurations are comma-separated key=value lists (config.h), e.g.
//     mode=ktls-sendfile-stall,mss=1448,lowat=16384,bytes=4194304,api=sendfile
// Several configurations run one after the other in the same boot, because under TCG absolute
// times mean nothing; only ratios within one boot do. The exit status is 1 when any result
// has "ok":false.
//
// Modes (each file documents its keys):
//   ktls-sendfile-stall  seed 001, "TLS_SW sendfile() stalls at large MSS" (sendfile_stall.cpp)
//   ktls-async-close     seed 002, "io_uring splice and KTLS": splices into a kTLS socket,
//                        close, count what the client received (async_close.cpp); with
//                        force=window the model's counterexample built deterministically
//                        (async_close_forced.cpp, close_watcher.h).
// The pieces they share: loopback.h (the TCP pair), ktls.h (TLS_TX, record sizes),
// io_uring_ring.h (raw io_uring, request user_data), procfs.h, tracefs.h, json.h, posix.h.
#include <signal.h>

#include <cstdio>
#include <string>

#include "config.h"
#include "json.h"
#include "workloads.h"

namespace {

// Only there to interrupt a blocking send of ktls-sendfile-stall (installed without
// SA_RESTART, so the send returns EINTR or a short count).
void on_sigusr1(int) {}

}  // namespace

int main(int argc, char** argv) {
  using namespace kpsim::guest;
  // A peer that went away must show up as EPIPE, not kill the runner (and with it the guest's
  // only workload) silently.
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_sigusr1;
  sigaction(SIGUSR1, &sa, nullptr);
  setvbuf(stdout, nullptr, _IOLBF, 0);

  if (argc < 2 || std::string(argv[1]) == "--help") {
    fprintf(stderr,
            "usage: %s CONFIG...\n  CONFIG = mode=ktls-sendfile-stall|ktls-async-close,key=value,...\n",
            argv[0]);
    return 2;
  }
  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    KV kv = parse_config(argv[i]);
    std::string mode = get_str(kv, "mode", "ktls-sendfile-stall");
    std::string out;
    if (mode == "ktls-sendfile-stall") out = run_sendfile_stall(kv);
    else if (mode == "ktls-async-close")
      out = kv.count("force") ? run_async_close_forced(kv) : run_async_close(kv);
    else out = Json().s("mode", mode).raw("config", kv_json(kv)).failed("unknown mode");
    if (out.find("\"ok\":true") == std::string::npos) failures++;
    emit_result(out);
  }
  return failures ? 1 : 0;
}
