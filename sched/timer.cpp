#include "sched/timer.h"

namespace kpsim {

bool Timer::mod_timer(Sched& s, uint64_t expires_ns) {
  obj_.write();
  const bool was = del_timer(s);
  expires_ns_ = expires_ns;
  id_ = s.add_timer(expires_ns, name_, &Timer::expire, this, 0, window_);
  return was;
}

void Timer::expire(void* timer, uint64_t) {
  Timer& t = *static_cast<Timer*>(timer);
  t.obj_.write();
  t.id_ = 0;
  t.fn_();
}

bool Timer::del_timer(Sched& s) {
  obj_.write();
  const bool was = id_ != 0 && s.cancel_timer(id_);
  id_ = 0;
  return was;
}

}  // namespace kpsim
