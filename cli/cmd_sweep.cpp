// kpsim sweep: one scenario explored over a grid of parameter values, a table of the verdicts and
// chosen metrics (text, CSV or JSON), an SVG plot of one metric against one parameter, and
// --bisect to find where the verdict flips along an integer parameter.
//
// Each cell is `kpsim explore SCENARIO --set ... --json --quiet` in a child process (at most
// --jobs at once): a cell is exactly what explore would say for those values, and cells run on
// every core. The children's results are collected by cell index, so the table does not depend
// on which child finished first.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstring>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/child_files.h"
#include "cli/commands.h"
#include "cli/stop_signals.h"
#include "scenarios/params.h"
#include "scenarios/scenario.h"

extern char** environ;

namespace kpsim::cli {
namespace {

using json = nlohmann::ordered_json;

// A grid holds at most this many cells: a typo in a range should not start a day of work.
constexpr size_t kMaxCells = 10000;

struct SweepArgs {
  std::string scenario;
  std::vector<std::string> sets;     // K=V, K=A,B,C or K=LO..HI[:STEP]
  std::string bisect;                // K=LO..HI
  std::vector<std::string> metrics;  // columns
  std::string format = "table";
  std::string svg;                   // plot file
  std::string plot_x, plot_y;        // --plot Y:X (parameter X on the x axis)
  uint64_t jobs = 2;
  std::string strategy = "random";
  uint64_t seed = 1;
  std::optional<uint64_t> budget;
  std::optional<uint64_t> max_steps;
  bool first = false;
  std::string choices;               // --choices: every cell runs this one schedule
  bool strategy_given = false;       // --strategy or --seed on the command line
  bool seed_given = false;           // --seed on the command line
  std::vector<std::string> searches; // --search "STRATEGY [OPTIONS]": one more axis, the search
  std::string seeds;                 // --seeds LO..HI: each cell once per seed, summarised
  std::vector<std::string> variants; // --variant "K=V K2=V2": rows that are not a grid
};

// A --search: explore's strategy and the options that shape it, and whether it draws from the
// seed (random, pct) or always walks the same tree (dfs, dpor: one run stands for every seed).
struct Search {
  std::string text;                  // as given, the table's column value
  std::vector<std::string> argv;     // --strategy NAME OPTIONS...
  bool seeded = true;
};

// Options a --search may carry: only those that choose how the search runs, so that a search
// cannot change the scenario, the budget or the output the sweep reads.
Search parse_search(const std::string& text) {
  std::stringstream ss(text);
  std::vector<std::string> words;
  for (std::string w; ss >> w;) words.push_back(w);
  if (words.empty()) throw ParamError("--search: empty (expected STRATEGY [OPTIONS], e.g. \"pct --depth 3\")");
  static const std::set<std::string> strategies = {"random", "pct", "dfs", "dpor"};
  if (!strategies.count(words[0]))
    throw ParamError("--search " + text + ": the first word must be a strategy (random, pct, dfs, dpor)");
  Search s{text, {"--strategy", words[0]}, words[0] == "random" || words[0] == "pct"};
  static const std::set<std::string> with_value = {"--depth", "--preemption-bound", "--dfs-order"};
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "--state-cache") {
      s.argv.push_back(words[i]);
    } else if (with_value.count(words[i]) && i + 1 < words.size()) {
      s.argv.insert(s.argv.end(), {words[i], words[i + 1]});
      ++i;
    } else {
      throw ParamError("--search " + text + ": '" + words[i] +
                       "' is not a search option (--depth N, --preemption-bound B, --dfs-order O, --state-cache)");
    }
  }
  return s;
}

// One axis of the grid: a key and its values, in the order given.
struct Axis {
  std::string key;
  std::vector<std::string> values;
};

uint64_t parse_u64(const std::string& s, const std::string& what) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    throw ParamError(fmt::format("{}: '{}' is not a non-negative integer", what, s));
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) throw ParamError(fmt::format("{}: '{}' does not fit in 64 bits", what, s));
  return v;
}

// "K=LO..HI[:STEP]" → LO, HI, STEP (STEP 1 by default); nullopt when V is not a range.
struct Range {
  uint64_t lo, hi, step;
};
std::optional<Range> parse_range(const std::string& what, const std::string& v) {
  const size_t dots = v.find("..");
  if (dots == std::string::npos) return std::nullopt;
  const size_t colon = v.find(':', dots);
  Range r;
  r.lo = parse_u64(v.substr(0, dots), what);
  r.hi = parse_u64(v.substr(dots + 2, colon == std::string::npos ? std::string::npos : colon - dots - 2), what);
  r.step = colon == std::string::npos ? 1 : parse_u64(v.substr(colon + 1), what);
  if (r.step == 0) throw ParamError(what + ": a range's step must be at least 1");
  if (r.hi < r.lo) throw ParamError(fmt::format("{}: the range {}..{} is empty", what, r.lo, r.hi));
  return r;
}

