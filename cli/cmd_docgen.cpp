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
// shot draws the HTML page (render --format html) in headless Chromium into file=img/NAME.png,
// opened at step=N with search=TEXT typed (width=, height= in pixels; 1100 × 700 by default);
// --check requires a PNG of that size but does not compare pixels (fonts differ by machine).
//
// A command's real output, so that walkthroughs and tables in the docs cannot go stale:
//   <!-- kpsim:run explore SCENARIO --set proto=udp --quiet | lines=3-20 mask=elapsed -->
// runs this kpsim binary with the arguments before `|` (no shell: words split on spaces), from
// the directory given by --root (default: the current one), and shows `$ build/kpsim ARGS` and
// its standard output in a fenced block. After `|`: lines=A-B,C,D- keeps those output lines
// (1-based; a gap is shown as "  ...", unless dots=no), mask=elapsed replaces a wall-clock duration ending a line
// (explore's summary) by "(wall clock)", mask=version a trace header's kpsim_version by
// "VERSION" (it names the commit), show=PATH shows that file (relative to the root) instead
// of standard output (e.g. a trace the command wrote), fence=json names the block's language
// (fence=none: the output itself, no fence and no `$` line, e.g. a Markdown table),
// prompt=no leaves the `$` line out, exit=N requires that exit code (default: 0 or 1, i.e. clean
// or a finding; anything else stops docgen with the command's stderr).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/child_files.h"
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
  std::string root;  // where run blocks run, "" for the current directory
  bool check = false;
  std::vector<std::string> stale;  // side files that differ (check) or were written
};

// The words of a run block's command line: split on spaces; a word in double quotes keeps its
// spaces ("pct --depth 3"), as a shell would read it. Nothing else of a shell: single quotes,
// escapes, variables and operators are refused rather than split in a way the reader of the doc,
// pasting the command into a shell, would not get.
std::vector<std::string> split_words(const std::string& s, const std::string& spec) {
  if (s.find_first_of("'`\\$;&<>") != std::string::npos)
    throw ParamError("docgen: a run block takes plain words and \"double-quoted\" words (no other shell syntax): '" +
                     spec + "'");
  std::vector<std::string> w;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    if (s[i] == '"') {
      const size_t end = s.find('"', i + 1);
      if (end == std::string::npos || (end + 1 < s.size() && s[end + 1] != ' '))
        throw ParamError("docgen: a quoted word must end with a quote and a space: '" + spec + "'");
      w.push_back(s.substr(i + 1, end - i - 1));
      i = end + 1;
      continue;
    }
    const size_t end = s.find(' ', i);
    std::string word = s.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (word.find('"') != std::string::npos)
      throw ParamError("docgen: a quote inside a word: '" + spec + "'");
    w.push_back(std::move(word));
    i = end == std::string::npos ? s.size() : end;
  }
  return w;
}

// lines=A-B,C,D-: which output lines to keep (1-based, inclusive; "D-" to the end).
std::vector<std::pair<size_t, size_t>> parse_line_ranges(const std::string& v, const std::string& spec) {
  std::vector<std::pair<size_t, size_t>> out;
  std::istringstream in(v);
  const auto num = [&](const std::string& x) -> size_t {
    if (x.empty() || x.size() > 6 || x.find_first_not_of("0123456789") != std::string::npos || std::stoul(x) == 0)
      throw ParamError("docgen: bad lines= range '" + v + "' in '" + spec + "'");
    return std::stoul(x);
  };
  for (std::string r; std::getline(in, r, ',');) {
    const auto dash = r.find('-');
    const size_t a = num(r.substr(0, dash));
    const size_t b = dash == std::string::npos ? a : dash + 1 == r.size() ? SIZE_MAX : num(r.substr(dash + 1));
    if (b < a || (!out.empty() && a <= out.back().second))
      throw ParamError("docgen: lines= ranges must be increasing: '" + v + "' in '" + spec + "'");
    out.emplace_back(a, b);
  }
  if (out.empty()) throw ParamError("docgen: empty lines= in '" + spec + "'");
  return out;
}

