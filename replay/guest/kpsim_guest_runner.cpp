// kpsim-guest-runner: the workload that runs *inside* the qemu guest (scripts/guest/boot).
//
// The host kernel of this project has no kTLS, so the kTLS scenarios are replayed on Debian
// kernels booted under qemu TCG. This program is the guest's only workload: it is linked
// statically (the initramfs has no libc), takes one configuration per argument and prints one
// machine-readable line per configuration on stdout (the serial console):
//
//     KPSIM-RESULT {"mode":"ktls-sendfile-stall", ...}
//
// Configurations are comma-separated key=value lists, e.g.
//     mode=ktls-sendfile-stall,mss=1448,lowat=16384,bytes=4194304,api=sendfile
// Several configurations run one after the other in the same boot, because under TCG absolute
// times mean nothing; only ratios within one boot do.
//
// Modes:
//   ktls-sendfile-stall  seed 001 ("TLS_SW sendfile() stalls at large MSS"): loopback TCP pair,
//                        kTLS TX with a fixed key on the accepted socket, the client drains raw
//                        ciphertext bytes; TCP_INFO is sampled to observe the stall signature
//                        (a send call in progress, notsent > 0, nothing in flight).
//   ktls-async-close     seed 002 ("io_uring splice and KTLS"): io_uring splice into a kTLS
//                        socket, close, and count what the client received (run_async_close()).
//                        With force=window: the model's counterexample built deterministically
//                        (run_async_close_forced(): cryptd backlog, paused client, IORING_OP_CLOSE,
//                        a pipe read completed while the close sleeps in sk_stream_wait_memory).
//
// Keys of ktls-sendfile-stall (defaults in StallConfig):
//   mss=N          TCP_MAXSEG on the listener (0: loopback default); inherited by accept()
//   lowat=N        net.ipv4.tcp_notsent_lowat during the run (0: leave the kernel's value)
//   bytes=N        payload bytes to send (the backing file in /tmp, a tmpfs in the guest)
//   chunk=N        bytes per send call (0: all in one call, as the report's reproducer does)
//   api=sendfile|write
//   tls=13|12|0    TLS version for TLS_TX (0: plain TCP, a control)
//   timeout_ms=N   give up sending after this long (the sender is interrupted with a signal)
//   sample_ms=N    TCP_INFO sampling period (default 5)
//   stall_ms=N     verdict "stall" when the send calls spent this long in total in episodes
//                  of the signature without progress (default 1000 ms = 5 loopback persist
//                  intervals of 200 ms)
#include <arpa/inet.h>
#include <linux/if_alg.h>
#include <linux/io_uring.h>
#include <linux/tcp.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

namespace {

using KV = std::map<std::string, std::string>;

double now_s() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// ---------------------------------------------------------------- small JSON writer
std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += c;
        }
    }
  }
  return o;
}

class Json {
 public:
  Json& s(const char* k, const std::string& v) { return raw(k, "\"" + json_escape(v) + "\""); }
  Json& i(const char* k, long long v) { return raw(k, std::to_string(v)); }
  Json& b(const char* k, bool v) { return raw(k, v ? "true" : "false"); }
  Json& d(const char* k, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", v);
    return raw(k, buf);
  }
  Json& raw(const char* k, const std::string& v) {
    body_ += (body_.empty() ? "" : ",");
    body_ += "\"" + json_escape(k) + "\":" + v;
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

std::string kv_json(const KV& kv) {
  Json j;
  for (const auto& [k, v] : kv) j.s(k.c_str(), v);
  return j.str();
}

void emit_result(const std::string& json) {
  // One line, flushed at once: the host parses the serial log line by line and the kernel may
  // interleave its own messages between writes.
  std::string line = "KPSIM-RESULT " + json + "\n";
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

// ---------------------------------------------------------------- kernel facts
std::string kernel_release() {
  utsname u{};
  uname(&u);
  return u.release;
}

std::string read_file(const char* path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool write_file(const char* path, const std::string& v) {
  int fd = open(path, O_WRONLY | O_TRUNC);
  if (fd < 0) return false;
  bool ok = write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size());
  close(fd);
  return ok;
}

// The highest-priority driver registered for gcm(aes): tells whether kTLS used the generic
// synchronous implementation, AES-NI, or a cryptd (async) instance.
std::string gcm_aes_driver() {
  std::istringstream in(read_file("/proc/crypto"));
  std::string line, name, driver, best;
  long prio = -1, best_prio = -1;
  auto flush = [&] {
    if (name == "gcm(aes)" && prio > best_prio) {
      best_prio = prio;
      best = driver + " (priority " + std::to_string(prio) + ")";
    }
    name.clear();
    driver.clear();
    prio = -1;
  };
  while (std::getline(in, line)) {
    if (line.empty()) { flush(); continue; }
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon), v = line.substr(colon + 1);
    k.erase(k.find_last_not_of(" \t") + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    if (k == "name") name = v;
    else if (k == "driver") driver = v;
    else if (k == "priority") prio = std::strtol(v.c_str(), nullptr, 10);
  }
  flush();
  return best;
}

// TcpExt counters from /proc/net/netstat (pairs of "TcpExt: names" / "TcpExt: values" lines).
std::map<std::string, long long> tcpext() {
  std::istringstream in(read_file("/proc/net/netstat"));
  std::string names, values;
  std::map<std::string, long long> out;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string a, b;
    n >> a;
    v >> b;
    while (n >> a && v >> b) out[a] = std::strtoll(b.c_str(), nullptr, 10);
  }
  return out;
}

// ---------------------------------------------------------------- config parsing
KV parse_config(const std::string& arg) {
  KV kv;
  std::stringstream ss(arg);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) kv[item] = "1";
    else kv[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return kv;
}

long long get_num(const KV& kv, const char* k, long long dflt) {
  auto it = kv.find(k);
  return it == kv.end() ? dflt : std::strtoll(it->second.c_str(), nullptr, 0);
}
std::string get_str(const KV& kv, const char* k, const std::string& dflt) {
  auto it = kv.find(k);
  return it == kv.end() ? dflt : it->second;
}

// RAII for fds and for a temporarily changed sysctl: every exit path of a configuration
// releases what it took, so the next configuration in the same boot starts clean.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) close(fd);
    fd = f;
  }
};

struct SysctlOverride {
  std::string path, old;
  bool active = false;
  bool set(const std::string& p, const std::string& v) {
    path = p;
    old = read_file(p.c_str());
    active = write_file(p.c_str(), v);
    return active;
  }
  ~SysctlOverride() {
    if (active) write_file(path.c_str(), old);
  }
};

void on_sigusr1(int) {}  // only there to interrupt a blocking send (no SA_RESTART)

// ---------------------------------------------------------------- ktls-sendfile-stall
struct StallResult {
  Json j;
};

