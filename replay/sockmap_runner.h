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

#include "scenarios/sockmap_script.h"

namespace kpsim::replay {

// How the runner steers the per-CPU kworker that runs sk_psock_backlog.
enum class Schedule : uint8_t {
  natural,        // no steering: whatever the scheduler does
  kworker_late,   // test thread pinned to one CPU at SCHED_FIFO: the CFS kworker on that CPU
                  // cannot run until the thread sleeps (only the script's own sleeps let it)
  kworker_first,  // sleep kworker_first_sleep_us after every send so the backlog runs first
};

const char* schedule_name(Schedule s);
std::optional<Schedule> parse_schedule(std::string_view name);

struct RunOptions {
  uint32_t kworker_first_sleep_us = 10'000;  // kworker_first: sleep after each send step
  int pin_cpu = -1;                          // kworker_late: CPU to pin to (-1: current CPU)
  int fifo_priority = 10;                    // kworker_late: SCHED_FIFO priority
  // Experiment knob, any schedule (0 = off): busy-wait this long, without sleeping, before
  // every recv/recv_until step. Under kworker_late it shows how long SCHED_FIFO alone keeps
  // the CFS kworker away (the fair deadline server eventually lets it run).
  uint32_t spin_before_recv_us = 0;
};

// Outcome of one execution of a Script against the running kernel.
struct KernelRun {
  std::vector<int> recv_results;          // every recv() return value (-errno on failure)
  std::vector<uint32_t> fionread_samples; // every ioctl(FIONREAD) value, in order
  std::string received;                   // concatenation of all bytes received
  // Observed order of the psock backlog worker vs the first recv entering the kernel:
  // "kworker-before-recv", "kworker-after-recv", "kworker-during-recv" (started before, ended
  // after), or "unknown" (no backlog work queued by the test thread seen before the recv, or
  // the event buffer overflowed).
  std::string schedule_class;
  uint32_t backlog_queued = 0;  // workqueue_queue_work events for our psock work(s)
  uint32_t backlog_runs = 0;    // sk_psock_backlog executions for our psock work(s), counted
                                // until 2 ms after the last step
  int backlog_cpu = -1;         // CPU of the last backlog execution (-1: none)
  int test_cpu = -1;            // CPU the test thread was on when it ran its first recv
  uint64_t run_us = 0;          // wall time of the steps (setup and teardown excluded)
  uint64_t setup_us = 0;        // BPF load + sockets + map insert
  bool assertion_ok = false;    // every recv/recv_until step received exactly its `expect`
  std::string error;            // non-empty: the run could not be carried out
  // Recorded kernel events, "+<us since first event> <what>@cpu<N>" separated by spaces:
  // q/s/e = backlog queued/started/ended, S>/S< and R>/R< = sendto/recvfrom enter/exit.
  std::string timeline;
};

struct Availability {
  bool ok = false;
  std::string reason;  // why not, when !ok
};

// Cheap checks: root, BPF syscall, a sockmap can be created, sk_psock_backlog is visible in
// /proc/kallsyms (needed for the observation, not for the run itself).
Availability check_available();

// Runs `script` once on the calling thread. Every kernel object (BPF programs, links, maps,
// sockets) is created for this run and released before returning, also on error. Scheduling
// policy and CPU affinity of the calling thread are restored afterwards.
KernelRun run_sockmap_script(const sockmap::Script& script, Schedule schedule,
                             const RunOptions& options = {});

// SIGINT/SIGTERM handling for long measurement loops: after install_interrupt_handler(), a
// signal makes the current run stop at the next step boundary (its objects are released as
// usual) and interrupted() becomes true. Kernel objects are file-descriptor based and never
// pinned, so even a hard kill leaks nothing.
void install_interrupt_handler();
bool interrupted();

}  // namespace kpsim::replay
