// Real-kernel runner for scenario scripts. See script_runner.h, and docs/crosscheck.md for why
// the steering works.
#include "replay/script_runner.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <latch>
#include <memory>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

// The skeleton refers to struct replay_event without defining it.
#include "bpf/replay_events.h"
#include "replay/guest/io_uring_ring.h"
#include "bpf/script_verdict.h"
#include "script_verdict.skel.h"

namespace kpsim::replay {
namespace {

using script::Op;
using script::Program;
using script::Step;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};

// Pause between the last step and reading the events (a backlog execution still pending at
// the last step then shows up as "started after the recv" rather than not at all).
constexpr useconds_t kSettleUs = 2000;
constexpr uint32_t kKnownFlags =
    script::msg_dontwait | script::msg_peek | script::msg_waitall | script::msg_more;

uint64_t micros_since(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

std::string loc_str(const script::Loc& l) {
  return fmt::format("{}:{}:{}", l.file.empty() ? "<script>" : l.file, l.line, l.col);
}

std::string sys_error(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

// ---------------------------------------------------------------------------------------------
// RAII

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct SkelDeleter {
  void operator()(script_verdict_bpf* s) const { script_verdict_bpf__destroy(s); }
};
using Skel = std::unique_ptr<script_verdict_bpf, SkelDeleter>;

// The run's sockets. A `close` step closes its socket during the run, so each descriptor is an
// atomic that the closer swaps to -1: later steps on it get -EBADF without a syscall on a
// reused number, and teardown closes only what is still open.
class Sockets {
 public:
  explicit Sockets(size_t n) : fds_(std::make_unique<std::atomic<int>[]>(n)), n_(n) {
    for (size_t i = 0; i < n; ++i) fds_[i].store(-1);
  }
  Sockets(const Sockets&) = delete;
  Sockets& operator=(const Sockets&) = delete;
  ~Sockets() {
    for (size_t i = 0; i < n_; ++i) close(i);
  }
  void set(size_t i, Fd fd) { fds_[i].store(fd.release()); }
  int fd(size_t i) const { return fds_[i].load(); }
  // 0, or -errno (-EBADF: already closed).
  int close(size_t i) {
    const int fd = fds_[i].exchange(-1);
    if (fd < 0) return -EBADF;
    return ::close(fd) == 0 ? 0 : -errno;
  }
  // Wakes every call blocked on the sockets (an aborted run); they stay open until teardown.
  void shutdown_all() const {
    for (size_t i = 0; i < n_; ++i)
      if (const int fd = fds_[i].load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
  size_t size() const { return n_; }

 private:
  std::unique_ptr<std::atomic<int>[]> fds_;
  size_t n_;
};

// Steering for Schedule::kworker_late, per script thread: pin to `cpu` and run SCHED_FIFO. A
// SCHED_FIFO task is never preempted by a CFS task on its CPU (modulo the fair deadline server,
// see crosscheck.md), and the backlog work is queued on the CPU that ran the loopback softirq —
// the sender's, i.e. ours — so the bound per-CPU kworker has to wait until every script
// thread sleeps. Restores the thread's policy and affinity on destruction.
class SchedGuard {
 public:
  SchedGuard() = default;
  SchedGuard(const SchedGuard&) = delete;
  SchedGuard& operator=(const SchedGuard&) = delete;
  ~SchedGuard() { restore(); }

  std::string apply(int cpu, int priority) {
    if (sched_getaffinity(0, sizeof(old_mask_), &old_mask_) != 0) return sys_error("sched_getaffinity");
    old_policy_ = sched_getscheduler(0);
    if (old_policy_ < 0 || sched_getparam(0, &old_param_) != 0) return sys_error("sched_getscheduler");
    cpu_set_t mask;
    CPU_ZERO(&mask);
    CPU_SET(static_cast<size_t>(cpu), &mask);
    if (sched_setaffinity(0, sizeof(mask), &mask) != 0)
      return fmt::format("sched_setaffinity({}): {}", cpu, std::strerror(errno));
    active_ = true;
    sched_param p{};
    p.sched_priority = priority;
    if (sched_setscheduler(0, SCHED_FIFO, &p) != 0) return sys_error("sched_setscheduler(SCHED_FIFO)");
    return {};
  }

  void restore() {
    if (!active_) return;
    sched_setscheduler(0, old_policy_, &old_param_);
    sched_setaffinity(0, sizeof(old_mask_), &old_mask_);
    active_ = false;
  }

 private:
  bool active_ = false;
  cpu_set_t old_mask_{};
  int old_policy_ = SCHED_OTHER;
  sched_param old_param_{};
};

// ---------------------------------------------------------------------------------------------
// Environment

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level != LIBBPF_WARN) return 0;
  return std::vfprintf(stderr, format, args);
}

void init_libbpf_once() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpf_print); });
}

// Address of sk_psock_backlog (static, so in kallsyms but not exported); 0 when hidden.
uint64_t backlog_address() {
  static const uint64_t addr = []() -> uint64_t {
    std::ifstream in("/proc/kallsyms");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string hex, type, name;
      ls >> hex >> type >> name;
      if (name == "sk_psock_backlog") return static_cast<uint64_t>(std::stoull(hex, nullptr, 16));
    }
    return 0;
  }();
  return addr;
}