bool set_ktls_tx(int fd, int version, std::string& err) {
  if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) != 0) {
    err = std::string("setsockopt(TCP_ULP, tls): ") + strerror(errno);
    return false;
  }
  tls12_crypto_info_aes_gcm_128 ci{};
  ci.info.version = version == 12 ? TLS_1_2_VERSION : TLS_1_3_VERSION;
  ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
  // Fixed key material: nobody decrypts, the receiver only counts ciphertext bytes.
  memset(ci.iv, 1, sizeof ci.iv);
  memset(ci.key, 2, sizeof ci.key);
  memset(ci.salt, 3, sizeof ci.salt);
  if (setsockopt(fd, SOL_TLS, TLS_TX, &ci, sizeof ci) != 0) {
    err = std::string("setsockopt(SOL_TLS, TLS_TX): ") + strerror(errno);
    return false;
  }
  return true;
}

// Bytes on the wire for `bytes` of payload cut into full records (every send call's size is
// a multiple of the record size, or it is the last one). Only used as a completeness check.
long long wire_bytes(long long bytes, int tls) {
  if (tls == 0) return bytes;
  const long long rec = 16384;
  const long long overhead = tls == 12 ? 5 + 8 + 16 : 5 + 16 + 1;
  return bytes + (bytes + rec - 1) / rec * overhead;
}

