// The guest runner's script interpreter (script_exec.h).
//
// One run: setup in the order a C test would do it (sysctls, the socket pair with the options
// the kernel reads at connect time, kTLS TX and the checking RX, the file and the pipe), then
// one std::thread per script thread, released together; each executes its steps with the
// semantics program.h gives them. The `window` lines hook into that: cryptd_backlog runs just
// before the first step of the thread that sends into the kTLS socket, hold_until_closed
// delays a thread's first step, task_work arms a pipe read on the thread's ring and a watcher
// that completes it when the thread's kernel stack shows the wanted frame.
#include "script_exec.h"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "io_uring_ring.h"
#include "json.h"
#include "ktls.h"
#include "posix.h"
#include "procfs.h"
#include "scenarios/script/script.h"

namespace kpsim::guest {

using script::Op;
using script::Program;
using script::Step;
using script::WindowKind;

long long ScriptJob::opt(const std::string& k, long long dflt) const {
  for (auto& [key, v] : opts)
    if (key == k) return v;
  return dflt;
}

bool read_jobs(const std::string& path, std::vector<ScriptJob>& out, std::string& err) {
  std::ifstream in(path);
  if (!in) {
    err = "cannot read " + path;
    return false;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    ScriptJob j;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, '\t')) {
      const auto eq = f.find('=');
      if (eq == std::string::npos) {
        err = path + ":" + std::to_string(n) + ": field without '=': " + f;
        return false;
      }
      const std::string k = f.substr(0, eq), v = f.substr(eq + 1);
      if (k == "id") j.id = v;
      else if (k == "script") j.script = v;
      else if (k == "runs") j.runs = std::strtoll(v.c_str(), nullptr, 10);
      else if (k == "set") j.sets.push_back(v);
      else if (k == "opt" && v.find('=') != std::string::npos)
        j.opts.emplace_back(v.substr(0, v.find('=')), std::strtoll(v.c_str() + v.find('=') + 1, nullptr, 10));
      else {
        err = path + ":" + std::to_string(n) + ": unknown field " + k;
        return false;
      }
    }
    if (j.script.empty() || j.runs < 1) {
      err = path + ":" + std::to_string(n) + ": a job needs script= and runs >= 1";
      return false;
    }
    out.push_back(std::move(j));
  }
  return true;
}

namespace {

// The file's contents: every byte a function of its offset, so the receiver can check each
// plaintext byte it gets (a lost, duplicated or reordered range shows as a mismatch).
unsigned char file_byte(uint64_t off) {
  return static_cast<unsigned char>(((off * 2654435761u) >> 13) ^ (off >> 14));
}

void set_int(int fd, int level, int name, int v) { setsockopt(fd, level, name, &v, sizeof v); }

// The options of one side that the kernel reads at connect time (TCP_MAXSEG, SO_RCVBUF,
// TCP_WINDOW_CLAMP: set on the listener for the accepted side, which inherits them, or on the
// client before connect) and those that apply any time (SO_SNDBUF, TCP_NODELAY).
struct SideOpts {
  int maxseg = 0, rcvbuf = 0, window_clamp = 0, sndbuf = 0;
  bool nodelay = false;
};

SideOpts side_opts(const script::Socket& s) {
  SideOpts o;
  o.maxseg = static_cast<int>(s.maxseg.value_or(0));
  o.rcvbuf = static_cast<int>(s.rcvbuf.value_or(0));
  o.window_clamp = static_cast<int>(s.window_clamp.value_or(0));
  o.sndbuf = static_cast<int>(s.sndbuf.value_or(0));
  o.nodelay = s.nodelay;
  return o;
}

std::string connect_time_opts(int fd, const SideOpts& o) {
  if (o.maxseg && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &o.maxseg, sizeof o.maxseg) != 0)
    return std::string("setsockopt(TCP_MAXSEG, ") + std::to_string(o.maxseg) + "): " + strerror(errno);
  if (o.rcvbuf) set_int(fd, SOL_SOCKET, SO_RCVBUF, o.rcvbuf);
  if (o.window_clamp && setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &o.window_clamp, sizeof o.window_clamp) != 0)
    return std::string("setsockopt(TCP_WINDOW_CLAMP): ") + strerror(errno);
  return "";
}

