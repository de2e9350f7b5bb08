#include "sched/strategy_dfs.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "sched/splitmix64.h"

namespace kpsim {

DfsStrategy::DfsStrategy(std::optional<uint32_t> preemption_bound, DfsShard shard, DfsOrder order, bool state_cache)
    : bound_(preemption_bound), shard_(shard), order_(order), state_cache_(state_cache) {
  if (shard_.count == 0 || shard_.index >= shard_.count || shard_.depth == 0)
    throw std::invalid_argument(fmt::format("dfs: shard {}/{} at depth {} does not exist", shard_.index,
                                            shard_.count, shard_.depth));
  // See the header: below a state reached with preemptions spent, a bounded walk explores less
  // than below the same state reached with fewer, so cutting the second visit loses schedules;
  // a shard stores states of subtrees it does not explore.
  if (state_cache_ && bound_)
    throw std::invalid_argument("--state-cache: not with --preemption-bound (a bounded walk explores less below a "
                                "state reached with more preemptions, so a cut would lose schedules)");
  if (state_cache_ && order_ == DfsOrder::iterative)
    throw std::invalid_argument("--state-cache: needs --dfs-order plain (the iterative order is a preemption bound "
                                "raised step by step, and a bound makes cuts unsound)");
  if (state_cache_ && shard_.count > 1)
    throw std::invalid_argument("--state-cache: not with --shard (a shard walks through subtrees it does not explore)");
}

bool DfsStrategy::seen_state(const StateKey& k) {
  if (seen_.insert(k).second) return false;
  ++cuts_;
  return true;
}

bool DfsStrategy::has_option_left(const Point& p) const {
  if (p.k + 1 >= p.n) return false;
  const std::optional<uint32_t> b = order_ == DfsOrder::iterative ? std::optional(iteration_) : bound_;
  return !b || p.current < 0 || p.preemptions_before + 1 <= *b;
}

bool DfsStrategy::can_advance(size_t i) {
  const Point& p = path_[i];
  if (p.k + 1 >= p.n) return false;
  if (has_option_left(p)) return true;
  // Only the bound stops this point: here p.preemptions_before == b and p.k == 0 (continuing),
  // so every other option is a schedule with b + 1 preemptions from this point on.
  if (order_ == DfsOrder::iterative && (!bound_ || iteration_ < *bound_)) {
    // begin_run pops the path from its end, so the items it writes have paths that are
    // prefixes of the first one's: an item whose path is a prefix of the last path stored
    // shares it (same offset, shorter length) instead of copying it. This keeps the memory of
    // an iteration's items, and the copying, about one path per run instead of one per point.
    const size_t last_off = next_.items.empty() ? 0 : next_.items.back().off;
    const bool shared = !next_.items.empty() && next_.choices.size() - last_off >= i &&
                        std::equal(path_.begin(), path_.begin() + static_cast<std::ptrdiff_t>(i),
                                   next_.choices.begin() + static_cast<std::ptrdiff_t>(last_off),
                                   [](const Point& a, uint32_t k) { return a.k == k; });
    const uint64_t off = shared ? last_off : next_.choices.size();
    next_.items.push_back({off, static_cast<uint32_t>(i), p.k + 1, p.n - 1});
    if (!shared)
      for (size_t j = 0; j < i; ++j) next_.choices.push_back(path_[j].k);
  }
  return false;
}

bool DfsStrategy::next_item() {
  for (;;) {
    if (todo_pos_ < todo_.items.size()) {
      const Items& it = todo_.items[todo_pos_];
      const auto first = todo_.choices.begin() + static_cast<std::ptrdiff_t>(it.off);
      item_.assign(first, first + it.len);
      item_.push_back(it.k_first + todo_k_);
      if (it.k_first + todo_k_ == it.k_last) {
        ++todo_pos_;
        todo_k_ = 0;
      } else {
        ++todo_k_;
      }
      path_.clear();
      floor_ = item_.size();
      return true;
    }
    if (order_ == DfsOrder::iterative && !next_.items.empty()) {
      ++iteration_;
      todo_ = std::move(next_);
      next_ = {};
      todo_pos_ = 0;
      todo_k_ = 0;
      continue;
    }
    exhausted_ = true;
    return false;
  }
}

bool DfsStrategy::begin_run() {
  prepared_ = true;  // unless the space is exhausted, which preemptions_covered asks first
  pos_ = 0;
  preemptions_ = 0;
  if (!started_) {
    started_ = true;
    return true;
  }
  // The rest of a subtree another shard owns is not ours: go on from its prefix.
  if (foreign_ && path_.size() > shard_.depth) path_.resize(std::max<size_t>(shard_.depth, floor_));
  while (path_.size() > floor_ && !can_advance(path_.size() - 1)) path_.pop_back();
  if (path_.size() > floor_) {
    ++path_.back().k;
    return true;
  }
  return next_item();  // this work item (or the root) is done
}

size_t DfsStrategy::choose(size_t n, const ChoiceContext& ctx) {
  if (pos_ == path_.size()) {
    const int cur = ctx.kind == ChoiceKind::schedule ? ctx.current : -1;
    // Inside the current work item the choice is the item's; below it, the first option.
    const uint32_t k = pos_ < item_.size() ? item_[pos_] : 0;
    if (k >= n)
      throw std::logic_error(fmt::format("dfs: the model is not deterministic: work item choice {} is {} of {}",
                                         pos_, k, n));
    path_.push_back({ctx.kind, static_cast<uint32_t>(n), k, cur, preemptions_});
  }
  const Point& p = path_[pos_++];
  if (p.kind != ctx.kind || p.n != n)
    throw std::logic_error(fmt::format(
        "dfs: the model is not deterministic: choice {} was {} with {} options, now {} with {}",
        pos_ - 1, to_string(p.kind), p.n, to_string(ctx.kind), n));
  if (p.current >= 0 && p.k > 0) ++preemptions_;
  return p.current >= 0 ? (static_cast<size_t>(p.current) + p.k) % n : p.k;
}

std::optional<uint32_t> DfsStrategy::preemptions_covered() const {
  if (exhausted_) return bound_ ? bound_ : order_ == DfsOrder::iterative ? std::optional(iteration_) : std::nullopt;
  if (order_ != DfsOrder::iterative || !started_) return std::nullopt;
  if (!prepared_) {
    // Between runs, the current iteration is finished when its last work item is taken and the
    // walk below it has no option left: what begin_run would find, less the part of a subtree
    // another shard owns, which begin_run skips.
    size_t end = path_.size();
    if (foreign_ && end > shard_.depth) end = std::max<size_t>(shard_.depth, floor_);
    bool done = todo_pos_ >= todo_.items.size();
    for (size_t i = floor_; done && i < end; ++i) done = !has_option_left(path_[i]);
    if (done) return iteration_;
  }
  // A run of iteration_ is still to come (begin_run prepared it: the search loop asks once
  // more when its budget runs out, to learn whether the space did too).
  return iteration_ > 0 ? std::optional(iteration_ - 1) : std::nullopt;
}

double DfsStrategy::explored_measure() const {
  if (exhausted_) return 1;
  if (bound_ || shard_.count != 1 || order_ != DfsOrder::plain) return -1;
  return explored_;
}

void DfsStrategy::end_run() {
  prepared_ = false;
  if (!bound_ && shard_.count == 1 && order_ == DfsOrder::plain) {
    // Plain dfs visits leaves in order of the options taken (k counts from 0 at every point):
    // the leaves before this one and this one are the subtrees of the options below k at each
    // point of the path, plus this leaf; their measure under uniform choices is the sum below.
    double weight = 1, done = 0;
    for (size_t i = 0; i < pos_ && i < path_.size(); ++i) {
      done += weight * path_[i].k / path_[i].n;
      weight /= path_[i].n;
    }
    explored_ = done + weight;
  }
  if (shard_.count == 1) return;
  // The subtree: the run's first `depth` choices (all of them if it had fewer). Its owner is a
  // hash of them, the same in every shard.
  const size_t len = std::min<size_t>(shard_.depth, pos_);
  uint64_t h = 0x6b7073696d646673ull;  // "kpsimdfs"
  for (size_t i = 0; i < len; ++i) h = SplitMix64(h ^ (uint64_t{path_[i].k} << 32 | len)).next();
  foreign_ = h % shard_.count != shard_.index;
}

double DfsStrategy::explored_fraction() const {
  if (exhausted_) return 1.0;
  // The leaves left of the current one, plus it: at each point, the options before the one
  // taken, each worth the share of the tree its subtree would have with equal subtrees.
  const std::optional<uint32_t> b = order_ == DfsOrder::iterative ? std::optional(iteration_) : bound_;
  double done = 0, share = 1;
  for (size_t i = floor_; i < path_.size(); ++i) {
    const Point& p = path_[i];
    // Where the bound allows no preemption, only continuing is walked: one option.
    const uint32_t n = b && p.current >= 0 && p.preemptions_before + 1 > *b ? 1 : p.n;
    done += share * std::min<double>(p.k, n - 1) / n;
    share /= n;
  }
  done += share;
  uint64_t items = 0, consumed = 0;
  for (size_t i = 0; i < todo_.items.size(); ++i) {
    const uint64_t options = todo_.items[i].k_last - todo_.items[i].k_first + 1;
    items += options;
    if (i < todo_pos_) consumed += options;
  }
  if (items == 0) return std::min(done, 1.0);  // the root walk (iteration 0, or plain)
  consumed += todo_k_;  // next_item() has moved past the current item already
  if (todo_pos_ >= todo_.items.size()) consumed = items;
  return std::min((static_cast<double>(consumed) - 1 + done) / static_cast<double>(items), 1.0);
}

}  // namespace kpsim
