// kpsim-guest-runner: the workload that runs *inside* the qemu guest (scripts/guest/boot,
// docs/guest.md).
//
// The host kernel of this project has no kTLS, so the scripts that use it are run on Debian
// kernels booted under qemu TCG. This program is the guest's only workload: it is linked
// statically (the initramfs has no libc), reads a jobs file - one scenario script job per line
// (script_exec.h) - and prints one machine-readable line per job on stdout (the serial
// console):
//
//     KPSIM-RESULT {"id":"0","script":"ktls-async-close", ...}
//
// It parses each script with the same parser as the model (scenarios/script/script.h) and runs
// it with real syscalls (script_exec.cpp). Every job of a batch runs in the same boot, because
// under TCG absolute times mean nothing; only ratios within one boot do. The exit status is 1
// when any result has "ok":false.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "json.h"
#include "script_exec.h"

int main(int argc, char** argv) {
  using namespace kpsim::guest;
  // A peer that went away must show up as EPIPE, not kill the runner (and with it the guest's
  // only workload) silently.
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, nullptr, _IOLBF, 0);

  if (argc != 3 || std::string(argv[1]) != "--jobs") {
    fprintf(stderr, "usage: %s --jobs FILE\n  FILE: one scenario script job per line (replay/guest/script_exec.h)\n",
            argv[0]);
    return 2;
  }
  std::vector<ScriptJob> jobs;
  std::string err;
  if (!read_jobs(argv[2], jobs, err)) {
    emit_result(Json().failed(err));
    return 1;
  }
  int failures = 0;
  for (const auto& job : jobs) {
    const std::string out = run_script_job(job);
    if (out.find("\"ok\":true") == std::string::npos) failures++;
    emit_result(out);
  }
  return failures ? 1 : 0;
}
