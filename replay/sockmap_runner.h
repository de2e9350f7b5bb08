// Real-kernel runner for the sockmap multi-channel scenario.
//
// Executes a kpsim::sockmap::Script with real syscalls the way the BPF selftest
// test_sockmap_multi_channels does (tools/testing/selftests/bpf/prog_tests/sockmap_basic.c):
// two loopback pairs c0<->p0 and c1<->p1, a 2-slot BPF_MAP_TYPE_SOCKMAP `sock_map_rx`, an
// sk_skb stream-verdict program redirecting every skb with BPF_F_INGRESS to slot 1, p0 at key 0
// and p1 at key 1; then the Script's steps on the calling thread.
//
// Raw-tracepoint programs loaded with the verdict program record when the psock backlog worker
// (sk_psock_backlog) ran relative to the first recv, so every run says which interleaving the
// kernel actually took — the thing the model enumerates and the real kernel only samples.
//
// Needs root (CAP_BPF + CAP_NET_ADMIN + CAP_SYS_ADMIN for the tracing programs,
// CAP_SYS_NICE for SCHED_FIFO) and a kernel with sockmap; check_available() says what is missing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replay/script_runner.h"
#include "scenarios/sockmap_script.h"

namespace kpsim::replay {

// Schedule, RunOptions, KernelRun, check_available() and the interrupt handling are shared
// with the script runner (replay/script_runner.h).

// Runs `script` once on the calling thread. Every kernel object (BPF programs, links, maps,
// sockets) is created for this run and released before returning, also on error. Scheduling
// policy and CPU affinity of the calling thread are restored afterwards.
KernelRun run_sockmap_script(const sockmap::Script& script, Schedule schedule,
                             const RunOptions& options = {});

}  // namespace kpsim::replay
