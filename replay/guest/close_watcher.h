// The force=window helper thread: watches where the submitter sleeps during the close and
// fires the trigger at the moment the model's window is open.
//
// The model's step is "a TWA_SIGNAL task work arrives while the close-time flush waits for
// send space". The only way to hit that moment on a real kernel without patching it is to
// look: every millisecond the helper reads /proc/self/task/<submitter>/stack, and once the
// submitter sleeps in sk_stream_wait_memory under tls_sw_release_resources_tx (at=wait) or in
// tls_encrypt_async_wait (at=async) it writes one byte to the trigger pipe. The pipe read
// queued on the submitter's ring completes, and io_uring queues its completion as task work
// on the submitter with the ring's notify method.
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace kpsim::guest {

struct WatchOptions {
  std::string stack_path;      // /proc/self/task/<submitter tid>/stack
  bool fire = false;           // trigger=pipe: write to trigger_fd once ready
  bool at_async = false;       // at=async: ready at tls_encrypt_async_wait, not at the wait
  long long delay_ms = 0;      // trigger_delay_ms: how long after the stack was seen
  int trigger_fd = -1;         // the trigger pipe's write end
};

// What the helper saw; times are now_s() values, 0 when it never happened.
struct WatchReport {
  std::string stack_first_tls;      // first stack during the close with a tls_ frame
  std::string stack_wait_memory;    // the first with sk_stream_wait_memory under release_tx
  std::string stack_after_trigger;  // 1 ms after the trigger
  double t_seen_async = 0, t_seen_wait = 0, t_trigger = 0;
  long long samples = 0;            // stacks read, in and out of the close
};

class CloseWatcher {
 public:
  // Starts sampling at once (the stacks only count while in_close is set).
  explicit CloseWatcher(WatchOptions opt);
  ~CloseWatcher();  // stops the thread
  // Set around the close: only then are stacks recorded and the trigger armed.
  void set_in_close(bool v) { in_close_ = v; }
  // Stops the thread; the report is complete from then on.
  const WatchReport& stop();

 private:
  void run();
  void observe(const std::string& funcs);  // one stack sample taken during the close
  void maybe_fire();

  const WatchOptions opt_;
  std::atomic<bool> in_close_{false}, stop_{false};
  WatchReport report_;  // written by the thread only; read after stop()
  bool fired_ = false;
  double fire_at_ = 0;
  std::thread thread_;
};

}  // namespace kpsim::guest