Axis parse_axis(const std::string& set) {
  const size_t eq = set.find('=');
  if (eq == std::string::npos || eq == 0) throw ParamError("--set " + set + ": expected KEY=VALUE, KEY=A,B,C or KEY=LO..HI[:STEP]");
  Axis a{set.substr(0, eq), {}};
  const std::string v = set.substr(eq + 1);
  if (auto r = parse_range("--set " + set, v)) {
    if ((r->hi - r->lo) / r->step >= kMaxCells)
      throw ParamError(fmt::format("--set {}: {} values; a sweep holds at most {} cells", set, (r->hi - r->lo) / r->step + 1, kMaxCells));
    for (uint64_t x = r->lo; x <= r->hi; x += r->step) {
      a.values.push_back(std::to_string(x));
      if (r->hi - x < r->step) break;  // no overflow past HI
    }
    return a;
  }
  std::stringstream ss(v);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) throw ParamError("--set " + set + ": an empty value in the list");
    a.values.push_back(item);
  }
  if (a.values.empty()) throw ParamError("--set " + set + ": no value");
  return a;
}

struct Cell {
  std::vector<std::string> sets;           // every --set of the child, fixed ones included
  std::vector<std::string> swept;          // the swept values, in axis order
  const Search* search = nullptr;          // --search: this cell's, else the sweep's --strategy
  uint64_t seed = 1;
  size_t row = 0;                          // the table row: cells of one row differ only in seed
  json result;                             // explore's JSON, or null
  int exit = -1;
  std::string error;                       // the child's stderr when it failed
};


// The explore command line of a cell.
std::vector<std::string> explore_argv(const SweepArgs& a, const Cell& c) {
  std::vector<std::string> v = {"kpsim", "explore", a.scenario};
  for (const auto& s : c.sets) v.insert(v.end(), {"--set", s});
  v.insert(v.end(), {"--json", "--quiet"});
  if (a.max_steps) v.insert(v.end(), {"--max-steps", std::to_string(*a.max_steps)});
  if (!a.choices.empty()) {  // one given schedule: no search options (run_sweep refused them)
    v.insert(v.end(), {"--choices", a.choices});
    return v;
  }
  if (c.search) v.insert(v.end(), c.search->argv.begin(), c.search->argv.end());
  else v.insert(v.end(), {"--strategy", a.strategy});
  v.insert(v.end(), {"--seed", std::to_string(c.seed), "--no-shrink"});
  if (a.budget) v.insert(v.end(), {"--budget", std::to_string(*a.budget)});
  if (a.first) v.push_back("--first");
  return v;
}

struct Child {
  pid_t pid = -1;
  size_t cell = 0;
  std::string out, err;  // temporary files
};

Child spawn_cell(const std::string& exe, const SweepArgs& a, size_t index, const Cell& c, const std::string& dir) {
  Child ch;
  ch.cell = index;
  ch.out = fmt::format("{}/{}.json", dir, index);
  ch.err = fmt::format("{}/{}.err", dir, index);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, ch.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, ch.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const std::vector<std::string> args = explore_argv(a, c);
  std::vector<char*> argv;
  for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  const int rc = posix_spawn(&ch.pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", exe, std::strerror(rc)));
  return ch;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


// Runs the cells, at most a.jobs at once; returns false when interrupted (the cells not run keep
// exit -1). Progress on stderr: one line per finished cell.
bool run_cells(const SweepArgs& a, std::vector<Cell>& cells, bool progress) {
  const std::string exe = self_exe();
  TempDir dir("sweep");
  std::map<pid_t, Child> running;
  size_t next = 0, done = 0;
  const auto reap = [&](bool block) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid <= 0) return false;
    auto it = running.find(pid);
    if (it == running.end()) return true;
    Cell& c = cells[it->second.cell];
    c.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const std::string out = slurp(it->second.out);
    try {
      c.result = json::parse(out);
    } catch (const json::exception&) {
      c.result = nullptr;
    }
    if (c.result.is_null() || c.exit == kExitUsage || c.exit >= kExitInternal) c.error = slurp(it->second.err);
    running.erase(it);
    ++done;
    if (progress)
      std::cerr << fmt::format("  ... cell {}/{} ({}) done\n", done, cells.size(), fmt::join(c.swept, " "));
    return true;
  };
  while (done < cells.size()) {
    if (stop_requested()) break;
    while (running.size() < a.jobs && next < cells.size()) {
      Child ch = spawn_cell(exe, a, next, cells[next], dir.path);
      running.emplace(ch.pid, ch);
      ++next;
    }
    if (running.empty()) break;
    if (!reap(true) && errno == EINTR && stop_requested()) break;
  }
  // Interrupted: the children got the same SIGINT from the terminal; SIGTERM them anyway and
  // wait, so that nothing is left running.
  for (auto& [pid, ch] : running) kill(pid, SIGTERM);
  while (!running.empty() && reap(true)) {
  }
  return done == cells.size();
}