void later_opts(int fd, const SideOpts& o) {
  if (o.sndbuf) set_int(fd, SOL_SOCKET, SO_SNDBUF, o.sndbuf);
  if (o.nodelay) set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

// create_pair(tcp) over loopback: server is the accepted socket, client the connecting one.
std::string open_pair(const SideOpts& so, const SideOpts& co, Fd& server, Fd& client) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Fd listener(socket(AF_INET, SOCK_STREAM, 0));
  if (listener.fd < 0) return std::string("socket: ") + strerror(errno);
  set_int(listener.fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (auto e = connect_time_opts(listener.fd, so); !e.empty()) return e;
  auto* sa = reinterpret_cast<sockaddr*>(&a);
  if (bind(listener.fd, sa, sizeof a) != 0 || listen(listener.fd, 1) != 0)
    return std::string("bind/listen: ") + strerror(errno);
  socklen_t alen = sizeof a;
  getsockname(listener.fd, sa, &alen);
  client.reset(socket(AF_INET, SOCK_STREAM, 0));
  if (client.fd < 0) return std::string("socket: ") + strerror(errno);
  if (auto e = connect_time_opts(client.fd, co); !e.empty()) return e;
  if (connect(client.fd, sa, sizeof a) != 0) return std::string("connect: ") + strerror(errno);
  server.reset(accept(listener.fd, nullptr, nullptr));
  if (server.fd < 0) return std::string("accept: ") + strerror(errno);
  later_opts(server.fd, so);
  later_opts(client.fd, co);
  return "";
}

int tls_of(const Program& p) {
  if (!p.tls_tx) return 0;
  return p.tls_tx->version == script::TlsVersion::v1_2 ? 12 : 13;
}

// At most this much ciphertext is kept for decryption after the run; beyond it only the
// bytes are counted (plaintext_checked says so).
constexpr size_t kMaxWireKept = 256u << 20;

// What the receiving side saw. Plain TCP: each byte checked against the file as it arrives.
// kTLS: the raw records are kept and decrypted after the run (finish()), in user space like
// the reports' curl: kTLS RX on the reader would change the TCP dynamics under test - its
// record parser copies a record larger than the window off the receive queue to make room,
// reopening a window that a reader that is not reading keeps closed.
struct Reader {
  uint64_t file_size = 0;
  int tls = 0;
  std::atomic<long long> received{0};  // plaintext bytes (kTLS: after finish())
  std::atomic<long long> wire{0};      // bytes read off the socket
  std::atomic<long long> first_mismatch{-1};
  std::atomic<bool> eof{false};
  std::atomic<double> t_last{0};
  std::string error;  // a recv error other than EOF, or a record that failed to decrypt
  std::string kept;   // kTLS: the ciphertext read, up to kMaxWireKept
  bool checked = true;

  void check(const char* buf, size_t n, long long at) {
    if (!file_size || first_mismatch.load() >= 0) return;
    for (size_t k = 0; k < n; ++k)
      if (static_cast<unsigned char>(buf[k]) != file_byte(static_cast<uint64_t>(at + static_cast<long long>(k)) % file_size)) {
        first_mismatch = at + static_cast<long long>(k);
        return;
      }
  }
  // n bytes just read off the socket.
  void got(const char* buf, ssize_t n) {
    if (tls) {
      if (kept.size() + static_cast<size_t>(n) <= kMaxWireKept) kept.append(buf, static_cast<size_t>(n));
      else checked = false;
    } else {
      check(buf, static_cast<size_t>(n), received.load());
      received += n;
    }
    wire += n;
    t_last = now_s();
  }
  // After the run: decrypt and check what was kept.
  void finish() {
    if (!tls) return;
    std::string plain;
    size_t partial = 0;
    if (std::string e = tls_decrypt(tls, kept, plain, partial); !e.empty() && error.empty()) error = "decrypt: " + e;
    if (partial && error.empty() && eof) error = "the stream ended inside a record (" + std::to_string(partial) + " bytes)";
    check(plain.data(), plain.size(), 0);
    received = static_cast<long long>(plain.size());
    kept.clear();
  }
};

// Reads fd until EOF, len bytes per call, gap_us between calls.
void read_loop(int fd, size_t len, uint64_t gap_us, Reader& r, const std::atomic<bool>& abort_run) {
  std::vector<char> buf(std::max<size_t>(len, 1));
  for (;;) {
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n == 0) {
      r.eof = true;
      return;
    }
    if (n < 0) {
      if (errno == EINTR && !abort_run) continue;
      r.error = std::string("recv: ") + strerror(errno);
      return;
    }
    r.got(buf.data(), n);
    if (gap_us) usleep(static_cast<useconds_t>(gap_us));
  }
}

// The persist-timer stall signature on the sending socket (seed 001): sampled while a send
// call is in progress; an episode is consecutive samples with bytes not sent, nothing in
// flight and tcpi_bytes_sent unchanged, timed from the sample where bytes_sent last changed.
struct StallSampler {
  long long samples = 0, stall_samples = 0, episodes = 0, long_episodes = 0;
  bool open = false;
  double cur = 0, longest = 0, total = 0, last_progress_t = 0;
  unsigned long long last_bytes_sent = 0;
  unsigned max_notsent = 0, stall_notsent_max = 0;

  void close_episode() {
    if (!open) return;
    open = false;
    total += cur;
    if (cur >= 0.1) long_episodes++;
  }
  void sample(const tcp_info& ti, double t, bool in_call) {
    samples++;
    max_notsent = std::max(max_notsent, ti.tcpi_notsent_bytes);
    const bool sig = in_call && ti.tcpi_notsent_bytes > 0 && ti.tcpi_unacked == 0;
    if (ti.tcpi_bytes_sent != last_bytes_sent) {
      close_episode();
      last_bytes_sent = ti.tcpi_bytes_sent;
      last_progress_t = t;
    } else if (sig) {
      stall_samples++;
      stall_notsent_max = std::max(stall_notsent_max, ti.tcpi_notsent_bytes);
      if (!open) {
        open = true;
        episodes++;
      }
      cur = t - last_progress_t;
      longest = std::max(longest, cur);
    } else {
      close_episode();
    }
  }
};

// window task_work: watches the thread's kernel stack while it closes; once FRAME shows called
// under UNDER, writes the trigger pipe, whose read on the thread's ring then completes.
class StackWatcher {
 public:
  StackWatcher(std::string stack_path, std::string frame, std::string under, int trigger_fd)
      : path_(std::move(stack_path)), frame_(std::move(frame)), under_(std::move(under)), fd_(trigger_fd) {
    thread_ = std::thread([this] { run(); });
  }
  ~StackWatcher() { stop(); }
  void set_in_close(bool v) { in_close_ = v; }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool fired() const { return fired_; }
  // After stop(): what was seen.
  std::string stack_seen, stack_after, first_stack, last_stack;
  long long samples = 0;
  double t_fired = 0;

