// The SVG renderer: a standalone sequence diagram of a trace, for docs and browsers, offline.
// docs/trace-format.md, "Pictures of a trace", says what each part means.
//
// Layout, top to bottom: a title (scenario, parameters), one header box per lane (task) in order
// of first appearance with a dashed lifeline under it, then one row per step: the step number
// and virtual time in a left gutter, a box on the step's lane with its label, a choice mark
// (a filled diamond and "a/n") in the gutter when a scheduling choice picked the step, wake-ups
// as arrows from the box to the woken lanes, and the step's notes -- its changes, then the state
// values it changed (format 3) -- in a notes column right of the lanes. A footer row says how
// the run ended.
//
// Long runs repeat themselves (a sendfile loop, a probe timer firing, the ACK, the writer woken
// and asleep again): where a cycle of P steps (P <= kMaxPeriod, 32) comes back at least twice more,
// step for step alike (shape() below: lane, label, wake-ups, choice, kinds of change), the
// first cycle is drawn and the repetitions become one row "×N repetitions of the P steps above,
// steps a..b" with the last step's notes, so the values the stretch ends at are shown. A choice
// is part of a step's likeness (its answer and option count): a repeated stretch with choices
// in it (the seed-001 stall: each cycle's ACK is a choice) collapses only where they were the
// same choices, and its row carries one mark counting them (data-count), so that every choice
// of the run is on the picture, drawn or counted.
//
// Self-contained: no external reference (no fonts, images, scripts or stylesheets), one
// monospace font family so that the widths computed here are the widths drawn. Every element
// is plain SVG 1.1; labels cut to fit keep their full text in a <title> (a browser tooltip).
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "traces/lanes.h"
#include "traces/render.h"

namespace kpsim {
namespace {

constexpr double kCharW = 6.6;      // monospace 11px advance, roughly
constexpr int kLaneW = 190;         // a lane's column
constexpr int kGutter = 96;         // step number, time, choice mark
constexpr int kLineH = 14;          // one line of notes
constexpr int kBoxH = 20;           // a step's box
constexpr size_t kLabelMax = 26;    // characters of a label in a box
constexpr size_t kNoteMax = 110;    // characters of a note line
constexpr size_t kStateMax = 6;     // state values listed per step (the rest counted)
constexpr size_t kMaxPeriod = 32;   // the longest cycle looked for (seed 001: 21 steps, four probes and a splice)

std::string xml(const std::string& s) {
  std::string r;
  r.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '"': r += "&quot;"; break;
      case '\'': r += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') r += ' ';
        else r += c;
    }
  }
  return r;
}

// Characters as a reader sees them (UTF-8 continuation bytes do not count), for widths.
size_t columns(const std::string& s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The first `max` characters (not bytes) of s, with "…" when cut.
std::string cut(const std::string& s, size_t max) {
  if (columns(s) <= max) return s;
  size_t n = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && ++n > max - 1) break;
  }
  return s.substr(0, i) + "\xe2\x80\xa6";
}

// A text element; cut to `max` characters with the full text as its tooltip.
std::string text(double x, double y, const std::string& s, size_t max, const std::string& cls,
                 const char* anchor = "start") {
  const std::string shown = cut(s, max);
  std::string out = fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="{}" text-anchor="{}">)", x, y, cls, anchor);
  if (shown != s) out += "<title>" + xml(s) + "</title>";
  return out + xml(shown) + "</text>\n";
}