std::string verdict_of(const Cell& c) {
  if (c.exit < 0) return "not run";
  if (c.result.is_null()) return fmt::format("failed (exit {})", c.exit);
  const std::string v = c.result.value("verdict", std::string("?"));
  if (v == "violation" && c.result.contains("first_violation"))
    return "violation:" + c.result["first_violation"].value("property", std::string("?"));
  return v;
}

// NAME: the first schedule's figure (explore --json's metrics); NAME:min, NAME:median, NAME:max:
// over every schedule the cell ran (metrics_over_schedules).
std::string metric_of(const Cell& c, const std::string& spec) {
  if (!c.result.is_object()) return "-";
  const size_t colon = spec.find(':');
  const std::string m = spec.substr(0, colon);
  const json* src = nullptr;
  if (colon == std::string::npos) {
    if (c.result.contains("metrics") && c.result["metrics"].contains(m)) src = &c.result["metrics"][m];
    // explore --json's own figures: exhaustive, outcomes, violations, explored_fraction, preemptions_covered, and
    // first_at (the schedule of the first violation, 1-based, as --first stops there)
    else if (m == "first_at" && c.result.contains("first_violation")) src = &c.result["first_violation"]["schedule"];
    else if (m != "metrics" && m != "metrics_over_schedules" && c.result.contains(m)) src = &c.result[m];
  } else {
    const std::string agg = spec.substr(colon + 1);
    if (c.result.contains("metrics_over_schedules") && c.result["metrics_over_schedules"].contains(m) &&
        c.result["metrics_over_schedules"][m].contains(agg))
      src = &c.result["metrics_over_schedules"][m][agg];
  }
  if (!src) return "-";
  const json& v = *src;
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {  // e.g. a histogram: "65483: 63, 21905: 1"
    std::string out;
    for (const auto& [k, x] : v.items()) out += fmt::format("{}{}: {}", out.empty() ? "" : ", ", k, x.is_string() ? x.get<std::string>() : x.dump());
    return out;
  }
  return v.dump();
}

double number_of(const std::string& s, bool& ok) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  ok = !s.empty() && end == s.c_str() + s.size();
  return v;
}

// A standalone SVG line chart: metric Y against parameter X, one series per combination of the
// other swept parameters, violating cells marked with a red ring. No external references.
std::string plot_svg(const SweepArgs& a, const std::vector<Axis>& axes, const std::vector<Cell>& cells) {
  size_t xi = axes.size();
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i].key == a.plot_x) xi = i;
  struct Pt {
    double x, y;
    bool bad;
  };
  std::map<std::string, std::vector<Pt>> series;
  double x0 = 1e300, x1 = -1e300, y0 = 0, y1 = -1e300;
  for (const Cell& c : cells) {
    bool okx = false, oky = false;
    const double x = number_of(c.swept[xi], okx);
    const double y = number_of(metric_of(c, a.plot_y), oky);
    if (!okx || !oky) continue;
    std::string key;
    for (size_t i = 0; i < axes.size(); ++i)
      if (i != xi) key += (key.empty() ? "" : " ") + axes[i].key + "=" + c.swept[i];
    series[key.empty() ? a.plot_y : key].push_back({x, y, verdict_of(c).rfind("violation", 0) == 0});
    x0 = std::min(x0, x), x1 = std::max(x1, x), y1 = std::max(y1, y), y0 = std::min(y0, y);
  }
  if (series.empty())
    throw ParamError(fmt::format("--plot {}:{}: no cell has a numeric {} (metrics: see explore --json)", a.plot_y,
                                 a.plot_x, a.plot_y));
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const double W = 720, H = 420, L = 70, R = 220, T = 30, B = 50;
  const auto sx = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  const auto sy = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"};
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<title>kpsim sweep {2}: {3} against {4}</title>\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      W, H, a.scenario, a.plot_y, a.plot_x);
  s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", L, H - B, W - R);
  s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", L, H - B, T);
  for (int i = 0; i <= 4; ++i) {
    const double xv = x0 + (x1 - x0) * i / 4, yv = y0 + (y1 - y0) * i / 4;
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{:.6g}</text>\n", sx(xv), H - B + 18, xv);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.4g}</text>\n", L - 6, sy(yv) + 4, yv);
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (L + W - R) / 2, H - 10, a.plot_x);
  s += fmt::format("<text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">{}</text>\n",
                   (T + H - B) / 2, (T + H - B) / 2, a.plot_y);
  size_t k = 0;
  for (auto& [name, pts] : series) {
    std::sort(pts.begin(), pts.end(), [](const Pt& p, const Pt& q) { return p.x < q.x; });
    const char* col = colors[k % std::size(colors)];
    std::string path;
    for (const Pt& p : pts) path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", sx(p.x), sy(p.y));
    s += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>\n", path, col);
    for (const Pt& p : pts)
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"{}/>\n", sx(p.x), sy(p.y), p.bad ? 5 : 3,
                       col, p.bad ? " stroke=\"red\" stroke-width=\"2\"" : "");
    s += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n", W - R + 10, T + 16 * static_cast<double>(k), col, name);
    ++k;
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\">ringed: a violation</text>\n", W - R + 10, T + 16 * static_cast<double>(k) + 8);
  s += "</svg>\n";
  return s;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// How each cell searches, for the table's title.
