// The Mermaid sequenceDiagram renderer, for docs.
#include <fmt/format.h>

#include "traces/lanes.h"
#include "traces/render.h"

namespace kpsim {

// Mermaid treats ';' and '#' specially inside messages and notes.
static std::string esc(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == ';') r += ',';
    else if (c == '#') r += "#35;";
    else r += c;
  }
  return r;
}

std::string render_mermaid(const Trace& t) {
  const auto lanes = trace_lanes(t);
  std::string out = "sequenceDiagram\n";
  for (size_t i = 0; i < lanes.size(); ++i)
    out += fmt::format("    participant T{} as {}\n", i, esc(lanes[i]));
  for (auto& e : t.events) {
    const size_t li = lane_index(lanes, e.task);
    std::string note = fmt::format("{}. {}{}", e.step, e.of ? fmt::format("[choice {}/{}] ", e.pick, e.of) : "",
                                   esc(e.label));
    if (e.t_ns) note += fmt::format(" @{:.3f}ms", static_cast<double>(e.t_ns) / 1e6);
    for (auto& c : e.changes) note += "<br/>" + esc(c.obj + ": " + c.change);
    out += fmt::format("    Note over T{}: {}\n", li, note);
    for (auto& w : e.wakes) {
      const size_t wi = lane_index(lanes, w);
      if (wi < lanes.size() && wi != li) out += fmt::format("    T{}-->>T{}: wake\n", li, wi);
    }
  }
  std::string end = t.footer.outcome;
  if (!t.footer.property.empty()) end += ": " + t.footer.property;
  if (!t.footer.message.empty()) end += " (" + t.footer.message + ")";
  out += fmt::format("    Note over T0: outcome {}\n", esc(end));
  return out;
}

}  // namespace kpsim
