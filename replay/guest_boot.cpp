#include "replay/guest_boot.h"

#include "replay/guest_result.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include <fmt/format.h>

#ifndef KPSIM_SOURCE_DIR
#define KPSIM_SOURCE_DIR "."
#endif

namespace kpsim::replay {

using json = nlohmann::ordered_json;

namespace {

// The boot script runs in its own process group (so that a terminal's Ctrl-C reaches kpsim
// first, and kpsim decides), with PR_SET_PDEATHSIG: if kpsim dies by any means, even SIGKILL,
// the kernel sends the script SIGTERM, and its trap stops `timeout` and qemu (which `timeout`
// keeps in a process group of its own). SIGINT/SIGTERM of kpsim while a guest runs, and any way
// out of boot_guest, send SIGTERM to the script's whole group.
std::atomic<pid_t> g_group{0};
struct sigaction g_old_int {}, g_old_term {};

extern "C" void on_guest_signal(int sig) {
  if (const pid_t g = g_group.load(); g > 0) kill(-g, SIGTERM);
  const struct sigaction& old = sig == SIGINT ? g_old_int : g_old_term;
  if (old.sa_handler == SIG_IGN) return;
  if (old.sa_handler != SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
    old.sa_handler(sig);  // the command's own handler (e.g. "stop after this run")
    return;
  }
  // Default action: die of the signal, as without a guest (the script is already told).
  signal(sig, SIG_DFL);
  raise(sig);
}

class BootChild {
 public:
  // Starts `sh -c cmd` (cmd begins with exec) with its stdout on a pipe; pid() < 0 when it could not be started.
  explicit BootChild(const std::string& cmd) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) {
      close(fds[0]);
      close(fds[1]);
      return;
    }
    if (pid_ == 0) {  // the child: only async-signal-safe calls until exec
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);  // kpsim died before the line above took effect
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      dup2(fds[1], STDOUT_FILENO);
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);  // also here: whichever of the two runs first
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
    g_group.store(pid_);
    // A signal kpsim ignores (SIGINT of a background job) stays ignored.
    struct sigaction sa {};
    sa.sa_handler = on_guest_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, nullptr, &g_old_int);
    sigaction(SIGTERM, nullptr, &g_old_term);
    if (g_old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, nullptr);
    if (g_old_term.sa_handler != SIG_IGN) sigaction(SIGTERM, &sa, nullptr);
  }
  ~BootChild() {
    if (pid_ <= 0) return;
    if (out_) fclose(out_);
    if (!reaped_) {
      // Left early (an exception): stop the script's group, then wait for it.
      kill(-pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      kill(-pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    g_group.store(0);
    sigaction(SIGINT, &g_old_int, nullptr);
    sigaction(SIGTERM, &g_old_term, nullptr);
  }
  BootChild(const BootChild&) = delete;
  BootChild& operator=(const BootChild&) = delete;

  pid_t pid() const { return pid_; }
  FILE* out() const { return out_; }
  // Waits for the script; its exit status (1 when it died of a signal).
  int wait() {
    // Whatever the script left in its group (a killed script leaves its children) goes too;
    // signalled while the script is a zombie, so that its pid (the group's id) is not reused.
    siginfo_t info {};
    while (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    kill(-pid_, SIGTERM);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    g_group.store(0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  bool reaped_ = false;
};

}  // namespace

// Where scripts/guest is: an installed kpsim (<prefix>/bin/kpsim) uses <prefix>/share/kpsim/guest
// (cmake/install.cmake), so that no source tree is needed; a kpsim run from its build tree uses
// the tree it was built from. The installed copy is looked for first: a build tree's binary has
// no share/ beside it, and an installed one must not pick up some checkout of another version.
std::string guest_script_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "kpsim" / "guest";
    if (std::filesystem::exists(installed / "boot", ec)) return installed.string();
  }
  return std::string(KPSIM_SOURCE_DIR) + "/scripts/guest";
}

namespace {

// KPSIM_TEST_GUEST_BOOT replaces the boot script (tests only: a stand-in that needs no qemu).
std::string boot_script() {
  const char* stand_in = std::getenv("KPSIM_TEST_GUEST_BOOT");
  return stand_in && *stand_in ? std::string(stand_in) : guest_script_dir() + "/boot";
}

GuestBoot boot_with(const std::string& cmd);

}  // namespace

GuestBoot boot_guest_jobs(std::string_view version, const std::string& jobs_dir, unsigned timeout_s) {
  // The directory is one kpsim created (no quote in its name).
  return boot_with(fmt::format("exec {} {} --timeout {} --jobs '{}'", boot_script(), version, timeout_s, jobs_dir));
}

namespace {

GuestBoot boot_with(const std::string& cmd) {
  GuestBoot g;
  BootChild child(cmd);
  if (child.pid() < 0 || !child.out()) {
    g.exit_code = 1;
    g.error = "cannot run " + cmd;
    return g;
  }
  // Lines longer than the buffer arrive in pieces; a result line is one JSON object well below it.
  char buf[65536];
  GuestResults parsed;
  for (;;) {
    if (!fgets(buf, sizeof buf, child.out())) {
      if (ferror(child.out()) && errno == EINTR) {  // a signal handler ran: keep reading
        clearerr(child.out());
        continue;
      }
      break;
    }
    parse_guest_line(buf, parsed);
  }
  g.results = std::move(parsed.results);
  g.error = std::move(parsed.error);
  g.exit_code = child.wait();
  return g;
}

}  // namespace

std::string GuestBoot::failure(size_t expected) const {
  if (results.empty())
    return fmt::format("the qemu guest cannot run here: {} (install the tools with scripts/guest/setup)",
                       error.empty() ? fmt::format("scripts/guest/boot exited {}", exit_code) : error);
  if (results.size() != expected)
    return fmt::format("the guest returned {} of {} results (exit {}){}", results.size(), expected,
                       exit_code, error.empty() ? "" : ": " + error);
  for (size_t i = 0; i < results.size(); ++i)
    if (!results[i].value("ok", false))
      return fmt::format("the guest runner failed configuration {} ({}): {}", i + 1,
                         results[i].value("config", json::object()).dump(),
                         results[i].value("error", std::string("no error given")));
  return {};
}

}  // namespace kpsim::replay