 private:
  void run() {
    while (!stop_) {
      if (in_close_ && !fired_) {
        const std::string f = stack_funcs(read_file(path_));
        samples++;
        if (first_stack.empty() && !f.empty()) first_stack = f;
        if (!f.empty()) last_stack = f;
        const auto at = f.find(frame_);
        if (at != std::string::npos && f.find(under_, at) != std::string::npos) {
          stack_seen = f;
          if (write(fd_, "x", 1) == 1) {
            fired_ = true;
            t_fired = now_s();
          }
          usleep(1000);
          stack_after = stack_funcs(read_file(path_));
        }
      }
      usleep(1000);
    }
  }
  const std::string path_, frame_, under_;
  const int fd_;
  std::atomic<bool> in_close_{false}, stop_{false}, fired_{false};
  std::thread thread_;
};

// user_data of the runner's io_uring requests (io_uring's tracepoints print them).
constexpr __u64 kUdFileToPipe = 1, kUdPipeToSock = 2, kUdClose = 3, kUdTrigger = 5;

// One step's outcome, for the result.
struct StepOut {
  std::string thread, text;
  long long ret = 0;
  double ms = 0;
};

// Everything one run shares between its threads.
struct Run {
  const Program& prog;
  const ScriptJob& job;
  int tls = 0;
  std::vector<Fd> socks;                 // by Program socket index
  std::vector<std::atomic<bool>> closing;  // close(S) called or submitted (hold_until_closed)
  std::vector<std::atomic<bool>> closed;   // close(S) returned
  Fd file;
  uint64_t file_size = 0;
  uint64_t file_pos = 0;  // "the file offset carries over" between steps
  Pipe pipe;
  std::vector<char> file_bytes;  // for write(): the file's bytes
  Reader reader;
  std::atomic<bool> abort_run{false};
  std::mutex mu;  // guards steps and the counters below
  std::vector<StepOut> steps;
  long long sent = 0;  // bytes the sending socket accepted
  double t_first_send = 0, t_last_send = 0;
  // Sampling of the sending socket.
  std::atomic<bool> in_send{false};
  int sample_fd = -1;
  // Windows.
  Fd flood_server, flood_client;
  long long flood_sent = -1;
  bool held = false;
  double hold_waited_ms = 0;
  Pipe trigger;
  std::unique_ptr<StackWatcher> watcher;
  char trigger_buf[8] = {};
  double close_ms = -1;  // from close(2) or IORING_OP_CLOSE's submission to its return or CQE
  double t_close0 = 0;
  // CPU time of the closing thread over the same span: about close_ms when the close spins
  // (task-sigpending's wait with TIF_NOTIFY_SIGNAL set never sleeps), near 0 when it sleeps.
  double close_cpu_ms = -1;
  double cpu_close0 = 0;
  std::string error;
  // tls_rx: the reader's stream position, the bytes it read, the plaintext offsets where the
  // sender's records end (from its write sizes), and the first read that broke rx-in-order.
  uint64_t rx_pos = 0, rx_bytes = 0;
  long long rx_calls = 0;
  // tls_decrypt_done's kprobe hits before the run (-1: not measurable): the reader's
  // asynchronous decryptions are the difference after it.
  long long decrypt_done0 = -1;
  std::set<uint64_t> rec_ends;
  std::string rx_disorder;

  Run(const Program& p, const ScriptJob& j)
      : prog(p), job(j), socks(p.socks.size()), closing(p.socks.size()), closed(p.socks.size()) {}

  void record(const std::string& thread, const Step& st, long long ret, double t0) {
    std::lock_guard<std::mutex> g(mu);
    steps.push_back({thread, st.text, ret, (now_s() - t0) * 1000.0});
  }
  void fail(const std::string& e) {
    std::lock_guard<std::mutex> g(mu);
    if (error.empty()) error = e;
  }
  // Before every sending call: the transfer's time counts from the first one's start.
  void send_starts() {
    std::lock_guard<std::mutex> g(mu);
    if (t_first_send == 0) t_first_send = now_s();
  }
  void add_sent(long long n) {
    std::lock_guard<std::mutex> g(mu);
    if (t_first_send == 0) t_first_send = now_s();
    sent += n;
    t_last_send = now_s();
  }
};

const script::Window* window(const Program& p, WindowKind k) {
  for (const auto& w : p.windows)
    if (w.kind == k) return &w;
  return nullptr;
}

// The bytes [pos, pos + n) of the looped file as one call sees them: never past its end.
uint64_t call_len(const Run& r, uint64_t want) { return std::min(want, r.file_size - r.file_pos); }

long long do_send_loop(Run& r, const Step& st, bool use_sendfile) {
  const int fd = r.socks[st.sock].fd;
  uint64_t sent = 0;
  const uint64_t per = st.op == Op::sendfile || st.op == Op::write ? st.total : st.per_call;
  while (sent < st.total && !r.abort_run) {
    const uint64_t n = call_len(r, std::min(per, st.total - sent));
    r.send_starts();
    r.in_send = true;
    ssize_t k;
    if (use_sendfile) {
      off_t off = static_cast<off_t>(r.file_pos);
      k = sendfile(fd, r.file.fd, &off, n);
    } else {
      k = write(fd, r.file_bytes.data() + r.file_pos, n);
    }
    r.in_send = false;
    if (k < 0) {
      if (errno == EINTR && !r.abort_run) continue;
      return sent ? static_cast<long long>(sent) : -errno;
    }
    if (k == 0) break;
    r.add_sent(k);
    sent += static_cast<uint64_t>(k);
    r.file_pos = (r.file_pos + static_cast<uint64_t>(k)) % r.file_size;
    if (st.op == Op::sendfile || st.op == Op::write) break;  // one call
  }
  return static_cast<long long>(sent);
}

