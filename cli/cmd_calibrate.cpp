// kpsim calibrate: measures this machine for the CPU cost model (model/kernel/sched/cputime.h,
// `model cpu = costed`) and prints the cost table next to the one compiled in.
//
// What it measures, on the running kernel, in wall-clock time (this is a measurement, not a
// simulated run: nothing here reaches a model run's clock):
//   syscall   getppid() round trips: the entry and exit of one system call.
//   loopback  one TCP connection over 127.0.0.1, TCP_NODELAY, a writer thread and a reader
//             thread; write() sizes 4 KiB, 16 KiB, 64 KiB and 1 MiB, each the best of --repeat
//             runs of --bytes. Least squares: the time per write less one syscall = a cost per
//             skb times the skbs a write makes (one per 64 KiB, GSO's largest) + a cost per byte.
//             The skb's cost is split evenly between sending and receiving it (both halves run
//             on the sender's CPU on loopback and this measurement does not tell them apart).
//   aes-gcm   `openssl speed -evp aes-128-gcm` on 16 KiB blocks (user-space AES-NI), when the
//             openssl program is installed; else reported as not measured.
// The loopback figures at 1 MiB writes are the plain-TCP throughput the model is compared with
// (tests/cpu_costs_check.py).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "model/kconfig.h"

namespace kpsim::cli {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct CalibrateArgs {
  uint64_t bytes = 512ull << 20;
  uint64_t repeat = 3;
  bool json = false;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double syscall_ns() {
  constexpr int kCalls = 1000000;
  double best = 1e9;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) syscall(SYS_getppid);
    best = std::min(best, seconds_since(t0) / kCalls * 1e9);
  }
  return best;
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

[[noreturn]] void sys_fail(const char* what) {
  throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// Seconds to send `total` bytes in write()s of `size` over a fresh loopback connection.
double loopback_seconds(uint64_t size, uint64_t total) {
  Fd ls(socket(AF_INET, SOCK_STREAM, 0));
  if (ls.fd < 0) sys_fail("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (bind(ls.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) || listen(ls.fd, 1) ||
      getsockname(ls.fd, reinterpret_cast<sockaddr*>(&a), &alen))
    sys_fail("bind/listen on 127.0.0.1");
  Fd c(socket(AF_INET, SOCK_STREAM, 0));
  if (c.fd < 0 || connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a)) sys_fail("connect to 127.0.0.1");
  Fd s(accept(ls.fd, nullptr, nullptr));
  if (s.fd < 0) sys_fail("accept");
  const int one = 1;
  setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint64_t got = 0;
  std::thread reader([&] {
    std::vector<char> buf(1 << 20);
    while (got < total) {
      const ssize_t n = read(c.fd, buf.data(), buf.size());
      if (n <= 0) return;
      got += static_cast<uint64_t>(n);
    }
  });
  std::vector<char> data(size, 'k');
  const auto t0 = Clock::now();
  uint64_t sent = 0;
  while (sent < total) {
    const ssize_t n = write(s.fd, data.data(), static_cast<size_t>(std::min<uint64_t>(size, total - sent)));
    if (n <= 0) break;
    sent += static_cast<uint64_t>(n);
  }
  reader.join();
  const double dt = seconds_since(t0);
  if (got < total) throw std::runtime_error("loopback: the reader got fewer bytes than were written");
  return dt;
}

// Bytes per second of `openssl speed -evp aes-128-gcm` at 16 KiB, or nothing.
std::optional<double> openssl_aes_gcm() {
  std::unique_ptr<FILE, int (*)(FILE*)> p(
      popen("openssl speed -evp aes-128-gcm -seconds 1 -bytes 16384 2>/dev/null", "r"), pclose);
  if (!p) return std::nullopt;
  char line[512];
  std::optional<double> r;
  while (fgets(line, sizeof line, p.get())) {
    // The last line: "AES-128-GCM  4697112.58k" (1000s of bytes per second).
    double k = 0;
    if (std::sscanf(line, "AES-128-GCM %lfk", &k) == 1 && k > 0) r = k * 1000.0;
  }
  return r;
}

int run_calibrate(const CalibrateArgs& a) {
  const double sys_ns = syscall_ns();
  const std::array<uint64_t, 4> sizes{4096, 16384, 65536, 1u << 20};
  Json lo = Json::array();
  std::vector<std::pair<double, double>> pts;  // (size, ns per write)
  double mib_s_1m = 0;
  for (uint64_t size : sizes) {
    double best = 1e18;
    for (uint64_t r = 0; r < a.repeat; ++r) best = std::min(best, loopback_seconds(size, a.bytes));
    const double writes = static_cast<double>(a.bytes) / static_cast<double>(size);
    const double per_write_ns = best / writes * 1e9;
    const double mib_s = static_cast<double>(a.bytes) / best / 1048576.0;
    if (size == sizes.back()) mib_s_1m = mib_s;
    pts.emplace_back(static_cast<double>(size), per_write_ns);
    lo.push_back(Json{{"write_bytes", size}, {"MiB_s", mib_s}, {"ns_per_write", per_write_ns}});
  }
  // Least squares through the origin, the syscall taken off: ns per write - syscall =
  // skb * skbs(size) + per_byte * size, where a write makes one skb per 64 KiB (GSO's largest).
  double aa = 0, ab = 0, bb = 0, ay = 0, by = 0;
  for (auto [x, y] : pts) {
    const double k = std::ceil(x / 65536.0), r = y - sys_ns;
    aa += k * k;
    ab += k * x;
    bb += x * x;
    ay += k * r;
    by += x * r;
  }
  const double det = aa * bb - ab * ab;
  const double skb_ns = std::max(0.0, (ay * bb - by * ab) / det);
  const double per_byte_ns = std::max(0.0, (aa * by - ab * ay) / det);
  const std::optional<double> aes = openssl_aes_gcm();

  model::cpu_costs fitted;
  fitted.syscall_ns = static_cast<uint64_t>(sys_ns + 0.5);
  fitted.copy_ps_per_byte = static_cast<uint64_t>(std::max(0.0, per_byte_ns * 1000.0) + 0.5);
  fitted.skb_out_ns = fitted.skb_in_ns = static_cast<uint64_t>(skb_ns / 2 + 0.5);
  if (aes) fitted.encrypt_ps_per_byte = static_cast<uint64_t>(1e12 / *aes + 0.5);
  const model::cpu_costs compiled;
  const auto table = [](const model::cpu_costs& c) {
    return Json{{"syscall_ns", c.syscall_ns},         {"copy_ps_per_byte", c.copy_ps_per_byte},
                {"encrypt_ps_per_byte", c.encrypt_ps_per_byte}, {"skb_out_ns", c.skb_out_ns},
                {"skb_in_ns", c.skb_in_ns}};
  };
  if (a.json) {
    Json j;
    j["syscall_ns"] = sys_ns;
    j["loopback"] = lo;
    j["loopback_fit"] = Json{{"ns_per_skb", skb_ns}, {"ns_per_byte", per_byte_ns}};
    j["loopback_MiB_s_1MiB_writes"] = mib_s_1m;
    j["aes_128_gcm_MB_s"] = aes ? Json(*aes / 1e6) : Json(nullptr);
    j["measured_costs"] = table(fitted);
    j["compiled_costs"] = table(compiled);
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("syscall (getppid): {:.0f} ns\n", sys_ns);
  std::cout << "loopback TCP, TCP_NODELAY, best of " << a.repeat << " x " << (a.bytes >> 20) << " MiB:\n";
  for (const auto& e : lo)
    std::cout << fmt::format("  write {:>8} B: {:>8.0f} MiB/s, {:>9.0f} ns per write\n", e["write_bytes"].get<uint64_t>(),
                             e["MiB_s"].get<double>(), e["ns_per_write"].get<double>());
  std::cout << fmt::format("  fit: syscall + {:.0f} ns per skb (one per 64 KiB) + {:.3f} ns per byte\n", skb_ns,
                           per_byte_ns);
  if (aes) std::cout << fmt::format("AES-128-GCM (openssl speed, 16 KiB): {:.0f} MB/s\n", *aes / 1e6);
  else std::cout << "AES-128-GCM: not measured (no openssl program); the compiled encrypt cost is kept\n";
  std::cout << "\ncost            measured   compiled (model/kconfig.h cpu_costs)\n";
  const Json m = table(fitted), c = table(compiled);
  for (auto it = m.begin(); it != m.end(); ++it)
    std::cout << fmt::format("{:<20} {:>8} {:>10}\n", it.key(), it.value().get<uint64_t>(), c[it.key()].get<uint64_t>());
  return kExitOk;
}

}  // namespace

Command add_calibrate(CLI::App& app) {
  auto a = std::make_shared<CalibrateArgs>();
  auto* sub = app.add_subcommand("calibrate", "Measure this machine for the CPU cost model (model cpu = costed)");
  sub->footer(
      "Measures, in wall-clock time on the running kernel: a system call (getppid), plain TCP over\n"
      "127.0.0.1 at four write() sizes (fitted to a cost per write and per byte), and user-space\n"
      "AES-128-GCM (`openssl speed`, when installed). Prints the cost table these give next to the\n"
      "one compiled into the model (model/kconfig.h cpu_costs). Takes about 10 s. The model's use\n"
      "of the table: model/kernel/sched/cputime.h; the calibration: docs/ktls-stall.md, \"CPU time\".");
  sub->add_option("--bytes", a->bytes, "bytes per loopback run (default 512 MiB)")
      ->check(unsigned_in(uint64_t{1} << 20, uint64_t{1} << 36));
  sub->add_option("--repeat", a->repeat, "runs per write size; the fastest counts (default 3)")
      ->check(unsigned_in(1, 100));
  sub->add_flag("--json", a->json, "print one JSON object");
  return {sub, [a] {
            try {
              return run_calibrate(*a);
            } catch (const std::runtime_error& e) {  // the machine would not be measured
              std::cerr << "kpsim: calibrate: " << e.what() << "\n";
              return kExitUsage;
            }
          }};
}

}  // namespace kpsim::cli