std::string state_value(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "gone";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// A step's notes: its changes, then the state values it changed (not the first step's full
// snapshot, which is summarized in one line).
std::vector<std::pair<std::string, std::string>> notes_of(const TraceEvent& e, bool first) {
  std::vector<std::pair<std::string, std::string>> out;  // (class, text)
  for (const auto& c : e.changes) out.emplace_back("note", c.obj + ": " + c.change);
  if (e.state.is_object() && !e.state.empty()) {
    if (first) {
      out.emplace_back("state", fmt::format("state: {} values (the initial snapshot)", e.state.size()));
    } else {
      std::string line;
      size_t listed = 0;
      for (auto& [k, v] : e.state.items()) {
        if (listed == kStateMax) break;
        std::string item = k + "=" + state_value(v);
        if (!line.empty() && columns(line) + columns(item) + 2 > kNoteMax) {
          out.emplace_back("state", line);
          line.clear();
        }
        line += (line.empty() ? "state: " : ", ") + item;
        ++listed;
      }
      if (e.state.size() > listed) line += fmt::format(" (+{} more)", e.state.size() - listed);
      out.emplace_back("state", line);
    }
  }
  return out;
}

// What makes two steps "alike" for collapsing: the lane, the label, the wake-ups, the choice,
// and what kinds of change it made -- each change's object and first word ("tcp: tcp_ack",
// "tls: tls_push_record"), as a set: the numbers differ from cycle to cycle, and so does how
// often one cycle repeats a change (a second "tcp_write_xmit: hold"), but a new kind of change
// (a splice refilling the pipe) ends the stretch.
std::string shape(const TraceEvent& e) {
  std::string s = e.task + "\x1f" + e.label;
  std::set<std::string> kinds;
  for (const auto& c : e.changes) kinds.insert(c.obj + ":" + c.change.substr(0, c.change.find_first_of(" :(")));
  for (const auto& k : kinds) s += "\x1f" + k;
  for (const auto& w : e.wakes) s += "\x1fw" + w;
  if (e.of) s += fmt::format("\x1fp{}/{}", e.pick, e.of);
  return s;
}

struct Row {
  size_t first = 0, last = 0;  // indices into t.events; last > first: a collapsed stretch
  size_t period = 1;           // a collapsed stretch: the cycle's length in steps
};

}  // namespace

