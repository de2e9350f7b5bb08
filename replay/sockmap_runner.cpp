// Real-kernel runner for the sockmap multi-channel scenario. See sockmap_runner.h and
// docs/crosscheck.md for what is measured and why the steering works.
#include "replay/sockmap_runner.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>

#include <fmt/format.h>

// The skeleton refers to struct replay_event without defining it.
#include "bpf/replay_events.h"
#include "sockmap_verdict.skel.h"

namespace kpsim::replay {
namespace {

using sockmap::Proto;
using sockmap::Script;
using sockmap::Sock;
using sockmap::Step;
using sockmap::StepKind;
using Clock = std::chrono::steady_clock;

// Pause between the last step and reading the events (see run_sockmap_script).
constexpr useconds_t kSettleUs = 2000;

uint64_t micros_since(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

// ---------------------------------------------------------------------------------------------
// RAII wrappers

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
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct SkelDeleter {
  void operator()(sockmap_verdict_bpf* s) const { sockmap_verdict_bpf__destroy(s); }
};
using Skel = std::unique_ptr<sockmap_verdict_bpf, SkelDeleter>;

// Steering for Schedule::kworker_late: pin to one CPU and run SCHED_FIFO. A SCHED_FIFO task is
// never preempted by a CFS task on its CPU (modulo the fair deadline server, see crosscheck.md),
// and the backlog work is queued on the CPU that ran the loopback softirq — the sender's, i.e.
// ours — so the bound per-CPU kworker has to wait until we sleep. Restores everything on exit.
class SchedGuard {
 public:
  SchedGuard() = default;
  SchedGuard(const SchedGuard&) = delete;
  SchedGuard& operator=(const SchedGuard&) = delete;
  ~SchedGuard() { restore(); }

  std::string apply(int cpu, int priority) {
    if (sched_getaffinity(0, sizeof(old_mask_), &old_mask_) != 0)
      return fmt::format("sched_getaffinity: {}", std::strerror(errno));
    old_policy_ = sched_getscheduler(0);
    if (old_policy_ < 0 || sched_getparam(0, &old_param_) != 0)
      return fmt::format("sched_getscheduler: {}", std::strerror(errno));
    if (cpu < 0) cpu = sched_getcpu();
    cpu_set_t mask;
    CPU_ZERO(&mask);
    CPU_SET(static_cast<size_t>(cpu), &mask);
    if (sched_setaffinity(0, sizeof(mask), &mask) != 0)
      return fmt::format("sched_setaffinity({}): {}", cpu, std::strerror(errno));
    active_ = true;
    sched_param p{};
    p.sched_priority = priority;
    if (sched_setscheduler(0, SCHED_FIFO, &p) != 0)
      return fmt::format("sched_setscheduler(SCHED_FIFO): {}", std::strerror(errno));
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

// libbpf prints warnings (and, with LIBBPF_DEBUG, the verifier log) through this hook; keep
// warnings, drop info/debug chatter so a 1000-run loop stays readable.
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level != LIBBPF_WARN) return 0;
  return std::vfprintf(stderr, format, args);
}

void init_libbpf_once() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpf_print); });
}

// Address of sk_psock_backlog (a static function, so it is in kallsyms but not exported).
// 0 when not found or hidden by kptr_restrict — the run still works, only the observation is
// lost ("unknown").
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
// Sockets: the selftest's create_pair()/create_socket_pairs() (prog_tests/socket_helpers.h).
// For each pair a "server" socket s is bound to 127.0.0.1:0 (and listens for TCP), a client c
// connects to it; for UDP s is then connected back to c, for TCP the accepted socket is used.
// The selftest passes (c0, p0) as create_pair's (server side, client side), so c0/c1 are the
// server-side sockets and p0/p1 the connecting ones; that only matters for who is in the map.

struct Pair {
  Fd c;  // server side (UDP: the bound socket; TCP: the accepted socket)
  Fd p;  // client side (the socket that called connect())
};