// Runs `kpsim ARGS` (this binary) in `root`, stdout and stderr to temporary files, at most
// `limit`; returns the exit code (or -1 when killed at the limit) and both outputs.
struct RunResult {
  int exit = -1;
  std::string out, err;
};

RunResult run_program(const std::string& exe, const std::vector<std::string>& argv_s, const std::string& root,
                      std::chrono::seconds limit) {
  const TempDir dir("docgen");
  const std::string out = dir.path + "/out", err = dir.path + "/err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!root.empty()) posix_spawn_file_actions_addchdir_np(&fa, root.c_str());
  std::vector<char*> argv;
  for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("docgen: cannot start " + exe + ": " + std::strerror(rc));
  RunResult r;
  // Polling is fine here: docgen is a documentation tool, not a simulated run.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.exit = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.out = read_file_bytes(out);
  r.err = read_file_bytes(err);
  return r;
}

RunResult run_self(const std::vector<std::string>& args, const std::string& root, std::chrono::seconds limit) {
  std::vector<std::string> argv = {"kpsim"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(self_exe(), argv, root, limit);
}

// A run block: the command's output, shaped by the options after `|`.
std::string generate_run(const std::string& spec, const DocContext& doc) {
  const auto bar = spec.find('|');
  const std::vector<std::string> args = split_words(spec.substr(0, bar), spec);
  if (args.empty()) throw ParamError("docgen: a run block needs a kpsim command: '" + spec + "'");
  if (args[0] == "docgen") throw ParamError("docgen: a run block cannot run docgen: '" + spec + "'");
  std::optional<std::vector<std::pair<size_t, size_t>>> keep;
  bool mask = false, mask_version = false, prompt = true, dots = true;
  std::string show, fence;
  std::optional<int> want_exit;
  if (bar != std::string::npos) {
    for (const auto& kv : split_words(spec.substr(bar + 1), spec)) {
      const auto eq = kv.find('=');
      const std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (k == "lines") keep = parse_line_ranges(v, spec);
      else if (k == "mask" && v == "elapsed") mask = true;
      else if (k == "mask" && v == "version") mask_version = true;
      else if (k == "prompt" && v == "no") prompt = false;
      else if (k == "dots" && v == "no") dots = false;
      else if (k == "show" && !v.empty() && v.front() != '/' && v.find("..") == std::string::npos) show = v;
      else if (k == "fence" && (v == "json" || v == "text" || v == "none")) fence = v;
      else if (k == "exit" && !v.empty() && v.size() < 4 && v.find_first_not_of("0123456789") == std::string::npos) want_exit = std::stoi(v);
      else throw ParamError("docgen: unknown run option '" + kv + "' in '" + spec + "' (lines=, dots=no, mask=elapsed, mask=version, show=PATH, fence=json|text|none, prompt=no, exit=N)");
    }
  }
  const RunResult r = run_self(args, doc.root, std::chrono::seconds(600));
  const bool ok = want_exit ? r.exit == *want_exit : (r.exit == 0 || r.exit == 1);
  if (!ok) {
    std::string tail = r.err.size() > 2000 ? r.err.substr(r.err.size() - 2000) : r.err;
    throw ParamError(fmt::format("docgen: `kpsim{}` {} (wanted {}){}{}", fmt::format(" {}", fmt::join(args, " ")),
                                 r.exit < 0 ? std::string("ran past 600 s") : fmt::format("exited {}", r.exit),
                                 want_exit ? std::to_string(*want_exit) : std::string("0 or 1"), tail.empty() ? "" : ":\n", tail));
  }
  std::string text = r.out;
  if (!show.empty()) {
    const std::string path = doc.root.empty() ? show : doc.root + "/" + show;
    text = read_file_bytes(path);
  }
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  if (mask) {
    static const std::regex elapsed(R"(  [0-9]+(\.[0-9]+)? (ms|s)$)");
    for (auto& l : lines) l = std::regex_replace(l, elapsed, "  (wall clock)");
  }
  if (mask_version) {  // a trace header's kpsim version names the commit: it would change every commit
    static const std::regex version(R"("kpsim_version":"[^"]*")");
    for (auto& l : lines) l = std::regex_replace(l, version, R"("kpsim_version":"VERSION")");
  }
  std::string body;
  if (keep) {
    size_t last = 0;  // the last line kept
    for (const auto& [a, b] : *keep) {
      if (a > lines.size()) throw ParamError(fmt::format("docgen: lines={} past the output's {} lines in '{}'", a, lines.size(), spec));
      if (a > last + 1 && dots) body += "  ...\n";
      for (size_t i = a; i <= std::min(b, lines.size()); ++i) body += lines[i - 1] + "\n";
      last = std::min(b, lines.size());
    }
    if (last < lines.size() && dots) body += "  ...\n";
  } else {
    for (const auto& l : lines) body += l + "\n";
  }
  if (fence == "none") return body;  // e.g. a Markdown table (sweep --format markdown), shown as itself
  std::string shown;  // the command as a reader would type it: words with spaces quoted again
  for (const auto& w : args) shown += (shown.empty() ? "" : " ") + (w.find(' ') == std::string::npos ? w : "\"" + w + "\"");
  std::string head = prompt ? fmt::format("$ build/kpsim {}\n", shown) : "";
  return "```" + fence + "\n" + head + body + "```\n";
}

// A screenshot of the HTML page (kpsim render --format html) in headless Chromium, opened at a
// step with a search typed (the page's #step=N&search=TEXT link). Pixels depend on the fonts and
// the Chromium build, so --check does not compare them: it requires a PNG of the asked size
// (a missing or resized picture is stale); regenerating needs Chromium (scripts/setup-browser).
struct Shot {
  std::string step, search;
  uint32_t width = 1100, height = 700;
};

uint32_t parse_pixels(const std::string& v, const std::string& spec) {
  if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos || std::stoul(v) < 100)
    throw ParamError("docgen: width= and height= are pixels, 100 to 9999, in '" + spec + "'");
  return static_cast<uint32_t>(std::stoul(v));
}

// The width and height of a PNG file (its IHDR chunk), or nullopt if it is not one.
std::optional<std::pair<uint32_t, uint32_t>> png_size(const std::string& bytes) {
  static const std::string sig = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 24 || bytes.compare(0, 8, sig) != 0 || bytes.compare(12, 4, "IHDR") != 0) return std::nullopt;
  const auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(bytes[at + i]);
    return v;
  };
  return std::make_pair(be32(16), be32(20));
}

