// What the runner reads from (and writes to) /proc and /sys: the kernel release, sysctls, the
// gcm(aes) implementations in /proc/crypto, TcpExt counters and a task's kernel stack.
//
// These are the runner's only window on what the kernel did: which AEAD kTLS got (synchronous
// generic, AES-NI, or an async cryptd instance) decides whether seed 002 can happen at all,
// and /proc/<pid>/task/<tid>/stack shows where the submitter sleeps during the close.
#pragma once

#include <map>
#include <string>

namespace kpsim::guest {

// uname -r.
std::string kernel_release();

// The whole file ("" when it cannot be read).
std::string read_file(const std::string& path);

// Writes v to path in one write(2): O_TRUNC, or O_APPEND where the file is a list the kernel
// appends to (tracefs kprobe_events). False when open or the write fails.
bool write_file(const std::string& path, const std::string& v, bool append = false);

// A sysctl changed for the length of one configuration and restored by the destructor.
class SysctlOverride {
 public:
  SysctlOverride() = default;
  SysctlOverride(const SysctlOverride&) = delete;
  SysctlOverride& operator=(const SysctlOverride&) = delete;
  ~SysctlOverride();
  // Remembers the value at path (/proc/sys/...) and writes v; false if the write failed.
  bool set(const std::string& path, const std::string& v);

 private:
  std::string path_, old_;
  bool active_ = false;
};

// The highest-priority driver registered for gcm(aes), "driver (priority N)" ("" if none):
// tells whether kTLS used the generic synchronous AEAD, AES-NI, or a cryptd (async) instance.
std::string gcm_aes_driver();

// Every /proc/crypto entry named gcm(aes), compacted to "driver=.. priority=.. refcnt=..
// selftest=.. async=.. internal=.." and joined by " | " (which ones passed their self-test).
std::string gcm_aes_entries();

// TcpExt counters from /proc/net/netstat, by name.
std::map<std::string, long long> tcpext();

// Hits of an enabled kprobe on kernel function `fn` (tracefs mounted at /sys/kernel/tracing if
// it is not; the probe `kpsim/FN` added and enabled on the first call, kept for the boot), read
// from kprobe_profile; -1 when tracefs, kprobe events or the symbol are not there. The caller
// takes the difference over a run: how often the kernel ran `fn` in it (tls_decrypt_done: an
// asynchronous decryption completed).
long long kprobe_hits(const std::string& fn);

// The calling thread's id (gettid(2)).
int current_tid();

// /proc/self/task/<tid>/stack: the kernel stack of that thread of this process.
std::string task_stack_path(int tid);

// A /proc/.../stack text ("[<0>] sk_stream_wait_memory+0x../0x..", one frame a line) as the
// function names innermost first: "sk_stream_wait_memory<tls_push_sg<...".
std::string stack_funcs(const std::string& stack);

}  // namespace kpsim::guest
