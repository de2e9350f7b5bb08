// kpsim merge SHARD.json...: one result from the `explore --shard I/N --json` results of one
// sharded search (docs/scale-out.md).
//
// The shards must be one search: the same scenario, parameters, strategy, seed, preemption
// bound, budget and shard count/depth, and every index 0..N-1 exactly once. Anything else is
// refused (exit 2) rather than summed: a missing shard would make a dfs look exhaustive over
// part of the tree, and shards of two different searches would add up to nothing meaningful.
// The merged result has the shape of an unsharded `explore --json` and the same exit status.
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/trace_file.h"
#include "scenarios/params.h"

namespace kpsim::cli {
namespace {

using Json = nlohmann::ordered_json;

struct MergeArgs {
  std::vector<std::string> files;
  bool json = false;
  bool require_exhaustive = false;
};

// The fields that say which search a shard belongs to; all shards must agree on each.
constexpr const char* kSameSearch[] = {"scenario", "params", "strategy", "seed", "preemption_bound", "dfs_order", "budget"};

const Json& field(const Json& j, const char* key, const std::string& file) {
  if (!j.contains(key)) throw ParamError(fmt::format("{}: no \"{}\": not an `explore --json` result", file, key));
  return j.at(key);
}

uint64_t count_field(const Json& j, const char* key, const std::string& file) {
  const Json& v = field(j, key, file);
  if (!v.is_number_unsigned()) throw ParamError(fmt::format("{}: \"{}\" is not a count", file, key));
  return v.get<uint64_t>();
}

struct Shard {
  std::string file;
  Json j;
  uint32_t index = 0, count = 0, depth = 0;
};

Shard read_shard(const std::string& file) {
  Shard s;
  s.file = file;
  try {
    s.j = Json::parse(read_file_bytes(file));
  } catch (const Json::exception& e) {
    throw ParamError(fmt::format("{}: not JSON ({})", file, e.what()));
  } catch (const TraceError& e) {
    throw ParamError(e.what());  // the file itself: missing, not regular, too large
  }
  if (!s.j.is_object()) throw ParamError(file + ": not an `explore --json` result");
  const Json& sh = field(s.j, "shard", file);
  if (!sh.is_object()) throw ParamError(file + ": \"shard\" is not an object");
  const uint64_t index = count_field(sh, "index", file), count = count_field(sh, "count", file),
                 depth = count_field(sh, "depth", file);
  if (count == 0 || count > 1000000 || index >= count || depth == 0 || depth > 64)
    throw ParamError(fmt::format("{}: shard {}/{} at depth {} does not exist", file, index, count, depth));
  s.index = static_cast<uint32_t>(index);
  s.count = static_cast<uint32_t>(count);
  s.depth = static_cast<uint32_t>(depth);
  return s;
}

int run_merge(const MergeArgs& a) {
  std::vector<Shard> shards;
  for (const auto& f : a.files) shards.push_back(read_shard(f));
  const Shard& first = shards.front();
  std::map<uint32_t, const Shard*> by_index;
  for (const Shard& s : shards) {
    for (const char* k : kSameSearch) {
      const Json none;
      const Json& mine = s.j.contains(k) ? s.j.at(k) : none;
      const Json& theirs = first.j.contains(k) ? first.j.at(k) : none;
      if (mine != theirs)
        throw ParamError(fmt::format("{} and {} are shards of different searches: \"{}\" is {} in one, {} in the other",
                                     first.file, s.file, k, theirs.dump(), mine.dump()));
    }
    if (s.count != first.count || s.depth != first.depth)
      throw ParamError(fmt::format("{} is shard {}/{} at depth {}, {} is {}/{} at depth {}: not one sharding", first.file,
                                   first.index, first.count, first.depth, s.file, s.index, s.count, s.depth));
    if (!by_index.emplace(s.index, &s).second)
      throw ParamError(fmt::format("{} and {} are both shard {}/{}", by_index.at(s.index)->file, s.file, s.index, s.count));
  }
  if (by_index.size() != first.count) {
    std::string missing;
    for (uint32_t i = 0; i < first.count; ++i)
      if (!by_index.count(i)) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
    throw ParamError(fmt::format("shards {} of {} are missing: the merged result would cover part of the search",
                                 missing, first.count));
  }

  // A shard that did not finish as a search (model bug, nondeterminism) decides the result:
  // its numbers are not a part of a whole. Report the lowest such shard, with its own code.
  for (const auto& [i, s] : by_index) {
    const std::string v = field(s->j, "verdict", s->file).is_string() ? s->j.at("verdict").get<std::string>() : "";
    if (v == "model_invariant" || v == "nondeterministic") {
      if (a.json) {
        Json j = s->j;
        j["merged_from"] = a.files;
        std::cout << j.dump(2) << "\n";
      } else {
        std::cout << fmt::format("shard {}/{} ({}) ended {}: the merged search is not a result; see that file\n", i,
                                 first.count, s->file, v);
      }
      return v == "model_invariant" ? kExitModelBug : kExitNondeterministic;
    }
  }

  uint64_t schedules = 0, violations = 0, inconclusive = 0, foreign = 0;
  bool exhaustive = true;
  // The shards' bounded proofs: the union covers the smallest bound of the unfinished shards,
  // and none if one of them covers none.
  std::optional<uint64_t> covered;
  bool covered_by_all = true;
  double elapsed_sum = 0, elapsed_max = 0;
  std::map<std::string, uint64_t> outcomes;
  const Shard* violating = nullptr;  // the lowest shard with a violation: its trace is the result's
  for (const auto& [i, s] : by_index) {
    schedules += count_field(s->j, "schedules", s->file);
    violations += count_field(s->j, "violations", s->file);
    inconclusive += count_field(s->j, "inconclusive", s->file);
    foreign += count_field(s->j.at("shard"), "foreign_runs", s->file);
    const Json& ex = field(s->j, "exhaustive", s->file);
    if (!ex.is_boolean()) throw ParamError(s->file + ": \"exhaustive\" is not true/false");
    exhaustive = exhaustive && ex.get<bool>();
    if (!ex.get<bool>()) {
      if (s->j.contains("preemptions_covered")) {
        const uint64_t c = count_field(s->j, "preemptions_covered", s->file);
        covered = covered ? std::min(*covered, c) : c;
      } else {
        covered_by_all = false;
      }
    }
    const Json& outs = field(s->j, "outcomes", s->file);
    if (!outs.is_object()) throw ParamError(s->file + ": \"outcomes\" is not an object");
    for (auto& [k, v] : outs.items()) {
      if (!v.is_number_unsigned()) throw ParamError(fmt::format("{}: outcome \"{}\" is not a count", s->file, k));
      outcomes[k] += v.get<uint64_t>();
    }
    if (s->j.contains("elapsed_ms") && s->j.at("elapsed_ms").is_number()) {
      const double ms = s->j.at("elapsed_ms").get<double>();
      elapsed_sum += ms;
      elapsed_max = std::max(elapsed_max, ms);
    }
    if (!violating && s->j.contains("first_violation")) violating = s;
  }
  const bool unfinished = a.require_exhaustive && !exhaustive;
  const std::optional<uint64_t> claim = !exhaustive && covered_by_all ? covered : std::nullopt;
  const char* verdict = violations ? "violation" : inconclusive || unfinished ? "inconclusive" : "clean";

  if (a.json) {
    Json j;
    for (const char* k : kSameSearch)
      if (first.j.contains(k)) j[k] = first.j.at(k);
    j["shards"] = first.count;
    j["shard_depth"] = first.depth;
    j["merged_from"] = a.files;
    j["schedules"] = schedules;
    j["violations"] = violations;
    j["exhaustive"] = exhaustive;
    if (claim) j["preemptions_covered"] = *claim;
    j["outcomes"] = outcomes;
    j["inconclusive"] = inconclusive;
    j["verdict"] = verdict;
    j["foreign_runs"] = foreign;
    j["elapsed_ms_sum"] = elapsed_sum;  // CPU time, roughly: the shards' wall times added
    j["elapsed_ms_max"] = elapsed_max;  // the wall time had every shard run at once
    if (violating) {
      j["first_violation"] = violating->j.at("first_violation");
      j["first_violation"]["shard"] = violating->index;
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("kpsim merge: {} shards of {} {}  strategy {}\n", first.count,
                             first.j.at("scenario").dump(), first.j.at("params").dump(),
                             first.j.at("strategy").dump());
    std::string outs;
    for (auto& [k, v] : outcomes) outs += fmt::format("{}{} {}", outs.empty() ? "" : ", ", k, v);
    std::optional<uint64_t> bound;
    if (first.j.contains("preemption_bound")) bound = count_field(first.j, "preemption_bound", first.file);
    std::cout << fmt::format("schedules {}  violations {}  exhaustive {}  ({})\n", schedules, violations,
                             exhaustive_text(exhaustive, bound, claim), outs);
    std::cout << fmt::format("shards' time: {:.1f} ms added up, {:.1f} ms the longest; {} runs walked other shards' subtrees\n",
                             elapsed_sum, elapsed_max, foreign);
    if (violating) {
      const Json& fv = violating->j.at("first_violation");
      std::cout << fmt::format("first violation (shard {}): {}\n", violating->index,
                               fv.contains("property") ? fv.at("property").dump() : "?");
      if (fv.contains("reproduce") && fv.at("reproduce").is_string())
        std::cout << "reproduce: " << fv.at("reproduce").get<std::string>() << "\n";
    }
    if (!violations && inconclusive)
      std::cout << fmt::format("inconclusive: {} schedules ended at a limit or in a model error\n", inconclusive);
    if (!violations && unfinished)
      std::cout << "inconclusive: --require-exhaustive, but some shard did not cover its part\n";
  }
  if (violations) return kExitFinding;
  return inconclusive || unfinished ? kExitInconclusive : kExitOk;
}

}  // namespace

Command add_merge(CLI::App& app) {
  auto a = std::make_shared<MergeArgs>();
  auto* sub = app.add_subcommand("merge", "Combine the --json results of a sharded explore into one");
  sub->footer(
      "Each file is the output of `kpsim explore ... --shard I/N --json`; all I in 0..N-1 must be\n"
      "there, from the same search (scenario, parameters, strategy, seed, bound, budget, depth).\n"
      "Schedules, violations and outcomes add up; the search is exhaustive only if every shard\n"
      "is; the first violation is the lowest shard's. Exit status as for explore: 0 clean, 1 a\n"
      "violation, 2 bad input (missing or foreign shards), 3 inconclusive, 4 and 6 when a shard\n"
      "ended that way. docs/scale-out.md runs the shards as a Slurm array or a Kubernetes Job.");
  sub->add_option("files", a->files, "shard results (explore --shard I/N --json)")->required();
  sub->add_flag("--json", a->json, "print one JSON object, shaped like explore --json");
  sub->add_flag("--require-exhaustive", a->require_exhaustive,
                "exit 3 (inconclusive) unless every shard covered its part of the tree");
  return {sub, [a] { return run_merge(*a); }};
}

}  // namespace kpsim::cli
