// kpsim render TRACE --format text|mermaid|perfetto|html|svg
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/trace_file.h"
#include "scenarios/scenario.h"
#include "traces/render.h"

namespace kpsim::cli {
namespace {

struct RenderArgs {
  std::string path;
  std::string format = "text";
  std::string out;
  size_t width = 0;
  std::vector<std::string> lanes;
  std::string steps;
  std::string time = "virtual";
  bool no_collapse = false;
};

// "A..B", "A..", "..B" or "N": 1-based step numbers.
void parse_steps(const std::string& text, TextChartOptions& o) {
  auto number = [&](const std::string& part, uint64_t& v) {
    if (part.empty() || part.size() > 15 || part.find_first_not_of("0123456789") != std::string::npos)
      throw ParamError("--steps " + text + ": expected A..B (step numbers, either may be left out) or N");
    v = std::stoull(part);
  };
  const auto dots = text.find("..");
  if (dots == std::string::npos) {
    number(text, o.first);
    o.last = o.first;
  } else {
    if (dots > 0) number(text.substr(0, dots), o.first);
    if (dots + 2 < text.size()) number(text.substr(dots + 2), o.last);
  }
  if (o.first > o.last) throw ParamError("--steps " + text + ": the first step is after the last");
}

int run_render(const RenderArgs& a, CLI::App* sub) {
  const Trace t = load_trace(a.path);
  // A trace of a scenario this kpsim does not know, or with parameters it does not declare, is
  // refused as replay refuses it: it cannot be what it claims to be.
  resolve_params(scenario_of(t, a.path), t.header.params);
  std::string body;
  if (a.format == "mermaid") {
    body = "```mermaid\n" + render_mermaid(t) + "```\n";
  } else if (a.format == "svg") {
    SvgOptions o;
    o.collapse = !a.no_collapse;
    body = render_svg(t, o);
  } else if (a.format == "html") {
    body = render_html(t);
  } else if (a.format == "perfetto") {
    body = render_perfetto(t, a.time == "steps" ? PerfettoTime::steps : PerfettoTime::virtual_ns);
  } else {
    TextChartOptions o;
    o.width = a.width;
    // On a terminal, as wide as the terminal says (COLUMNS), unless --width says otherwise.
    if (!sub->count("--width") && isatty(STDOUT_FILENO))
      if (const char* c = std::getenv("COLUMNS"); c && *c && std::string(c).find_first_not_of("0123456789") == std::string::npos &&
                                                 std::string(c).size() < 6)
        o.width = std::stoul(c);
    o.lanes = a.lanes;
    if (!a.steps.empty()) parse_steps(a.steps, o);
    body = render_text(t, o);
  }
  if (a.out.empty())
    std::cout << body;
  else
    write_file_bytes(a.out, body);
  return kExitOk;
}

}  // namespace

Command add_render(CLI::App& app) {
  auto a = std::make_shared<RenderArgs>();
  auto* sub = app.add_subcommand("render", "Draw a trace: a terminal lane chart, Mermaid, Perfetto JSON, an HTML page or an SVG diagram");
  sub->footer(
      "text: one column per task (lane), one row per step; '*' marks a step a scheduling choice\n"
      "picked. mermaid: a fenced sequenceDiagram for Markdown. perfetto: trace-event JSON that\n"
      "ui.perfetto.dev opens (one track per task, a slice per step, wake-ups as arrows, every\n"
      "'NAME A→B' of a change as a counter track). html: one offline page to step through the\n"
      "run with the state at every step. svg: a standalone sequence diagram (lanes, a row per step,\n"
      "choice marks, wake-ups, the changes and changed state as notes; stretches of 3+ similar\n"
      "steps drawn as one row unless --no-collapse); docs/trace-format.md explains each.");
  sub->add_option("trace", a->path, "trace file (JSON Lines, see docs/trace-format.md)")->required();
  sub->add_option("--format", a->format,
                  "text (lane chart), mermaid (sequenceDiagram), perfetto (trace-event JSON), html (a page to "
                  "step through) or svg (a sequence diagram)")
      ->check(CLI::IsMember({"text", "mermaid", "perfetto", "html", "svg"}));
  sub->add_flag("--no-collapse", a->no_collapse, "svg: draw every step, even in long repeated stretches");
  sub->add_option("-o,--out", a->out, "write here instead of stdout");
  sub->add_option("--width", a->width, "text: total width in columns (default: $COLUMNS on a terminal, else natural)")
      ->check(unsigned_in(20, 100000));
  sub->add_option("--lanes", a->lanes, "text: only lanes whose name contains one of these (repeatable)");
  sub->add_option("--steps", a->steps, "text: only steps A..B (either end may be left out) or one step N");
  sub->add_option("--time", a->time,
                  "perfetto: virtual (default: the model's clock; a step is drawn 1 ns wide) or steps "
                  "(step n at n us)")
      ->check(CLI::IsMember({"virtual", "steps"}));
  return {sub, [a, sub] { return run_render(*a, sub); }};
}

}  // namespace kpsim::cli
