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
  // explore --shard I/N (docs/scale-out.md). dfs: shard I walks the subtrees numbered I mod N
  // (DfsShard). random, pct: shard I draws from its own stream, seeded from (seed, I); the
  // shards are disjoint samples, not a split of the unsharded sample.
  uint32_t shard_index = 0, shard_count = 1, shard_depth = 8;
  // dfs: "iterative" (0 preemptions, then 1, 2, ...: shallow schedules first) or "plain".
  std::string dfs_order = "iterative";
  // explore --state-cache (dfs in plain order only; docs/design.md "State caching").
  bool state_cache = false;
};

// The seed a random or pct shard actually draws from: `seed` itself when there is one shard.
uint64_t shard_seed(uint64_t seed, uint32_t index, uint32_t count);

// nullptr for an unknown name. Throws std::invalid_argument for a combination that would be
// unsound (dpor with a bound, a shard or a state cache; a state cache other than dfs plain).
std::unique_ptr<Strategy> make_strategy(const StrategyOptions& o);

}  // namespace kpsim