std::string search_of(const SweepArgs& a) {
  return a.choices.empty() ? "--strategy " + a.strategy : "--choices " + a.choices;
}

// Every combination of the axes' values, the last axis fastest.
std::vector<std::vector<std::string>> grid_of(const std::vector<Axis>& axes) {
  size_t n = 1;
  for (const auto& ax : axes) {
    n *= ax.values.size();
    if (n > kMaxCells) throw ParamError(fmt::format("the grid has more than {} cells", kMaxCells));
  }
  std::vector<std::vector<std::string>> out;
  std::vector<size_t> at(axes.size(), 0);
  for (size_t c = 0; c < n; ++c) {
    std::vector<std::string> combo;
    for (size_t i = 0; i < axes.size(); ++i) combo.push_back(axes[i].values[at[i]]);
    out.push_back(std::move(combo));
    for (size_t i = axes.size(); i-- > 0;) {
      if (++at[i] < axes[i].values.size()) break;
      at[i] = 0;
    }
  }
  return out;
}

// A table as text (aligned columns), Markdown (for docs: `kpsim docgen` run blocks) or CSV.
void print_table(const std::string& format, const std::vector<std::string>& head,
                 const std::vector<std::vector<std::string>>& rows) {
  if (format == "csv") {
    for (size_t i = 0; i < head.size(); ++i) std::cout << (i ? "," : "") << csv_field(head[i]);
    std::cout << "\n";
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) std::cout << (i ? "," : "") << csv_field(row[i]);
      std::cout << "\n";
    }
    return;
  }
  if (format == "markdown") {
    const auto cell = [](std::string v) {
      for (size_t p = 0; (p = v.find('|', p)) != std::string::npos; p += 2) v.replace(p, 1, "\\|");
      return v;
    };
    const auto line = [&](const std::vector<std::string>& r) {
      std::string s = "|";
      for (const auto& v : r) s += " " + cell(v) + " |";
      std::cout << s << "\n";
    };
    line(head);
    std::string sep = "|";
    for (size_t i = 0; i < head.size(); ++i) sep += "---|";
    std::cout << sep << "\n";
    for (const auto& row : rows) line(row);
    return;
  }
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  const auto line = [&](const std::vector<std::string>& r) {
    std::string s = " ";
    for (size_t i = 0; i < r.size(); ++i) s += fmt::format(" {:<{}}", r[i], w[i]);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::cout << s << "\n";
  };
  line(head);
  for (const auto& row : rows) line(row);
}

// Where the verdict flips along KEY between lo and hi (binary search, one explore per probe),
// the other parameters fixed by `sets`. `print` shows each probe (the one-bisection form).
struct Flip {
  bool found = false;
  uint64_t lo = 0, hi = 0;
  std::string vlo, vhi;
};

Flip bisect(const SweepArgs& a, const Scenario& sc, const std::vector<std::string>& sets, const std::string& key,
            uint64_t lo, uint64_t hi, bool print) {
  const auto probe = [&](uint64_t v) {
    std::vector<Cell> one(1);
    one[0].sets = sets;
    one[0].sets.push_back(key + "=" + std::to_string(v));
    one[0].swept = {std::to_string(v)};
    one[0].seed = a.seed;
    resolve_params(sc, one[0].sets);  // bad input before anything runs
    SweepArgs b = a;
    b.jobs = 1;
    if (!run_cells(b, one, false)) throw std::runtime_error("interrupted");
    if (!one[0].error.empty()) throw ParamError(fmt::format("{}={}: explore failed: {}", key, v, one[0].error));
    const std::string verdict = verdict_of(one[0]);
    if (print) std::cout << fmt::format("  {}={:<12} {}\n", key, v, verdict) << std::flush;
    return verdict;
  };
  Flip f;
  f.vlo = probe(lo);
  f.vhi = probe(hi);
  if (f.vlo == f.vhi) return f;
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    (probe(mid) == f.vlo ? lo : hi) = mid;
  }
  f.found = true;
  f.lo = lo;
  f.hi = hi;
  return f;
}

