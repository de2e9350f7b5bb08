// tracefs setup and dump (tracefs.h).
#include "tracefs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "json.h"
#include "procfs.h"

namespace kpsim::guest {

namespace {

const std::string kTracing = "/sys/kernel/tracing/";

// The kprobes (group kpsim): the close-time flush's send-space waits and what tls_tx_records
// and tls_sw_release_resources_tx return (module symbols as "tls:symbol").
const char* const kKprobes[] = {
    "r:kpsim/swm_ret sk_stream_wait_memory ret=$retval\n",
    "r:kpsim/txrec_ret tls:tls_tx_records ret=$retval\n",
    "p:kpsim/release_tx tls:tls_sw_release_resources_tx\n",
    "r:kpsim/release_tx_ret tls:tls_sw_release_resources_tx\n",
    "r:kpsim/tcp_sendmsg_locked_ret tcp_sendmsg_locked ret=$retval\n",
};

// The events enabled besides the probes: where io_uring requests are issued, punted to io-wq,
// queued as task work, completed.
const char* const kEvents[] = {
    "kpsim/enable",
    "io_uring/io_uring_task_add/enable",
    "io_uring/io_uring_complete/enable",
    "io_uring/io_uring_submit_req/enable",
    "io_uring/io_uring_queue_async_work/enable",
};

bool g_trace_ready = false;
bool g_kprobes_ok = false;

// Appends v to a tracefs file (kprobe_events is a list: O_TRUNC would drop the earlier probes).
bool tracefs_write(const std::string& file, const std::string& v) {
  return write_file(kTracing + file, v, /*append=*/true);
}

// Whether a trace line is one trace_dump() prints: the submitter's own lines, every
// io_uring_task_add (the helper thread queues the completion on the submitter) and the kTLS
// probes; another thread's tcp_sendmsg_locked (the flood's pushes) is left out.
bool wanted(const std::string& line, const std::string& tid_tag) {
  const bool mine = line.find(tid_tag) != std::string::npos;
  const bool task_add = line.find("io_uring_task_add") != std::string::npos;
  const bool tls = line.find("txrec_ret") != std::string::npos ||
                   line.find("release_tx") != std::string::npos;
  if (!(mine || task_add || tls)) return false;
  return mine || line.find("tcp_sendmsg_locked") == std::string::npos;
}

}  // namespace

bool trace_setup() {
  if (g_trace_ready) return true;
  mkdir("/sys/kernel/tracing", 0755);
  if (access((kTracing + "trace").c_str(), F_OK) != 0 &&
      syscall(SYS_mount, "tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    return false;
  for (const char* probe : kKprobes) {
    const bool ok = tracefs_write("kprobe_events", probe);
    if (probe == kKprobes[0]) g_kprobes_ok = ok;
  }
  tracefs_write("buffer_size_kb", "4096");
  for (const char* ev : kEvents) tracefs_write(std::string("events/") + ev, "1");
  g_trace_ready = tracefs_write("tracing_on", "1");
  return g_trace_ready;
}

bool trace_kprobes_ok() { return g_kprobes_ok; }

void trace_clear() {
  if (!g_trace_ready) return;
  int fd = open((kTracing + "trace").c_str(), O_WRONLY | O_TRUNC);
  if (fd >= 0) close(fd);
}

long long trace_dump(long long run, int tid, size_t max_lines) {
  if (!g_trace_ready) return -1;
  std::istringstream in(read_file(kTracing + "trace"));
  const std::string tid_tag = "-" + std::to_string(tid) + " ";  // "comm-<pid> [cpu] ..."
  std::string line;
  std::vector<std::string> keep;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#' && wanted(line, tid_tag)) keep.push_back(line);
  size_t from = keep.size() > max_lines ? keep.size() - max_lines : 0;
  for (size_t k = from; k < keep.size(); ++k) {
    std::string l = keep[k];
    l.erase(0, l.find_first_not_of(' '));
    printf("KPSIM-TRACE {\"run\":%lld,\"line\":\"%s\"}\n", run, json_escape(l).c_str());
  }
  fflush(stdout);
  return static_cast<long long>(keep.size());
}

}  // namespace kpsim::guest
