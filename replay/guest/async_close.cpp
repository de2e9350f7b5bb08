// Workload ktls-async-close (natural): seed 002 ("Problem with io_uring splice and KTLS") left
// to happen by itself.
//
// IORING_OP_SPLICE pipe -> kTLS socket (always punted to an io-wq worker), then close(). With
// async crypto the records are transmitted later (tx work or at close); if the close-time flush
// has to wait for send space and the wait is interrupted (TIF_NOTIFY_SIGNAL from io_uring task
// work counts as a signal), the remaining records are dropped and the client reads less than
// was spliced. async_close_forced.cpp builds that window on purpose.
//
// Keys: bytes (default 1 MiB), chunk (bytes per splice, multiple of kTlsMaxPayloadSize, default
//   65536), runs (default 5), cryptd=0|1 (bind an AF_ALG aead socket to cryptd(gcm(aes)) first:
//   its instance outranks the generic gcm(aes), so kTLS gets an async AEAD), defer_taskrun=0|1,
//   sndbuf (SO_SNDBUF of the sender, 0 = default), client_delay_ms (client sleeps before
//   reading so the send buffer is full at close), close_early=0|1 (close right after
//   submitting the last splice instead of after its completion; measured on 6.12: the punted
//   request resolves the fd only when io-wq issues it, so it fails with -EBADF — a harness
//   artefact, reported as "splice-error", not as the bug), race_timeouts=N
//   (N IORING_OP_TIMEOUTs of race_us each, queued with the last splice: their completions add
//   task work around the close), race_us (default 1000), tls=13|12, timeout_ms (per run,
//   default 20000; a run still going then is shut down and counted as "stuck"), dir (/tmp).
// Verdict per configuration: "short-read" if in any run every splice succeeded and the client
// still received fewer bytes than expected; "splice-error" if a splice failed (nothing to
// compare).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "io_uring_ring.h"
#include "ktls.h"
#include "ktls_close.h"
#include "loopback.h"
#include "posix.h"
#include "procfs.h"
#include "workloads.h"

namespace kpsim::guest {

namespace {

// The client's read size.
constexpr size_t kClientReadBytes = 1 << 16;

struct CloseConfig : CloseCommon {
  long long bytes, chunk, client_delay_ms;
  bool close_early;
  long long race_timeouts, race_us, timeout_ms;
  std::string dir;  // where the backing file goes (a tmpfs in the guest)
};

CloseConfig parse_close_config(const KV& kv) {
  CloseConfig c;
  parse_close_common(kv, /*runs_default=*/5, /*sndbuf_default=*/0, c);
  c.bytes = get_num(kv, "bytes", 1 << 20);
  c.chunk = get_num(kv, "chunk", 65536);
  c.client_delay_ms = get_num(kv, "client_delay_ms", 50);
  c.close_early = get_num(kv, "close_early", 0) != 0;
  c.race_timeouts = get_num(kv, "race_timeouts", 2);
  c.race_us = get_num(kv, "race_us", 1000);
  c.timeout_ms = get_num(kv, "timeout_ms", 20000);
  c.dir = get_str(kv, "dir", "/tmp");
  return c;
}

// A run that makes no progress (measured on 6.1 with a small SO_SNDBUF: the io-wq splice never
// completes) is ended by shutting both sockets down, which wakes any send-space wait with
// EPIPE; the run is then reported with timed_out. No dup() of the server socket for this: an
// extra file reference would change who does the final fput.
class RunWatchdog {
 public:
  RunWatchdog(int server, int client, long long timeout_ms) : server_(server) {
    thread_ = std::thread([this, client, timeout_ms] { watch(client, timeout_ms); });
  }
  // The scenario's close(2) of the server socket; the watchdog leaves it alone from then on.
  void close_server() {
    std::lock_guard<std::mutex> g(mu_);
    close(server_);
    server_open_ = false;
  }
  // Stops the watchdog; whether it had to fire.
  bool finish() {
    finished_ = true;
    thread_.join();
    return fired_;
  }

 private:
  void watch(int client, long long timeout_ms) {
    const double end = now_s() + static_cast<double>(timeout_ms) / 1000.0;
    while (!finished_ && now_s() < end) usleep(10000);
    if (finished_) return;
    fired_ = true;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (server_open_) shutdown(server_, SHUT_RDWR);
    }
    shutdown(client, SHUT_RDWR);
  }

  const int server_;
  std::mutex mu_;
  bool server_open_ = true;  // guarded by mu_: no shutdown() of a closed (maybe reused) fd
  std::atomic<bool> finished_{false}, fired_{false};
  std::thread thread_;
};

// What one run's splices did.
struct SpliceTally {
  long long spliced = 0, inflight = 0, splice_errors = 0;
  int first_err = 0;
  std::string err;

