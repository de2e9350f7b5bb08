// Small POSIX helpers every workload uses (posix.h).
#include "posix.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kpsim::guest {

double now_s() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

void Fd::reset(int f) {
  if (fd >= 0) close(fd);
  fd = f;
}

int Fd::release() {
  const int f = fd;
  fd = -1;
  return f;
}

bool open_pipe(Pipe& p) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  p.rd.reset(fds[0]);
  p.wr.reset(fds[1]);
  return true;
}

bool make_backing_file(std::string path_template, const char* data, size_t len, Fd& out,
                       std::string& err) {
  out.reset(mkstemp(path_template.data()));
  if (out.fd < 0) {
    err = std::string("mkstemp: ") + strerror(errno);
    return false;
  }
  unlink(path_template.c_str());
  for (size_t off = 0; off < len;) {
    const ssize_t n = write(out.fd, data + off, len - off);
    if (n <= 0) {
      err = std::string("write backing file: ") + strerror(errno);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

void sleep_ms(long long ms) { usleep(static_cast<useconds_t>(ms * 1000)); }

}  // namespace kpsim::guest
