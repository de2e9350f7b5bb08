// Exhaustive depth-first enumeration of choice sequences, with an optional preemption bound.
//
// The state of the whole search is one flat path of choice points (as in loom's Path): for each
// point, how many options it had and which one this run takes. A run replays the path's prefix
// and extends it with first options; the next run increments the deepest point that has an
// untried option and drops everything after it. When no point can be incremented the space is
// exhausted.
//
// Preemption bounding (Musuvathi & Qadeer, "Iterative context bounding for systematic testing of
// multithreaded programs", PLDI 2007): at a schedule choice where the previous task is still
// runnable, option order is rotated so that continuing it comes first; any other option is a
// preemption, and runs with more than `bound` preemptions are not enumerated.
//
// Iterative preemption bounding (the same paper, §3; CHESS's default): DfsOrder::iterative runs
// every schedule with 0 preemptions, then every one with exactly 1, then 2, ..., so that the
// schedules where most bugs are come first. Nothing is run twice: iteration b walks the tree
// with bound b, and where the bound stops it (a point already at b preemptions, with untried
// preempting options) it writes each untried option down as a work item -- the path up to that
// point plus the option, a prefix with exactly b + 1 preemptions. Iteration b + 1 walks only
// below those prefixes, in the order they were written. A schedule with p preemptions has one
// point where its count reaches p, so it lies below exactly one work item of iteration p. The
// search ends when an iteration writes no work item, or after iteration `preemption_bound`
// when one is given (a cap). The cost is memory: the work items of one iteration, stored flat
// (the items one run writes share one copy of its path: 4 bytes per point, plus 24 per item).
//
// Sharding (explore --shard I/N, docs/scale-out.md): the tree is cut at `depth` choice points.
// Each distinct prefix of that length (or a whole shorter run) is a subtree, and a hash of its
// choices says which shard owns it, so every shard knows the owner of any subtree without
// communication. A shard walks the tree above the cut like every other shard, runs one schedule
// of each subtree it does not own (to learn where the next one starts; run_counts() is false
// for it) and every schedule of the ones it owns. A run lies in exactly one subtree, so the
// shards' counted runs are disjoint and together are the unsharded search's. Under the
// iterative order the same holds per iteration: work items above the cut are written by every
// shard alike, items inside a subtree only by its owner.
//
// State caching (explore --state-cache, docs/design.md "State caching"): with a cache the walk
// stores the key of the state at every fresh schedule choice point (one below the prefix the run
// replays: the replayed points' states were stored when that path was first walked) and cuts a
// run that reaches a stored one. Sound for the plain order without a bound or shard: the walk
// finishes the whole subtree below a point before it leaves it, a state never recurs below its
// own point (the step count is part of it), so a later run that reaches the state would only
// repeat what that finished subtree covered. Under a preemption bound or the iterative order the
// part explored below a state depends on the preemptions spent before it, and a shard walks
// through subtrees it does not explore: the constructor refuses those combinations.
#pragma once

#include <deque>
#include <optional>
#include <unordered_set>
#include <vector>

#include "sched/strategy.h"

