// Workload ktls-async-close,force=window: the model's seed-002 counterexample (docs/ktls-close.md,
// traces/findings/seed002-*) built step by step on the real kernel instead of hoped for.
//
// Per run:
//   1. loopback pair, client SO_RCVBUF=rcvbuf (before connect) and paused, server SO_SNDBUF=
//      sndbuf, TCP_NODELAY, kTLS TX: the close-time flush cannot push more than a few KiB.
//   2. cryptd backlog: a second kTLS connection sends `flood` full records with MSG_MORE first;
//      cryptd serves its per-CPU queue in order, so the records of step 3 are still pending
//      encryption when the close starts (the model's step 13, "3 encryptions pending"), and
//      tx_work (scheduled only by tls_encrypt_done) has nothing to push yet.
//   3. `records` full records (no open record left) pipe -> socket by one IORING_OP_SPLICE with
//      SPLICE_F_MORE (6.12: no wait at send_end), reaped.
//   4. closer=uring: IORING_OP_CLOSE + GETEVENTS: io_close's (or the freed splice request's)
//      fput is the last one, ____fput runs in io_cqring_wait's io_run_task_work inside
//      io_uring_enter (the report's stack). closer=syscall: close(2) (task work at syscall
//      exit).
//   5. trigger=pipe: an IORING_OP_READ on a pipe was queued before step 2, and the helper
//      (close_watcher.h) writes to that pipe once the submitter sleeps in the flush, so the
//      read's completion is queued on the submitter (TWA_SIGNAL on a default ring ->
//      TIF_NOTIFY_SIGNAL). trigger=timeout: an IORING_OP_TIMEOUT of trigger_ms queued with the
//      close. trigger=none: no other request.
//   6. the client waits until the close returned (at most client_wait_ms), then reads to EOF.
// Result per run: bytes the client got vs the wire size of what was spliced, the submitter's
// stacks seen during the close, close duration, TCP_INFO before the close; with trace=1 also
// tracefs lines as KPSIM-TRACE lines (tracefs.h).
// Keys: records (8), flood (256), sndbuf (4096), rcvbuf (4096), closer=uring|syscall,
//   trigger=pipe|timeout|none, at=wait|async, trigger_ms (200, timeout only), trigger_delay_ms
//   (0: how long after the stack was seen), defer_taskrun=0|1, more=1|0, cryptd=1|0, runs (3),
//   client_wait_ms (4000), trace=0|1, trace_max (40 lines a run), tls=13|12.
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "close_watcher.h"
#include "io_uring_ring.h"
#include "ktls.h"
#include "ktls_close.h"
#include "loopback.h"
#include "posix.h"
#include "procfs.h"
#include "tracefs.h"
#include "workloads.h"