// Where the sender's kTLS records end in its plaintext stream, for a sender of write() calls
// (guest_unsupported refuses the others): tls_sw_sendmsg closes a record at 16 KiB
// (TLS_MAX_PAYLOAD_SIZE) and at the end of every call without MSG_MORE. The call sizes are
// do_send_loop's, whole writes assumed (a blocking write to kTLS returns all it was given).
std::set<uint64_t> write_record_ends(const Program& p, uint64_t file_size) {
  std::set<uint64_t> ends;
  uint64_t stream = 0, pos = 0;
  for (const auto& t : p.threads)
    for (const Step& st : t.steps) {
      if (st.op != Op::write && st.op != Op::write_loop) continue;
      const uint64_t per = st.op == Op::write ? st.total : st.per_call;
      for (uint64_t sent = 0; sent < st.total;) {
        const uint64_t n = std::min({per, st.total - sent, file_size - pos});
        for (uint64_t k = kTlsMaxPayloadSize; k < n; k += kTlsMaxPayloadSize) ends.insert(stream + k);
        stream += n;
        ends.insert(stream);
        sent += n;
        pos = (pos + n) % file_size;
        if (st.op == Op::write) break;
      }
    }
  return ends;
}

// One recv() on the kTLS RX socket, and the rx-in-order check of what it returned: the file's
// bytes at the reader's position, and a short read ending at a record boundary.
long long do_rx_recv(Run& r, const Step& st, size_t len) {
  std::vector<char> buf(std::max<size_t>(len, 1));
  int flags = 0;
  if (st.flags & script::msg_peek) flags |= MSG_PEEK;
  if (st.flags & script::msg_dontwait) flags |= MSG_DONTWAIT;
  if (st.flags & script::msg_waitall) flags |= MSG_WAITALL;
  ssize_t n;
  do {
    n = recv(r.socks[st.sock].fd, buf.data(), len, flags);
  } while (n < 0 && errno == EINTR && !r.abort_run);
  if (n < 0) return -errno;
  std::lock_guard<std::mutex> g(r.mu);
  ++r.rx_calls;
  if (r.rx_disorder.empty() && r.file_size) {
    for (ssize_t k = 0; k < n; ++k)
      if (static_cast<unsigned char>(buf[static_cast<size_t>(k)]) != file_byte((r.rx_pos + static_cast<uint64_t>(k)) % r.file_size)) {
        r.rx_disorder = st.text + " returned a byte at stream offset " + std::to_string(r.rx_pos + static_cast<uint64_t>(k)) +
                        " that is not the file's";
        break;
      }
    if (r.rx_disorder.empty() && n > 0 && static_cast<size_t>(n) < len &&
        !r.rec_ends.count(r.rx_pos + static_cast<uint64_t>(n)))
      r.rx_disorder = st.text + " returned " + std::to_string(n) + " of " + std::to_string(len) +
                      " B, ending at stream offset " + std::to_string(r.rx_pos + static_cast<uint64_t>(n)) + ", inside a record";
  }
  if (n > 0 && !(flags & MSG_PEEK)) {
    r.rx_pos += static_cast<uint64_t>(n);
    r.rx_bytes += static_cast<uint64_t>(n);
  }
  return n;
}

// poll(POLLIN) on the kTLS RX socket for at most timeout_us: 1 when readable (tls_sk_poll: a
// whole record), else 0.
long long do_rx_poll(Run& r, const Step& st, uint64_t timeout_us) {
  pollfd p{r.socks[st.sock].fd, POLLIN, 0};
  int k;
  do {
    k = ::poll(&p, 1, static_cast<int>((timeout_us + 999) / 1000));
  } while (k < 0 && errno == EINTR && !r.abort_run);
  if (k < 0) return -errno;
  return k > 0 && (p.revents & POLLIN) ? 1 : 0;
}

// splice_loop: file -> pipe of what the pipe holds, pipe -> socket, until total.
long long do_splice_loop(Run& r, const Step& st) {
  const int fd = r.socks[st.sock].fd;
  const unsigned flags = st.splice_more ? SPLICE_F_MORE : 0;
  const long long room = fcntl(r.pipe.wr.fd, F_GETPIPE_SZ);
  uint64_t left = st.total, spliced = 0;
  while (left && !r.abort_run) {
    loff_t off = static_cast<loff_t>(r.file_pos);
    const ssize_t in = splice(r.file.fd, &off, r.pipe.wr.fd, nullptr,
                              call_len(r, std::min<uint64_t>(left, static_cast<uint64_t>(room))), 0);
    if (in <= 0) return in < 0 ? -errno : static_cast<long long>(spliced);
    r.file_pos = (r.file_pos + static_cast<uint64_t>(in)) % r.file_size;
    ssize_t in_pipe = in;
    r.send_starts();
    while (in_pipe > 0) {
      r.in_send = true;
      const ssize_t out = splice(r.pipe.rd.fd, nullptr, fd, nullptr, static_cast<size_t>(in_pipe), flags);
      r.in_send = false;
      if (out <= 0) return out < 0 ? -errno : static_cast<long long>(spliced);
      r.add_sent(out);
      in_pipe -= out;
      spliced += static_cast<uint64_t>(out);
      left -= static_cast<uint64_t>(out);
    }
  }
  return static_cast<long long>(spliced);
}