namespace kpsim {

enum class DfsOrder : uint8_t { plain, iterative };

struct DfsShard {
  uint32_t index = 0;  // this shard, 0-based
  uint32_t count = 1;  // shards in all; 1: no sharding
  uint32_t depth = 8;  // choice points that name a subtree
};

class DfsStrategy final : public Strategy {
 public:
  // Throws std::invalid_argument for a shard with index >= count or a zero count or depth, and
  // for a state cache with a bound, a shard or the iterative order.
  explicit DfsStrategy(std::optional<uint32_t> preemption_bound = std::nullopt, DfsShard shard = {},
                       DfsOrder order = DfsOrder::plain, bool state_cache = false);
  std::string name() const override { return "dfs"; }
  bool begin_run() override;
  size_t choose(size_t n, const ChoiceContext& ctx) override;
  void end_run() override;
  bool exhaustive() const override { return exhausted_; }
  // How much of the search is behind it: the probability that a schedule drawn by uniformly
  // random choices falls in a subtree already explored (plain order, no bound, unsharded; -1
  // otherwise). A measure of the tree, not a count of its leaves: it says how far a search that
  // stopped on its budget got, not how many schedules are left. (--json's explored_fraction;
  // explored_fraction() below is the progress lines' estimate, for every order.)
  double explored_measure() const;
  bool run_counts() const override { return !foreign_; }
  // DfsOrder::iterative: the preemptions of every schedule of the current iteration.
  uint32_t iteration() const { return iteration_; }
  // A bounded proof short of exhaustion (CHESS's "no bug within b preemptions"): the largest b
  // such that every schedule with at most b preemptions has run (of this shard's subtrees).
  // The iterative order's finished iterations, or a bounded walk that finished; nullopt while
  // not even the schedules without preemption are all done, and for an unbounded plain walk,
  // whose only such statement is exhaustive().
  std::optional<uint32_t> preemptions_covered() const;
  bool caches_states() const override { return state_cache_; }
  // A fresh point (below the replayed prefix): the first visit of its state on this path.
  bool state_point() const override { return state_cache_ && pos_ == path_.size(); }
  bool seen_state(const StateKey& k) override;
  // State caching: distinct states stored, runs cut at a stored one.
  uint64_t states() const { return seen_.size(); }
  uint64_t cuts() const { return cuts_; }
  bool iterative() const { return order_ == DfsOrder::iterative; }
  // For progress lines: an estimate in [0, 1] of how much of the walk is done after the run
  // that just ended -- of the whole tree (plain order), or of the current iteration (iterative:
  // the work items done plus the current one's share). It weighs every option of a point
  // equally, as if all subtrees were the same size; lopsided trees make it run ahead or behind.
  double explored_fraction() const;

 private:
  struct Point {
    ChoiceKind kind;              // what was asked: a replayed prefix must ask the same
    uint32_t n;                   // options at this point
    uint32_t k;                   // the option taken, in rotated order
    int current;                  // index of the continuing task, -1 if none
    uint32_t preemptions_before;  // preemptions on the path before this point
  };
  // Whether the point path_[i] has an option left to try; writes down the options the bound
  // alone forbids as work items of the next iteration (iterative order).
  bool can_advance(size_t i);
  // can_advance's answer for the bound in force, without writing work items.
  bool has_option_left(const Point& p) const;
  bool next_item();

  std::optional<uint32_t> bound_;
  DfsShard shard_;
  DfsOrder order_;
  uint32_t iteration_ = 0;
  std::vector<Point> path_;
  size_t floor_ = 0;                 // points below are the current work item's: fixed
  std::vector<uint32_t> item_;  // the current work item (its choices); empty: the root
  // Work items: the options k_first..k_last of the point after the path choices[off, off+len).
  struct Items {
    uint64_t off;
    uint32_t len, k_first, k_last;
  };
  // Deques, not vectors: they grow by the search's whole length, and a vector's doubling
  // copied them and faulted in fresh pages again and again (docs/design.md "Speed").
  struct Iteration {
    std::deque<uint32_t> choices;  // the paths, back to back
    std::deque<Items> items;
  };
  Iteration todo_, next_;  // this iteration's work items, the next one's
  size_t todo_pos_ = 0;    // the next Items of todo_
  uint32_t todo_k_ = 0;    // the next option of todo_.items[todo_pos_]
  size_t pos_ = 0;
  uint32_t preemptions_ = 0;
  bool started_ = false;
  bool prepared_ = false;  // begin_run has set up a run that has not ended yet
  bool exhausted_ = false;
  bool foreign_ = false;  // another shard owns the run that just ended
  bool state_cache_ = false;
  std::unordered_set<StateKey, StateKeyHash> seen_;  // membership only: its order is never read
  uint64_t cuts_ = 0;
  double explored_ = 0;   // explored_fraction() after the last run (plain order, unsharded)
};

}  // namespace kpsim
