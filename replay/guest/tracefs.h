// tracefs for force=window,trace=1: io_uring tracepoints plus kretprobes on the kTLS close
// path, dumped after each run as KPSIM-TRACE lines.
//
// The stack samples say where the submitter sleeps; the trace says in which order the kernel
// did things around it (the pipe read's completion queued on the submitter while the flush
// waits, sk_stream_wait_memory returning -ERESTARTSYS, tls_tx_records giving up).
#pragma once

#include <cstddef>

namespace kpsim::guest {

// Mounts tracefs if needed, adds the kretprobes, enables the events and turns tracing on.
// Once per process; true when tracing is on.
bool trace_setup();

// Whether the first kretprobe (sk_stream_wait_memory) could be added in trace_setup().
bool trace_kprobes_ok();

// Empties the trace buffer (before a run's interesting part).
void trace_clear();

// Prints the last max_lines trace lines of thread tid plus every io_uring_task_add and kTLS
// probe line as KPSIM-TRACE {"run":run,"line":...}; returns how many matched (-1: no trace).
long long trace_dump(long long run, int tid, size_t max_lines);

}  // namespace kpsim::guest