std::string find_chromium() {
  if (const char* env = std::getenv("KPSIM_CHROMIUM"); env && *env) {
    if (::access(env, X_OK) != 0)
      throw ParamError(std::string("docgen: KPSIM_CHROMIUM=") + env + " is not an executable (a shot block needs Chromium)");
    return env;
  }
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string d; std::getline(dirs, d, ':');)
      if (!d.empty() && ::access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  }
  return "";
}

void take_shot(const Trace& trace, const Shot& shot, const std::string& path, const std::string& spec, DocContext& doc) {
  std::string old;
  try {
    old = read_file_bytes(path);
  } catch (const TraceError&) {
    old.clear();
  }
  const auto size = png_size(old);
  const bool fresh = size && size->first == shot.width && size->second == shot.height;
  if (doc.check) {
    if (!fresh) doc.stale.push_back(path);
    return;
  }
  const std::string chromium = find_chromium();
  if (chromium.empty())
    throw ParamError("docgen: a shot block needs Chromium (scripts/setup-browser installs it; or set KPSIM_CHROMIUM): '" +
                     spec + "'");
  const TempDir dir("docgen-shot");
  const std::string page = std::filesystem::absolute(dir.path + "/page.html").string();
  write_file_bytes(page, render_html(trace));
  std::string url = "file://" + page + "#step=" + shot.step;
  if (!shot.search.empty()) url += "&search=" + shot.search;
  const std::string png = std::filesystem::absolute(dir.path + "/shot.png").string();
  // --no-sandbox: docgen runs as root in CI; the page is our own and asks the network for nothing.
  const RunResult r = run_program(chromium,
                                  {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                   "--user-data-dir=" + dir.path + "/profile",
                                   fmt::format("--window-size={},{}", shot.width, shot.height),
                                   "--virtual-time-budget=2000", "--screenshot=" + png, url},
                                  "", std::chrono::seconds(120));
  std::string bytes;
  try {
    bytes = read_file_bytes(png);
  } catch (const TraceError&) {
    bytes.clear();
  }
  if (r.exit != 0 || !png_size(bytes)) {
    std::string tail = r.err.size() > 1500 ? r.err.substr(r.err.size() - 1500) : r.err;
    throw ParamError(fmt::format("docgen: {} made no screenshot (exit {}) for '{}':\n{}", chromium, r.exit, spec, tail));
  }
  if (bytes != old) {
    if (const auto parent = std::filesystem::path(path).parent_path(); !parent.empty())
      std::filesystem::create_directories(parent);
    write_file_bytes(path, bytes);
    doc.stale.push_back(path);
  }
}

