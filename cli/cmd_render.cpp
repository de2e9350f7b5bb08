// kpsim render TRACE --format text|mermaid
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/trace_file.h"
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
            std::cout << (*format == "mermaid" ? render_mermaid(t) : render_text(t));
            return kExitOk;
          }};
}

}  // namespace kpsim::cli
