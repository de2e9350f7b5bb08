#include "sched/socklock.h"

namespace kpsim {

void SockLock::release_sock(Sched& s) {
  if (backlog_hook_) backlog_hook_();
  owner_.unlock(s);
}

}  // namespace kpsim
