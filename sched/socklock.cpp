#include "sched/socklock.h"

namespace kpsim {

Co<> SockLock::release_sock(Sched& s) {
  if (backlog_hook_) co_await backlog_hook_();
  owner_.unlock(s);
}

}  // namespace kpsim