// uring_splice_close: the webserver's loop (program.h): SPLICE file -> pipe and pipe -> socket
// submitted together, each resubmitted while short; when the second is done, IORING_OP_CLOSE
// of the socket; io_uring_submit is io_uring_enter(n, 0), io_uring_wait_cqe io_uring_enter(0, 1)
// as liburing does, so the close's final fput runs in the submitting thread's task work.
long long do_uring_splice_close(Run& r, const Step& st) {
  const script::Ring& rs = r.prog.rings[st.ring];
  if (rs.others) {
    r.fail("io_uring_others is not reproduced by the guest runner");
    return -EINVAL;
  }
  Ring ring;
  std::string err;
  // Created here: an io_uring belongs to the thread that first uses it (SINGLE_ISSUER).
  if (!ring.init(rs.setup == script::RingSetup::defer_taskrun, err)) {
    r.fail("io_uring_setup: " + err);
    return -EINVAL;
  }
  if (rs.setup == script::RingSetup::coop_taskrun) {
    r.fail("IORING_SETUP_COOP_TASKRUN is not reproduced by the guest runner");
    return -EINVAL;
  }
  const unsigned flags = st.splice_more ? SPLICE_F_MORE : 0;
  unsigned outstanding = 0;
  bool trigger_pending = false;
  if (r.watcher) {
    ring.queue_read(r.trigger.rd.fd, r.trigger_buf, 1, kUdTrigger);
    ring.enter(1, 0);
    trigger_pending = true;
  }
  int sock = r.socks[st.sock].fd;
  uint64_t f_left = st.total, s_left = st.total, spliced = 0;
  long long splice_err = 0;
  const auto submit_f = [&] {
    io_uring_sqe* sqe = ring.get();
    sqe->opcode = IORING_OP_SPLICE;
    sqe->fd = r.pipe.wr.fd;
    sqe->len = static_cast<unsigned>(std::min<uint64_t>(f_left, r.file_size - r.file_pos));
    sqe->splice_off_in = r.file_pos;
    sqe->off = static_cast<__u64>(-1);
    sqe->splice_fd_in = r.file.fd;
    sqe->user_data = kUdFileToPipe;
    outstanding++;
  };
  const auto submit_s = [&] {
    ring.queue_splice(r.pipe.rd.fd, sock, static_cast<unsigned>(s_left), flags, kUdPipeToSock);
    outstanding++;
  };
  submit_f();
  submit_s();
  r.send_starts();
  r.in_send = true;
  ring.enter(2, 0);
  bool close_done = false, close_submitted = false;
  while ((outstanding || !close_done) && !r.abort_run) {
    io_uring_cqe cqe{};
    if (!ring.pop(cqe)) {
      if (ring.enter(0, 1) < 0 && errno != EINTR) break;
      continue;
    }
    bool resubmit_f = false, resubmit_s = false, close = false;
    if (cqe.user_data == kUdFileToPipe) {
      outstanding--;
      if (cqe.res > 0) {
        f_left -= static_cast<uint64_t>(cqe.res);
        r.file_pos = (r.file_pos + static_cast<uint64_t>(cqe.res)) % r.file_size;
        resubmit_f = f_left > 0;
      }
    } else if (cqe.user_data == kUdPipeToSock) {
      outstanding--;
      if (cqe.res > 0) {
        r.add_sent(cqe.res);
        spliced += static_cast<uint64_t>(cqe.res);
        s_left -= static_cast<uint64_t>(cqe.res);
      } else {
        splice_err = cqe.res;
      }
      if (cqe.res > 0 && s_left) resubmit_s = true;
      else close = true;
    } else if (cqe.user_data == kUdClose) {
      close_done = true;
      r.close_ms = (now_s() - r.t_close0) * 1000.0;
      r.close_cpu_ms = (thread_cpu_s() - r.cpu_close0) * 1000.0;
      if (r.watcher) r.watcher->set_in_close(false);
      r.closed[st.sock] = true;
    } else if (cqe.user_data == kUdTrigger) {
      trigger_pending = false;
    }
    if (!resubmit_f && !resubmit_s && !close) continue;
    unsigned n = 0;
    if (resubmit_f) submit_f(), n++;
    if (resubmit_s) submit_s(), n++;
    if (close && !close_submitted) {
      r.in_send = false;
      ring.queue_close(sock, kUdClose);
      r.socks[st.sock].release();  // closed by IORING_OP_CLOSE, never by us
      close_submitted = true;
      n++;
      if (r.watcher) r.watcher->set_in_close(true);
      r.closing[st.sock] = true;
      r.t_close0 = now_s();
      r.cpu_close0 = thread_cpu_s();
    }
    ring.enter(n, 0);
  }
  r.in_send = false;
  // The trigger's read completes now if it never fired, so the ring can go.
  if (trigger_pending) {
    if (write(r.trigger.wr.fd, "x", 1) != 1) {
    }
    for (int spin = 0; spin < 200; ++spin) {
      io_uring_cqe cqe{};
      if (ring.pop(cqe)) {
        if (cqe.user_data == kUdTrigger) break;
        continue;
      }
      ring.enter(0, 1);
    }
  }
  return splice_err ? splice_err : static_cast<long long>(spliced);
}