// ---------------------------------------------------------------------------------------------
// Sockets: the selftests' create_pair() (prog_tests/socket_helpers.h). The server socket is
// bound to 127.0.0.1:0 (and listens, TCP); the client connects to it; UDP: the server socket is
// connected back to the client; TCP: the accepted socket is the server side.

std::string create_pair(script::Proto proto, Fd& server, Fd& client) {
  const int type = proto == script::Proto::udp ? SOCK_DGRAM : SOCK_STREAM;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);

  Fd s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!s.valid()) return sys_error("socket");
  if (::bind(s.get(), sa, len) != 0) return sys_error("bind");
  if (proto == script::Proto::tcp && ::listen(s.get(), SOMAXCONN) != 0) return sys_error("listen");
  if (::getsockname(s.get(), sa, &len) != 0) return sys_error("getsockname");

  Fd c(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!c.valid()) return sys_error("socket");
  if (::connect(c.get(), sa, len) != 0) return sys_error("connect");

  if (proto == script::Proto::udp) {
    if (::getsockname(c.get(), sa, &len) != 0) return sys_error("getsockname");
    if (::connect(s.get(), sa, len) != 0) return sys_error("connect back");
    server = std::move(s);
  } else {
    pollfd pfd{s.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 30'000) != 1) return sys_error("poll(accept)");
    Fd a(::accept4(s.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!a.valid()) return sys_error("accept");
    server = std::move(a);
  }
  client = std::move(c);
  return {};
}

std::string set_int_opt(int fd, int level, int name, int value, const script::Socket& s,
                        const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0)
    return fmt::format("{}: setsockopt({}, {}) on {}: {}", loc_str(s.loc), what, value, s.name,
                       std::strerror(errno));
  return {};
}

std::string create_sockets(const Program& prog, Sockets& socks, std::vector<uint64_t>& cookies) {
  cookies.assign(prog.socks.size(), 0);
  for (uint32_t i = 0; i < prog.socks.size(); ++i) {
    const auto& a = prog.socks[i];
    if (socks.fd(i) >= 0) continue;  // created with its peer
    const uint32_t server = a.server_side ? i : a.peer;
    const uint32_t client = a.server_side ? a.peer : i;
    Fd sfd, cfd;
    if (auto err = create_pair(a.proto, sfd, cfd); !err.empty())
      return fmt::format("{}: create_pair({}, {}): {}", loc_str(a.loc), prog.socks[server].name,
                         prog.socks[client].name, err);
    socks.set(server, std::move(sfd));
    socks.set(client, std::move(cfd));
  }
  for (uint32_t i = 0; i < prog.socks.size(); ++i) {
    const auto& s = prog.socks[i];
    const int fd = socks.fd(i);
    std::string err;
    if (s.rcvbuf && err.empty())
      err = set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, static_cast<int>(*s.rcvbuf), s, "SO_RCVBUF");
    if (s.sndbuf && err.empty())
      err = set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, static_cast<int>(*s.sndbuf), s, "SO_SNDBUF");
    if (s.nodelay && err.empty()) err = set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1, s, "TCP_NODELAY");
    if (!err.empty()) return err;
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0)
      return fmt::format("getsockopt(SO_COOKIE) on {}: {}", s.name, std::strerror(errno));
    cookies[i] = cookie;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// BPF setup

script_rule to_rule(const Program& prog, const script::VerdictRule& r,
                    const std::vector<uint64_t>& cookies) {
  script_rule out{};
  out.cookie = r.on ? cookies[*r.on] : 0;
  switch (r.act.action) {
    case script::Action::pass: out.action = SCRIPT_ACT_PASS; break;
    case script::Action::drop: out.action = SCRIPT_ACT_DROP; break;
    case script::Action::redirect: out.action = SCRIPT_ACT_REDIRECT; break;
  }
  out.key = r.act.key;
  out.flags = r.act.ingress ? BPF_F_INGRESS : 0;
  out.map = prog.map && prog.map->type == script::MapType::sockhash ? SCRIPT_MAP_SOCKHASH
                                                                     : SCRIPT_MAP_SOCKMAP;
  return out;
}

std::string load_bpf(const Program& prog, const std::vector<uint64_t>& cookies, Skel& skel) {
  init_libbpf_once();
  skel.reset(script_verdict_bpf__open());
  if (!skel) return sys_error("open BPF skeleton");
  const uint32_t entries = prog.map ? prog.map->max_entries : 1;
  if (bpf_map__set_max_entries(skel->maps.sock_map, entries) != 0 ||
      bpf_map__set_max_entries(skel->maps.sock_hash, entries) != 0)
    return sys_error("bpf_map__set_max_entries");
  auto* ro = skel->rodata;
  ro->n_rules = static_cast<uint32_t>(prog.verdict.rules.size());
  for (size_t i = 0; i < prog.verdict.rules.size(); ++i) {
    const script_rule r = to_rule(prog, prog.verdict.rules[i], cookies);
    // .rodata members are const volatile; write them one by one.
    ro->rules[i].cookie = r.cookie;
    ro->rules[i].action = r.action;
    ro->rules[i].key = r.key;
    ro->rules[i].flags = r.flags;
    ro->rules[i].map = r.map;
  }
  ro->backlog_fn = backlog_address();
  ro->target_tgid = static_cast<uint32_t>(::getpid());
  ro->nr_sendto = SYS_sendto;
  ro->nr_recvfrom = SYS_recvfrom;
  if (int err = script_verdict_bpf__load(skel.get()); err != 0)
    return fmt::format("load BPF object: {}", std::strerror(-err));
  return {};
}