namespace kpsim::guest {

namespace {

constexpr size_t kClientReadBytes = 1 << 16;
// The data pipe holds the whole splice; never less than the default 16 pages.
constexpr long long kMinPipeBytes = 65536;
// SO_SNDBUF of the flood connection: room for all its records at once.
constexpr int kFloodSndbuf = 8 << 20;

struct ForcedConfig : CloseCommon {
  long long records, flood, rcvbuf;
  std::string closer, trigger, at;
  long long trigger_ms, trigger_delay_ms;
  bool more;
  long long client_wait_ms;
  bool trace;
  long long trace_max;
  long long bytes() const { return records * kTlsMaxPayloadSize; }
};

ForcedConfig parse_forced_config(const KV& kv) {
  ForcedConfig c;
  parse_close_common(kv, /*runs_default=*/3, /*sndbuf_default=*/4096, c);
  c.records = get_num(kv, "records", 8);
  c.flood = get_num(kv, "flood", 256);
  c.rcvbuf = get_num(kv, "rcvbuf", 4096);
  c.closer = get_str(kv, "closer", "uring");
  c.trigger = get_str(kv, "trigger", "pipe");
  c.at = get_str(kv, "at", "wait");
  c.trigger_ms = get_num(kv, "trigger_ms", 200);
  c.trigger_delay_ms = get_num(kv, "trigger_delay_ms", 0);
  c.more = get_num(kv, "more", 1) != 0;
  c.client_wait_ms = get_num(kv, "client_wait_ms", 4000);
  c.trace = get_num(kv, "trace", 0) != 0;
  c.trace_max = get_num(kv, "trace_max", 40);
  return c;
}

// What every run of one configuration shares.
struct Shared {
  const ForcedConfig& c;
  const std::vector<char>& data;  // the flood's records (and the backing file's contents)
  int file;                       // backing file of the spliced records
  int tid;                        // the submitter: this thread
  std::string stack_path;         // its /proc/self/task/<tid>/stack
  long long wire_expected;
};

// The CQEs of a run, by user_data; outstanding counts what is submitted and not reaped.
struct Completions {
  long long spliced = -1, close_res = 1, trigger_res = 1;
  int splice_errno = 0;
  unsigned outstanding = 0;
  void handle(const io_uring_cqe& cq) {
    if (cq.user_data == kUserDataSplice) {
      if (cq.res >= 0) spliced = cq.res;
      else splice_errno = -cq.res;
    } else if (cq.user_data == kUserDataClose) {
      close_res = cq.res;
    } else if (cq.user_data == kUserDataTriggerRead || cq.user_data == kUserDataTriggerTimeout) {
      trigger_res = cq.res;
    }
    outstanding--;
  }
};

// Everything one run reports.
struct ForcedRun {
  Completions cq;
  WatchReport watch;
  tcp_info ti{};  // of the kTLS socket, after the splice and before the close
  long long received = 0, flood_sent = 0, trace_lines = -1;
  bool early_read = false;  // the client started reading before the close returned
  int close_errno = 0;
  double t0 = 0, t_flood = 0, t_spliced = 0, t_close0 = 0, t_close1 = 0, t_eof = 0;
  double client_start = 0;
  std::string err;
};

// The per-run sockets, pipes and ring (step 1 and the flood connection of step 2).
struct RunFds {
  char trigger_buf[8];  // the trigger read's buffer: outlives every request of the ring
  Ring ring;
  Pipe data, trigger;
  LoopbackPair conn, flood;

