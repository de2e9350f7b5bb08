// fs/file_table.c fput / ____fput / delayed_fput (kernel 6.12): see file_table.h.
#include "model/fs/file_table.h"

#include <stdexcept>

namespace kpsim::model {

namespace {
Co<> __fput(Sched& s, file& f) {
  f.released_by = s.current().name;
  s.note(f.name, "__fput: last reference gone, release in {}", s.current().name);
  co_await f.f_release();
}
}  // namespace

file_table::file_table(task_works& t)
    : tw(t), delayed_fput_work("kworker/delayed_fput", "delayed_fput", [this]() -> Co<> {
        // delayed_fput(): run the queued __fput calls from the kworker.
        while (!delayed_fput_list.empty()) {
          file* f = delayed_fput_list.front();
          delayed_fput_list.erase(delayed_fput_list.begin());
          co_await __fput(*sched, *f);
        }
      }) {}

void get_file(Sched& s, file& f, std::string_view who) {
  if (f.released) throw std::logic_error("get_file on a released file");
  ++f.f_count;
  ++f.fgets;
  s.note(f.name, "{}: get_file, f_count {}", who, f.f_count);
}

void fput(Sched& s, file_table& ft, file& f, std::string_view who) {
  if (f.f_count <= 0) throw std::logic_error("fput of a dead file");
  ++f.fputs;
  if (--f.f_count) {
    s.note(f.name, "{}: fput, f_count {}", who, f.f_count);
    return;
  }
  f.released = true;
  file* fp = &f;
  Sched* sp = &s;
  const TaskKind k = s.current().kind;
  const bool kthread = k == TaskKind::kworker || k == TaskKind::softirq || k == TaskKind::timer ||
                       k == TaskKind::crypto;
  if (!kthread) {
    callback_head cb{"____fput", [sp, fp]() { return __fput(*sp, *fp); }};
    if (task_work_add(s, ft.tw, s.current_id(), std::move(cb), task_work_notify_mode::twa_resume)) {
      s.note(f.name, "{}: fput, last reference: ____fput queued on {}", who, s.current().name);
      return;
    }
  }
  s.note(f.name, "{}: fput, last reference: delayed_fput kworker", who);
  ft.sched = &s;
  ft.delayed_fput_list.push_back(fp);
  queue_delayed_work(s, ft.delayed_fput_work, 1);
}

}  // namespace kpsim::model