int map_fd_of(const Program& prog, const Skel& skel) {
  if (!prog.map) return -1;
  return bpf_map__fd(prog.map->type == script::MapType::sockhash ? skel->maps.sock_hash
                                                                  : skel->maps.sock_map);
}

std::string attach_verdict(const Program& prog, const Skel& skel) {
  if (prog.verdict.rules.empty()) return {};
  const int prog_fd = bpf_program__fd(skel->progs.script_verdict);
  if (bpf_prog_attach(prog_fd, map_fd_of(prog, skel), BPF_SK_SKB_STREAM_VERDICT, 0) != 0)
    return fmt::format("{}: bpf_prog_attach(STREAM_VERDICT): {}", loc_str(prog.verdict.loc),
                       std::strerror(errno));
  return {};
}

// Only the raw tracepoints auto-attach (sk_skb programs have no attach target of their own).
std::string attach_tracing(const Skel& skel) {
  if (int err = script_verdict_bpf__attach(skel.get()); err != 0)
    return fmt::format("attach raw tracepoints: {}", std::strerror(-err));
  return {};
}

// ---------------------------------------------------------------------------------------------
// Steps: the semantics of program.h, shared with the model.

struct Shared {
  Shared(const Program& p, Schedule sc, const RunOptions& o, Sockets& s, int fd, KernelRun& r)
      : prog(p), schedule(sc), options(o), socks(s), map_fd(fd), run(r) {}
  const Program& prog;
  Schedule schedule;
  const RunOptions& options;
  Sockets& socks;
  int map_fd;
  KernelRun& run;
  std::mutex mu;  // guards run (the result vectors) and recv_seen
  bool recv_seen = false;
  std::atomic<bool> abort{false};
  // A failed expectation ends the test, as a selftest's ASSERT does and as the model ends its
  // run at s.fail(): no thread starts another step, and results recorded after the failing
  // step (a concurrent call woken by the teardown) are cut off, so that a run's outcome is
  // comparable with the model's. The cut points are the result counts at the failure.
  std::atomic<bool> failed{false};
  size_t cut_recv = 0, cut_samples = 0, cut_results = 0;
  std::mutex sleep_mu;
  std::condition_variable sleep_cv;
  // By Program ring index: created by the one thread that submits to it (the parser's rule),
  // on its first uring_read/uring_send, so only that thread touches its element.
  std::vector<std::unique_ptr<guest::Ring>> rings = std::vector<std::unique_ptr<guest::Ring>>(prog.rings.size());

  bool stopping() const { return abort.load() || g_interrupted.load(); }

  // usleep() that an aborted run can cut short.
  void sleep_us(uint64_t us) {
    std::unique_lock lock(sleep_mu);
    sleep_cv.wait_for(lock, std::chrono::microseconds(us), [this] { return stopping(); });
  }
  void wake_sleepers() {
    { std::lock_guard lock(sleep_mu); }
    sleep_cv.notify_all();
  }
};

int msg_flags(uint32_t f) {
  int out = 0;
  if (f & script::msg_dontwait) out |= MSG_DONTWAIT;
  if (f & script::msg_peek) out |= MSG_PEEK;
  if (f & script::msg_waitall) out |= MSG_WAITALL;
  if (f & script::msg_more) out |= MSG_MORE;
  return out;
}

std::string show_bytes(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 32; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? std::string(1, static_cast<char>(c))
                                                          : fmt::format("\\x{:02x}", c);
  }
  if (s.size() > 32) out += "...";
  return out;
}

void record_failures(Shared& sh, std::vector<std::string> fails);

void check_expect(Shared& sh, const Step& step, int64_t ret, const std::string* data) {
  std::vector<std::string> fails;
  if (step.expect.ret && *step.expect.ret != ret)
    fails.push_back(fmt::format("{}: {}: returned {}, expected {}", loc_str(step.loc), step.text,
                                ret, *step.expect.ret));
  if (step.expect.data && data && *step.expect.data != *data)
    fails.push_back(fmt::format("{}: {}: received {} bytes \"{}\", expected {} bytes \"{}\"",
                                loc_str(step.loc), step.text, data->size(), show_bytes(*data),
                                step.expect.data->size(), show_bytes(*step.expect.data)));
  record_failures(sh, std::move(fails));
}

void record_failures(Shared& sh, std::vector<std::string> fails) {
  if (fails.empty()) return;
  std::lock_guard lock(sh.mu);
  for (auto& f : fails) sh.run.failed_expectations.push_back(std::move(f));
  if (!sh.failed.load()) {
    sh.cut_recv = sh.run.recv_results.size();
    sh.cut_samples = sh.run.fionread_samples.size();
    sh.cut_results = sh.run.fionread_results.size();
    sh.failed.store(true);
  }
}

// Experiment knob (RunOptions::spin_before_recv_us): burn CPU without entering the scheduler.
void spin_for(const Shared& sh, uint32_t us) {
  if (us == 0) return;
  const auto until = Clock::now() + std::chrono::microseconds(us);
  while (Clock::now() < until && !sh.stopping()) {
  }
}