// One row's figure from the runs of its seeds: the value if there is one run or every run agrees;
// numbers as "mean / worst" (worst: the largest), with "(K of N)" when only K runs have one
// (e.g. first_at where some seeds found nothing); other values as "value ×K, ..." counts.
template <class F>
std::string summarise(const std::vector<const Cell*>& group, F value_of, bool numeric) {
  std::vector<std::string> vals;
  for (const Cell* c : group) vals.push_back(value_of(*c));
  if (std::all_of(vals.begin(), vals.end(), [&](const std::string& v) { return v == vals.front(); })) return vals.front();
  if (numeric) {
    double sum = 0, worst = 0;
    size_t k = 0;
    for (const auto& v : vals) {
      bool ok = false;
      const double x = number_of(v, ok);
      if (!ok) continue;
      worst = k == 0 ? x : std::max(worst, x);
      sum += x;
      ++k;
    }
    if (k > 0) {
      std::string out = fmt::format("{:.3g} / {:.6g}", sum / static_cast<double>(k), worst);
      if (k < vals.size()) out += fmt::format(" ({} of {})", k, vals.size());
      return out;
    }
  }
  std::map<std::string, size_t> count;
  std::vector<std::string> order;
  for (const auto& v : vals)
    if (count[v]++ == 0) order.push_back(v);
  std::string out;
  for (const auto& v : order) out += fmt::format("{}{} ×{}", out.empty() ? "" : ", ", v, count[v]);
  return out;
}