void run_thread(Run& r, uint32_t ti, std::latch& go) {
  const script::Thread& t = r.prog.threads[ti];
  go.arrive_and_wait();
  // window hold_until_closed(T, S): T starts once close(S) returned, at most hold_ms later. It
  // formed when T did not start before the close began: a close that waits for T to read (the
  // send buffer full, nothing interrupting the wait) is released by the cap, as it should be.
  if (const auto* w = window(r.prog, WindowKind::hold_until_closed); w && w->thread == ti) {
    const double t0 = now_s();
    const long long cap = r.job.opt("hold_ms", 4000);
    // Counted sleeps, not a deadline: the TCG guest's clock was seen to jump.
    for (long long k = 0; k < cap / 2 && !r.closed[w->sock] && !r.abort_run; ++k) usleep(2000);
    r.held = r.closing[w->sock];
    r.hold_waited_ms = (now_s() - t0) * 1000.0;
  }
  bool flooded = false;
  for (const Step& st : t.steps) {
    if (r.abort_run) break;
    // window cryptd_backlog(N): queued just before this thread first sends into kTLS.
    if (!flooded && r.flood_server.fd >= 0 && r.prog.tls_tx &&
        (st.op == Op::sendfile || st.op == Op::write || st.op == Op::sendfile_loop || st.op == Op::write_loop ||
         st.op == Op::splice_loop || st.op == Op::uring_splice_close) &&
        st.sock == r.prog.tls_tx->sock) {
      flooded = true;
      const auto* w = window(r.prog, WindowKind::cryptd_backlog);
      const std::vector<char> rec(static_cast<size_t>(w->records * kTlsMaxPayloadSize), 'z');
      r.flood_sent = send(r.flood_server.fd, rec.data(), rec.size(), MSG_MORE);
    }
    const double t0 = now_s();
    long long ret = 0;
    switch (st.op) {
      case Op::sendfile:
      case Op::sendfile_loop: ret = do_send_loop(r, st, true); break;
      case Op::write:
      case Op::write_loop: ret = do_send_loop(r, st, false); break;
      case Op::splice_loop: ret = do_splice_loop(r, st); break;
      case Op::uring_splice_close: ret = do_uring_splice_close(r, st); break;
      case Op::close: {
        r.closing[st.sock] = true;
        const int fd = r.socks[st.sock].release();
        const double cpu0 = thread_cpu_s();
        ret = fd < 0 ? -EBADF : ::close(fd) == 0 ? 0 : -errno;
        r.close_ms = (now_s() - t0) * 1000.0;
        r.close_cpu_ms = (thread_cpu_s() - cpu0) * 1000.0;
        r.closed[st.sock] = true;
        break;
      }
      case Op::read_until_eof:
        read_loop(r.socks[st.sock].fd, st.len, st.timeout_us, r.reader, r.abort_run);
        ret = r.reader.wire;
        break;
      case Op::poll: ret = do_rx_poll(r, st, st.timeout_us); break;
      case Op::recv:
        if (st.timeout_us && do_rx_poll(r, st, st.timeout_us) != 1) ret = -EAGAIN;  // recv_timeout's select
        else ret = do_rx_recv(r, st, st.len);
        break;
      case Op::recv_loop: {
        uint64_t got = 0;
        long long n = 0;
        while (got < st.len && !r.abort_run) {
          if (st.timeout_us && do_rx_poll(r, st, st.timeout_us) != 1) {
            n = -EAGAIN;
            break;
          }
          n = do_rx_recv(r, st, st.len - got);
          if (n <= 0) break;
          got += static_cast<uint64_t>(n);
        }
        ret = got ? static_cast<long long>(got) : n;
        break;
      }
      case Op::usleep: usleep(static_cast<useconds_t>(st.timeout_us)); break;
      case Op::shutdown: ret = ::shutdown(r.socks[st.sock].fd, SHUT_WR) == 0 ? 0 : -errno; break;
      default:
        r.fail(std::string("the guest runner does not run this step: ") + st.text);
        return;
    }
    r.record(t.name, st, ret, t0);
  }
}