// The selftests' recv_timeout(): select() for readability first (if a timeout is given), then
// one recv(). Not readable in time: -EAGAIN and no recv (program.h). Records the call.
int recv_timeout(Shared& sh, const Step& step, uint32_t len, std::string& out) {
  const int fd = sh.socks.fd(step.sock);
  int ret = 0;
  if (fd < 0) {
    ret = -EBADF;
  } else if (step.timeout_us > 0) {
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    timeval tv{static_cast<time_t>(step.timeout_us / 1'000'000),
               static_cast<suseconds_t>(step.timeout_us % 1'000'000)};
    const int r = ::select(fd + 1, &rfds, nullptr, nullptr, &tv);
    if (r < 0) ret = -errno;
    if (r == 0) ret = -EAGAIN;
  }
  if (ret == 0) {
    {
      std::lock_guard lock(sh.mu);
      if (!sh.recv_seen) {
        sh.run.test_cpu = sched_getcpu();
        sh.recv_seen = true;
      }
    }
    std::string buf(len, '\0');
    const ssize_t n = ::recv(fd, buf.data(), len, msg_flags(step.flags));
    if (n < 0) {
      ret = -errno;
    } else {
      ret = static_cast<int>(n);
      out.append(buf.data(), static_cast<size_t>(n));
    }
  }
  std::lock_guard lock(sh.mu);
  sh.run.recv_results.push_back(ret);
  return ret;
}

void account_received(Shared& sh, const Step& step, const std::string& got) {
  if (step.flags & script::msg_peek) return;  // peeked bytes stay queued: not received yet
  std::lock_guard lock(sh.mu);
  sh.run.received += got;
}

void do_recv(Shared& sh, const Step& step) {
  spin_for(sh, sh.options.spin_before_recv_us);
  std::string got;
  const int r = recv_timeout(sh, step, step.len, got);
  account_received(sh, step, got);
  check_expect(sh, step, r, &got);
}

// The report's loop: recv_timeout(len - got) until len bytes or a call returns <= 0; the
// step's value is the total received.
void do_recv_loop(Shared& sh, const Step& step) {
  spin_for(sh, sh.options.spin_before_recv_us);
  std::string got;
  while (got.size() < step.len && !sh.stopping()) {
    const int r = recv_timeout(sh, step, step.len - static_cast<uint32_t>(got.size()), got);
    if (r <= 0) break;
  }
  account_received(sh, step, got);
  check_expect(sh, step, static_cast<int64_t>(got.size()), &got);
}

int fionread_once(Shared& sh, const Step& step) {
  const int fd = sh.socks.fd(step.sock);
  if (fd < 0) return -EBADF;
  int avail = 0;
  if (::ioctl(fd, FIONREAD, &avail) != 0) return -errno;
  std::lock_guard lock(sh.mu);
  sh.run.fionread_samples.push_back(static_cast<uint32_t>(avail));
  return avail;
}

void record_fionread_result(Shared& sh, const Step& step, int ret) {
  {
    std::lock_guard lock(sh.mu);
    sh.run.fionread_results.push_back(ret);
  }
  check_expect(sh, step, ret, nullptr);
}

// The selftests' wait_for_fionread(): FIONREAD every poll_us until >= want or timeout_us. The
// timeout is counted in poll intervals (as the selftest counts it), not in wall time, so the
// number of polls is the same in the model and here.
void do_wait_fionread(Shared& sh, const Step& step) {
  uint64_t waited_us = 0;
  int last = 0;
  for (;;) {
    last = fionread_once(sh, step);
    if (last < 0 || static_cast<uint32_t>(last) >= step.len) break;
    if (waited_us >= step.timeout_us || sh.stopping()) break;
    sh.sleep_us(step.poll_us);
    waited_us += step.poll_us;
  }
  record_fionread_result(sh, step, last);
}

// The last send step of the thread that owns `step` (steps live in their thread's vector).
const Step* last_send(const Shared& sh, const Step& step) {
  for (const auto& th : sh.prog.threads) {
    if (th.steps.empty() || &step < &th.steps.front() || &step > &th.steps.back()) continue;
    for (auto it = th.steps.rbegin(); it != th.steps.rend(); ++it)
      if (it->op == Op::send || it->op == Op::uring_send) return &*it;
  }
  return nullptr;
}

void do_send(Shared& sh, const Step& step) {
  const int fd = sh.socks.fd(step.sock);
  int64_t ret = -EBADF;
  if (fd >= 0) {
    const ssize_t n =
        ::send(fd, step.payload.data(), step.payload.size(), msg_flags(step.flags) | MSG_NOSIGNAL);
    ret = n < 0 ? -errno : n;
  }
  check_expect(sh, step, ret, nullptr);
  // kworker_first: give the backlog worker (queued by the loopback softirq inside this send)
  // time to run before the thread does anything else. kworker_between: the same after every
  // send but the thread's last, whose backlog run then waits behind SCHED_FIFO.
  if (sh.schedule == Schedule::kworker_first ||
      (sh.schedule == Schedule::kworker_between && &step != last_send(sh, step)))
    sh.sleep_us(sh.options.kworker_first_sleep_us);
}

// uring_read / uring_send: one IORING_OP_READ or IORING_OP_SEND on the thread's ring, submitted
// and waited for with io_uring_enter(1, 1, IORING_ENTER_GETEVENTS), as liburing's
// io_uring_submit_and_wait(ring, 1). Returns the CQE's res (or -errno of a failed setup/enter);
// a read's bytes go to `got`.
void set_error(Shared& sh, std::string err);