std::string run_sendfile_stall(const KV& kv) {
  Json j;
  j.s("mode", "ktls-sendfile-stall").s("kernel", kernel_release()).raw("config", kv_json(kv));
  const long long mss = get_num(kv, "mss", 0);
  const long long lowat = get_num(kv, "lowat", 0);
  const long long bytes = get_num(kv, "bytes", 4 << 20);
  long long chunk = get_num(kv, "chunk", 0);
  const std::string api = get_str(kv, "api", "sendfile");
  const int tls = static_cast<int>(get_num(kv, "tls", 13));
  const long long timeout_ms = get_num(kv, "timeout_ms", 60000);
  const long long sample_ms = std::max<long long>(1, get_num(kv, "sample_ms", 5));
  const long long stall_ms = get_num(kv, "stall_ms", 1000);
  if (chunk <= 0) chunk = bytes;
  auto fail = [&](const std::string& e) {
    j.b("ok", false).s("error", e);
    return j.str();
  };
  if (api != "sendfile" && api != "write") return fail("api must be sendfile or write");
  if (tls != 0 && tls != 12 && tls != 13) return fail("tls must be 0, 12 or 13");

  SysctlOverride lowat_override;
  if (lowat > 0 &&
      !lowat_override.set("/proc/sys/net/ipv4/tcp_notsent_lowat", std::to_string(lowat)))
    return fail("cannot set net.ipv4.tcp_notsent_lowat");
  {
    std::string cur = read_file("/proc/sys/net/ipv4/tcp_notsent_lowat");
    cur.erase(cur.find_last_not_of("\n ") + 1);
    j.s("notsent_lowat", cur);
  }

  // Backing data: a tmpfs file for sendfile (page cache pages get spliced), memory for write.
  std::string dir = get_str(kv, "dir", "/tmp");
  std::string path = dir + "/kpsim-stall-XXXXXX";
  std::vector<char> buf(static_cast<size_t>(bytes), 'x');
  Fd file(mkstemp(path.data()));
  if (file.fd < 0) return fail(std::string("mkstemp: ") + strerror(errno));
  unlink(path.c_str());
  for (size_t off = 0; off < buf.size();) {
    ssize_t n = write(file.fd, buf.data() + off, buf.size() - off);
    if (n <= 0) return fail(std::string("write backing file: ") + strerror(errno));
    off += static_cast<size_t>(n);
  }

  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Fd lfd(socket(AF_INET, SOCK_STREAM, 0));
  if (lfd.fd < 0) return fail("socket");
  int one = 1;
  setsockopt(lfd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Clamp on the listener, as the report does: the SYN-ACK announces it and accept() inherits it.
  if (mss > 0) {
    int m = static_cast<int>(mss);
    if (setsockopt(lfd.fd, IPPROTO_TCP, TCP_MAXSEG, &m, sizeof m) != 0)
      return fail(std::string("TCP_MAXSEG: ") + strerror(errno));
  }
  if (bind(lfd.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("bind");
  socklen_t alen = sizeof a;
  getsockname(lfd.fd, reinterpret_cast<sockaddr*>(&a), &alen);
  if (listen(lfd.fd, 1) != 0) return fail("listen");

  // Client: connect, count raw bytes until EOF. It reads as fast as it can so the receive
  // window never closes: any stall is the sender's.
  std::atomic<long long> received{0};
  std::atomic<double> t_last_byte{0};
  std::atomic<double> t_start{0};
  Fd cfd(socket(AF_INET, SOCK_STREAM, 0));
  if (cfd.fd < 0) return fail("client socket");
  if (connect(cfd.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return fail(std::string("connect: ") + strerror(errno));
  Fd s(accept(lfd.fd, nullptr, nullptr));
  if (s.fd < 0) return fail("accept");
  int smss = 0;
  socklen_t ml = sizeof smss;
  getsockopt(s.fd, IPPROTO_TCP, TCP_MAXSEG, &smss, &ml);
  j.i("sender_mss", smss);
  std::string err;
  if (tls != 0 && !set_ktls_tx(s.fd, tls, err)) return fail(err);

  std::thread client([&] {
    std::vector<char> rb(1 << 18);
    for (;;) {
      ssize_t n = read(cfd.fd, rb.data(), rb.size());
      if (n <= 0) break;
      received += n;
      t_last_byte = now_s();
    }
  });

  // Sender state shared with the sampler.
  std::atomic<bool> in_call{false}, done{false}, abort_flag{false};
  std::atomic<double> call_start{0};
  pthread_t sender_thread = pthread_self();

  // A stall episode: consecutive samples with the signature during which the connection made
  // no progress (tcpi_bytes_sent unchanged). Its length counts from the sample at which
  // bytes_sent last changed, so it is a lower bound with the sampling period as resolution.
  // (Checking progress matters: one record per persist interval looks like a permanent
  // "notsent = one record" to a slower sampler, because each record is replaced by the next
  // between two samples.)
  struct Sampler {
    long long samples = 0, stall_samples = 0, episodes = 0, long_episodes = 0;
    bool open = false;
    double cur = 0, longest_stall = 0, stall_total = 0, last_progress_t = 0;
    unsigned long long last_bytes_sent = 0;
    unsigned max_notsent = 0, stall_notsent_min = ~0u, stall_notsent_max = 0;
    unsigned max_probes = 0, max_backoff = 0, max_unacked = 0;
    void close_episode() {
      if (!open) return;
      open = false;
      stall_total += cur;
      if (cur >= 0.1) long_episodes++;
    }
  } smp;

  auto tcpext_before = tcpext();
  t_start = now_s();
  smp.last_progress_t = t_start;
  std::thread sampler([&] {
    while (!done) {
      usleep(static_cast<useconds_t>(sample_ms * 1000));
      tcp_info ti{};
      socklen_t tl = sizeof ti;
      if (getsockopt(s.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0) continue;
      double t = now_s();
      smp.samples++;
      smp.max_notsent = std::max(smp.max_notsent, ti.tcpi_notsent_bytes);
      smp.max_probes = std::max<unsigned>(smp.max_probes, ti.tcpi_probes);
      smp.max_backoff = std::max<unsigned>(smp.max_backoff, ti.tcpi_backoff);
      smp.max_unacked = std::max(smp.max_unacked, ti.tcpi_unacked);
      // The seed's signature: the application is inside a send call, bytes are queued but not
      // sent, and nothing is in flight (so no ACK will come to push them).
      bool sig = in_call && ti.tcpi_notsent_bytes > 0 && ti.tcpi_unacked == 0;
      bool progressed = ti.tcpi_bytes_sent != smp.last_bytes_sent;
      if (progressed) {
        smp.close_episode();
        smp.last_bytes_sent = ti.tcpi_bytes_sent;
        smp.last_progress_t = t;
      } else if (sig) {
        smp.stall_samples++;
        smp.stall_notsent_min = std::min(smp.stall_notsent_min, ti.tcpi_notsent_bytes);
        smp.stall_notsent_max = std::max(smp.stall_notsent_max, ti.tcpi_notsent_bytes);
        if (!smp.open) {
          smp.open = true;
          smp.episodes++;
        }
        smp.cur = t - smp.last_progress_t;
        smp.longest_stall = std::max(smp.longest_stall, smp.cur);
      } else {
        smp.close_episode();
      }
      if (in_call && t - t_start > static_cast<double>(timeout_ms) / 1000.0) {
        abort_flag = true;
        pthread_kill(sender_thread, SIGUSR1);  // interrupts sk_stream_wait_memory
      }
    }
  });

  long long sent = 0, calls = 0;
  double longest_call = 0, longest_call_start = 0;
  long long longest_call_bytes = 0;
  off_t off = 0;
  t_start = now_s();  // again: the times below count from the first send call
  while (sent < bytes && !abort_flag) {
    size_t want = static_cast<size_t>(std::min(chunk, bytes - sent));
    call_start = now_s();
    in_call = true;
    ssize_t n = api == "sendfile" ? sendfile(s.fd, file.fd, &off, want)
                                  : write(s.fd, buf.data() + sent, want);
    in_call = false;
    double dur = now_s() - call_start;
    calls++;
    if (n > 0) sent += n;
    if (dur > longest_call) {
      longest_call = dur;
      longest_call_start = call_start - t_start;
      longest_call_bytes = n > 0 ? n : 0;
    }
    if (n < 0) {
      if (errno == EINTR && !abort_flag) continue;
      if (!abort_flag) err = std::string(api) + ": " + strerror(errno);
      break;
    }
    if (n == 0) break;
  }
  double t_sent = now_s();
  // Close the sender: kTLS flushes its open record, TCP sends FIN; the client sees EOF.
  s.reset();
  client.join();
  done = true;
  sampler.join();
  smp.close_episode();
  auto tcpext_after = tcpext();
  // (TCPWinProbe stays 0 here: a probe that carries the corked data is not counted as a window
  // probe, and it resets tcpi_probes/backoff because data is then in flight. Episodes of the
  // signature are the observable.)

  const double elapsed = (t_last_byte > 0 ? t_last_byte.load() : t_sent) - t_start;
  const long long wire_expected = wire_bytes(bytes, tls);
  const bool complete = sent == bytes && received == wire_expected;
  // Verdict: the send call(s) spent at least stall_ms in no-progress episodes with the
  // signature (default 1 s = 5 loopback persist intervals of 200 ms).
  const bool stall = smp.stall_total * 1000.0 >= static_cast<double>(stall_ms);
  // A timeout is an observation, not a failure of the run: the verdict says "stall" and
  // timed_out/completed say that the transfer never finished (a permanent stall).
  j.b("ok", err.empty() && (complete || abort_flag))
      .s("error", err)
      .b("timed_out", abort_flag)
      .b("completed", complete)
      .s("gcm_aes_driver", tls ? gcm_aes_driver() : "")
      .i("sent", sent)
      .i("wire_expected", wire_expected)
      .i("wire_received", received)
      .d("send_s", t_sent - t_start)
      .d("elapsed_s", elapsed)
      .d("throughput_MiBps", elapsed > 0 ? static_cast<double>(sent) / elapsed / 1048576.0 : 0)
      .i("send_calls", calls)
      .d("longest_call_s", longest_call)
      .d("longest_call_at_s", longest_call_start)
      .i("longest_call_bytes", longest_call_bytes)
      .i("samples", smp.samples)
      .i("stall_samples", smp.stall_samples)
      .d("longest_stall_s", smp.longest_stall)
      .i("stall_episodes", smp.episodes)
      .i("stall_episodes_ge_100ms", smp.long_episodes)
      .d("stall_total_s", smp.stall_total)
      .d("stall_mean_episode_s", smp.episodes ? smp.stall_total / static_cast<double>(smp.episodes) : 0)
      .i("stall_notsent_min", smp.stall_samples ? smp.stall_notsent_min : 0)
      .i("stall_notsent_max", smp.stall_notsent_max)
      .i("max_notsent", smp.max_notsent)
      .i("max_unacked", smp.max_unacked)
      .i("max_probes", smp.max_probes)
      .i("max_backoff", smp.max_backoff)
      .i("tcpext_winprobe", tcpext_after["TCPWinProbe"] - tcpext_before["TCPWinProbe"])
      .i("tcpext_autocorking", tcpext_after["TCPAutoCorking"] - tcpext_before["TCPAutoCorking"])
      .s("verdict", stall ? "stall" : "no-stall");
  return j.str();
}

// ---------------------------------------------------------------- ktls-async-close
// Seed 002 ("Problem with io_uring splice and KTLS"): IORING_OP_SPLICE (pipe -> kTLS socket;
// always punted to an io-wq worker) followed by close(). With async crypto, records are
// transmitted later (tx work or at close); if the close-time flush has to wait for send
// space and the wait is interrupted (TIF_NOTIFY_SIGNAL from io_uring task_work counts as a
// signal), the remaining records are dropped and the client reads less than was spliced.
//
// Keys: bytes (default 1 MiB), chunk (bytes per splice, multiple of 16384, default 65536),
//   runs (default 5), cryptd=0|1 (bind an AF_ALG aead socket to cryptd(gcm(aes)) first: its
//   instance outranks the generic gcm(aes), so kTLS gets an async AEAD), defer_taskrun=0|1,
//   sndbuf (SO_SNDBUF of the sender, 0 = default), client_delay_ms (client sleeps before
//   reading so the send buffer is full at close), close_early=0|1 (close right after
//   submitting the last splice instead of after its completion; measured on 6.12: the punted
//   request resolves the fd only when io-wq issues it, so it fails with -EBADF — a harness
//   artefact, reported as "splice-error", not as the bug), race_timeouts=N
//   (N IORING_OP_TIMEOUTs of race_us each, queued with the last splice: their completions add
//   task_work around the close), race_us (default 1000), tls=13|12, timeout_ms (per run,
//   default 20000; a run still going then is shut down and counted as "stuck").
// Verdict per config: "short-read" if in any run every splice succeeded and the client still
// received fewer bytes than expected; "splice-error" if a splice failed (nothing to compare).
struct Ring {
  int fd = -1;
  void* sq = MAP_FAILED;
  void* cq = MAP_FAILED;
  size_t sq_len = 0, cq_len = 0, sqe_len = 0;
  io_uring_sqe* sqes = nullptr;
  io_uring_params p{};
  unsigned *sq_head = nullptr, *sq_tail = nullptr, *sq_mask = nullptr, *sq_array = nullptr;
  unsigned *cq_head = nullptr, *cq_tail = nullptr, *cq_mask = nullptr;
  io_uring_cqe* cqes = nullptr;
  bool single = false;

  bool init(unsigned entries, unsigned flags, std::string& err) {
    p.flags = flags;
    fd = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
    if (fd < 0) { err = std::string("io_uring_setup: ") + strerror(errno); return false; }
    sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    cq_len = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    single = p.features & IORING_FEAT_SINGLE_MMAP;
    if (single) sq_len = cq_len = std::max(sq_len, cq_len);
    sq = mmap(nullptr, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) { err = "mmap sq"; return false; }
    cq = single ? sq : mmap(nullptr, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) { err = "mmap cq"; return false; }
    sqe_len = p.sq_entries * sizeof(io_uring_sqe);
    sqes = static_cast<io_uring_sqe*>(mmap(nullptr, sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES));
    if (sqes == MAP_FAILED) { sqes = nullptr; err = "mmap sqes"; return false; }
    auto at = [](void* base, unsigned off) { return reinterpret_cast<unsigned*>(static_cast<char*>(base) + off); };
    sq_head = at(sq, p.sq_off.head); sq_tail = at(sq, p.sq_off.tail);
    sq_mask = at(sq, p.sq_off.ring_mask); sq_array = at(sq, p.sq_off.array);
    cq_head = at(cq, p.cq_off.head); cq_tail = at(cq, p.cq_off.tail); cq_mask = at(cq, p.cq_off.ring_mask);
    cqes = reinterpret_cast<io_uring_cqe*>(static_cast<char*>(cq) + p.cq_off.cqes);
    return true;
  }
  ~Ring() {
    if (sqes) munmap(sqes, sqe_len);
    if (cq != MAP_FAILED && !single) munmap(cq, cq_len);
    if (sq != MAP_FAILED) munmap(sq, sq_len);
    if (fd >= 0) close(fd);
  }
  io_uring_sqe* get() {
    unsigned tail = *sq_tail, idx = tail & *sq_mask;
    io_uring_sqe* e = &sqes[idx];
    memset(e, 0, sizeof *e);
    sq_array[idx] = idx;
    __atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
    return e;
  }
  int enter(unsigned submit, unsigned wait) {
    return static_cast<int>(syscall(__NR_io_uring_enter, fd, submit, wait,
                                    wait ? IORING_ENTER_GETEVENTS : 0, nullptr, 0));
  }
  // Pops one CQE if available.
  bool pop(io_uring_cqe& out) {
    unsigned head = *cq_head;
    if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) return false;
    out = cqes[head & *cq_mask];
    __atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
    return true;
  }
};

// Registers cryptd(gcm(aes)) by binding an AF_ALG aead socket to it. The bind may fail while
// the instance stays registered (real-kernel-env.md), so the caller checks /proc/crypto.
std::string bind_cryptd() {
  Fd a(socket(AF_ALG, SOCK_SEQPACKET, 0));
  if (a.fd < 0) return std::string("socket(AF_ALG): ") + strerror(errno);
  sockaddr_alg sa{};
  sa.salg_family = AF_ALG;
  strcpy(reinterpret_cast<char*>(sa.salg_type), "aead");
  strcpy(reinterpret_cast<char*>(sa.salg_name), "cryptd(gcm(aes))");
  if (bind(a.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return std::string("bind(cryptd(gcm(aes))): ") + strerror(errno);
  return "";
}

std::string run_async_close(const KV& kv) {
  Json j;
  j.s("mode", "ktls-async-close").s("kernel", kernel_release()).raw("config", kv_json(kv));
  const long long bytes = get_num(kv, "bytes", 1 << 20);
  const long long chunk = get_num(kv, "chunk", 65536);
  const long long runs = get_num(kv, "runs", 5);
  const bool cryptd = get_num(kv, "cryptd", 1) != 0;
  const bool defer = get_num(kv, "defer_taskrun", 0) != 0;
  const long long sndbuf = get_num(kv, "sndbuf", 0);
  const long long client_delay_ms = get_num(kv, "client_delay_ms", 50);
  const bool close_early = get_num(kv, "close_early", 0) != 0;
  const long long race_timeouts = get_num(kv, "race_timeouts", 2);
  const long long race_us = get_num(kv, "race_us", 1000);
  const int tls = static_cast<int>(get_num(kv, "tls", 13));
  const long long timeout_ms = get_num(kv, "timeout_ms", 20000);
  auto fail = [&](const std::string& e) {
    j.b("ok", false).s("error", e);
    return j.str();
  };
  if (chunk <= 0 || chunk % 16384 != 0) return fail("chunk must be a positive multiple of 16384");
  if (tls != 12 && tls != 13) return fail("tls must be 12 or 13");
  if (cryptd) j.s("cryptd_bind", bind_cryptd());

  std::vector<char> data(static_cast<size_t>(bytes), 'y');
  std::string path = get_str(kv, "dir", "/tmp") + "/kpsim-close-XXXXXX";
  Fd file(mkstemp(path.data()));
  if (file.fd < 0) return fail("mkstemp");
  unlink(path.c_str());
  if (write(file.fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    return fail("write backing file");

  const long long wire_expected = wire_bytes(bytes, tls);
  long long short_runs = 0, error_runs = 0, timeout_runs = 0, min_received = -1;
  std::string run_details = "[";
  std::string driver;
  for (long long r = 0; r < runs; ++r) {
    std::string err;
    Ring ring;
    if (!ring.init(16, defer ? (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) : 0, err))
      return fail(err);
    int pfd[2];
    if (pipe(pfd) != 0) return fail("pipe");
    Fd pr(pfd[0]), pw(pfd[1]);
    fcntl(pw.fd, F_SETPIPE_SZ, static_cast<int>(chunk));

    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    Fd lfd(socket(AF_INET, SOCK_STREAM, 0));
    if (bind(lfd.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd.fd, 1) != 0)
      return fail("listen");
    socklen_t alen = sizeof a;
    getsockname(lfd.fd, reinterpret_cast<sockaddr*>(&a), &alen);
    Fd cfd(socket(AF_INET, SOCK_STREAM, 0));
    if (connect(cfd.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("connect");
    int s = accept(lfd.fd, nullptr, nullptr);  // closed by the scenario itself (close())
    if (s < 0) return fail("accept");
    if (sndbuf > 0) {
      int v = static_cast<int>(sndbuf);
      setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    }
    if (!set_ktls_tx(s, tls, err)) { close(s); return fail(err); }

    std::atomic<long long> received{0};
    std::thread client([&] {
      usleep(static_cast<useconds_t>(client_delay_ms * 1000));
      std::vector<char> rb(1 << 16);
      for (;;) {
        ssize_t n = read(cfd.fd, rb.data(), rb.size());
        if (n <= 0) break;
        received += n;
      }
    });

    // Watchdog: a run that makes no progress (measured on 6.1 with a small SO_SNDBUF: the
    // io-wq splice never completes) is ended by shutting both sockets down, which wakes any
    // send-space wait with EPIPE; the run is then reported with timed_out.
    // (No dup() of s for this: an extra file reference would change who does the final fput.)
    std::atomic<bool> finished{false}, fired{false};
    std::mutex s_mu;
    bool s_open = true;  // guarded by s_mu: the watchdog must not touch s after close(s)
    std::thread watchdog([&] {
      double end = now_s() + static_cast<double>(timeout_ms) / 1000.0;
      while (!finished && now_s() < end) usleep(10000);
      if (!finished) {
        fired = true;
        {
          std::lock_guard<std::mutex> g(s_mu);
          if (s_open) shutdown(s, SHUT_RDWR);
        }
        shutdown(cfd.fd, SHUT_RDWR);
      }
    });
    auto close_s = [&] {
      std::lock_guard<std::mutex> g(s_mu);
      close(s);
      s_open = false;
    };
    long long spliced = 0, inflight = 0, splice_errors = 0;
    int first_err = 0;
    off_t off = 0;
    bool closed = false;
    __kernel_timespec ts{};
    ts.tv_nsec = race_us * 1000;
    auto reap = [&](unsigned want) {
      while (want > 0) {
        io_uring_cqe c{};
        while (!ring.pop(c)) {
          if (ring.enter(0, 1) < 0 && errno != EINTR) return;
        }
        if (c.user_data == 1) {  // a splice
          if (c.res > 0) spliced += c.res;
          else { splice_errors++; if (!first_err) first_err = c.res; }
          inflight--;
        }
        want--;
      }
    };
    unsigned pending = 0;
    while (off < bytes) {
      long long n = std::min(chunk, bytes - off);
      ssize_t in = splice(file.fd, &off, pw.fd, nullptr, static_cast<size_t>(n), 0);
      if (in <= 0) { err = "splice file->pipe"; break; }
      bool last = off >= bytes;
      io_uring_sqe* e = ring.get();
      e->opcode = IORING_OP_SPLICE;
      e->fd = s;
      e->off = static_cast<__u64>(-1);
      e->splice_fd_in = pr.fd;
      e->splice_off_in = static_cast<__u64>(-1);
      e->len = static_cast<__u32>(in);
      e->user_data = 1;
      unsigned submit = 1;
      if (last) {
        for (long long t = 0; t < race_timeouts; ++t) {
          io_uring_sqe* te = ring.get();
          te->opcode = IORING_OP_TIMEOUT;
          te->addr = reinterpret_cast<__u64>(&ts);
          te->len = 1;
          te->user_data = 2;
          submit++;
        }
      }
      inflight++;
      pending += submit;
      ring.enter(submit, 0);
      if (last && close_early) {
        // io_uring still holds a reference to the socket file: the final fput (and the kTLS
        // close-time flush) happens when the splice request is freed.
        close_s();
        closed = true;
      }
      // Wait for this splice before refilling the pipe (timeouts are reaped at the end).
      while (inflight > 0) { reap(1); pending--; }
    }
    reap(pending);
    pending = 0;
    if (!closed) close_s();
    client.join();  // EOF after the close-time flush (or the watchdog's shutdown)
    finished = true;
    watchdog.join();
    timeout_runs += fired;
    if (driver.empty()) driver = gcm_aes_driver();
    long long got = received;
    bool short_read = !fired && splice_errors == 0 && spliced == bytes && got < wire_expected;
    short_runs += short_read;
    error_runs += splice_errors != 0 || !err.empty();
    if (min_received < 0 || got < min_received) min_received = got;
    run_details += (r ? "," : "") + Json().i("spliced", spliced).i("received", got)
                       .i("splice_errors", splice_errors).i("first_err", first_err)
                       .b("short", short_read).b("timed_out", fired).s("error", err).str();
  }
  run_details += "]";
  j.b("ok", true).s("error", "").s("gcm_aes_driver", driver)
      .i("wire_expected", wire_expected).i("runs", runs).i("short_runs", short_runs)
      .i("error_runs", error_runs).i("timeout_runs", timeout_runs).i("min_received", min_received)
      .raw("run_results", run_details)
      .s("verdict", short_runs      ? "short-read"
                    : timeout_runs  ? "stuck"
                    : error_runs    ? "splice-error"
                                    : "no-short-read");
  return j.str();
}

// ---------------------------------------------------------------- ktls-async-close, force=window
// The model's counterexample (docs/ktls-close.md, traces/findings/seed002-*) built step by step
// instead of hoped for. Selected by mode=ktls-async-close,force=window. Per run:
//   1. loopback pair, client SO_RCVBUF=rcvbuf (before connect) and paused, server SO_SNDBUF=
//      sndbuf, TCP_NODELAY, kTLS TX: the close-time flush cannot push more than a few KiB.
//   2. cryptd backlog (flood records): a second kTLS connection sends `flood` full records with
//      MSG_MORE first; cryptd serves its per-CPU queue in order, so the records of step 3 are
//      still pending encryption when the close starts (the model's step 13, "3 encryptions
//      pending"), and tx_work (scheduled only by tls_encrypt_done) has nothing to push yet.
//   3. `records` full records (records*16384 B, no open record left) pipe -> socket by one
//      IORING_OP_SPLICE with SPLICE_F_MORE (6.12: no wait at send_end), reaped.
//   4. closer=uring: IORING_OP_CLOSE + GETEVENTS: io_close's (or the freed splice request's)
//      fput is the last one, ____fput runs in io_cqring_wait's io_run_task_work inside
//      io_uring_enter (the report's stack). closer=syscall: close(2) (task_work at syscall
//      exit).
//   5. trigger=pipe: an IORING_OP_READ on a pipe was queued before step 2; a helper thread
//      samples /proc/self/task/<submitter>/stack and, once the submitter sleeps in
//      sk_stream_wait_memory under tls_sw_release_resources_tx (or, at=async, in
//      tls_encrypt_async_wait), writes one byte to that pipe: the read completes and io_uring
//      queues its completion task work on the submitter with the ring's notify method
//      (TWA_SIGNAL on a default ring -> TIF_NOTIFY_SIGNAL). trigger=timeout: an
//      IORING_OP_TIMEOUT of trigger_ms queued with the close. trigger=none: no other request.
//   6. the client waits until the close returned (at most client_wait_ms), then reads to EOF.
// Result per run: bytes the client got vs the wire size of what was spliced, the submitter's
// stacks seen during the close, close duration, TCP_INFO before the close; with trace=1 also
// tracefs lines (io_uring task_add/complete, kretprobes on sk_stream_wait_memory,
// tls_tx_records, tls_sw_release_resources_tx) as KPSIM-TRACE lines.
// Keys: records (8), flood (256), sndbuf (4096), rcvbuf (4096), closer=uring|syscall,
//   trigger=pipe|timeout|none, at=wait|async, trigger_ms (200, timeout only), trigger_delay_ms
//   (0: how long after the stack was seen), defer_taskrun=0|1, more=1|0, cryptd=1|0, runs (3),
//   client_wait_ms (4000), trace=0|1, tls=13|12.
bool g_trace_ready = false;
bool kprobes_ok = false;

bool trace_setup() {
  if (g_trace_ready) return true;
  mkdir("/sys/kernel/tracing", 0755);
  if (access("/sys/kernel/tracing/trace", F_OK) != 0 &&
      syscall(SYS_mount, "tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    return false;
  const char* T = "/sys/kernel/tracing/";
  auto w = [&](const std::string& f, const std::string& v) {
    int fd = open((std::string(T) + f).c_str(), O_WRONLY | O_APPEND);
    if (fd < 0) return false;
    bool ok = write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size());
    close(fd);
    return ok;
  };
  kprobes_ok = w("kprobe_events", "r:kpsim/swm_ret sk_stream_wait_memory ret=$retval\n");
  w("kprobe_events", "r:kpsim/txrec_ret tls:tls_tx_records ret=$retval\n");
  w("kprobe_events", "p:kpsim/release_tx tls:tls_sw_release_resources_tx\n");
  w("kprobe_events", "r:kpsim/release_tx_ret tls:tls_sw_release_resources_tx\n");
  w("kprobe_events", "r:kpsim/tcp_sendmsg_locked_ret tcp_sendmsg_locked ret=$retval\n");
  w("buffer_size_kb", "4096");
  for (const char* ev : {"kpsim/enable", "io_uring/io_uring_task_add/enable",
                         "io_uring/io_uring_complete/enable", "io_uring/io_uring_submit_req/enable",
                         "io_uring/io_uring_queue_async_work/enable"})
    w(std::string("events/") + ev, "1");
  g_trace_ready = w("tracing_on", "1");
  return g_trace_ready;
}

void trace_clear() {
  if (!g_trace_ready) return;
  int fd = open("/sys/kernel/tracing/trace", O_WRONLY | O_TRUNC);
  if (fd >= 0) close(fd);
}

// The trace lines of the submitter (pid) plus every io_uring_task_add, at most max_lines.
long long trace_dump(long long run, int tid, size_t max_lines) {
  if (!g_trace_ready) return -1;
  std::istringstream in(read_file("/sys/kernel/tracing/trace"));
  std::string line, tag = "-" + std::to_string(tid) + " ";
  std::vector<std::string> keep;
  long long total = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    bool mine = line.find(tag) != std::string::npos;
    bool task_add = line.find("io_uring_task_add") != std::string::npos;
    bool tls = line.find("txrec_ret") != std::string::npos || line.find("release_tx") != std::string::npos;
    if (!(mine || task_add || tls)) continue;
    // the flood's own pushes are not interesting: keep only the submitter's tcp_sendmsg_locked
    if (!mine && line.find("tcp_sendmsg_locked") != std::string::npos) continue;
    total++;
    keep.push_back(line);
  }
  size_t from = keep.size() > max_lines ? keep.size() - max_lines : 0;
  for (size_t k = from; k < keep.size(); ++k) {
    std::string l = keep[k];
    l.erase(0, l.find_first_not_of(' '));
    printf("KPSIM-TRACE {\"run\":%lld,\"line\":\"%s\"}\n", run, json_escape(l).c_str());
  }
  fflush(stdout);
  return total;
}

std::string stack_funcs(const std::string& st) {
  // "[<0>] sk_stream_wait_memory+0x.../0x..." lines -> "sk_stream_wait_memory<tls_push_sg<..."
  std::istringstream in(st);
  std::string line, out;
  while (std::getline(in, line)) {
    auto b = line.find("] ");
    if (b == std::string::npos) continue;
    std::string f = line.substr(b + 2);
    f = f.substr(0, f.find('+'));
    out += (out.empty() ? "" : "<") + f;
  }
  return out;
}

// The /proc/crypto entries named gcm(aes), compacted: driver/priority/refcnt/selftest/async.
std::string gcm_aes_entries() {
  std::istringstream in(read_file("/proc/crypto"));
  std::string line, block, out;
  bool gcm = false;
  auto flush = [&] {
    if (gcm) out += (out.empty() ? "" : " | ") + block;
    block.clear();
    gcm = false;
  };
  while (std::getline(in, line)) {
    if (line.empty()) { flush(); continue; }
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon), v = line.substr(colon + 1);
    k.erase(k.find_last_not_of(" \t") + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    if (k == "name" && v == "gcm(aes)") gcm = true;
    if (k == "driver" || k == "priority" || k == "refcnt" || k == "selftest" || k == "async" ||
        k == "internal")
      block += k + "=" + v + " ";
  }
  flush();
  return out;
}

std::string run_async_close_forced(const KV& kv) {
  Json j;
  j.s("mode", "ktls-async-close").s("kernel", kernel_release()).raw("config", kv_json(kv));
  const long long records = get_num(kv, "records", 8);
  const long long flood = get_num(kv, "flood", 256);
  const long long sndbuf = get_num(kv, "sndbuf", 4096);
  const long long rcvbuf = get_num(kv, "rcvbuf", 4096);
  const std::string closer = get_str(kv, "closer", "uring");
  const std::string trigger = get_str(kv, "trigger", "pipe");
  const std::string at = get_str(kv, "at", "wait");
  const long long trigger_ms = get_num(kv, "trigger_ms", 200);
  const long long trigger_delay_ms = get_num(kv, "trigger_delay_ms", 0);
  const bool defer = get_num(kv, "defer_taskrun", 0) != 0;
  const bool more = get_num(kv, "more", 1) != 0;
  const bool cryptd = get_num(kv, "cryptd", 1) != 0;
  const long long runs = get_num(kv, "runs", 3);
  const long long client_wait_ms = get_num(kv, "client_wait_ms", 4000);
  const bool trace = get_num(kv, "trace", 0) != 0;
  const int tls = static_cast<int>(get_num(kv, "tls", 13));
  auto fail = [&](const std::string& e) {
    j.b("ok", false).s("error", e);
    return j.str();
  };
  if (closer != "uring" && closer != "syscall") return fail("closer must be uring or syscall");
  if (trigger != "pipe" && trigger != "timeout" && trigger != "none") return fail("bad trigger");
  if (cryptd) j.s("cryptd_bind", bind_cryptd());
  if (trace) j.b("trace_ready", trace_setup()).b("kprobes_ok", kprobes_ok);
  const long long bytes = records * 16384;
  const long long wire_expected = wire_bytes(bytes, tls);
  std::vector<char> data(static_cast<size_t>(std::max(bytes, flood * 16384)), 'z');
  std::string path = "/tmp/kpsim-force-XXXXXX";
  Fd file(mkstemp(path.data()));
  if (file.fd < 0) return fail("mkstemp");
  unlink(path.c_str());
  if (write(file.fd, data.data(), static_cast<size_t>(bytes)) != static_cast<ssize_t>(bytes))
    return fail("write backing file");
  const int tid = static_cast<int>(syscall(SYS_gettid));
  const std::string stack_path = "/proc/self/task/" + std::to_string(tid) + "/stack";

  auto loopback_pair = [&](long long rcv, long long snd, int& srv, int& cli, std::string& err) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    Fd lfd(socket(AF_INET, SOCK_STREAM, 0));
    if (bind(lfd.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd.fd, 1) != 0) {
      err = "listen";
      return false;
    }
    socklen_t alen = sizeof a;
    getsockname(lfd.fd, reinterpret_cast<sockaddr*>(&a), &alen);
    cli = socket(AF_INET, SOCK_STREAM, 0);
    if (rcv > 0) { int v = static_cast<int>(rcv); setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &v, sizeof v); }
    if (connect(cli, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) { err = "connect"; return false; }
    srv = accept(lfd.fd, nullptr, nullptr);
    if (srv < 0) { err = "accept"; return false; }
    if (snd > 0) { int v = static_cast<int>(snd); setsockopt(srv, SOL_SOCKET, SO_SNDBUF, &v, sizeof v); }
    int one = 1;
    setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return set_ktls_tx(srv, tls, err);
  };

  long long short_runs = 0, error_runs = 0, interrupted_runs = 0, min_received = -1, max_received = -1;
  std::string run_details = "[";
  std::string driver;
  for (long long r = 0; r < runs; ++r) {
    std::string err;
    Ring ring;
    if (!ring.init(16, defer ? (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) : 0, err))
      return fail(err);
    int pfd[2], tfd[2];
    if (pipe(pfd) != 0 || pipe(tfd) != 0) return fail("pipe");
    Fd pr(pfd[0]), pw(pfd[1]), tr(tfd[0]), tw(tfd[1]);
    fcntl(pw.fd, F_SETPIPE_SZ, static_cast<int>(std::max(bytes, 65536LL)));
    int s = -1, c = -1, s2 = -1, c2 = -1;
    if (!loopback_pair(rcvbuf, sndbuf, s, c, err)) return fail(err);
    Fd cfd(c);
    Fd s2fd, c2fd;
    std::thread drain;
    if (flood > 0) {
      if (!loopback_pair(0, 8 << 20, s2, c2, err)) return fail("flood: " + err);
      s2fd.reset(s2);
      c2fd.reset(c2);
      drain = std::thread([fd = c2] {
        std::vector<char> b(1 << 16);
        while (read(fd, b.data(), b.size()) > 0) {}
      });
    }
    // client: paused until the close returned (or client_wait_ms), then reads to EOF
    std::atomic<bool> closed_flag{false};
    std::atomic<long long> received{0};
    std::atomic<double> client_start{0};
    std::atomic<bool> early_read{false};
    std::thread client([&] {
      // counted sleeps, not a deadline: the TCG guest clock was seen to jump (a deadline let
      // the client start reading before the close in 3 of 12 early runs)
      for (long long k = 0; k < client_wait_ms / 2 && !closed_flag; ++k) usleep(2000);
      client_start = now_s();
      early_read = !closed_flag;
      std::vector<char> rb(1 << 16);
      for (;;) {
        ssize_t n = read(cfd.fd, rb.data(), rb.size());
        if (n <= 0) break;
        received += n;
      }
    });
    // 3a. fill the data pipe
    off_t off = 0;
    while (off < bytes) {
      ssize_t in = splice(file.fd, &off, pw.fd, nullptr, static_cast<size_t>(bytes - off), 0);
      if (in <= 0) { err = "splice file->pipe"; break; }
    }
    // 5a. the unrelated request whose completion will be the TWA_SIGNAL task work
    char tbuf[8];
    unsigned outstanding = 0;
    if (trigger == "pipe") {
      io_uring_sqe* e = ring.get();
      e->opcode = IORING_OP_READ;
      e->fd = tr.fd;
      e->addr = reinterpret_cast<__u64>(tbuf);
      e->len = 1;
      e->off = static_cast<__u64>(-1);
      e->user_data = 5;
      ring.enter(1, 0);
      outstanding++;
    }
    // helper: samples the submitter's kernel stack, fires the trigger
    std::atomic<bool> stop_helper{false};
    std::atomic<bool> in_close{false};
    std::string stack_wait, stack_first_close, stack_after_trigger;
    std::atomic<double> t_trigger{0}, t_seen_wait{0}, t_seen_async{0};
    long long samples = 0;
    std::thread helper([&] {
      bool fired = false;
      double fire_at = 0;
      while (!stop_helper) {
        std::string st = read_file(stack_path.c_str());
        samples++;
        if (in_close) {
          std::string f = stack_funcs(st);
          if (stack_first_close.empty() && f.find("tls_") != std::string::npos) stack_first_close = f;
          if (f.find("tls_encrypt_async_wait") != std::string::npos && t_seen_async == 0)
            t_seen_async = now_s();
          bool release = f.find("tls_sw_release_resources_tx") != std::string::npos;
          if (release && f.find("sk_stream_wait_memory") != std::string::npos && t_seen_wait == 0) {
            t_seen_wait = now_s();
            stack_wait = f;
          }
          bool ready = at == "async" ? t_seen_async != 0 : t_seen_wait != 0;
          if (trigger == "pipe" && ready && !fired) {
            if (fire_at == 0) fire_at = now_s() + static_cast<double>(trigger_delay_ms) / 1000.0;
            if (now_s() >= fire_at) {
              fired = true;
              t_trigger = now_s();
              if (write(tw.fd, "x", 1) != 1) {}
              usleep(1000);
              stack_after_trigger = stack_funcs(read_file(stack_path.c_str()));
            }
          }
        }
        usleep(1000);
      }
    });
    if (trace) trace_clear();
    // 2. cryptd backlog
    double t0 = now_s();
    long long flood_sent = 0;
    if (flood > 0) {
      ssize_t n = send(s2, data.data(), static_cast<size_t>(flood * 16384), MSG_MORE);
      flood_sent = n;
    }
    double t_flood = now_s();
    // 3. the splice, with SPLICE_F_MORE
    io_uring_sqe* e = ring.get();
    e->opcode = IORING_OP_SPLICE;
    e->fd = s;
    e->off = static_cast<__u64>(-1);
    e->splice_fd_in = pr.fd;
    e->splice_off_in = static_cast<__u64>(-1);
    e->len = static_cast<__u32>(bytes);
    e->splice_flags = more ? SPLICE_F_MORE : 0;
    e->user_data = 1;
    ring.enter(1, 0);
    outstanding++;
    long long spliced = -1, close_res = 1, trigger_res = 1;
    int splice_errno = 0;
    auto handle = [&](const io_uring_cqe& cq) {
      if (cq.user_data == 1) { if (cq.res >= 0) spliced = cq.res; else splice_errno = -cq.res; }
      else if (cq.user_data == 3) close_res = cq.res;
      else if (cq.user_data == 5 || cq.user_data == 6) trigger_res = cq.res;
      outstanding--;
    };
    while (spliced < 0 && splice_errno == 0) {
      io_uring_cqe cq{};
      while (!ring.pop(cq)) {
        if (ring.enter(0, 1) < 0 && errno != EINTR) break;
      }
      handle(cq);
    }
    double t_spliced = now_s();
    tcp_info ti{};
    socklen_t tl = sizeof ti;
    getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl);
    if (r == 0) j.s("gcm_aes_entries_while_open", gcm_aes_entries());
    // 4. close
    in_close = true;
    double t_close0 = now_s();
    int close_errno = 0;
    __kernel_timespec ts{};
    ts.tv_sec = trigger_ms / 1000;
    ts.tv_nsec = (trigger_ms % 1000) * 1000000;
    if (closer == "uring") {
      unsigned submit = 0;
      if (trigger == "timeout") {
        io_uring_sqe* te = ring.get();
        te->opcode = IORING_OP_TIMEOUT;
        te->addr = reinterpret_cast<__u64>(&ts);
        te->len = 1;
        te->user_data = 6;
        submit++;
        outstanding++;
      }
      io_uring_sqe* ce = ring.get();
      ce->opcode = IORING_OP_CLOSE;
      ce->fd = s;
      ce->user_data = 3;
      submit++;
      outstanding++;
      if (ring.enter(submit, 1) < 0) close_errno = errno;
    } else {
      if (trigger == "timeout") {
        io_uring_sqe* te = ring.get();
        te->opcode = IORING_OP_TIMEOUT;
        te->addr = reinterpret_cast<__u64>(&ts);
        te->len = 1;
        te->user_data = 6;
        ring.enter(1, 0);
        outstanding++;
      }
      if (close(s) != 0) close_errno = errno;
      close_res = 0;
    }
    double t_close1 = now_s();
    in_close = false;
    closed_flag = true;
    client.join();
    double t_eof = now_s();
    stop_helper = true;
    helper.join();
    // complete what is left: the trigger read (if never fired) and CQEs not yet reaped
    if (trigger == "pipe" && t_trigger == 0) { if (write(tw.fd, "x", 1) != 1) {} }
    for (int spin = 0; outstanding > 0 && spin < 200; ++spin) {
      io_uring_cqe cq{};
      if (ring.pop(cq)) { handle(cq); continue; }
      ring.enter(0, 1);
    }
    if (flood > 0) {
      shutdown(c2, SHUT_RDWR);
      s2fd.reset();
      drain.join();
    }
    long long trace_lines = trace ? trace_dump(r, tid, static_cast<size_t>(get_num(kv, "trace_max", 40))) : -1;
    if (driver.empty()) driver = gcm_aes_driver();
    long long got = received;
    bool ok_splice = spliced == bytes;
    bool short_read = ok_splice && got < wire_expected;
    bool interrupted = !stack_wait.empty() && (t_close1 - t_close0) < (client_start - t_close0) + 1e-9;
    short_runs += short_read;
    interrupted_runs += t_trigger != 0 && short_read;
    error_runs += !ok_splice || !err.empty();
    if (min_received < 0 || got < min_received) min_received = got;
    if (got > max_received) max_received = got;
    (void)interrupted;
    auto ms = [](double a, double b) { return a > 0 && b > 0 ? (b - a) * 1000.0 : -1.0; };
    run_details += (r ? "," : "") + Json()
        .i("spliced", spliced).i("splice_errno", splice_errno)
        .i("received", got).i("wire_expected", wire_expected)
        .i("records_received_full", got / (16384 + (tls == 12 ? 29 : 22)))
        .b("short", short_read).b("client_read_before_close_returned", early_read)
        .i("flood_sent", flood_sent)
        .d("flood_ms", ms(t0, t_flood)).d("splice_ms", ms(t_flood, t_spliced))
        .d("close_ms", ms(t_close0, t_close1)).d("client_paused_ms", ms(t_close0, client_start))
        .d("eof_ms", ms(t_close0, t_eof))
        .d("seen_async_wait_ms", ms(t_close0, t_seen_async)).d("seen_wait_memory_ms", ms(t_close0, t_seen_wait))
        .d("trigger_ms", ms(t_close0, t_trigger))
        .i("close_res", close_res).i("close_errno", close_errno).i("trigger_res", trigger_res)
        .i("tcpi_notsent_before_close", ti.tcpi_notsent_bytes).i("tcpi_unacked_before_close", ti.tcpi_unacked)
        .i("tcpi_bytes_sent_before_close", static_cast<long long>(ti.tcpi_bytes_sent))
        .i("tcpi_snd_wnd", ti.tcpi_snd_wnd)
        .s("stack_first_tls", stack_first_close).s("stack_wait_memory", stack_wait)
        .s("stack_after_trigger", stack_after_trigger)
        .i("stack_samples", samples).i("trace_lines", trace_lines)
        .s("error", err).str();
  }
  run_details += "]";
  j.b("ok", true).s("error", "").s("gcm_aes_driver", driver)
      .i("wire_expected", wire_expected).i("runs", runs).i("short_runs", short_runs)
      .i("short_after_trigger", interrupted_runs)
      .i("error_runs", error_runs).i("min_received", min_received).i("max_received", max_received)
      .raw("run_results", run_details)
      .s("verdict", short_runs ? "short-read" : error_runs ? "splice-error" : "no-short-read");
  return j.str();
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that went away must show up as EPIPE, not kill the runner (and with it the guest's
  // only workload) silently.
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_sigusr1;  // no SA_RESTART: blocking sends return EINTR / a short count
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
    else out = Json().s("mode", mode).raw("config", kv_json(kv)).b("ok", false)
                   .s("error", "unknown mode").str();
    if (out.find("\"ok\":true") == std::string::npos) failures++;
    emit_result(out);
  }
  return failures ? 1 : 0;
}