std::string render_svg(const Trace& t, const SvgOptions& o) {
  const auto lanes = trace_lanes(t);
  // Rows: every step, or stretches of similar steps.
  std::vector<Row> rows;
  std::vector<std::string> shapes;
  if (o.collapse)
    for (const auto& e : t.events) shapes.push_back(shape(e));
  for (size_t i = 0; i < t.events.size();) {
    // The cycle starting here that repeats longest (the shortest such cycle on a tie).
    size_t best_p = 0, best_reps = 0;
    for (size_t p = 1; o.collapse && p <= kMaxPeriod && i + p < t.events.size(); ++p) {
      size_t j = i + p;
      while (j < t.events.size() && shapes[j] == shapes[j - p]) ++j;
      const size_t reps = (j - i - p) / p;  // whole repetitions after the first cycle
      if (reps >= 2 && reps * p > best_reps * best_p) {
        best_p = p;
        best_reps = reps;
      }
    }
    if (best_p == 0) {
      rows.push_back({i, i, 1});
      ++i;
      continue;
    }
    for (size_t k = i; k < i + best_p; ++k) rows.push_back({k, k, 1});
    rows.push_back({i + best_p, i + best_p + best_reps * best_p - 1, best_p});
    i += best_p + best_reps * best_p;
  }

  const double lanes_x = kGutter;
  const double notes_x = lanes_x + static_cast<double>(lanes.size() * kLaneW) + 16;
  size_t note_cols = 40;
  std::vector<std::vector<std::pair<std::string, std::string>>> notes(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const TraceEvent& e = t.events[rows[r].last];
    notes[r] = notes_of(e, rows[r].last == 0);
    if (rows[r].last > rows[r].first) {
      const size_t n = rows[r].last - rows[r].first + 1, p = rows[r].period;
      notes[r].insert(notes[r].begin(),
                      {"collapsed", p == 1 ? fmt::format("\xc3\x97{} more steps like the one above, steps {}..{}; the "
                                                         "last one's notes:",
                                                         n, t.events[rows[r].first].step, e.step)
                                           : fmt::format("\xc3\x97{} repetitions of the {} steps above, steps {}..{}; "
                                                         "the last step's notes:",
                                                         n / p, p, t.events[rows[r].first].step, e.step)});
    }
    for (auto& [cls, line] : notes[r]) note_cols = std::max(note_cols, std::min(columns(line), kNoteMax));
  }
  const std::string title = fmt::format("kpsim {}  {}", t.header.scenario, params_line(t));
  std::string end = "outcome " + t.footer.outcome;
  if (!t.footer.property.empty()) end += "  property " + t.footer.property;
  end += fmt::format("  after {} steps, {:.3f} ms virtual", t.footer.steps, static_cast<double>(t.footer.t_ns) / 1e6);
  const double width = std::max(notes_x + static_cast<double>(note_cols) * kCharW + 16,
                                16 + static_cast<double>(std::min<size_t>(std::max(columns(title), columns(end)), 200)) * kCharW);

  std::string body;
  double y = 28;
  body += text(12, y, title, 200, "title");
  y += 18;
  body += text(12, y,
               fmt::format("strategy {}  seed {}  {} choices  ({} steps in {} rows; \xe2\x97\x86 = a scheduling choice "
                           "picked the step)",
                           t.header.strategy, t.header.seed, t.header.choices.size(), t.events.size(), rows.size()),
               200, "sub");
  y += 16;
  const double head_y = y;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const double x = lanes_x + static_cast<double>(i * kLaneW);
    body += fmt::format(R"(<g class="lane"><rect x="{:.1f}" y="{:.1f}" width="{}" height="22" rx="3" class="lanehead"/>)",
                        x + 6, y, kLaneW - 12);
    body += text(x + kLaneW / 2.0, y + 15, lanes[i], 27, "lanename", "middle") + "</g>\n";
  }
  y += 36;

  std::string rows_svg;
  for (size_t r = 0; r < rows.size(); ++r) {
    const TraceEvent& e = t.events[rows[r].last];
    const bool collapsed = rows[r].last > rows[r].first;
    const size_t li = lane_index(lanes, e.task);
    const double x = lanes_x + static_cast<double>(li * kLaneW);
    const double h = std::max<double>(kBoxH + 8, static_cast<double>(notes[r].size()) * kLineH + 8);
    rows_svg += fmt::format(R"(<g class="{}" data-step="{}">)", collapsed ? "step collapsed" : "step", e.step);
    rows_svg += "\n";
    if (r % 2 == 1)
      rows_svg += fmt::format(R"(<rect x="0" y="{:.1f}" width="{:.1f}" height="{:.1f}" class="band"/>)", y, width, h) + "\n";
    const std::string num = collapsed ? fmt::format("{}..{}", t.events[rows[r].first].step, e.step) : std::to_string(e.step);
    rows_svg += text(8, y + 15, num, 12, "num");
    rows_svg += text(8, y + 27, fmt::format("{:.3f} ms", static_cast<double>(e.t_ns) / 1e6), 12, "time");
    size_t chosen = 0;
    for (size_t k = rows[r].first; collapsed && k <= rows[r].last; ++k) chosen += t.events[k].of != 0;
    if (chosen) {
      const double cx = kGutter - 22, cy = y + 11;
      rows_svg += fmt::format(R"(<g class="choice" data-count="{}"><title>{} steps of this stretch were picked by )"
                              R"(scheduling choices, the same as in the cycle above</title>)"
                              R"(<path d="M{:.1f} {:.1f} l6 6 l-6 6 l-6 -6 z" class="mark"/>)",
                              chosen, chosen, cx, cy - 6);
      rows_svg += text(cx + 9, cy + 4, fmt::format("\xc3\x97{}", chosen), 6, "pick") + "</g>\n";
    } else if (e.of && !collapsed) {
      const double cx = kGutter - 22, cy = y + 11;
      rows_svg += fmt::format(R"(<g class="choice"><title>a scheduling choice picked this step: option {} of {}</title>)"
                              R"(<path d="M{:.1f} {:.1f} l6 6 l-6 6 l-6 -6 z" class="mark"/>)",
                              e.pick, e.of, cx, cy - 6);
      rows_svg += text(cx + 9, cy + 4, fmt::format("{}/{}", e.pick, e.of), 6, "pick") + "</g>\n";
    }
    if (collapsed && rows[r].period > 1) {
      // A cycle over several lanes: one dashed band across the lanes it touches.
      size_t lo = lanes.size(), hi = 0;
      for (size_t k = rows[r].first; k <= rows[r].last; ++k) {
        lo = std::min(lo, lane_index(lanes, t.events[k].task));
        hi = std::max(hi, lane_index(lanes, t.events[k].task));
      }
      const double bx = lanes_x + static_cast<double>(lo * kLaneW) + 8;
      const double bw = static_cast<double>((hi - lo + 1) * kLaneW) - 16;
      rows_svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{}" rx="3" class="box cycle"/>)", bx,
                              y + 2, bw, kBoxH) + "\n";
      rows_svg += text(bx + 6, y + 16,
                       fmt::format("\xc3\x97{} \xe2\x80\x94 the {} steps above, again", (rows[r].last - rows[r].first + 1) / rows[r].period,
                                   rows[r].period),
                       static_cast<size_t>(bw / kCharW) - 1, "label");
    } else {
      rows_svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{}" height="{}" rx="3" class="box {}"/>)", x + 8,
                              y + 2, kLaneW - 16, kBoxH, e.kind.empty() ? "other" : e.kind) + "\n";
      rows_svg += text(x + 14, y + 16, collapsed ? "\xc3\x97" + std::to_string(rows[r].last - rows[r].first + 1) + " " + e.label : e.label,
                       kLabelMax, "label");
    }
    for (const auto& w : collapsed ? std::vector<std::string>{} : e.wakes) {
      const size_t wi = lane_index(lanes, w);
      if (wi >= lanes.size() || wi == li) continue;
      const double x0 = wi > li ? x + kLaneW - 8 : x + 8;
      const double x1 = lanes_x + static_cast<double>(wi * kLaneW) + kLaneW / 2.0;
      rows_svg += fmt::format(R"X(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" class="wake" marker-end="url(#arrow)"><title>wakes {}</title></line>)X",
                              x0, y + 12, x1, y + 12, xml(w)) + "\n";
    }
    if (!notes[r].empty())
      rows_svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" class="tie"/>)", x + kLaneW - 8,
                              y + 12, notes_x - 4, y + 12) + "\n";
    double ny = y + 15;
    for (const auto& [cls, line] : notes[r]) {
      rows_svg += text(notes_x, ny, line, kNoteMax, cls);
      ny += kLineH;
    }
    rows_svg += "</g>\n";
    y += h;
  }
  std::string lifelines;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const double x = lanes_x + static_cast<double>(i * kLaneW) + kLaneW / 2.0;
    lifelines += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" class="life"/>)", x, head_y + 22, x, y) + "\n";
  }
  y += 20;
  std::string foot = text(12, y, end, 200, t.footer.outcome == "done" ? "end" : "end bad");
  if (!t.footer.message.empty()) {
    y += 16;
    foot += text(12, y, t.footer.message, 200, "sub");
  }
  y += 16;

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{:.0f}" height="{:.0f}" viewBox="0 0 {:.0f} {:.0f}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="11">)",
                     width, y, width, y);
  out += "\n<title>" + xml(title + " — " + end) + "</title>\n";
  out += R"(<style>
