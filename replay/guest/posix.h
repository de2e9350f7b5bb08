// Small POSIX helpers every workload uses: the monotonic clock, an owning file descriptor, a
// pipe and the backing file that sendfile/splice read from.
//
// Several configurations run one after another in the same boot, so whatever a run opens is
// closed on every exit path (Fd): the next configuration must start from a clean kernel state.
#pragma once

#include <cstddef>
#include <string>

namespace kpsim::guest {

// CLOCK_MONOTONIC in seconds. Under TCG only differences within one boot mean anything.
double now_s();
// CPU time of the calling thread in seconds (CLOCK_THREAD_CPUTIME_ID): what a close that
// busy-polls costs, against one that sleeps.
double thread_cpu_s();

// Owns one file descriptor (-1: none) and closes it on destruction or reset.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  // Closes the current descriptor (if any) and owns f instead.
  void reset(int f = -1);
  // Gives the descriptor up without closing it: for a socket whose close is the experiment.
  int release();
};

// Both ends of a pipe(2).
struct Pipe {
  Fd rd, wr;
};

// pipe(2) into p; false (errno set) when it fails.
bool open_pipe(Pipe& p);

// An unlinked file made from path_template (mkstemp, "...XXXXXX") holding data[0, len). In the
// guest /tmp is a tmpfs, so sendfile and splice read page-cache pages as on a disk file.
bool make_backing_file(std::string path_template, const char* data, size_t len, Fd& out,
                       std::string& err);

// usleep for ms milliseconds (the workloads' waits are all in whole milliseconds).
void sleep_ms(long long ms);

}  // namespace kpsim::guest
