// include/linux/jiffies.h: time-unit conversions, named as the kernel names them, so that every
// place a model turns milliseconds or microseconds into jiffies reads like the kernel line it
// stands for. HZ is the run's (Sched::hz(), 250 by default as on Debian amd64).
//
// Rounding follows the kernel: msecs_to_jiffies / usecs_to_jiffies round *up* (a timeout never
// fires early), jiffies_to_msecs / jiffies_to_usecs are exact for HZ dividing 1000 (100, 250,
// 1000) and truncate otherwise.
#pragma once

#include <cstdint>

#include "sched/sched.h"

namespace kpsim::model {

inline uint64_t msecs_to_jiffies(const Sched& s, uint64_t m) { return (m * s.hz() + 999) / 1000; }
inline uint64_t usecs_to_jiffies(const Sched& s, uint64_t u) { return (u * s.hz() + 999999) / 1000000; }
inline uint64_t jiffies_to_msecs(const Sched& s, uint64_t j) { return j * 1000 / s.hz(); }
inline uint64_t jiffies_to_usecs(const Sched& s, uint64_t j) { return j * 1000000 / s.hz(); }

}  // namespace kpsim::model