.title{font-size:14px;font-weight:bold;fill:#222}.sub{fill:#555}.lanehead{fill:#e8eef7;stroke:#6b8ab8}
.lanename{font-weight:bold;fill:#223}.life{stroke:#b8c4d6;stroke-dasharray:4 4}.band{fill:#f6f7f9}
.num{font-weight:bold;fill:#333}.time{fill:#888;font-size:10px}.box{stroke:#555;fill:#fff}
.box.syscall{fill:#dbeafe}.box.softirq{fill:#fde68a}.box.kworker{fill:#d1fae5}.box.timer{fill:#fbcfe8}
.box.cycle{fill:#fff7ed;stroke:#b45309;stroke-dasharray:5 3}.box.crypto{fill:#e9d5ff}.box.task_work{fill:#fed7aa}.box.iowq{fill:#ccfbf1}.label{fill:#111}
.mark{fill:#d97706;stroke:#92400e}.pick{fill:#92400e;font-size:10px}.wake{stroke:#2563eb;stroke-width:1.2}
.tie{stroke:#ccc;stroke-dasharray:2 3}.note{fill:#222}.state{fill:#6b7280}.collapsed{fill:#b45309;font-style:italic}
.end{font-weight:bold;fill:#166534}.end.bad{fill:#b91c1c}
</style>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="#2563eb"/></marker></defs>
)";
  out += fmt::format(R"(<rect x="0" y="0" width="{:.0f}" height="{:.0f}" fill="#ffffff"/>)", width, y) + "\n";
  out += body;
  out += lifelines + rows_svg + foot + "</svg>\n";
  return out;
}

}  // namespace kpsim
