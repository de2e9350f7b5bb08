// Real-kernel (host) runner for scenario scripts: executes a resolved script::Program
// (scenarios/script/program.h) with real syscalls on this machine's kernel.
//
// Setup, in the selftests' order: the Program's socket pairs (create_pair() of
// prog_tests/socket_helpers.h) with their SO_RCVBUF / SO_SNDBUF / TCP_NODELAY; one BPF object
// (bpf/script_verdict.bpf.c) whose sockmap or sockhash is sized to the Program's max_entries;
// its stream-verdict program, configured by the Program's rules, attached to that map as
// BPF_SK_SKB_STREAM_VERDICT; the setup map_updates. Then one std::thread per Program thread,
// released together by a barrier, each executing its steps with the model's semantics
// (program.h documents each Op).
//
// Raw-tracepoint programs in the same object record when the psock backlog worker
// (sk_psock_backlog) ran relative to the first recv of any script thread, so each run says
// which interleaving the kernel actually took (KernelRun::schedule_class).
//
// Needs root (CAP_BPF + CAP_NET_ADMIN + CAP_SYS_ADMIN for the tracing programs, CAP_SYS_NICE
// for SCHED_FIFO) and a kernel with sockmap; check_available() says what is missing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/script/program.h"

namespace kpsim::replay {

// How the runner steers the per-CPU kworker that runs sk_psock_backlog.
enum class Schedule : uint8_t {
  natural,        // no steering: whatever the scheduler does
  kworker_late,   // every script thread pinned to one CPU at SCHED_FIFO: the CFS kworker on
                  // that CPU cannot run until they all sleep (only the script's sleeps let it)
  kworker_first,  // sleep kworker_first_sleep_us after every send step so the backlog runs first
  kworker_between,  // kworker_late, but sleep after every send except each thread's last: the
                    // backlog delivers all but the last send's data before the recv (a window
                    // neither of the other two forces: the model finds it with three senders)
};

const char* schedule_name(Schedule s);
std::optional<Schedule> parse_schedule(std::string_view name);

struct RunOptions {
  uint32_t kworker_first_sleep_us = 10'000;  // kworker_first: sleep after each send step
  int pin_cpu = -1;                          // kworker_late: CPU to pin to (-1: current CPU)
  int fifo_priority = 10;                    // kworker_late: SCHED_FIFO priority
  // Experiment knob, any schedule (0 = off): busy-wait this long, without sleeping, before
  // every recv step. Under kworker_late it shows how long SCHED_FIFO alone keeps the CFS
  // kworker away (the fair deadline server eventually lets it run).
  uint32_t spin_before_recv_us = 0;
  // run_script: a run whose threads have not all finished after this long is aborted (its
  // sockets are shut down to wake blocked calls) and reported as an error.
  uint32_t run_timeout_ms = 120'000;
};

// Outcome of one execution against the running kernel.
struct KernelRun {
  // Every recv() return value (-errno on failure; a recv_timeout whose select() timed out:
  // -EAGAIN), each call of a recv_loop included. Several threads: in the order the calls
  // returned.
  std::vector<int> recv_results;
  std::vector<uint32_t> fionread_samples;  // every ioctl(FIONREAD) value, in order
  // run_script: the return of each fionread / wait_fionread step (its last sample), in order.
  std::vector<int64_t> fionread_results;
  std::string received;  // concatenation of all bytes received
  // run_script: one message per step whose `expect` did not hold ("file:line:col: call:
  // returned 3, expected 10"), in the order they were checked.
  std::vector<std::string> failed_expectations;
  // Observed order of the psock backlog worker vs the first recv entering the kernel:
  // "kworker-before-recv", "kworker-after-recv", "kworker-during-recv" (started before, ended
  // after), "unknown" (the event buffer overflowed). run_script: "kworker-before-recv" also
  // when no backlog work was queued before the first recv (nothing pending, as the model
  // counts it), "" when no recv ran at all.
  std::string schedule_class;
  uint32_t backlog_queued = 0;  // workqueue_queue_work events for our psock work(s)
  uint32_t backlog_runs = 0;    // sk_psock_backlog executions for our psock work(s), counted
                                // until 2 ms after the last step
  int backlog_cpu = -1;         // CPU of the last backlog execution (-1: none)
  int test_cpu = -1;            // CPU the thread running the first recv was on
  uint64_t run_us = 0;          // wall time of the steps (setup and teardown excluded)
  uint64_t setup_us = 0;        // sockets + BPF load + attach + map inserts
  bool assertion_ok = false;    // every expectation held
  // run_script: verdict decisions per rule (index = rule; the last entry: no rule matched).
  std::vector<uint64_t> rule_hits;
  std::string error;  // non-empty: the run could not be carried out
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

// What of `program` this runner cannot do, as "<loc>: <feature>" (empty: it can run all of
// it). Checked without touching the kernel; run_script refuses such a Program with an error.
std::string unsupported_feature(const script::Program& program);

// Runs `program` once: setup, one thread per Program thread, teardown. Every kernel object
// (sockets, BPF programs, links, maps) is created for this run and released before returning,
// also on error, timeout and SIGINT. The calling thread's scheduling is left untouched.
KernelRun run_script(const script::Program& program, Schedule schedule,
                     const RunOptions& options = {});

// A run's outcome, generic for any script: "<kworker_class> recv=<every recv return,
// comma-joined> fionread=<each fionread/wait_fionread step's value, comma-joined>
// fionread0=<the first FIONREAD value the run saw>" (fionread0 omitted when there was none).
// fionread0 is what tells whether data was readable before anything waited for it: the
// kernel's first poll of the seed sees 0 while the backlog worker has not run, which a model
// delivering p1's own data directly (self_redirect=direct) never shows. The model's
// outcome of a run is written the same way from its metrics, so equal strings are the same
// outcome (kpsim crosscheck).
std::string outcome_key(std::string_view kworker_class, const std::vector<int>& recv_results,
                        const std::vector<int64_t>& fionread_results, int64_t first_fionread);
std::string outcome_key(const KernelRun& run);

// SIGINT/SIGTERM handling for long measurement loops: after install_interrupt_handler(), a
// signal makes the current run stop (at the next step boundary; blocked calls are woken by
// shutting the run's sockets down), its objects are released as usual, and interrupted()
// becomes true. Kernel objects are file-descriptor based and never pinned, so even a hard
// kill leaks nothing.
void install_interrupt_handler();
bool interrupted();

}  // namespace kpsim::replay
