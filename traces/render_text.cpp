// The terminal lane chart. Example (abridged):
//
//   step  t_ms     | test                 | kworker/0:p1        |
//      3  0.000  * | send c0 8B           |                     |
//                  |   p1.ingress_skb: +8 bytes (skb queued for the backlog)
#include <algorithm>

#include <fmt/format.h>

#include "traces/lanes.h"
#include "traces/render.h"

namespace kpsim {

std::string params_line(const Trace& t) {
  std::string s;
  for (auto& [k, v] : t.header.params.items()) {
    if (!s.empty()) s += ' ';
    s += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return s;
}

static std::string fit(const std::string& s, size_t w) {
  if (s.size() <= w) return s + std::string(w - s.size(), ' ');
  return s.substr(0, w - 1) + "~";
}

std::string render_text(const Trace& t, const TextChartOptions& o) {
  auto wanted = [&](const std::string& lane) {
    if (o.lanes.empty()) return true;
    for (const auto& f : o.lanes)
      if (lane.find(f) != std::string::npos) return true;
    return false;
  };
  std::vector<std::string> lanes;
  for (auto& l : trace_lanes(t))
    if (wanted(l)) lanes.push_back(l);
  auto shown = [&](const TraceEvent& e) {
    return e.step >= o.first && e.step <= o.last && lane_index(lanes, e.task) < lanes.size();
  };
  size_t w = 12;
  for (auto& l : lanes) w = std::max(w, l.size());
  for (auto& e : t.events)
    if (shown(e)) w = std::max(w, std::min<size_t>(e.label.size(), 34));
  w += 2;
  // The row is 19 columns of step and time, then (w + 2) per lane: shrink the lanes to fit.
  if (o.width && !lanes.empty()) {
    const size_t avail = o.width > 19 ? o.width - 19 : 0;
    w = std::max<size_t>(6, std::min(w, avail / lanes.size() >= 2 ? avail / lanes.size() - 2 : 0));
  }

  std::string out = fmt::format("scenario {}  {}\n", t.header.scenario, params_line(t));
  out += fmt::format("strategy {}  seed {}  choices {}\n\n", t.header.strategy, t.header.seed,
                     t.header.choices.size());
  std::string head = fmt::format("{:>5}  {:>9}  |", "step", "t_ms");
  for (auto& l : lanes) head += " " + fit(l, w) + "|";
  out += head + "\n" + std::string(head.size(), '-') + "\n";

  const std::string gutter = fmt::format("{:>5}  {:>9}  ", "", "");
  uint64_t hidden = 0;
  for (auto& e : t.events) {
    if (!shown(e)) {
      hidden += e.step >= o.first && e.step <= o.last;
      continue;
    }
    const size_t li = lane_index(lanes, e.task);
    std::string row = fmt::format("{:>5}  {:>9.3f} {}|", e.step, static_cast<double>(e.t_ns) / 1e6,
                                  e.of ? '*' : ' ');
    for (size_t i = 0; i < lanes.size(); ++i) row += " " + fit(i == li ? e.label : "", w) + "|";
    out += row + "\n";
    const std::string indent = gutter + "|" + std::string(li * (w + 2), ' ') + "   ";
    for (auto& c : e.changes) out += indent + c.obj + ": " + c.change + "\n";
    for (auto& k : e.wakes) out += indent + "wakes " + k + "\n";
  }
  out += std::string(head.size(), '-') + "\n";
  if (hidden) out += fmt::format("({} steps of other lanes not shown)\n", hidden);
  out += fmt::format("outcome {}", t.footer.outcome);
  if (!t.footer.property.empty()) out += fmt::format("  property {}", t.footer.property);
  out += fmt::format("  after {} steps, {:.3f} ms virtual\n", t.footer.steps,
                     static_cast<double>(t.footer.t_ns) / 1e6);
  if (!t.footer.message.empty()) out += "  " + t.footer.message + "\n";
  out += "(* = a scheduling choice picked this step)\n";
  return out;
}

}  // namespace kpsim