int run_sweep(SweepArgs& a) {
  const Scenario* sc = find_scenario(a.scenario);
  if (!sc) throw ParamError("unknown scenario '" + a.scenario + "' (see: kpsim list)");
  if (a.jobs == 0) throw ParamError("--jobs must be at least 1");
  if (!a.choices.empty() && (a.strategy_given || a.budget || a.first))
    throw ParamError("--choices runs one given schedule per cell: no --strategy, --seed, --budget or --first");
  if (a.format != "table" && a.format != "csv" && a.format != "json" && a.format != "markdown")
    throw ParamError("--format " + a.format + ": table, markdown, csv or json");
  if (!a.bisect.empty() && (!a.svg.empty() || a.format == "json" || !a.metrics.empty()))
    throw ParamError("--bisect prints where the verdict flips: no --svg, --metric or --format json");
  if (!a.bisect.empty() && (!a.searches.empty() || !a.seeds.empty()))
    throw ParamError("--bisect uses one search (--strategy, --seed): no --search or --seeds");
  if (!a.searches.empty() && (a.strategy_given || !a.choices.empty()))
    throw ParamError("--search names each search: no --strategy, --seed or --choices with it");
  if (!a.seeds.empty() && (a.seed_given || !a.choices.empty() || !a.svg.empty()))
    throw ParamError("--seeds runs each cell once per seed: no --seed, --choices or --plot with it");
  std::vector<std::string> fixed;
  std::vector<Axis> axes;
  for (const auto& s : a.sets) {
    Axis ax = parse_axis(s);
    if (ax.values.size() == 1) fixed.push_back(ax.key + "=" + ax.values[0]);
    else axes.push_back(std::move(ax));
  }
  for (size_t i = 0; i < axes.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (axes[i].key == axes[j].key) throw ParamError("--set " + axes[i].key + " given twice");
  // --variant: named sets of values, one more axis (the first column); its keys may not also be
  // given with --set, so that a row shows every value that differs from the others.
  for (const auto& v : a.variants) {
    std::stringstream ss(v);
    size_t n = 0;
    for (std::string kv; ss >> kv; ++n) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) throw ParamError("--variant " + v + ": expected \"K=V [K2=V2 ...]\"");
      const std::string key = kv.substr(0, eq);
      for (const auto& ax : axes)
        if (ax.key == key) throw ParamError("--variant " + v + ": " + key + " is also swept with --set");
      for (const auto& f : fixed)
        if (f.substr(0, f.find('=')) == key) throw ParamError("--variant " + v + ": " + key + " is also set with --set");
    }
    if (n == 0) throw ParamError("--variant: empty (expected \"K=V [K2=V2 ...]\")");
  }
  if (!a.variants.empty()) {
    if (!a.bisect.empty()) throw ParamError("--bisect: no --variant (sweep the keys with --set K=A,B)");
    axes.insert(axes.begin(), Axis{"variant", a.variants});
  }
  StopOnSignals stop;
  const bool progress = isatty(2);

  if (!a.bisect.empty()) {
    const size_t eq = a.bisect.find('=');
    if (eq == std::string::npos) throw ParamError("--bisect " + a.bisect + ": expected KEY=LO..HI");
    const std::string key = a.bisect.substr(0, eq);
    const auto r = parse_range("--bisect " + a.bisect, a.bisect.substr(eq + 1));
    if (!r || r->step != 1) throw ParamError("--bisect " + a.bisect + ": expected KEY=LO..HI (integers, no step)");
    for (const auto& ax : axes)
      if (ax.key == key) throw ParamError("--bisect " + key + ": the same key is also swept with --set");
    if (axes.empty()) {
      std::cout << fmt::format("kpsim sweep {} --bisect {}={}..{}{}\n", a.scenario, key, r->lo, r->hi,
                               fixed.empty() ? "" : fmt::format(" (--set {})", fmt::join(fixed, " --set ")));
      const Flip f = bisect(a, *sc, fixed, key, r->lo, r->hi, true);
      if (!f.found) {
        std::cout << fmt::format("no flip: {} at both ends (a flip and back inside the range is not seen)\n", f.vlo);
        return kExitInconclusive;
      }
      std::cout << fmt::format("flips between {}={} ({}) and {}={} ({}), assuming one flip in the range\n", key, f.lo,
                               f.vlo, key, f.hi, f.vhi);
      return kExitOk;
    }
    // A bisection per combination of the swept keys: one row each, where the verdict flips.
    std::vector<std::vector<std::string>> combos = grid_of(axes);
    for (const auto& combo : combos) {
      std::vector<std::string> sets = fixed;
      for (size_t i = 0; i < axes.size(); ++i) sets.push_back(axes[i].key + "=" + combo[i]);
      sets.push_back(key + "=" + std::to_string(r->lo));
      resolve_params(*sc, sets);  // every combination checked before anything runs
    }
    std::vector<std::string> head;
    for (const auto& ax : axes) head.push_back(ax.key);
    head.insert(head.end(), {"at " + key + "=" + std::to_string(r->lo), "last " + key + " before the flip",
                             "first " + key + " after it", "verdict after"});
    std::vector<std::vector<std::string>> rows;
    bool all_flip = true;
    for (const auto& combo : combos) {
      if (stop_requested()) break;
      std::vector<std::string> sets = fixed;
      for (size_t i = 0; i < axes.size(); ++i) sets.push_back(axes[i].key + "=" + combo[i]);
      const Flip f = bisect(a, *sc, sets, key, r->lo, r->hi, false);
      std::vector<std::string> row = combo;
      row.push_back(f.vlo);
      if (f.found) row.insert(row.end(), {std::to_string(f.lo), std::to_string(f.hi), f.vhi});
      else row.insert(row.end(), {"no flip", "-", f.vhi});
      all_flip = all_flip && f.found;
      rows.push_back(std::move(row));
      if (progress) std::cerr << fmt::format("bisected {} of {}\n", rows.size(), combos.size());
    }
    if (a.format != "markdown" && a.format != "csv")
      std::cout << fmt::format("kpsim sweep {} --bisect {}={}..{}{}: {} bisections, {}\n", sc->name(), key,
                               r->lo, r->hi, fixed.empty() ? "" : fmt::format(" (--set {})", fmt::join(fixed, " --set ")),
                               combos.size(), search_of(a));
    print_table(a.format, head, rows);
    if (rows.size() < combos.size()) {
      std::cerr << "interrupted: the combinations not bisected are not listed\n";
      return kExitInterrupted;
    }
    return all_flip ? kExitOk : kExitInconclusive;
  }

  std::vector<Search> searches;
  for (const auto& t : a.searches) searches.push_back(parse_search(t));
  std::vector<uint64_t> seeds = {a.seed};
  if (!a.seeds.empty()) {
    const auto r = parse_range("--seeds " + a.seeds, a.seeds);
    if (!r || r->step != 1) throw ParamError("--seeds " + a.seeds + ": expected LO..HI");
    if (r->hi - r->lo >= kMaxCells) throw ParamError(fmt::format("--seeds {}: at most {} seeds", a.seeds, kMaxCells));
    seeds.clear();
    for (uint64_t x = r->lo;; ++x) {
      seeds.push_back(x);
      if (x == r->hi) break;
    }
  }
  if (axes.empty() && searches.size() < 2 && seeds.size() < 2)
    throw ParamError("nothing to sweep: give a --set KEY=A,B,C or KEY=LO..HI[:STEP], --variant, two --search or --seeds LO..HI");
  // The rows: every combination of the swept keys, times every search; each row runs once per
  // seed, or once if its search draws nothing from the seed (dfs, dpor).
  std::vector<std::vector<std::string>> combos = axes.empty() ? std::vector<std::vector<std::string>>{{}} : grid_of(axes);
  const size_t n_search = std::max<size_t>(1, searches.size());
  if (combos.size() * n_search * seeds.size() > kMaxCells)
    throw ParamError(fmt::format("the sweep has more than {} runs", kMaxCells));
  std::vector<Cell> cells;
  size_t rows_n = 0;
  for (auto& combo : combos) {
    std::vector<std::string> sets = fixed;
    for (size_t i = 0; i < axes.size(); ++i) {
      if (i == 0 && !a.variants.empty()) {
        std::stringstream ss(combo[0]);
        for (std::string kv; ss >> kv;) sets.push_back(kv);
      } else {
        sets.push_back(axes[i].key + "=" + combo[i]);
      }
    }
    resolve_params(*sc, sets);  // every cell's values checked before anything runs
    for (size_t si = 0; si < n_search; ++si, ++rows_n) {
      const Search* search = searches.empty() ? nullptr : &searches[si];
      const bool seeded = search ? search->seeded : (a.strategy == "random" || a.strategy == "pct");
      for (size_t k = 0; k < (seeded ? seeds.size() : 1); ++k) {
        Cell cell;
        cell.sets = sets;
        cell.swept = combo;
        if (search) cell.swept.push_back(search->text);
        cell.search = search;
        cell.seed = seeds[k];
        cell.row = rows_n;
        cells.push_back(std::move(cell));
      }
    }
  }
  if (!a.svg.empty()) {
    bool found = false;
    for (const auto& ax : axes) found = found || ax.key == a.plot_x;
    if (!found) throw ParamError("--plot Y:X: X must be a swept parameter (" + a.plot_x + " is not)");
  }
  if (!searches.empty()) axes.push_back({"search", {}});  // a column of its own from here on
  const bool complete = run_cells(a, cells, progress);

  for (const Cell& c : cells)
    if (!c.error.empty()) {
      std::string first = c.error.substr(0, c.error.find('\n'));
      throw ParamError(fmt::format("cell {}: {}", fmt::join(c.sets, " "), first));
    }
  if (a.format == "json") {
    json j = {{"scenario", sc->name()}, {"fixed", fixed}, {"cells", json::array()}, {"complete", complete}};
    for (const Cell& c : cells) {
      json row = json::object();
      for (size_t i = 0; i < axes.size(); ++i) row[axes[i].key] = c.swept[i];
      if (seeds.size() > 1) row["seed"] = c.seed;
      row["verdict"] = verdict_of(c);
      row["schedules"] = c.result.is_object() ? c.result.value("schedules", uint64_t{0}) : 0;
      for (const auto& m : a.metrics) row[m] = metric_of(c, m);
      row["metrics"] = c.result.is_object() && c.result.contains("metrics") ? c.result["metrics"] : json(nullptr);
      j["cells"].push_back(std::move(row));
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::vector<std::string> head;
    for (const auto& ax : axes) head.push_back(ax.key);
    if (seeds.size() > 1) head.push_back("runs");
    head.insert(head.end(), {"verdict", "schedules"});
    for (const auto& m : a.metrics) head.push_back(m);
    std::vector<std::vector<std::string>> rows;
    // A row's cells are adjacent (built row by row, differing only in seed).
    for (size_t i = 0; i < cells.size();) {
      std::vector<const Cell*> group;
      for (const size_t r = cells[i].row; i < cells.size() && cells[i].row == r; ++i) group.push_back(&cells[i]);
      std::vector<std::string> row = group.front()->swept;
      if (seeds.size() > 1)
        row.push_back(group.size() == 1 ? "1 (draws no seed)" : fmt::format("{} (seeds {})", group.size(), a.seeds));
      row.push_back(summarise(group, [](const Cell& c) { return verdict_of(c); }, false));
      row.push_back(summarise(group, [](const Cell& c) {
        return c.result.is_object() ? std::to_string(c.result.value("schedules", uint64_t{0})) : std::string("-");
      }, true));
      for (const auto& m : a.metrics) row.push_back(summarise(group, [&](const Cell& c) { return metric_of(c, m); }, true));
      rows.push_back(std::move(row));
    }
    if (a.format == "table")
      std::cout << fmt::format("kpsim sweep {}{}: {} cells, {}\n", sc->name(),
                               fixed.empty() ? "" : fmt::format(" (--set {})", fmt::join(fixed, " --set ")), cells.size(),
                               searches.empty() ? search_of(a) : "the searches in the table");
    print_table(a.format, head, rows);
  }
  if (!a.svg.empty()) {
    const std::string svg = plot_svg(a, axes, cells);
    const std::string tmp = a.svg + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      out << svg;
      out.flush();
      if (!out) throw ParamError("cannot write " + a.svg);
    }
    std::filesystem::rename(tmp, a.svg);
    std::cerr << "plot written to " << a.svg << "\n";
  }
  if (!complete) {
    std::cerr << "interrupted: the cells not run say \"not run\"\n";
    return kExitInterrupted;
  }
  return kExitOk;
}

}  // namespace

