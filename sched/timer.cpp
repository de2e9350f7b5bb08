#include "sched/timer.h"

namespace kpsim {

bool Timer::mod_timer(Sched& s, uint64_t expires_ns) {
  obj_.write();
  const bool was = del_timer(s);
  expires_ns_ = expires_ns;
  id_ = s.add_timer(expires_ns, name_, [this] {
    obj_.write();
    id_ = 0;
    fn_();
  }, window_);
  return was;
}

bool Timer::del_timer(Sched& s) {
  obj_.write();
  const bool was = id_ != 0 && s.cancel_timer(id_);
  id_ = 0;
  return was;
}

}  // namespace kpsim
