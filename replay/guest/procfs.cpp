// /proc and /sys helpers (procfs.h).
#include "procfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace kpsim::guest {

namespace {

// One /proc/crypto entry: its "key : value" lines in file order.
using CryptoEntry = std::vector<std::pair<std::string, std::string>>;

// /proc/crypto split into entries (blank-line separated), keys and values trimmed.
std::vector<CryptoEntry> crypto_entries() {
  std::istringstream in(read_file("/proc/crypto"));
  std::vector<CryptoEntry> entries(1);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      entries.emplace_back();
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon), v = line.substr(colon + 1);
    k.erase(k.find_last_not_of(" \t") + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    entries.back().emplace_back(std::move(k), std::move(v));
  }
  return entries;
}

bool is_gcm_aes(const CryptoEntry& e) {
  for (const auto& [k, v] : e)
    if (k == "name" && v == "gcm(aes)") return true;
  return false;
}

}  // namespace

std::string kernel_release() {
  utsname u{};
  uname(&u);
  return u.release;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool write_file(const std::string& path, const std::string& v, bool append) {
  int fd = open(path.c_str(), O_WRONLY | (append ? O_APPEND : O_TRUNC));
  if (fd < 0) return false;
  bool ok = write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size());
  close(fd);
  return ok;
}

bool SysctlOverride::set(const std::string& path, const std::string& v) {
  path_ = path;
  old_ = read_file(path);
  active_ = write_file(path, v);
  return active_;
}

SysctlOverride::~SysctlOverride() {
  if (active_) write_file(path_, old_);
}

std::string gcm_aes_driver() {
  std::string best;
  long best_prio = -1;
  for (const CryptoEntry& e : crypto_entries()) {
    std::string name, driver;
    long prio = -1;
    for (const auto& [k, v] : e) {
      if (k == "name") name = v;
      else if (k == "driver") driver = v;
      else if (k == "priority") prio = std::strtol(v.c_str(), nullptr, 10);
    }
    if (name == "gcm(aes)" && prio > best_prio) {
      best_prio = prio;
      best = driver + " (priority " + std::to_string(prio) + ")";
    }
  }
  return best;
}

std::string gcm_aes_entries() {
  std::string out;
  for (const CryptoEntry& e : crypto_entries()) {
    if (!is_gcm_aes(e)) continue;
    std::string block;
    for (const auto& [k, v] : e)
      if (k == "driver" || k == "priority" || k == "refcnt" || k == "selftest" || k == "async" ||
          k == "internal")
        block += k + "=" + v + " ";
    out += (out.empty() ? "" : " | ") + block;
  }
  return out;
}

std::map<std::string, long long> tcpext() {
  // Pairs of lines: "TcpExt: name name ..." then "TcpExt: value value ...".
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

int current_tid() { return static_cast<int>(syscall(SYS_gettid)); }

long long kprobe_hits(const std::string& fn) {
  const std::string t = "/sys/kernel/tracing";
  if (access((t + "/kprobe_events").c_str(), F_OK) != 0 &&
      (mount("nodev", t.c_str(), "tracefs", 0, nullptr) != 0 || access((t + "/kprobe_events").c_str(), F_OK) != 0))
    return -1;
  const std::string enable = t + "/events/kpsim/" + fn + "/enable";
  if (access(enable.c_str(), F_OK) != 0 &&
      !write_file(t + "/kprobe_events", "p:kpsim/" + fn + " " + fn + "\n", true))
    return -1;
  if (read_file(enable).rfind('1', 0) != 0 && !write_file(enable, "1")) return -1;
  // kprobe_profile: one line per probe, "  NAME  HITS  MISSES".
  std::istringstream in(read_file(t + "/kprobe_profile"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name;
    long long hits = -1;
    if (ls >> name >> hits && name == fn) return hits;
  }
  return -1;
}

std::string task_stack_path(int tid) { return "/proc/self/task/" + std::to_string(tid) + "/stack"; }

std::string stack_funcs(const std::string& stack) {
  std::istringstream in(stack);
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

}  // namespace kpsim::guest
