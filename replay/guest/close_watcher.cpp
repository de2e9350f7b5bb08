// The force=window helper thread (close_watcher.h).
#include "close_watcher.h"

#include <unistd.h>

#include <utility>

#include "posix.h"
#include "procfs.h"

namespace kpsim::guest {

namespace {

bool has(const std::string& funcs, const char* f) { return funcs.find(f) != std::string::npos; }

}  // namespace

CloseWatcher::CloseWatcher(WatchOptions opt) : opt_(std::move(opt)) {
  thread_ = std::thread([this] { run(); });
}

CloseWatcher::~CloseWatcher() { stop(); }

const WatchReport& CloseWatcher::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return report_;
}

void CloseWatcher::run() {
  while (!stop_) {
    const std::string st = read_file(opt_.stack_path);
    report_.samples++;
    if (in_close_) {
      observe(stack_funcs(st));
      maybe_fire();
    }
    usleep(1000);
  }
}

void CloseWatcher::observe(const std::string& f) {
  if (report_.stack_first_tls.empty() && has(f, "tls_")) report_.stack_first_tls = f;
  if (has(f, "tls_encrypt_async_wait") && report_.t_seen_async == 0) report_.t_seen_async = now_s();
  if (has(f, "tls_sw_release_resources_tx") && has(f, "sk_stream_wait_memory") &&
      report_.t_seen_wait == 0) {
    report_.t_seen_wait = now_s();
    report_.stack_wait_memory = f;
  }
}

void CloseWatcher::maybe_fire() {
  const bool ready = opt_.at_async ? report_.t_seen_async != 0 : report_.t_seen_wait != 0;
  if (!opt_.fire || !ready || fired_) return;
  if (fire_at_ == 0) fire_at_ = now_s() + static_cast<double>(opt_.delay_ms) / 1000.0;
  if (now_s() < fire_at_) return;
  fired_ = true;
  report_.t_trigger = now_s();
  if (write(opt_.trigger_fd, "x", 1) != 1) {}
  usleep(1000);
  report_.stack_after_trigger = stack_funcs(read_file(opt_.stack_path));
}

}  // namespace kpsim::guest
