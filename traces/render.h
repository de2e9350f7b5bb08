// Renderers: pictures of a trace, drawn from the data alone.
#pragma once

#include <string>

#include "traces/trace.h"

namespace kpsim {

// A lane chart for the terminal: one column per task, one row per step, state changes under it.
std::string render_text(const Trace& t);
// A Mermaid sequenceDiagram for docs: one participant per task, one note per step, wake-ups as
// arrows between tasks.
std::string render_mermaid(const Trace& t);

// "proto=udp test=selftest": the parameters as one line.
std::string params_line(const Trace& t);

}  // namespace kpsim
