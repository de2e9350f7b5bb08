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

std::string render_text(const Trace& t) {
  const auto lanes = trace_lanes(t);
  size_t w = 12;
  for (auto& l : lanes) w = std::max(w, l.size());
  for (auto& e : t.events) w = std::max(w, std::min<size_t>(e.label.size(), 34));
  w += 2;

  std::string out = fmt::format("scenario {}  {}\n", t.header.scenario, params_line(t));
  out += fmt::format("strategy {}  seed {}  choices {}\n\n", t.header.strategy, t.header.seed,
                     t.header.choices.size());
  std::string head = fmt::format("{:>5}  {:>9}  |", "step", "t_ms");
  for (auto& l : lanes) head += " " + fit(l, w) + "|";
  out += head + "\n" + std::string(head.size(), '-') + "\n";

  const std::string gutter = fmt::format("{:>5}  {:>9}  ", "", "");
  for (auto& e : t.events) {
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
  out += fmt::format("outcome {}", t.footer.outcome);
  if (!t.footer.property.empty()) out += fmt::format("  property {}", t.footer.property);
  out += fmt::format("  after {} steps, {:.3f} ms virtual\n", t.footer.steps,
                     static_cast<double>(t.footer.t_ns) / 1e6);
  if (!t.footer.message.empty()) out += "  " + t.footer.message + "\n";
  out += "(* = a scheduling choice picked this step)\n";
  return out;
}

}  // namespace kpsim