int64_t uring_call(Shared& sh, const Step& step, std::string& got) {
  const int fd = sh.socks.fd(step.sock);
  if (fd < 0) return -EBADF;  // closed by the script: no request (the model's -EBADF)
  std::unique_ptr<guest::Ring>& ring = sh.rings[step.ring];
  if (!ring) {
    const script::RingSetup rs = sh.prog.rings[step.ring].setup;
    const unsigned flags = rs == script::RingSetup::coop_taskrun    ? IORING_SETUP_COOP_TASKRUN
                           : rs == script::RingSetup::defer_taskrun ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
                                                                    : 0u;
    auto r = std::make_unique<guest::Ring>();
    std::string err;
    if (!r->init_flags(flags, err)) {
      set_error(sh, fmt::format("{}: {}", loc_str(step.loc), err));
      sh.abort.store(true);
      return -EIO;
    }
    ring = std::move(r);
  }
  std::string buf(step.op == Op::uring_read ? step.len : 0, '\0');
  if (step.op == Op::uring_read) ring->queue_read(fd, buf.data(), step.len, 1);
  else ring->queue_send(fd, step.payload.data(), static_cast<unsigned>(step.payload.size()), MSG_NOSIGNAL, 1);
  int r = ring->enter(1, 1);
  while (r < 0 && errno == EINTR) r = ring->enter(0, 1);  // submitted; wait again
  io_uring_cqe cqe{};
  if (r < 0 || !ring->wait(cqe)) return -errno;
  if (step.op == Op::uring_read && cqe.res > 0) got.assign(buf.data(), static_cast<size_t>(cqe.res));
  return cqe.res;
}

void do_uring_read(Shared& sh, const Step& step) {
  std::string got;
  const int64_t r = uring_call(sh, step, got);
  {
    std::lock_guard lock(sh.mu);
    if (!sh.recv_seen) {
      sh.run.test_cpu = sched_getcpu();
      sh.recv_seen = true;
    }
    sh.run.recv_results.push_back(static_cast<int>(r));
  }
  account_received(sh, step, got);
  check_expect(sh, step, r, &got);
}

void do_uring_send(Shared& sh, const Step& step) {
  std::string none;
  check_expect(sh, step, uring_call(sh, step, none), nullptr);
  if (sh.schedule == Schedule::kworker_first ||
      (sh.schedule == Schedule::kworker_between && &step != last_send(sh, step)))
    sh.sleep_us(sh.options.kworker_first_sleep_us);
}

int map_update(Shared& sh, const Step& step) {
  const uint32_t key = step.key;
  const uint32_t fd = static_cast<uint32_t>(sh.socks.fd(step.sock));  // -1: the kernel says EBADF
  return bpf_map_update_elem(sh.map_fd, &key, &fd, BPF_ANY) == 0 ? 0 : -errno;
}

int map_delete(Shared& sh, const Step& step) {
  const uint32_t key = step.key;
  return bpf_map_delete_elem(sh.map_fd, &key) == 0 ? 0 : -errno;
}

// poll(fd, events, timeout) or select() for readability: poll returns the revents (the kernel
// filters them to events | POLLERR | POLLHUP, as the model does), select 1 when readable (one
// descriptor), both 0 on timeout; a signal gives -EINTR.
int poll_once(Shared& sh, const Step& step) {
  const int fd = sh.socks.fd(step.sock);
  if (fd < 0) return -EBADF;
  if (step.select_call) {
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    timeval tv{static_cast<time_t>(step.timeout_us / 1'000'000), static_cast<suseconds_t>(step.timeout_us % 1'000'000)};
    const int r = ::select(fd + 1, &rfds, nullptr, nullptr, &tv);
    return r < 0 ? -errno : r;
  }
  pollfd p{fd, static_cast<short>(step.events), 0};  // POLLIN 1, POLLOUT 4: the script's values
  const int r = ::poll(&p, 1, static_cast<int>(std::min<uint64_t>(step.timeout_us / 1000, INT32_MAX)));
  if (r < 0) return -errno;
  return r == 0 ? 0 : p.revents;
}

void run_step_call(Shared& sh, const Step& step) {
  switch (step.op) {
    case Op::send: return do_send(sh, step);
    case Op::recv: return do_recv(sh, step);
    case Op::recv_loop: return do_recv_loop(sh, step);
    case Op::fionread: return record_fionread_result(sh, step, fionread_once(sh, step));
    case Op::wait_fionread: return do_wait_fionread(sh, step);
    case Op::poll: return check_expect(sh, step, poll_once(sh, step), nullptr);
    case Op::uring_read: return do_uring_read(sh, step);
    case Op::uring_send: return do_uring_send(sh, step);
    case Op::usleep: sh.sleep_us(step.timeout_us); return check_expect(sh, step, 0, nullptr);
    case Op::map_update: return check_expect(sh, step, map_update(sh, step), nullptr);
    case Op::map_delete: return check_expect(sh, step, map_delete(sh, step), nullptr);
    case Op::shutdown: {
      const int fd = sh.socks.fd(step.sock);
      const int r = fd < 0 ? -EBADF : (::shutdown(fd, SHUT_WR) == 0 ? 0 : -errno);
      return check_expect(sh, step, r, nullptr);
    }
    case Op::close: return check_expect(sh, step, sh.socks.close(step.sock), nullptr);
    case Op::sendfile:
    case Op::write:
    case Op::sendfile_loop:
    case Op::write_loop:
    case Op::splice_loop:
    case Op::uring_splice_close:
    case Op::read_until_eof: break;  // refused by unsupported_feature before any run
  }
}