// Everything of one run in its result object.
std::string run_once(const Program& prog, const ScriptJob& job, long long index) {
  Run r(prog, job);
  r.tls = tls_of(prog);
  Json j;
  j.i("run", index);
  // Sockets: one TCP pair (the guest's world).
  const auto& a = prog.socks[0];
  const auto& b = prog.socks[1];
  if (std::string e = open_pair(side_opts(a), side_opts(b), r.socks[0], r.socks[1]); !e.empty())
    return j.failed(e);
  int smss = 0;
  socklen_t ml = sizeof smss;
  getsockopt(r.socks[0].fd, IPPROTO_TCP, TCP_MAXSEG, &smss, &ml);
  if (prog.tls_tx) {
    std::string err;
    if (!set_ktls_tx(r.socks[prog.tls_tx->sock].fd, r.tls, err)) return j.failed(err);
  }
  if (prog.tls_rx) {  // the same key as TLS_TX, before any record is sent
    std::string err;
    if (!set_ktls_rx(r.socks[prog.tls_rx->sock].fd, r.tls, err)) return j.failed(err);
    // After TLS_RX: the tls module (where tls_decrypt_done lives) is loaded by now.
    r.decrypt_done0 = kprobe_hits("tls_decrypt_done");
  }
  // The file and the pipe.
  if (!prog.files.empty()) {
    r.file_size = prog.files[0].size;
    r.file_bytes.resize(r.file_size);
    for (uint64_t k = 0; k < r.file_size; ++k) r.file_bytes[k] = static_cast<char>(file_byte(k));
    std::string err;
    if (!make_backing_file("/tmp/kpsim-script-XXXXXX", r.file_bytes.data(), r.file_bytes.size(), r.file, err))
      return j.failed(err);
    r.reader.file_size = r.file_size;
    if (prog.tls_rx) r.rec_ends = write_record_ends(prog, r.file_size);
  }
  r.reader.tls = r.tls;
  if (!prog.pipes.empty() && !open_pipe(r.pipe)) return j.failed(std::string("pipe: ") + strerror(errno));
  // Windows.
  if (const auto* w = window(prog, WindowKind::cryptd_backlog); w && prog.tls_tx) {
    SideOpts big;
    big.sndbuf = 8 << 20;
    big.nodelay = true;
    if (std::string e = open_pair(big, SideOpts{}, r.flood_server, r.flood_client); !e.empty())
      return j.failed("cryptd_backlog: " + e);
    std::string err;
    if (!set_ktls_tx(r.flood_server.fd, r.tls, err)) return j.failed("cryptd_backlog: " + err);
  }
  std::thread flood_drain;
  if (r.flood_client.fd >= 0)
    flood_drain = std::thread([fd = r.flood_client.fd] {
      std::vector<char> buf(1 << 16);
      while (read(fd, buf.data(), buf.size()) > 0) {
      }
    });
  const script::Window* tw = window(prog, WindowKind::task_work);
  if (tw && !open_pipe(r.trigger)) return j.failed("task_work: pipe");

  // The threads, plus drain() readers and the sampler of the sending socket.
  std::latch go(static_cast<std::ptrdiff_t>(prog.threads.size()) + 1);
  std::vector<std::thread> threads;
  std::vector<int> tids(prog.threads.size(), 0);
  std::mutex tid_mu;
  for (uint32_t ti = 0; ti < prog.threads.size(); ++ti)
    threads.emplace_back([&, ti] {
      {
        std::lock_guard<std::mutex> g(tid_mu);
        tids[ti] = current_tid();
      }
      run_thread(r, ti, go);
    });
  // Wait for every thread's tid (the watcher needs its stack path) before releasing them.
  for (;;) {
    {
      std::lock_guard<std::mutex> g(tid_mu);
      if (std::all_of(tids.begin(), tids.end(), [](int t) { return t != 0; })) break;
    }
    usleep(100);
  }
  if (tw) r.watcher = std::make_unique<StackWatcher>(task_stack_path(tids[tw->thread]), tw->frame, tw->under, r.trigger.wr.fd);
  std::thread drain;
  for (uint32_t s = 0; s < prog.socks.size(); ++s)
    if (prog.socks[s].drain)
      drain = std::thread([&r, fd = r.socks[s].fd] { read_loop(fd, 1 << 18, 0, r.reader, r.abort_run); });
  // The sender to sample: the kTLS socket, else the peer of a drained socket.
  int sample_fd = -1;
  if (prog.tls_tx) sample_fd = r.socks[prog.tls_tx->sock].fd;
  else
    for (uint32_t s = 0; s < prog.socks.size(); ++s)
      if (prog.socks[s].drain) sample_fd = r.socks[prog.socks[s].peer].fd;
  StallSampler smp;
  std::atomic<bool> threads_done{false};
  const double t_start = now_s();
  smp.last_progress_t = t_start;
  const long long sample_ms = std::max<long long>(1, job.opt("sample_ms", 5));
  const long long timeout_ms = job.opt("timeout_ms", 120000);
  bool timed_out = false;
  std::thread sampler([&] {
    while (!threads_done) {
      sleep_ms(sample_ms);
      if (sample_fd >= 0) {
        tcp_info ti{};
        socklen_t tl = sizeof ti;
        if (getsockopt(sample_fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0) smp.sample(ti, now_s(), r.in_send);
      }
      if (!r.abort_run && (now_s() - t_start) * 1000.0 > static_cast<double>(timeout_ms)) {
        // Too long: wake every blocked call by shutting the run's sockets down.
        timed_out = true;
        r.abort_run = true;
        for (auto& s : r.socks)
          if (s.fd >= 0) ::shutdown(s.fd, SHUT_RDWR);
      }
    }
  });
  // TcpExt before and after the run: what paced it (delayed ACKs, RTOs, probes), for the host's
  // slow/stall classification (scenarios/script/pace.h). The guest runs nothing else on TCP.
  const std::map<std::string, long long> tcpext_before = tcpext();
  go.arrive_and_wait();
  for (auto& t : threads) t.join();
  // The sender is done: close what the script left open so a drain reader sees EOF (kTLS
  // flushes its open record on close, as the reporter's process exit would).
  for (uint32_t s = 0; s < prog.socks.size(); ++s)
    if (!prog.socks[s].drain && r.socks[s].fd >= 0) r.socks[s].reset();
  if (drain.joinable()) drain.join();
  threads_done = true;
  sampler.join();
  smp.close_episode();
  const std::map<std::string, long long> tcpext_after = tcpext();
  Json tcpext_delta;
  for (const char* name : {"DelayedACKs", "DelayedACKLocked", "DelayedACKLost", "TCPTimeouts", "TCPWinProbe",
                           "TCPLossProbes", "TCPMemoryPressures"}) {
    const auto after = tcpext_after.find(name), before = tcpext_before.find(name);
    tcpext_delta.i(name, after == tcpext_after.end()
                             ? -1
                             : after->second - (before == tcpext_before.end() ? 0 : before->second));
  }
  if (r.watcher) r.watcher->stop();
  if (r.flood_client.fd >= 0) {
    ::shutdown(r.flood_client.fd, SHUT_RDWR);
    r.flood_server.reset();
    flood_drain.join();
  }

  // The result.
  r.reader.finish();
  const long long received = r.reader.received;
  const bool plaintext_ok = r.reader.first_mismatch < 0 && r.reader.error.empty();
  const double t_end = std::max(r.reader.t_last.load(), r.t_last_send);
  const double elapsed = r.t_first_send > 0 ? t_end - r.t_first_send : 0;
  const bool stall = smp.total * 1000.0 >= static_cast<double>(job.opt("stall_ms", 1000));
  JsonList steps;
  for (const auto& s : r.steps) steps.add(Json().s("thread", s.thread).s("call", s.text).i("ret", s.ret).d("ms", s.ms));
  j.b("ok", r.error.empty()).s("error", r.error).b("timed_out", timed_out)
      .i("sender_mss", smss)
      .i("sent", r.sent).i("received", received).i("wire_received", r.reader.wire).b("eof", r.reader.eof)
      .b("plaintext_checked", r.reader.checked)
      .b("plaintext_ok", plaintext_ok).i("first_mismatch", r.reader.first_mismatch).s("rx_error", r.reader.error)
      // Beyond kMaxWireKept only the ciphertext was counted: no loss can be told from it.
      .b("lost", r.reader.checked && (received != r.sent || !plaintext_ok))
      .d("close_ms", r.close_ms)
      .d("close_cpu_ms", r.close_cpu_ms)
      .d("elapsed_s", elapsed)
      .d("throughput_MiBps", elapsed > 0 ? static_cast<double>(r.sent) / elapsed / 1048576.0 : 0)
      .s("stall_verdict", sample_fd < 0 ? "not-sampled" : stall ? "stall" : "no-stall")
      .d("stall_total_s", smp.total).d("longest_stall_s", smp.longest)
      .i("stall_episodes", smp.episodes).i("stall_episodes_ge_100ms", smp.long_episodes)
      .i("stall_notsent_max", smp.stall_notsent_max).i("samples", smp.samples)
      .raw("tcpext", tcpext_delta.str());
  if (prog.tls_rx) {
    const long long done1 = r.decrypt_done0 < 0 ? -1 : kprobe_hits("tls_decrypt_done");
    j.b("rx_disorder", !r.rx_disorder.empty()).s("rx_disorder_why", r.rx_disorder).i("rx_bytes", static_cast<long long>(r.rx_bytes))
        .i("rx_calls", r.rx_calls).i("rx_async_decryptions", done1 < 0 ? -1 : done1 - r.decrypt_done0);
  }
  // The window: each part that the script asked for, and whether it formed.
  bool formed = true;
  Json win;
  if (window(prog, WindowKind::cryptd_backlog)) {
    const bool ok = r.flood_sent > 0;
    formed = formed && ok;
    win.raw("cryptd_backlog", Json().i("sent", r.flood_sent).b("formed", ok).str());
  }
  if (window(prog, WindowKind::hold_until_closed)) {
    formed = formed && r.held;
    win.raw("hold_until_closed", Json().b("formed", r.held).d("waited_ms", r.hold_waited_ms).str());
  }
  if (tw) {
    const bool fired = r.watcher && r.watcher->fired();
    formed = formed && fired;
    win.raw("task_work", Json().b("formed", fired).s("frame", tw->frame).s("under", tw->under)
                             .i("stack_samples", r.watcher ? r.watcher->samples : 0)
                             .s("stack_seen", r.watcher ? r.watcher->stack_seen : "")
                             .s("stack_after", r.watcher ? r.watcher->stack_after : "")
                             .s("first_stack", r.watcher ? r.watcher->first_stack : "")
                             .s("last_stack", r.watcher ? r.watcher->last_stack : "").str());
  }
  if (!prog.windows.empty()) j.b("window_formed", formed).raw("window", win.str());
  j.raw("steps", steps.str());
  return j.str();
}

}  // namespace