std::string sock_error(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

std::string create_pair(Proto proto, Pair& out) {
  const int type = proto == Proto::udp ? SOCK_DGRAM : SOCK_STREAM;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);

  Fd s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!s.valid()) return sock_error("socket");
  if (::bind(s.get(), sa, len) != 0) return sock_error("bind");
  if (proto == Proto::tcp && ::listen(s.get(), SOMAXCONN) != 0) return sock_error("listen");
  if (::getsockname(s.get(), sa, &len) != 0) return sock_error("getsockname");

  Fd c(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!c.valid()) return sock_error("socket");
  if (::connect(c.get(), sa, len) != 0) return sock_error("connect");

  if (proto == Proto::udp) {
    if (::getsockname(c.get(), sa, &len) != 0) return sock_error("getsockname");
    if (::connect(s.get(), sa, len) != 0) return sock_error("connect back");
    out.c = std::move(s);
  } else {
    pollfd pfd{s.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 30'000) != 1) return sock_error("poll(accept)");
    Fd a(::accept4(s.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!a.valid()) return sock_error("accept");
    out.c = std::move(a);
  }
  out.p = std::move(c);
  return {};
}

struct Sockets {
  Pair pair0;  // c0 <-> p0
  Pair pair1;  // c1 <-> p1
  int fd(Sock s) const {
    switch (s) {
      case Sock::c0: return pair0.c.get();
      case Sock::p0: return pair0.p.get();
      case Sock::c1: return pair1.c.get();
      case Sock::p1: return pair1.p.get();
    }
    return -1;
  }
};

// ---------------------------------------------------------------------------------------------
// BPF setup

std::string load_bpf(const Script& script, Skel& skel) {
  init_libbpf_once();
  skel.reset(sockmap_verdict_bpf__open());
  if (!skel) return sock_error("open BPF skeleton");
  skel->rodata->redirect_slot = script.redirect_slot;
  skel->rodata->backlog_fn = backlog_address();
  skel->rodata->target_tid = static_cast<uint32_t>(::gettid());
  skel->rodata->nr_sendto = SYS_sendto;
  skel->rodata->nr_recvfrom = SYS_recvfrom;
  if (int err = sockmap_verdict_bpf__load(skel.get()); err != 0)
    return fmt::format("load BPF object: {}", std::strerror(-err));
  return {};
}

// The selftest's order: attach the verdict program to the map, then insert the sockets.
std::string wire_sockmap(const Script& script, const Skel& skel, const Sockets& socks) {
  const int map_fd = bpf_map__fd(skel->maps.sock_map_rx);
  const int prog_fd = bpf_program__fd(skel->progs.prog_skb_verdict_ingress);
  if (bpf_prog_attach(prog_fd, map_fd, BPF_SK_SKB_STREAM_VERDICT, 0) != 0)
    return sock_error("bpf_prog_attach(STREAM_VERDICT)");
  const std::array<std::pair<int, Sock>, 2> slots{{{0, script.map_slot0}, {1, script.map_slot1}}};
  for (const auto& [key, sock] : slots) {
    const int fd = socks.fd(sock);
    if (bpf_map_update_elem(map_fd, &key, &fd, BPF_ANY) != 0)
      return fmt::format("sockmap insert {} at {}: {}", sock_name(sock), key, std::strerror(errno));
  }
  return {};
}

// Only the raw tracepoints auto-attach (sk_skb programs have no attach target of their own).
std::string attach_tracing(const Skel& skel) {
  if (int err = sockmap_verdict_bpf__attach(skel.get()); err != 0)
    return fmt::format("attach raw tracepoints: {}", std::strerror(-err));
  return {};
}

// ---------------------------------------------------------------------------------------------
// Steps (semantics shared with the model: see scenarios/sockmap_script.h)

struct StepContext {
  const Sockets& socks;
  Schedule schedule;
  const RunOptions& options;
  KernelRun& run;
  bool all_expectations_met = true;
  bool recv_seen = false;
};

std::string do_send(StepContext& ctx, const Step& step) {
  const ssize_t n = ::send(ctx.socks.fd(step.sock), step.payload.data(), step.payload.size(), 0);
  if (n != static_cast<ssize_t>(step.payload.size()))
    return fmt::format("send on {}: {}", sock_name(step.sock),
                       n < 0 ? std::strerror(errno) : "short write");
  // kworker_first: give the backlog worker (queued by the loopback softirq inside this send)
  // time to run before the thread does anything else.
  if (ctx.schedule == Schedule::kworker_first) ::usleep(ctx.options.kworker_first_sleep_us);
  return {};
}

// The selftest's wait_for_fionread(): poll, and sleep poll_us between polls. The timeout is
// counted in poll intervals (as the selftest does), not in wall time, so the number of polls is
// the same in the model and here.
std::string do_wait_fionread(StepContext& ctx, const Step& step) {
  uint64_t waited_us = 0;
  for (;;) {
    int avail = 0;
    if (::ioctl(ctx.socks.fd(step.sock), FIONREAD, &avail) != 0)
      return sock_error("ioctl(FIONREAD)");
    ctx.run.fionread_samples.push_back(static_cast<uint32_t>(avail));
    if (static_cast<uint32_t>(avail) >= step.min_bytes) return {};
    if (waited_us >= step.timeout_us || interrupted()) return {};
    ::usleep(step.poll_us);
    waited_us += step.poll_us;
  }
}

// The selftest's recv_timeout(): select() for readability first (if a timeout is given), then a
// single recv(). A select timeout is reported as -ETIME, as the selftest's poll_read() does.
int recv_timeout(StepContext& ctx, const Step& step, uint32_t len, std::string& out) {
  const int fd = ctx.socks.fd(step.sock);
  if (step.select_timeout_us > 0) {
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    timeval tv{static_cast<time_t>(step.select_timeout_us / 1'000'000),
               static_cast<suseconds_t>(step.select_timeout_us % 1'000'000)};
    const int r = ::select(fd + 1, &rfds, nullptr, nullptr, &tv);
    if (r < 0) return -errno;
    if (r == 0) return -ETIME;
  }
  if (!ctx.recv_seen) {
    ctx.run.test_cpu = sched_getcpu();
    ctx.recv_seen = true;
  }
  std::string buf(len, '\0');
  const ssize_t n = ::recv(fd, buf.data(), len, step.dontwait ? MSG_DONTWAIT : 0);
  if (n < 0) return -errno;
  out.append(buf.data(), static_cast<size_t>(n));
  return static_cast<int>(n);
}

void check_expect(StepContext& ctx, const Step& step, const std::string& got) {
  if (got != step.expect) ctx.all_expectations_met = false;
  ctx.run.received += got;
}

// Experiment knob (RunOptions::spin_before_recv_us): burn CPU without entering the scheduler.
void spin_for(uint32_t us) {
  if (us == 0) return;
  const auto until = Clock::now() + std::chrono::microseconds(us);
  while (Clock::now() < until && !interrupted()) {
  }
}

std::string do_recv(StepContext& ctx, const Step& step) {
  spin_for(ctx.options.spin_before_recv_us);
  std::string got;
  ctx.run.recv_results.push_back(recv_timeout(ctx, step, step.len, got));
  check_expect(ctx, step, got);
  return {};
}

// The report's proposed fix: recv_timeout(len - got) until len bytes or a call returns <= 0.
std::string do_recv_until(StepContext& ctx, const Step& step) {
  spin_for(ctx.options.spin_before_recv_us);
  std::string got;
  while (got.size() < step.len && !interrupted()) {
    const int r = recv_timeout(ctx, step, step.len - static_cast<uint32_t>(got.size()), got);
    ctx.run.recv_results.push_back(r);
    if (r <= 0) break;
  }
  check_expect(ctx, step, got);
  return {};
}

std::string run_step(StepContext& ctx, const Step& step) {
  switch (step.kind) {
    case StepKind::send: return do_send(ctx, step);
    case StepKind::wait_fionread: return do_wait_fionread(ctx, step);
    case StepKind::recv: return do_recv(ctx, step);
    case StepKind::recv_until: return do_recv_until(ctx, step);
  }
  return "unknown step kind";
}

// ---------------------------------------------------------------------------------------------
// Observation: order of sk_psock_backlog vs the first recv, from the recorded events.

std::vector<replay_event> read_events(const Skel& skel, bool& overflow) {
  // The programs may still fire (a late backlog run); copy a snapshot of the filled prefix.
  const uint32_t n = __atomic_load_n(&skel->bss->n_events, __ATOMIC_ACQUIRE);
  overflow = n > REPLAY_MAX_EVENTS;
  const uint32_t count = std::min<uint32_t>(n, REPLAY_MAX_EVENTS);
  std::vector<replay_event> ev(skel->bss->events, skel->bss->events + count);
  std::stable_sort(ev.begin(), ev.end(),
                   [](const replay_event& a, const replay_event& b) { return a.ts_ns < b.ts_ns; });
  return ev;
}

// Finds the last backlog queueing before the first recv entered the kernel and the first
// execution of that work that started after the queueing; compares that execution with the
// recv entry. Work already pending when the next skb arrives is not queued again (no event),
// which is fine: the pending execution is the one that will deliver both skbs.
std::string classify(const std::vector<replay_event>& ev, bool overflow) {
  if (overflow) return "unknown";
  const auto recv = std::find_if(ev.begin(), ev.end(), [](const replay_event& e) {
    return e.kind == REPLAY_RECV_ENTER;
  });
  if (recv == ev.end()) return "unknown";
  const replay_event* queued = nullptr;
  for (auto it = ev.begin(); it != recv; ++it)
    if (it->kind == REPLAY_BACKLOG_QUEUE) queued = &*it;
  if (queued == nullptr) return "unknown";
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

std::string format_timeline(const std::vector<replay_event>& ev) {
  std::string out;
  for (const auto& e : ev) {
    const double rel_us = static_cast<double>(e.ts_ns - ev.front().ts_ns) / 1000.0;
    out += fmt::format("{}+{:.1f} {}@cpu{}", out.empty() ? "" : " ", rel_us, event_tag(e.kind),
                       e.cpu);
  }
  return out;
}

void summarize_events(const std::vector<replay_event>& ev, bool overflow, KernelRun& run) {
  run.timeline = format_timeline(ev);
  for (const auto& e : ev) {
    if (e.kind == REPLAY_BACKLOG_QUEUE) ++run.backlog_queued;
    if (e.kind == REPLAY_BACKLOG_START) {
      ++run.backlog_runs;
      run.backlog_cpu = static_cast<int>(e.cpu);
    }
  }
  run.schedule_class = classify(ev, overflow);
}

std::string run_steps(const Script& script, Schedule schedule, const RunOptions& options,
                      const Sockets& socks, KernelRun& run) {
  SchedGuard guard;
  if (schedule == Schedule::kworker_late) {
    if (auto err = guard.apply(options.pin_cpu, options.fifo_priority); !err.empty()) return err;
  }
  StepContext ctx{socks, schedule, options, run};
  const auto start = Clock::now();
  for (const auto& step : script.steps) {
    if (interrupted()) return "interrupted";
    if (auto err = run_step(ctx, step); !err.empty()) return err;
  }
  run.run_us = micros_since(start);
  run.assertion_ok = ctx.all_expectations_met;
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------

KernelRun run_sockmap_script(const Script& script, Schedule schedule, const RunOptions& options) {
  KernelRun run;
  run.schedule_class = "unknown";
  // Declaration order is destruction order reversed: sockets close first (dropping the psocks),
  // then the skeleton releases links, programs and maps.
  Skel skel;
  Sockets socks;
  const auto setup_start = Clock::now();
  std::string err = load_bpf(script, skel);
  if (err.empty()) err = create_pair(script.proto, socks.pair0);
  if (err.empty()) err = create_pair(script.proto, socks.pair1);
  if (err.empty()) err = wire_sockmap(script, skel, socks);
  if (err.empty()) err = attach_tracing(skel);
  run.setup_us = micros_since(setup_start);
  if (!err.empty()) {
    run.error = err;
    return run;
  }
  __atomic_store_n(&skel->bss->n_events, 0u, __ATOMIC_RELEASE);
  run.error = run_steps(script, schedule, options, socks, run);
  // Let a backlog execution that was still pending at the last step happen before the events
  // are read, so it shows up as "started after the recv" rather than not at all. Outside run_us.
  ::usleep(kSettleUs);
  bool overflow = false;
  const auto events = read_events(skel, overflow);
  summarize_events(events, overflow, run);
  return run;
}

}  // namespace kpsim::replay