// One step, and its `within` limit in wall time (CLOCK_MONOTONIC via steady_clock): a call that
// returns later is a failed expectation, as the model's virtual-time check is.
void run_step(Shared& sh, const Step& step) {
  const auto start = std::chrono::steady_clock::now();
  run_step_call(sh, step);
  if (!step.expect.within_us) return;
  const auto took_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
  if (took_us > *step.expect.within_us)
    record_failures(sh, {fmt::format("{}: {}: took {} us, expected within {} us", loc_str(step.loc), step.text,
                                     took_us, *step.expect.within_us)});
}

void set_error(Shared& sh, std::string err) {
  std::lock_guard lock(sh.mu);
  if (sh.run.error.empty()) sh.run.error = std::move(err);
}

// The script threads: steered, released together, each running its steps; the calling thread
// waits for them, and on timeout or SIGINT stops them (sleeps cut short, sockets shut down).
void run_threads(Shared& sh) {
  const auto& threads = sh.prog.threads;
  if (threads.empty()) return;
  int cpu = sh.options.pin_cpu;
  if (cpu < 0) cpu = sched_getcpu();
  std::latch start(static_cast<std::ptrdiff_t>(threads.size()));
  std::mutex done_mu;
  std::condition_variable done_cv;
  size_t done = 0;
  std::vector<std::thread> workers;
  workers.reserve(threads.size());
  const auto t0 = Clock::now();
  for (const auto& th : threads) {
    auto body = [&sh, &th, &start, &done_mu, &done_cv, &done, cpu] {
      SchedGuard guard;
      std::string err;
      if (sh.schedule == Schedule::kworker_late || sh.schedule == Schedule::kworker_between)
        err = guard.apply(cpu, sh.options.fifo_priority);
      start.arrive_and_wait();
      if (!err.empty()) {
        set_error(sh, fmt::format("thread {}: {}", th.name, err));
        sh.abort.store(true);
      }
      for (const auto& step : th.steps) {
        if (sh.stopping() || sh.failed.load()) break;
        run_step(sh, step);
      }
      guard.restore();
      std::lock_guard lock(done_mu);
      ++done;
      done_cv.notify_all();
    };
    try {
      workers.emplace_back(std::move(body));
    } catch (const std::system_error& e) {
      // The threads already started wait at the latch for this one: release them into an
      // aborted run, count this one as done, and let the join below collect them.
      set_error(sh, fmt::format("thread {}: {}", th.name, e.what()));
      sh.abort.store(true);
      start.count_down();
      std::lock_guard lock(done_mu);
      ++done;
    }
  }
  const auto deadline = t0 + std::chrono::milliseconds(sh.options.run_timeout_ms);
  {
    std::unique_lock lock(done_mu);
    while (done < threads.size()) {
      done_cv.wait_for(lock, std::chrono::milliseconds(50));
      if (done == threads.size()) break;
      const bool late = Clock::now() >= deadline;
      // After a failed expectation the other threads may wait for data that will not come:
      // wake them, as the end of a failed selftest closes its sockets.
      if (late || sh.stopping() || sh.failed.load()) {
        if (late) set_error(sh, fmt::format("run did not finish within {} ms", sh.options.run_timeout_ms));
        if (g_interrupted.load()) set_error(sh, "interrupted");
        sh.abort.store(true);
        sh.wake_sleepers();
        sh.socks.shutdown_all();
        break;
      }
    }
  }
  for (auto& w : workers) w.join();
  sh.run.run_us = micros_since(t0);
  if (sh.failed.load()) {
    sh.run.recv_results.resize(std::min(sh.run.recv_results.size(), sh.cut_recv));
    sh.run.fionread_samples.resize(std::min(sh.run.fionread_samples.size(), sh.cut_samples));
    sh.run.fionread_results.resize(std::min(sh.run.fionread_results.size(), sh.cut_results));
  }
  if (g_interrupted.load()) set_error(sh, "interrupted");
}

// ---------------------------------------------------------------------------------------------
// Observation: order of sk_psock_backlog vs the first recv of any script thread.

std::vector<replay_event> read_events(const Skel& skel, bool& overflow) {
  constexpr uint32_t cap = SCRIPT_MAX_EVENTS;
  const uint32_t n = __atomic_load_n(&skel->bss->n_events, __ATOMIC_ACQUIRE);
  overflow = n > cap;
  const uint32_t count = std::min(n, cap);
  std::vector<replay_event> ev(skel->bss->events, skel->bss->events + count);
  std::stable_sort(ev.begin(), ev.end(),
                   [](const replay_event& a, const replay_event& b) { return a.ts_ns < b.ts_ns; });
  return ev;
}

