// The guest runner's script interpreter: a scenario script (.kps, docs/scripts.md) run with real
// syscalls on the guest's kernel. The script text is the same file the model explores; the
// runner parses it with the same parser (scenarios/script/script.h), resolves the job's `--set`
// values, and executes the resulting Program (program.h) - the world of one TCP connection
// with kTLS, files, pipes and an io_uring that the qemu guest exists for.
//
// What it observes, per run, is what the script's properties are about:
//   byte-conservation, all-records-delivered: the receiving socket has kTLS RX with the sender's
//     key (when the sender has kTLS TX), so every byte is checked as plaintext against the
//     file's contents: received == sent and no byte differs;
//   no-stall: TCP_INFO of the sending socket sampled during its send calls (a send call in
//     progress, bytes not sent, nothing in flight, no progress: the persist-timer stall);
//   the script's `window` lines: whether each part of the window formed (docs/crosscheck.md).
// tcp-seq-order is a model invariant with nothing to observe on a real kernel.
#pragma once

#include <string>
#include <vector>

namespace kpsim::guest {

// One configuration of a boot: a script, its parameter settings and how to run it. The host
// writes one per line into the jobs file (cli: scenarios/script_guest_side.cpp), tab-separated:
//   id=3<TAB>script=/kpsim/s0.kps<TAB>runs=5<TAB>set=mss=1448<TAB>opt=timeout_ms=60000 ...
struct ScriptJob {
  std::string id;
  std::string script;             // path of the .kps inside the guest
  long long runs = 1;             // runs of the configuration, each on fresh objects
  std::vector<std::string> sets;  // key=value, as `kpsim --set`
  // Runner settings that are not the scenario's: timeout_ms (per run, default 120000),
  // hold_ms (hold_until_closed's cap, default 4000), sample_ms (TCP_INFO period, 5),
  // stall_ms (no-stall: time in stall episodes that makes a stall, 1000).
  std::vector<std::pair<std::string, long long>> opts;
  long long opt(const std::string& k, long long dflt) const;
};

// Reads the jobs file; false with err on a malformed line.
bool read_jobs(const std::string& path, std::vector<ScriptJob>& out, std::string& err);

// Runs every run of one job; its KPSIM-RESULT object ("ok":false with "error" when the script
// cannot be run here at all).
std::string run_script_job(const ScriptJob& job);

}  // namespace kpsim::guest
