// Builds a strategy from command-line options.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "sched/strategy.h"

namespace kpsim {

struct StrategyOptions {
  std::string name = "random";  // random | pct | dfs
  uint64_t seed = 1;
  uint32_t pct_depth = 2;
  std::optional<uint32_t> preemption_bound;  // dfs
};

// nullptr for an unknown name.
std::unique_ptr<Strategy> make_strategy(const StrategyOptions& o);

}  // namespace kpsim
