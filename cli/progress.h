// Progress lines for long commands: on stderr only (never stdout, never a trace), the first one
// after a period and then one per period: 1 s on a terminal, 10 s otherwise (a CI log wants a
// sign of life, not a line per second). Wall-clock time is read here for the lines alone; it
// never reaches a run.
#pragma once

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>

namespace kpsim::cli {

class Progress {
 public:
  explicit Progress(bool enabled)
      : enabled_(enabled), period_(std::chrono::seconds(isatty(STDERR_FILENO) ? 1 : 10)), next_(t0_ + period_) {}
  // True when a line is due (then the next one is due a period later). Cheap enough to ask
  // after every schedule: one clock read, tens of ns next to a schedule's tens of µs at least.
  bool due() {
    if (!enabled_) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return false;
    next_ = now + period_;
    return true;
  }
  double elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  void line(const std::string& text) const { std::cerr << "  ... " << text << "\n" << std::flush; }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration period_;
  std::chrono::steady_clock::time_point next_;
};

}  // namespace kpsim::cli