// The last backlog queueing before the first recv entered the kernel, and the first execution
// of that work after it, compared with the recv's entry. Nothing queued before the recv:
// nothing was pending for it, which the model counts as kworker-before-recv.
std::string classify(const std::vector<replay_event>& ev, bool overflow) {
  if (overflow) return "unknown";
  const auto recv = std::find_if(ev.begin(), ev.end(), [](const replay_event& e) {
    return e.kind == REPLAY_RECV_ENTER;
  });
  if (recv == ev.end()) return "";
  const replay_event* queued = nullptr;
  for (auto it = ev.begin(); it != recv; ++it)
    if (it->kind == REPLAY_BACKLOG_QUEUE) queued = &*it;
  if (queued == nullptr) return "kworker-before-recv";
  const replay_event* start = nullptr;
  const replay_event* end = nullptr;
  for (const auto& e : ev) {
    if (e.ts_ns < queued->ts_ns || e.arg != queued->arg) continue;
    if (e.kind == REPLAY_BACKLOG_START && start == nullptr) start = &e;
    if (e.kind == REPLAY_BACKLOG_END && start != nullptr && end == nullptr) end = &e;
  }
  if (start == nullptr || start->ts_ns > recv->ts_ns) return "kworker-after-recv";
  if (end != nullptr && end->ts_ns < recv->ts_ns) return "kworker-before-recv";
  return "kworker-during-recv";
}

const char* event_tag(uint32_t kind) {
  switch (kind) {
    case REPLAY_BACKLOG_QUEUE: return "q";
    case REPLAY_BACKLOG_START: return "s";
    case REPLAY_BACKLOG_END: return "e";
    case REPLAY_SEND_ENTER: return "S>";
    case REPLAY_SEND_EXIT: return "S<";
    case REPLAY_RECV_ENTER: return "R>";
    case REPLAY_RECV_EXIT: return "R<";
    default: return "?";
  }
}

void summarize_events(const Skel& skel, KernelRun& run) {
  bool overflow = false;
  const auto ev = read_events(skel, overflow);
  for (const auto& e : ev) {
    const double rel_us = static_cast<double>(e.ts_ns - ev.front().ts_ns) / 1000.0;
    run.timeline += fmt::format("{}+{:.1f} {}@cpu{}", run.timeline.empty() ? "" : " ", rel_us,
                                event_tag(e.kind), e.cpu);
    if (e.kind == REPLAY_BACKLOG_QUEUE) ++run.backlog_queued;
    if (e.kind == REPLAY_BACKLOG_START) {
      ++run.backlog_runs;
      run.backlog_cpu = static_cast<int>(e.cpu);
    }
  }
  run.schedule_class = classify(ev, overflow);
  run.rule_hits.assign(SCRIPT_MAX_RULES + 1, 0);
  for (size_t i = 0; i <= SCRIPT_MAX_RULES; ++i)
    run.rule_hits[i] = __atomic_load_n(&skel->bss->rule_hits[i], __ATOMIC_RELAXED);
}

bool uses_sock(Op op) {
  return op != Op::usleep && op != Op::map_delete;
}

std::string check_step(const Program& prog, const Step& s, bool setup) {
  const auto at = loc_str(s.loc);
  if (static_cast<uint8_t>(s.op) > static_cast<uint8_t>(Op::uring_send))
    return fmt::format("{}: unknown step kind {}", at, static_cast<int>(s.op));
  if (setup && s.op != Op::map_update && s.op != Op::map_delete)
    return fmt::format("{}: {}: only map updates run in setup, before the threads", at, s.text);
  if (uses_sock(s.op) && s.sock >= prog.socks.size())
    return fmt::format("{}: {}: socket {} does not exist", at, s.text, s.sock);
  if ((s.op == Op::map_update || s.op == Op::map_delete) && !prog.map)
    return fmt::format("{}: {}: a map operation without a map", at, s.text);
  if (s.op == Op::poll && !s.select_call && (s.events == 0 || (s.events & ~uint32_t{POLLIN | POLLOUT})))
    return fmt::format("{}: {}: poll events other than POLLIN and POLLOUT", at, s.text);
  if (s.flags & ~kKnownFlags)
    return fmt::format("{}: {}: unknown MSG flags 0x{:x}", at, s.text, s.flags & ~kKnownFlags);
  if ((s.op == Op::recv || s.op == Op::recv_loop) && s.len > (1u << 30))
    return fmt::format("{}: {}: a {}-byte recv buffer", at, s.text, s.len);
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::natural: return "natural";
    case Schedule::kworker_late: return "kworker_late";
    case Schedule::kworker_first: return "kworker_first";
    case Schedule::kworker_between: return "kworker_between";
  }
  return "?";
}

std::optional<Schedule> parse_schedule(std::string_view name) {
  for (Schedule s : {Schedule::natural, Schedule::kworker_late, Schedule::kworker_first,
                     Schedule::kworker_between})
    if (name == schedule_name(s)) return s;
  return std::nullopt;
}

Availability check_available() {
  if (::geteuid() != 0)
    return {false, "not root: loading BPF programs and attaching tracepoints needs root"};
  init_libbpf_once();
  Fd map(bpf_map_create(BPF_MAP_TYPE_SOCKMAP, nullptr, sizeof(int), sizeof(int), 2, nullptr));
  if (!map.valid()) {
    if (errno == ENOSYS) return {false, "kernel has no BPF syscall"};
    if (errno == EINVAL || errno == EOPNOTSUPP)
      return {false, "kernel does not support BPF_MAP_TYPE_SOCKMAP (CONFIG_BPF_STREAM_PARSER)"};
    return {false, fmt::format("cannot create a sockmap: {}", std::strerror(errno))};
  }
  if (backlog_address() == 0)
    return {false, "sk_psock_backlog not found in /proc/kallsyms (kptr_restrict?)"};
  return {true, {}};
}

