// Renderers: pictures of a trace, drawn from the data alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "traces/trace.h"

namespace kpsim {

struct TextChartOptions {
  // Total width in columns (0: as wide as the labels need). Lane columns shrink to fit, labels
  // are cut with '~'; at least 6 columns per lane.
  size_t width = 0;
  // Only these lanes (a lane is kept if its name contains one of them); empty: all. Steps of
  // other lanes are left out and counted in the footer.
  std::vector<std::string> lanes;
  // Only steps first..last (1-based, inclusive).
  uint64_t first = 1, last = UINT64_MAX;
};

// A lane chart for the terminal: one column per task, one row per step, state changes under it.
std::string render_text(const Trace& t, const TextChartOptions& o = {});
// A Mermaid sequenceDiagram for docs: one participant per task, one note per step (a step picked
// by a scheduling choice is marked "[choice a/n]"), wake-ups as arrows between tasks. Without the
// ``` fences (docgen and `kpsim render` add them).
std::string render_mermaid(const Trace& t);

// Perfetto / Chrome trace-event JSON (traces/render_perfetto.cpp): one track per task, a slice
// per step, wake-ups as flows, every "NAME A→B" of a change as a counter track.
enum class PerfettoTime : uint8_t { virtual_ns, steps };
std::string render_perfetto(const Trace& t, PerfettoTime time = PerfettoTime::virtual_ns);

// One self-contained HTML page (traces/render_html.cpp): the lanes, stepping forward and back
// (buttons and arrow keys), the state panel with this step's changes highlighted, "when did X
// change" search, choice marks. Inline CSS, JS and data: it opens offline from disk.
std::string render_html(const Trace& t);

// A standalone SVG sequence diagram (traces/render_svg.cpp): lanes, a row per step, choice
// marks, wake-up arrows, the changes and changed state values as notes; offline (no external
// references).
struct SvgOptions {
  // Draw a cycle of up to 8 steps that comes back at least twice more, step for step alike (the
  // same lane, label, changes up to their numbers, wake-ups; no choice among the repetitions),
  // as the first cycle and one "×N" row for the repetitions.
  bool collapse = true;
};
std::string render_svg(const Trace& t, const SvgOptions& o = {});

// "proto=udp test=selftest": the parameters as one line.
std::string params_line(const Trace& t);

}  // namespace kpsim
