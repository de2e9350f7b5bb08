// struct file reference counting and the deferred final put (fs/file_table.c fput, ____fput,
// __fput, delayed_fput; fs/open.c filp_close; kernel 6.12).
//
// The last fput() does not release the file in place: from a process (or an io-wq worker) it
// queues ____fput as task work with TWA_RESUME on the *current* task, so __fput — and with it
// sock_close → the protocol's close — runs later in whatever task dropped the last reference,
// the next time that task runs its task work. From kernel threads and interrupts it goes to
// the delayed_fput kworker instead (1 jiffy). Who holds the last reference therefore decides
// who runs close(): with io_uring, a request that still holds the file moves it into the
// submitter's io_run_task_work.
#pragma once

#include <string>

#include "model/kernel/task_work.h"
#include "sched/work.h"

namespace kpsim::model {

struct file {
  std::string name;  // "sock", "pipe"
  long f_count = 1;  // Invariant: > 0 until __fput has been queued
  bool released = false;  // __fput queued or done
  std::string released_by;  // the task that ran __fput (for the checkers and the docs)
  std::function<Co<>()> f_release;  // __fput's work: sock_close, pipe_release
  uint64_t fgets = 0, fputs = 0;
};

struct file_table {
  explicit file_table(task_works& tw);
  task_works& tw;
  Sched* sched = nullptr;  // set by fput: the kworker's callback runs outside any call
  // delayed_fput: kernel threads' final puts.
  std::vector<file*> delayed_fput_list;
  Work delayed_fput_work;
};

void get_file(Sched& s, file& f, std::string_view who);  // fget / get_file
// fput(): drop a reference; the last one defers __fput as described above.
void fput(Sched& s, file_table& ft, file& f, std::string_view who);

}  // namespace kpsim::model
