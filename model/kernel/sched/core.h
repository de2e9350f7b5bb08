// Wakeup preemption and TIF_NEED_RESCHED on a kernel that never preempts a task inside the
// kernel (CONFIG_PREEMPT_NONE, or CONFIG_PREEMPT_DYNAMIC booted with preempt=none: this project's
// 6.18.44 host, whose boot log says "Dynamic Preempt: none"). Linux 6.18:
//
// * kernel/sched/core.c ttwu_do_activate() → wakeup_preempt(): a task woken onto the CPU of the
//   running task asks the running task's class whether it should give way
//   (kernel/sched/fair.c check_preempt_wakeup_fair() for two CFS tasks: EEVDF's pick_eevdf()
//   returning the woken entity). If so, resched_curr() / resched_curr_lazy() set
//   TIF_NEED_RESCHED on the running task (the lazy bit is TIF_NEED_RESCHED itself unless the
//   preemption mode is lazy). Nothing switches yet: the kernel is not preemptible.
// * kernel/entry/common.c exit_to_user_mode_loop(): on the way back to user space a task with
//   TIF_NEED_RESCHED calls schedule(); without it, it returns to user space and keeps its CPU.
// * kernel/sched/core.c __schedule(): clears the flag of the task it switches away from (a
//   task that sleeps has given way already).
//
// * kernel/sched/core.c sched_tick() → the class's task_tick (fair.c update_curr →
//   update_deadline): when the running task has used up its slice and another entity of the
//   CPU is eligible, resched_curr(). The tick interrupts user space too, so the switch happens
//   on the way back to user space (irqentry_exit_to_user_mode) — for the model, at a return to
//   user space like the wake-up's.
//
// The model's scheduler (sched/) knows no kernel: it lets another task of the same CPU run at
// every user_point. This file decides which returns to user space are switch points: with
// preempt=wakeup only those where a wake-up set TIF_NEED_RESCHED; with preempt=tick (the
// default) those, and in addition at most one per run where the tick's resched hands the CPU to
// any task of the CPU that waits (steps cost no virtual time, so the model cannot say when a
// slice ends: it explores the tick at each such return, once per run, because two 4 ms ticks
// each landing in a window of microseconds in one run of milliseconds is beyond what a
// cross-check of hundreds of runs would see); with preempt=any all of them (the looser model
// before issue 15, kept as a switch). The host's kernel showed the tick's ordering once in 160
// runs of sockmap-fionread-twice (docs/crosscheck.md, "Wakeup preemption"). Not modelled:
// cond_resched() inside a syscall, remote wake-ups' IPIs (a task woken onto another CPU runs
// there whenever it is runnable, as before).
#pragma once

#include <string_view>
#include <vector>

#include "model/kconfig.h"
#include "sched/sched.h"

namespace kpsim::model {

// What one tracked task's thread_info holds for this: the tasks woken onto its CPU during the
// current syscall whose wakeup_preempt may have set its TIF_NEED_RESCHED. The kernel answers
// check_preempt_wakeup_fair at each wake-up; the answer is read only at the return to user
// space (exit_to_user_mode_loop) and dropped if the task sleeps first (__schedule clears the
// flag). So the model draws it there, once, among "no flag" and "set by the wake-up of w" for
// each woken w (the first wake-up that answers yes is the one schedule() switches to; later
// ones find the flag set and are not asked): the same orderings as drawing at each wake-up,
// without a decision for every wake-up of a syscall that then sleeps anyway.
struct tif_resched {
  std::vector<TaskId> woken;
};

struct sched_preempt {
  preempt_model mode = preempt_model::any;
  // Tick reschedules taken in this run (preempt=tick: at most one). Runs that took one reach
  // outcomes the kernel shows only rarely (World metric sched_ticks).
  Shared<uint8_t> ticks = 0;
  // By TaskId; only tasks passed to track() (the syscall tasks) are ever set.
  Shared<std::vector<tif_resched>> tif;
  std::vector<bool> tracked;  // by TaskId, fixed in setup
};

// Set up in a world's setup, after its syscall tasks are spawned: installs wakeup_preempt as the
// scheduler's wake observer (preempt=wakeup and tick) and, for each task in `tasks`, __schedule's
// clearing of its flag when it sleeps.
void sched_preempt_init(Sched& s, sched_preempt& sp, preempt_model mode, const std::vector<TaskId>& tasks);

// kernel/sched/core.c wakeup_preempt (via check_preempt_wakeup_fair and resched_curr): task p
// was just woken by the running task's step. Records it; the answer is drawn at the return to
// user space (tif_resched).
void wakeup_preempt(Sched& s, sched_preempt& sp, TaskId p);

// kernel/entry/common.c exit_to_user_mode_loop: the running task returns to user space; `label`
// names the step it runs next (its next syscall). The model's choice point for a context switch.
Co<> exit_to_user_mode(Sched& s, sched_preempt& sp, std::string_view label);

// kernel/sched/fair.c task_tick_fair → update_curr → update_deadline, then resched_curr: the
// tick found the running task's slice used up. The choice of whether it did, and which waiting
// task of the CPU EEVDF then picks; returns the task to hand the CPU to, or kNoTask.
TaskId sched_tick(Sched& s, sched_preempt& sp);

}  // namespace kpsim::model
