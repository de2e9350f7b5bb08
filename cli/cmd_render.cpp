// kpsim render TRACE --format text|mermaid
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/trace_file.h"
#include "scenarios/scenario.h"
#include "traces/render.h"

namespace kpsim::cli {

Command add_render(CLI::App& app) {
  auto* sub = app.add_subcommand("render", "Draw a trace: a terminal lane chart or a Mermaid diagram");
  auto path = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("text");
  sub->add_option("trace", *path, "trace file (JSON Lines, see docs/trace-format.md)")->required();
  sub->add_option("--format", *format, "text (lane chart) or mermaid (sequenceDiagram)")
      ->check(CLI::IsMember({"text", "mermaid"}));
  return {sub, [path, format] {
            const Trace t = load_trace(*path);
            // A trace of a scenario this kpsim does not know, or with parameters it does not
            // declare, is refused as replay refuses it: it cannot be what it claims to be.
            resolve_params(scenario_of(t, *path), t.header.params);
            std::cout << (*format == "mermaid" ? render_mermaid(t) : render_text(t));
            return kExitOk;
          }};
}

}  // namespace kpsim::cli