std::string run_script_job(const ScriptJob& job) {
  Json j;
  j.s("id", job.id).s("kernel", kernel_release());
  try {
    const script::Script s = script::Script::load(job.script);
    const Params params = resolve_params(s.name(), s.params(), job.sets);
    const Program prog = s.instantiate(params);
    j.s("script", s.name()).raw("params", params.to_json().dump());
    if (std::string why = script::guest_unsupported(prog); !why.empty()) return j.failed("unsupported: " + why);
    // Async crypto: an async AEAD must exist before TLS_TX / TLS_RX pick one (ktls.h bind_cryptd).
    if ((prog.tls_tx && prog.tls_tx->crypto == script::Crypto::async) ||
        (prog.tls_rx && prog.tls_rx->crypto == script::Crypto::async))
      j.s("cryptd_bind", bind_cryptd());
    SysctlOverride lowat;
    if (prog.sysctl_tcp_notsent_lowat &&
        !lowat.set("/proc/sys/net/ipv4/tcp_notsent_lowat", std::to_string(*prog.sysctl_tcp_notsent_lowat)))
      return j.failed("cannot set net.ipv4.tcp_notsent_lowat");
    JsonList runs;
    long long lost = 0, formed = 0, errors = 0;
    for (long long k = 0; k < job.runs; ++k) {
      const std::string run = run_once(prog, job, k);
      runs.add_raw(run);
      lost += run.find("\"lost\":true") != std::string::npos;
      formed += run.find("\"window_formed\":true") != std::string::npos;
      errors += run.find("\"ok\":false") != std::string::npos;
    }
    j.s("gcm_aes_driver", prog.tls_tx ? gcm_aes_driver() : "")
        .s("gcm_aes_entries", prog.tls_tx ? gcm_aes_entries() : "")
        .i("runs", job.runs).i("lost_runs", lost).i("window_formed_runs", formed).i("error_runs", errors)
        .b("ok", errors == 0).s("error", errors ? "a run could not be carried out (see run_results)" : "")
        .raw("run_results", runs.str());
    return j.str();
  } catch (const std::exception& e) {
    return j.failed(e.what());
  }
}

}  // namespace kpsim::guest