std::string unsupported_feature(const Program& prog) {
  // One TCP connection with kTLS, files, sendfile/write, sysctls: a guest kernel's business (the
  // kTLS seeds' hand-written guest sides); a guest runner that interprets scripts is issue 12.
  if (prog.stream()) {
    script::Loc at{prog.file, 0, 0};
    std::string what = "kTLS, file, sysctl, TCP_MAXSEG, drain, check, sendfile and write statements";
    if (prog.tls_tx) at = prog.tls_tx->loc, what = "tls_tx (kTLS)";
    else if (!prog.files.empty()) at = prog.files.front().loc, what = "file()";
    return fmt::format("{}: {} needs the guest runner (issue 12), not the host runner", loc_str(at), what);
  }
  for (uint32_t i = 0; i < prog.socks.size(); ++i) {
    const auto& s = prog.socks[i];
    const auto at = loc_str(s.loc);
    if (s.peer >= prog.socks.size() || s.peer == i || prog.socks[s.peer].peer != i)
      return fmt::format("{}: socket {} is not one end of a create_pair()", at, s.name);
    const auto& p = prog.socks[s.peer];
    if (p.proto != s.proto || p.server_side == s.server_side)
      return fmt::format("{}: {} and {}: not the two ends of one create_pair()", at, s.name, p.name);
    if (s.rcvbuf && *s.rcvbuf > INT32_MAX) return fmt::format("{}: SO_RCVBUF {}", at, *s.rcvbuf);
    if (s.sndbuf && *s.sndbuf > INT32_MAX) return fmt::format("{}: SO_SNDBUF {}", at, *s.sndbuf);
  }
  if (prog.map && prog.map->max_entries == 0)
    return fmt::format("{}: a map with 0 entries", loc_str(prog.map->loc));
  if (!prog.verdict.rules.empty()) {
    const auto at = loc_str(prog.verdict.loc);
    if (!prog.map) return fmt::format("{}: a verdict program without a map", at);
    if (prog.verdict.rules.size() > SCRIPT_MAX_RULES)
      return fmt::format("{}: {} verdict rules (the BPF object takes {})", at,
                         prog.verdict.rules.size(), SCRIPT_MAX_RULES);
    for (const auto& r : prog.verdict.rules)
      if (r.on && *r.on >= prog.socks.size())
        return fmt::format("{}: a rule on socket {}, which does not exist", at, *r.on);
  }
  for (const auto& s : prog.setup)
    if (auto e = check_step(prog, s, true); !e.empty()) return e;
  for (const auto& t : prog.threads)
    for (const auto& s : t.steps)
      if (auto e = check_step(prog, s, false); !e.empty()) return e;
  return {};
}

KernelRun run_script(const Program& prog, Schedule schedule, const RunOptions& options) {
  KernelRun run;
  run.schedule_class = "unknown";
  if (auto why = unsupported_feature(prog); !why.empty()) {
    run.error = "the host runner cannot run this: " + why;
    return run;
  }
  // Destruction in reverse declaration order: the sockets close first (dropping the psocks),
  // then the skeleton releases links, programs and maps.
  Skel skel;
  Sockets socks(prog.socks.size());
  std::vector<uint64_t> cookies;
  const auto setup_start = Clock::now();
  std::string err = create_sockets(prog, socks, cookies);
  if (err.empty()) err = load_bpf(prog, cookies, skel);
  if (err.empty()) err = attach_verdict(prog, skel);
  if (err.empty()) err = attach_tracing(skel);
  if (!err.empty()) {
    run.error = err;
    run.setup_us = micros_since(setup_start);
    return run;
  }
  Shared sh(prog, schedule, options, socks, map_fd_of(prog, skel), run);
  for (const auto& step : prog.setup) run_step(sh, step);
  run.setup_us = micros_since(setup_start);
  __atomic_store_n(&skel->bss->n_events, 0u, __ATOMIC_RELEASE);
  if (g_interrupted.load()) {
    run.error = "interrupted";
  } else {
    run_threads(sh);
  }
  ::usleep(kSettleUs);  // outside run_us
  summarize_events(skel, run);
  run.assertion_ok = run.error.empty() && run.failed_expectations.empty();
  return run;
}

std::string outcome_key(std::string_view kworker_class, const std::vector<int>& recv_results,
                        const std::vector<int64_t>& fionread_results, int64_t first_fionread) {
  std::string key = fmt::format("{} recv={} fionread={}", kworker_class, fmt::join(recv_results, ","),
                                fmt::join(fionread_results, ","));
  if (first_fionread >= 0) key += fmt::format(" fionread0={}", first_fionread);
  return key;
}

std::string outcome_key(const KernelRun& run) {
  return outcome_key(run.schedule_class, run.recv_results, run.fionread_results,
                     run.fionread_samples.empty() ? -1 : int64_t{run.fionread_samples.front()});
}

void install_interrupt_handler() {
  struct sigaction sa{};
  sa.sa_handler = [](int) { g_interrupted.store(true); };
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking select()/usleep() returns early
  // A signal ignored on entry stays ignored (SIGINT of a shell's background job is meant not to
  // reach it), as boot_guest does.
  for (const int sig : {SIGINT, SIGTERM}) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    if (old.sa_handler != SIG_IGN) sigaction(sig, &sa, nullptr);
  }
}

bool interrupted() { return g_interrupted.load(); }

}  // namespace kpsim::replay