  // Reaps want CQEs (fewer if the wait fails); splices are counted, timeouts only consumed.
  void reap(Ring& ring, unsigned want) {
    for (; want > 0; want--) {
      io_uring_cqe c{};
      if (!ring.wait(c)) return;
      if (c.user_data != kUserDataSplice) continue;
      if (c.res > 0) {
        spliced += c.res;
      } else {
        splice_errors++;
        if (!first_err) first_err = c.res;
      }
      inflight--;
    }
  }
};

// Fills the pipe chunk by chunk from the file and splices each chunk into sock, waiting for it
// before the next; the race timeouts go with the last splice. Then closes sock (unless
// close_early closed it right after the last submission).
SpliceTally splice_all(const CloseConfig& c, Ring& ring, int file, const Pipe& pipe, int sock,
                       RunWatchdog& wd) {
  SpliceTally t;
  __kernel_timespec ts{};
  ts.tv_nsec = c.race_us * 1000;
  unsigned pending = 0;  // submitted, not reaped (timeouts included)
  bool closed = false;
  off_t off = 0;
  while (off < c.bytes) {
    const long long n = std::min(c.chunk, c.bytes - off);
    const ssize_t in = splice(file, &off, pipe.wr.fd, nullptr, static_cast<size_t>(n), 0);
    if (in <= 0) { t.err = "splice file->pipe"; break; }
    const bool last = off >= c.bytes;
    ring.queue_splice(pipe.rd.fd, sock, static_cast<unsigned>(in), 0, kUserDataSplice);
    unsigned submit = 1;
    for (long long k = 0; last && k < c.race_timeouts; ++k, ++submit)
      ring.queue_timeout(&ts, kUserDataRaceTimeout);
    t.inflight++;
    pending += submit;
    ring.enter(submit, 0);
    if (last && c.close_early) {
      // io_uring still holds a reference to the socket file: the final fput (and the kTLS
      // close-time flush) happens when the splice request is freed.
      wd.close_server();
      closed = true;
    }
    // Wait for this splice before refilling the pipe (timeouts are reaped at the end).
    while (t.inflight > 0) {
      t.reap(ring, 1);
      pending--;
    }
  }
  t.reap(ring, pending);
  if (!closed) wd.close_server();
  return t;
}

struct RunResult {
  SpliceTally splices;
  long long received = 0;
  bool timed_out = false;
};

// One run on a fresh ring, pipe and loopback pair. Returns "" or why the run could not start.
std::string run_once(const CloseConfig& c, int file, RunResult& out) {
  std::string err;
  Ring ring;
  if (!ring.init(c.defer_taskrun, err)) return err;
  Pipe pipe;
  if (!open_pipe(pipe)) return "pipe";
  fcntl(pipe.wr.fd, F_SETPIPE_SZ, static_cast<int>(c.chunk));
  LoopbackPair pair;
  if (!open_loopback_pair({.server_sndbuf = static_cast<int>(c.sndbuf)}, pair, err)) return err;
  if (!set_ktls_tx(pair.server.fd, c.tls, err)) return err;

  std::atomic<long long> received{0};
  std::thread client([&] {
    sleep_ms(c.client_delay_ms);
    read_until_eof(pair.client.fd, kClientReadBytes, &received);
  });
  // From here the scenario closes the server socket itself (close(2), through the watchdog).
  const int server = pair.server.release();
  RunWatchdog wd(server, pair.client.fd, c.timeout_ms);
  out.splices = splice_all(c, ring, file, pipe, server, wd);
  client.join();  // EOF after the close-time flush (or the watchdog's shutdown)
  out.timed_out = wd.finish();
  out.received = received;
  return "";
}

}  // namespace

std::string run_async_close(const KV& kv) {
  Json j = result_header("ktls-async-close", kv);
  const CloseConfig c = parse_close_config(kv);
  if (c.chunk <= 0 || c.chunk % kTlsMaxPayloadSize != 0)
    return j.failed("chunk must be a positive multiple of " + std::to_string(kTlsMaxPayloadSize));
  if (c.tls != 12 && c.tls != 13) return j.failed("tls must be 12 or 13");
  if (c.cryptd) j.s("cryptd_bind", bind_cryptd());

  const std::vector<char> data(static_cast<size_t>(c.bytes), 'y');
  Fd file;
  std::string err;
  if (!make_backing_file(c.dir + "/kpsim-close-XXXXXX", data.data(),
                         data.size(), file, err))
    return j.failed(err);

  const long long wire_expected = wire_bytes(c.bytes, c.tls);
  long long short_runs = 0, error_runs = 0, timeout_runs = 0, min_received = -1;
  JsonList run_details;
  std::string driver;
  for (long long r = 0; r < c.runs; ++r) {
    RunResult run;
    err = run_once(c, file.fd, run);
    if (!err.empty()) return j.failed(err);
    const SpliceTally& t = run.splices;
    timeout_runs += run.timed_out;
    if (driver.empty()) driver = gcm_aes_driver();
    const bool short_read =
        !run.timed_out && t.splice_errors == 0 && t.spliced == c.bytes && run.received < wire_expected;
    short_runs += short_read;
    error_runs += t.splice_errors != 0 || !t.err.empty();
    if (min_received < 0 || run.received < min_received) min_received = run.received;
    run_details.add(Json().i("spliced", t.spliced).i("received", run.received)
                        .i("splice_errors", t.splice_errors).i("first_err", t.first_err)
                        .b("short", short_read).b("timed_out", run.timed_out).s("error", t.err));
  }
  j.b("ok", true).s("error", "").s("gcm_aes_driver", driver)
      .i("wire_expected", wire_expected).i("runs", c.runs).i("short_runs", short_runs)
      .i("error_runs", error_runs).i("timeout_runs", timeout_runs).i("min_received", min_received)
      .raw("run_results", run_details.str())
      .s("verdict", short_runs      ? "short-read"
                    : timeout_runs  ? "stuck"
                    : error_runs    ? "splice-error"
                                    : "no-short-read");
  return j.str();
}

}  // namespace kpsim::guest
