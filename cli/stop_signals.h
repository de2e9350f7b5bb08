// SIGINT/SIGTERM as a request to stop, for the commands that can stop cleanly (explore, check).
// While a StopOnSignals lives, either signal sets stop_requested() instead of ending the
// process; the command finishes the unit of work in hand, prints what it did and exits 130.
// No SA_RESTART, so that a blocking waitpid returns at once.
#pragma once

#include <signal.h>

#include <atomic>

namespace kpsim::cli {

std::atomic<bool>& stop_requested();

class StopOnSignals {
 public:
  StopOnSignals();  // clears stop_requested()
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace kpsim::cli
