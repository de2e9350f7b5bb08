#include "cli/strategy_factory.h"

#include <stdexcept>

#include "sched/strategy_dfs.h"
#include "sched/strategy_dpor.h"
#include "sched/strategy_pct.h"
#include "sched/splitmix64.h"
#include "sched/strategy_random.h"

namespace kpsim {

uint64_t shard_seed(uint64_t seed, uint32_t index, uint32_t count) {
  if (count <= 1) return seed;
  // One splitmix64 output per (seed, index): streams of neighbouring shards are unrelated.
  return SplitMix64(seed ^ (0x9e3779b97f4a7c15ull * (uint64_t{index} + 1))).next();
}

std::unique_ptr<Strategy> make_strategy(const StrategyOptions& o) {
  const uint64_t seed = shard_seed(o.seed, o.shard_index, o.shard_count);
  if (o.state_cache && o.name == "dpor")
    // Sleep sets and backtrack sets computed below a state are specific to the path that reached
    // it: a cut at a state first reached with a different sleep set can lose traces (docs/design.md).
    throw std::invalid_argument("--state-cache: not with dpor (a naive combination of state caching and "
                                "sleep-set DPOR is unsound; use --strategy dfs --state-cache)");
  if (o.state_cache && o.name != "dfs")
    throw std::invalid_argument("--state-cache: needs an exhaustive search, --strategy dfs");
  if (o.name == "random") return std::make_unique<RandomStrategy>(seed);
  if (o.name == "pct") return std::make_unique<PctStrategy>(seed, o.pct_depth);
  if (o.name == "dpor") {
    // Backtrack sets come from whole runs: a bound that cuts runs, or a shard that skips
    // subtrees, would drop races and with them traces. Refused rather than silently unsound.
    if (o.preemption_bound)
      throw std::invalid_argument("dpor: --preemption-bound is not supported (it would make the reduction unsound)");
    if (o.shard_count > 1) throw std::invalid_argument("dpor: --shard is not supported");
    return std::make_unique<DporStrategy>();
  }
  if (o.name == "dfs")
    return std::make_unique<DfsStrategy>(o.preemption_bound, DfsShard{o.shard_index, o.shard_count, o.shard_depth},
                                         o.dfs_order == "plain" ? DfsOrder::plain : DfsOrder::iterative, o.state_cache);
  return nullptr;
}

}  // namespace kpsim
