#include "cli/strategy_factory.h"

#include "sched/strategy_dfs.h"
#include "sched/strategy_pct.h"
#include "sched/strategy_random.h"

namespace kpsim {

std::unique_ptr<Strategy> make_strategy(const StrategyOptions& o) {
  if (o.name == "random") return std::make_unique<RandomStrategy>(o.seed);
  if (o.name == "pct") return std::make_unique<PctStrategy>(o.seed, o.pct_depth);
  if (o.name == "dfs") return std::make_unique<DfsStrategy>(o.preemption_bound);
  return nullptr;
}

}  // namespace kpsim