  std::string open(const ForcedConfig& c) {
    std::string err;
    if (!ring.init(c.defer_taskrun, err)) return err;
    if (!open_pipe(data) || !open_pipe(trigger)) return "pipe";
    fcntl(data.wr.fd, F_SETPIPE_SZ, static_cast<int>(std::max(c.bytes(), kMinPipeBytes)));
    const LoopbackOptions conn_opt{.client_rcvbuf = static_cast<int>(c.rcvbuf),
                                   .server_sndbuf = static_cast<int>(c.sndbuf),
                                   .server_nodelay = true};
    if (!open_loopback_pair(conn_opt, conn, err) || !set_ktls_tx(conn.server.fd, c.tls, err))
      return err;
    if (c.flood <= 0) return "";
    const LoopbackOptions flood_opt{.server_sndbuf = kFloodSndbuf, .server_nodelay = true};
    if (!open_loopback_pair(flood_opt, flood, err) || !set_ktls_tx(flood.server.fd, c.tls, err))
      return "flood: " + err;
    return "";
  }
};

// Step 4: the close of the kTLS socket s (its last reference), with trigger=timeout's timeout.
void close_socket(const ForcedConfig& c, Ring& ring, int s, ForcedRun& run) {
  __kernel_timespec ts{};
  ts.tv_sec = c.trigger_ms / 1000;
  ts.tv_nsec = (c.trigger_ms % 1000) * 1000000;
  unsigned submit = 0;
  if (c.trigger == "timeout") {
    ring.queue_timeout(&ts, kUserDataTriggerTimeout);
    submit++;
    run.cq.outstanding++;
  }
  if (c.closer == "uring") {
    ring.queue_close(s, kUserDataClose);
    submit++;
    run.cq.outstanding++;
    if (ring.enter(submit, 1) < 0) run.close_errno = errno;
  } else {
    if (submit > 0) ring.enter(submit, 0);
    if (close(s) != 0) run.close_errno = errno;
    run.cq.close_res = 0;
  }
}

// Steps 2 to 6 on open fds; the client and the helper run beside this (the submitter) thread.
void run_steps(const Shared& sh, RunFds& fds, long long r, Json& top, ForcedRun& run) {
  const ForcedConfig& c = sh.c;
  std::thread drain;
  if (c.flood > 0)
    drain = std::thread([fd = fds.flood.client.fd] { read_until_eof(fd, kClientReadBytes, nullptr); });
  // The client: paused until the close returned (or client_wait_ms), then reads to EOF.
  std::atomic<bool> closed{false};
  std::atomic<long long> received{0};
  std::thread client([&] {
    // Counted sleeps, not a deadline: the TCG guest clock was seen to jump (a deadline let the
    // client start reading before the close in 3 of 12 early runs).
    for (long long k = 0; k < c.client_wait_ms / 2 && !closed; ++k) usleep(2000);
    run.client_start = now_s();
    run.early_read = !closed;
    read_until_eof(fds.conn.client.fd, kClientReadBytes, &received);
  });
  // 3a. fill the data pipe
  off_t off = 0;
  while (off < c.bytes()) {
    const ssize_t in = splice(sh.file, &off, fds.data.wr.fd, nullptr,
                              static_cast<size_t>(c.bytes() - off), 0);
    if (in <= 0) { run.err = "splice file->pipe"; break; }
  }
  // 5a. the unrelated request whose completion will be the TWA_SIGNAL task work
  if (c.trigger == "pipe") {
    fds.ring.queue_read(fds.trigger.rd.fd, fds.trigger_buf, 1, kUserDataTriggerRead);
    fds.ring.enter(1, 0);
    run.cq.outstanding++;
  }
  CloseWatcher watcher({.stack_path = sh.stack_path, .fire = c.trigger == "pipe",
                        .at_async = c.at == "async", .delay_ms = c.trigger_delay_ms,
                        .trigger_fd = fds.trigger.wr.fd});
  if (c.trace) trace_clear();
  // 2. cryptd backlog
  run.t0 = now_s();
  if (c.flood > 0)
    run.flood_sent = send(fds.flood.server.fd, sh.data.data(),
                          static_cast<size_t>(c.flood * kTlsMaxPayloadSize), MSG_MORE);
  run.t_flood = now_s();
  // 3. the splice, with SPLICE_F_MORE
  const int s = fds.conn.server.release();  // closed by step 4, never by us
  fds.ring.queue_splice(fds.data.rd.fd, s, static_cast<unsigned>(c.bytes()),
                        c.more ? SPLICE_F_MORE : 0, kUserDataSplice);
  fds.ring.enter(1, 0);
  run.cq.outstanding++;
  while (run.cq.spliced < 0 && run.cq.splice_errno == 0) {
    io_uring_cqe cqe{};
    fds.ring.wait(cqe);  // on failure cqe stays zero: handle() then only counts it
    run.cq.handle(cqe);
  }
  run.t_spliced = now_s();
  socklen_t tl = sizeof run.ti;
  getsockopt(s, IPPROTO_TCP, TCP_INFO, &run.ti, &tl);
  if (r == 0) top.s("gcm_aes_entries_while_open", gcm_aes_entries());
  // 4. close
  watcher.set_in_close(true);
  run.t_close0 = now_s();
  close_socket(c, fds.ring, s, run);
  run.t_close1 = now_s();
  watcher.set_in_close(false);
  closed = true;
  client.join();
  run.t_eof = now_s();
  run.watch = watcher.stop();
  // Complete what is left: the trigger read (if never fired) and CQEs not yet reaped.
  if (c.trigger == "pipe" && run.watch.t_trigger == 0) { if (write(fds.trigger.wr.fd, "x", 1) != 1) {} }
  for (int spin = 0; run.cq.outstanding > 0 && spin < 200; ++spin) {
    io_uring_cqe cqe{};
    if (fds.ring.pop(cqe)) { run.cq.handle(cqe); continue; }
    fds.ring.enter(0, 1);
  }
  if (c.flood > 0) {
    shutdown(fds.flood.client.fd, SHUT_RDWR);
    fds.flood.server.reset();
    drain.join();
  }
  run.received = received;
  run.trace_lines = c.trace ? trace_dump(r, sh.tid, static_cast<size_t>(c.trace_max)) : -1;
}

// One run's entry in run_results.
Json run_json(const Shared& sh, const ForcedRun& run, bool short_read) {
  const ForcedConfig& c = sh.c;
  const WatchReport& w = run.watch;
  auto ms = [](double a, double b) { return a > 0 && b > 0 ? (b - a) * 1000.0 : -1.0; };
  Json j;
  j.i("spliced", run.cq.spliced).i("splice_errno", run.cq.splice_errno)
      .i("received", run.received).i("wire_expected", sh.wire_expected)
      .i("records_received_full", run.received / (kTlsMaxPayloadSize + tls_record_overhead(c.tls)))
      .b("short", short_read).b("client_read_before_close_returned", run.early_read)
      .i("flood_sent", run.flood_sent)
      .d("flood_ms", ms(run.t0, run.t_flood)).d("splice_ms", ms(run.t_flood, run.t_spliced))
      .d("close_ms", ms(run.t_close0, run.t_close1)).d("client_paused_ms", ms(run.t_close0, run.client_start))
      .d("eof_ms", ms(run.t_close0, run.t_eof))
      .d("seen_async_wait_ms", ms(run.t_close0, w.t_seen_async))
      .d("seen_wait_memory_ms", ms(run.t_close0, w.t_seen_wait))
      .d("trigger_ms", ms(run.t_close0, w.t_trigger))
      .i("close_res", run.cq.close_res).i("close_errno", run.close_errno)
      .i("trigger_res", run.cq.trigger_res)
      .i("tcpi_notsent_before_close", run.ti.tcpi_notsent_bytes)
      .i("tcpi_unacked_before_close", run.ti.tcpi_unacked)
      .i("tcpi_bytes_sent_before_close", static_cast<long long>(run.ti.tcpi_bytes_sent))
      .i("tcpi_snd_wnd", run.ti.tcpi_snd_wnd)
      .s("stack_first_tls", w.stack_first_tls).s("stack_wait_memory", w.stack_wait_memory)
      .s("stack_after_trigger", w.stack_after_trigger)
      .i("stack_samples", w.samples).i("trace_lines", run.trace_lines)
      .s("error", run.err);
  return j;
}

}  // namespace

std::string run_async_close_forced(const KV& kv) {
  Json j = result_header("ktls-async-close", kv);
  const ForcedConfig c = parse_forced_config(kv);
  if (c.closer != "uring" && c.closer != "syscall") return j.failed("closer must be uring or syscall");
  if (c.trigger != "pipe" && c.trigger != "timeout" && c.trigger != "none")
    return j.failed("bad trigger");
  if (c.cryptd) j.s("cryptd_bind", bind_cryptd());
  if (c.trace) j.b("trace_ready", trace_setup()).b("kprobes_ok", trace_kprobes_ok());
  const std::vector<char> data(static_cast<size_t>(std::max(c.bytes(), c.flood * kTlsMaxPayloadSize)), 'z');
  Fd file;
  std::string err;
  if (!make_backing_file("/tmp/kpsim-force-XXXXXX", data.data(), static_cast<size_t>(c.bytes()),
                         file, err))
    return j.failed(err);
  const int tid = current_tid();
  const Shared sh{c, data, file.fd, tid, task_stack_path(tid), wire_bytes(c.bytes(), c.tls)};

  long long short_runs = 0, error_runs = 0, interrupted_runs = 0, min_received = -1, max_received = -1;
  JsonList run_details;
  std::string driver;
  for (long long r = 0; r < c.runs; ++r) {
    RunFds fds;
    err = fds.open(c);
    if (!err.empty()) return j.failed(err);
    ForcedRun run;
    run_steps(sh, fds, r, j, run);
    if (driver.empty()) driver = gcm_aes_driver();
    const bool ok_splice = run.cq.spliced == c.bytes();
    const bool short_read = ok_splice && run.received < sh.wire_expected;
    short_runs += short_read;
    interrupted_runs += run.watch.t_trigger != 0 && short_read;
    error_runs += !ok_splice || !run.err.empty();
    if (min_received < 0 || run.received < min_received) min_received = run.received;
    max_received = std::max(max_received, run.received);
    run_details.add(run_json(sh, run, short_read));
  }
  j.b("ok", true).s("error", "").s("gcm_aes_driver", driver)
      .i("wire_expected", sh.wire_expected).i("runs", c.runs).i("short_runs", short_runs)
      .i("short_after_trigger", interrupted_runs)
      .i("error_runs", error_runs).i("min_received", min_received).i("max_received", max_received)
      .raw("run_results", run_details.str())
      .s("verdict", short_runs ? "short-read" : error_runs ? "splice-error" : "no-short-read");
  return j.str();
}

}  // namespace kpsim::guest