Command add_sweep(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  auto* sub = app.add_subcommand("sweep", "Explore a scenario over a grid of parameter values: a table, a plot, a bisection");
  sub->add_option("scenario", a->scenario, "scenario: a name (kpsim list) or a script file (.kps)")->required();
  sub->add_option("--set", a->sets,
                  "KEY=VALUE (fixed), KEY=A,B,C or KEY=LO..HI[:STEP] (swept: every combination of the swept keys "
                  "is one cell)");
  sub->add_option("--bisect", a->bisect,
                  "KEY=LO..HI: find where the verdict flips along an integer parameter (binary search; the "
                  "other parameters fixed with --set, or swept with --set K=A,B: one bisection per combination, "
                  "a table of where each flips)");
  sub->add_option("--metric", a->metrics,
                  "a metric column: NAME (the first schedule's, explore --json's metrics: throughput_MiB_s, "
                  "stalled, ...) or NAME:min|median|max over the cell's schedules; or one of explore's own "
                  "figures: exhaustive, outcomes, violations, explored_fraction, preemptions_covered, first_at (the first "
                  "violation's schedule)");
  sub->add_option("--format", a->format, "table | markdown | csv | json (default table; markdown: a Markdown table, for docs)");
  auto* plot = sub->add_option("--plot", a->plot_y,
                               "Y:X: plot metric Y (NAME or NAME:max, as --metric) against swept parameter X into --svg FILE");
  sub->add_option("--svg", a->svg, "the plot's file (a standalone SVG)")->needs(plot);
  plot->needs(sub->get_option("--svg"));
  sub->add_option("--jobs", a->jobs, "cells run at once, each an explore process (default 2)")->check(kUnsigned);
  sub->add_option("--strategy", a->strategy, "each cell's explore strategy (default random)")
      ->check(CLI::IsMember({"random", "pct", "dfs", "dpor"}));
  sub->add_option("--seed", a->seed, "each cell's seed (default 1)")->check(kUnsigned);
  sub->add_option("--budget", a->budget, "each cell's schedule budget (explore's default)")->check(kUnsigned);
  sub->add_option("--max-steps", a->max_steps, "each cell's step limit")->check(kUnsigned);
  sub->add_flag("--first", a->first, "each cell stops at its first violation");
  sub->add_option("--variant", a->variants,
                  "\"K=V [K2=V2 ...]\" (repeatable): a row of its own, for variants that are not a grid "
                  "(a column \"variant\"; combined with the swept --set keys and the searches)");
  sub->add_option("--search", a->searches,
                  "\"STRATEGY [OPTIONS]\" (repeatable): one more column, each cell explored by each search, "
                  "e.g. --search random --search \"pct --depth 3\" --search \"dfs --preemption-bound 1\" "
                  "(options: --depth, --preemption-bound, --dfs-order, --state-cache)");
  sub->add_option("--seeds", a->seeds,
                  "LO..HI: run each cell once per seed and give each figure as mean / worst over them "
                  "(dfs and dpor draw nothing from a seed: one run); with --first and --metric first_at, "
                  "how soon each search finds a bug");
  sub->add_option("--choices", a->choices,
                  "every cell runs exactly this one schedule (explore --choices: e.g. 0 for the all-first-option "
                  "schedule, softirqs before the tasks they wake)");
  sub->footer(
      "Each cell is `kpsim explore SCENARIO --set ... --json --quiet --no-shrink`, in its own process;\n"
      "the table lists every cell's verdict (clean, violation:PROPERTY, inconclusive, ...), its schedules\n"
      "and the --metric columns. Examples:\n"
      "  kpsim sweep my-stall.kps --set notsent_lowat=16384 --set mss=1436,8948,16408,65483 \\\n"
      "      --set tls=1.2,1.3 --metric throughput_MiB_s --metric persist_expiries\n"
      "  kpsim sweep my-stall.kps --set notsent_lowat=16384 --bisect mss=1436..65483\n"
      "  kpsim sweep my-race.kps --search random --search \"pct --depth 3\" --search dfs \\\n"
      "      --seeds 1..50 --first --metric first_at\n"
      "Exit status: 0 every cell ran (bisect: a flip found), 2 bad input (every cell's values are checked\n"
      "before any runs), 3 bisect found no flip, 130 interrupted (the table shows the cells that ran).");
  return {sub, [a, sub] {
            a->strategy_given = sub->count("--strategy") > 0 || sub->count("--seed") > 0;
            a->seed_given = sub->count("--seed") > 0;
            for (const auto& m : a->metrics) {
              const size_t colon = m.find(':');
              if (colon != std::string::npos && m.substr(colon + 1) != "min" && m.substr(colon + 1) != "median" &&
                  m.substr(colon + 1) != "max")
                throw ParamError("--metric " + m + ": NAME, or NAME:min, NAME:median, NAME:max");
            }
            if (!a->plot_y.empty()) {
              const size_t colon = a->plot_y.rfind(':');
              if (colon == std::string::npos || colon == 0 || colon + 1 == a->plot_y.size())
                throw ParamError("--plot " + a->plot_y + ": expected METRIC:PARAMETER");
              a->plot_x = a->plot_y.substr(colon + 1);
              a->plot_y = a->plot_y.substr(0, colon);
            }
            return run_sweep(*a);
          }};
}

}  // namespace kpsim::cli
