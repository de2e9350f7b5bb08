// kpsim docgen FILE... [--check]: regenerates the traces drawn in the docs.
//
// A doc marks a generated block with an opening comment naming what to run and a closing one:
//   <!-- kpsim:mermaid SCENARIO key=value... find=violation -->
//   ...generated...
//   <!-- /kpsim -->
// Format: mermaid, text or svg. Then the scenario and its parameters. find=violation explores with
// the random strategy (seed=, budget=; defaults 1 and 1000) and draws the shrunk violation;
// otherwise choices=1,0,2 (default: none, i.e. always the first option) is replayed. --check
// fails (exit 1) if a block is not what kpsim draws today, so stale pictures fail the build.
// svg draws into a file beside the doc, named by file=img/NAME.svg (relative to the doc's
// folder), and the block is the Markdown image that shows it; --check compares the file's bytes.
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/strategy_factory.h"
#include "cli/trace_file.h"
#include "scenarios/runner.h"
#include "sched/strategy_random.h"
#include "traces/render.h"

namespace kpsim::cli {
namespace {

const std::string kOpen = "<!-- kpsim:";
const std::string kClose = "<!-- /kpsim -->";

// A docgen `choices=` list is answers only (replayed leniently, like a shrinking candidate).
ChoiceSeq parse_choices(const std::string& v) {
  std::vector<uint32_t> out;
  std::istringstream in(v);
  for (std::string x; std::getline(in, x, ',');) {
    if (x.empty() || x.find_first_not_of("0123456789") != std::string::npos)
      throw ParamError("docgen: bad choices list '" + v + "'");
    out.push_back(static_cast<uint32_t>(std::stoul(x)));
  }
  return untyped_choices(out);
}

// Where a doc's blocks write their side files (svg) and whether they only compare.
struct DocContext {
  std::string dir;  // the doc's folder, "" for the current one
  bool check = false;
  std::vector<std::string> stale;  // side files that differ (check) or were written
};

// Runs one block spec ("mermaid SCENARIO k=v ...") and returns the drawing.
std::string generate(const std::string& spec, DocContext& doc) {
  std::istringstream in(spec);
  std::string format, scenario;
  in >> format >> scenario;
  if (format != "mermaid" && format != "text" && format != "svg")
    throw ParamError("docgen: unknown format '" + format + "' in '" + spec + "'");
  const Scenario* sc = find_scenario(scenario);
  if (!sc) throw ParamError("docgen: unknown scenario '" + scenario + "'");
  std::vector<std::string> sets;
  std::string find, choices, file;
  uint64_t seed = 1, budget = 1000;
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    const std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "find") find = v;
    else if (k == "choices") choices = v;
    else if (k == "seed") seed = std::stoull(v);
    else if (k == "budget") budget = std::stoull(v);
    else if (k == "file") file = v;
    else sets.push_back(kv);
  }
  const Params p = resolve_params(*sc, sets);
  RunOptions ro;
  ro.limits = sc->default_limits();
  std::optional<Trace> trace;
  if (find == "violation") {
    RandomStrategy random(seed);
    ExploreOptions o;
    o.budget = budget;
    o.run = ro;
    o.run.strategy_label = "random";
    o.run.seed = seed;
    o.stop_on_first = true;
    auto r = explore(*sc, p, random, o);
    if (!r.first_violation) throw ParamError("docgen: no violation found for '" + spec + "'");
    trace = std::move(r.first_violation->trace);
  } else {
    ro.trace = true;
    ro.strategy_label = "replay";
    trace = std::move(run_choices(*sc, p, parse_choices(choices), ro).trace);
  }
  if (format == "svg") {
    if (file.empty() || file.find("..") != std::string::npos || file.front() == '/' || !file.ends_with(".svg"))
      throw ParamError("docgen: svg needs file=DIR/NAME.svg (relative to the doc, no ..) in '" + spec + "'");
    const std::string path = doc.dir.empty() ? file : doc.dir + "/" + file;
    const std::string svg = render_svg(*trace);
    std::string old;
    try {
      old = read_file_bytes(path);
    } catch (const TraceError&) {
      old.clear();  // missing: stale
    }
    if (old != svg) {
      if (!doc.check) write_file_bytes(path, svg);
      doc.stale.push_back(path);
    }
    return fmt::format("![kpsim render --format svg: {} {}]({})\n", scenario, p.to_line(), file);
  }
  const std::string body = format == "mermaid" ? render_mermaid(*trace) : render_text(*trace);
  return "```" + std::string(format == "mermaid" ? "mermaid" : "text") + "\n" + body + "```\n";
}

// Returns the file with every block regenerated.
std::string regenerate(const std::string& text, const std::string& path, DocContext& doc) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find(kOpen, pos);
    if (open == std::string::npos) break;
    const size_t open_end = text.find("-->", open);
    const size_t close = text.find(kClose, open_end);
    if (open_end == std::string::npos || close == std::string::npos)
      throw ParamError(path + ": unterminated kpsim block");
    const std::string spec = text.substr(open + kOpen.size(), open_end - open - kOpen.size());
    out += text.substr(pos, open_end + 3 - pos) + "\n" + generate(spec, doc);
    pos = close;
  }
  return out + text.substr(pos);
}

}  // namespace

Command add_docgen(CLI::App& app) {
  auto* sub = app.add_subcommand("docgen", "Regenerate the kpsim-drawn traces in Markdown docs");
  auto files = std::make_shared<std::vector<std::string>>();
  auto check = std::make_shared<bool>(false);
  sub->add_option("files", *files, "Markdown files with <!-- kpsim:... --> blocks")->required();
  sub->add_flag("--check", *check, "do not write; exit 1 if any block is stale");
  return {sub, [files, check] {
            int stale = 0;
            for (auto& f : *files) {
              const std::string text = read_file_bytes(f);
              DocContext doc;
              doc.check = *check;
              if (const auto slash = f.rfind('/'); slash != std::string::npos) doc.dir = f.substr(0, slash);
              const std::string fresh = regenerate(text, f, doc);
              for (const auto& side : doc.stale) {
                if (*check) {
                  std::cout << side << ": generated picture is stale (run: kpsim docgen " << f << ")\n";
                  ++stale;
                } else {
                  std::cout << side << ": regenerated\n";
                }
              }
              if (fresh == text) continue;
              if (*check) {
                std::cout << f << ": generated traces are stale (run: kpsim docgen " << f << ")\n";
                ++stale;
              } else {
                write_file_bytes(f, fresh);
                std::cout << f << ": regenerated\n";
              }
            }
            return stale ? kExitFinding : kExitOk;
          }};
}

}  // namespace kpsim::cli