// Runs one block spec ("mermaid SCENARIO k=v ...") and returns the drawing.
std::string generate(const std::string& spec, DocContext& doc) {
  std::istringstream in(spec);
  std::string format, scenario;
  in >> format >> scenario;
  if (format == "run") return generate_run(spec.substr(spec.find("run") + 3), doc);
  if (format != "mermaid" && format != "text" && format != "svg" && format != "shot")
    throw ParamError("docgen: unknown format '" + format + "' in '" + spec + "'");
  const Scenario* sc = find_scenario(scenario);
  if (!sc) throw ParamError("docgen: unknown scenario '" + scenario + "'");
  std::vector<std::string> sets;
  std::string find, choices, file;
  uint64_t seed = 1, budget = 1000;
  Shot shot;
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    const std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "find") find = v;
    else if (k == "choices") choices = v;
    else if (k == "seed") seed = std::stoull(v);
    else if (k == "budget") budget = std::stoull(v);
    else if (k == "file") file = v;
    else if (format == "shot" && k == "step") shot.step = v;
    else if (format == "shot" && k == "search") shot.search = v;
    else if (format == "shot" && k == "width") shot.width = parse_pixels(v, spec);
    else if (format == "shot" && k == "height") shot.height = parse_pixels(v, spec);
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
  if (format == "shot") {
    if (file.empty() || file.find("..") != std::string::npos || file.front() == '/' || !file.ends_with(".png"))
      throw ParamError("docgen: shot needs file=DIR/NAME.png (relative to the doc, no ..) in '" + spec + "'");
    const std::string path = doc.dir.empty() ? file : doc.dir + "/" + file;
    take_shot(*trace, shot, path, spec, doc);
    return fmt::format("![kpsim render --format html, in headless Chromium: {} {}{}]({})\n", scenario, p.to_line(),
                       shot.step.empty() ? "" : ", step " + shot.step, file);
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
  auto* sub = app.add_subcommand("docgen", "Regenerate the kpsim-drawn traces and command outputs in Markdown docs");
  sub->footer(
      "Blocks: an HTML comment 'kpsim:mermaid|text|svg SCENARIO k=v... [find=violation] [choices=..] [file=img/X.svg]'\n"
      "(a run drawn), 'kpsim:shot SCENARIO k=v... step=N search=TEXT file=img/X.png' (the HTML page of the run\n"
      "in headless Chromium; --check requires a PNG of the asked size, pixels are not compared),\n"
      "or 'kpsim:run ARGS... | OPTIONS' (build/kpsim ARGS run from --root, its output shown;\n"
      "OPTIONS: lines=A-B,C dots=no mask=elapsed mask=version show=PATH fence=json|text|none prompt=no exit=N),\n"
      "closed by '/kpsim'. --check exits 1 when a block is stale, 2 when a block is malformed or its command fails.\n"
      "README.md, 'What in the docs is generated', explains each option.");
  auto files = std::make_shared<std::vector<std::string>>();
  auto check = std::make_shared<bool>(false);
  auto root = std::make_shared<std::string>();
  sub->add_option("files", *files, "Markdown files with <!-- kpsim:... --> blocks")->required();
  sub->add_flag("--check", *check, "do not write; exit 1 if any block is stale");
  sub->add_option("--root", *root, "where `kpsim:run` blocks run their command (default: the current directory)");
  return {sub, [files, check, root] {
            int stale = 0;
            for (auto& f : *files) {
              const std::string text = read_file_bytes(f);
              DocContext doc;
              doc.check = *check;
              doc.root = *root;
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
