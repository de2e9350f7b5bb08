// The Perfetto renderer: the Chrome trace-event JSON that ui.perfetto.dev (and chrome://tracing)
// open. docs/trace-format.md, "Perfetto", says what each part means.
//
// One process (the run), one thread track per execution context (a trace lane: syscall task,
// softirq, kworker, timer, cryptd, io-wq worker) in order of first appearance, one complete
// slice per step. Wake-ups are flow arrows from the waking step to the woken task's next step.
// Every "NAME A→B" in a change, and every "NAME N" that ends a clause (followed by ',', ')',
// the end, or " B" and then one of those), becomes a counter track "OBJ NAME" (msg_tot_len,
// rcv_nxt, packets_out, cwnd, notsent, ...): the model writes the quantities it changes that
// way, so the counters follow the model without this file knowing any of them. A NAME is a
// word of letters, digits and '_' with a lower-case letter first ("TCP 5," is prose).
//
// The steps' state (trace format 3) gives exact counters too: every integer state value whose
// last field is one of kStateCounters (bytes queued per queue, notsent, packets in flight, cwnd,
// send and receive windows, socket memory, kTLS records and pending encryptions, io_uring
// completions) is a counter track named by its state name ("p1.psock.msg_tot_len",
// "srv.snd_cwnd"), in a second process "state" so that they sit apart from the tracks read from
// the change strings. The first step's snapshot gives each track its start value; a value that
// goes away (null) drops to 0.
//
// Time: the model's steps take no virtual time, so many steps share one instant. In virtual
// time each step is drawn 1 ns wide, starting at its virtual time or 1 ns after the previous
// step, whichever is later (order is kept; a crowded instant spills over by 1 ns per step).
// In step time, step n is drawn at n µs.
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "traces/lanes.h"
#include "traces/render.h"

namespace kpsim {
namespace {

using Json = nlohmann::ordered_json;

// "msg_tot_len 0→2" (from and to) or "packets_out 3," (to only).
struct Counter {
  std::string name;
  std::optional<int64_t> from;
  int64_t to = 0;
};

constexpr std::string_view kStateCounters[] = {
    "bytes",       "msg_tot_len", "sk_msg_first_len", "notsent",        "packets_out", "snd_cwnd",
    "snd_wnd",     "rcv_wnd",     "sk_wmem_queued",   "sk_rmem_alloc",  "skbs",        "records",
    "ready",       "encrypt_pending", "cq",           "bufs",           "msgs"};

bool state_counter(std::string_view name) {
  const auto dot = name.rfind('.');
  const std::string_view field = dot == std::string_view::npos ? name : name.substr(dot + 1);
  for (const auto f : kStateCounters)
    if (field == f) return true;
  return false;
}

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool parse_int(const std::string& s, size_t& i, int64_t& v) {
  const size_t start = i;
  bool neg = false;
  if (i < s.size() && s[i] == '-') {
    neg = true;
    ++i;
  }
  const size_t digits = i;
  uint64_t x = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - digits < 18) x = x * 10 + static_cast<uint64_t>(s[i++] - '0');
  if (i == digits || (i < s.size() && s[i] >= '0' && s[i] <= '9')) {
    i = start;
    return false;
  }
  v = neg ? -static_cast<int64_t>(x) : static_cast<int64_t>(x);
  return true;
}

std::vector<Counter> counters_in(const std::string& change) {
  static const std::string arrow = "\xe2\x86\x92";  // U+2192, as the model writes it
  std::vector<Counter> out;
  for (size_t at = change.find(arrow); at != std::string::npos; at = change.find(arrow, at + arrow.size())) {
    // Backwards from the arrow: the number A, one space, the name.
    size_t a = at;
    while (a > 0 && change[a - 1] >= '0' && change[a - 1] <= '9') --a;
    if (a > 0 && change[a - 1] == '-') --a;
    if (a == at || a < 2 || change[a - 1] != ' ') continue;
    size_t n = a - 1;
    while (n > 0 && name_char(change[n - 1])) --n;
    if (n == a - 1 || !std::islower(static_cast<unsigned char>(change[n]))) continue;
    Counter c;
    c.name = change.substr(n, a - 1 - n);
    size_t i = a;
    int64_t from = 0;
    if (!parse_int(change, i, from) || i != at) continue;
    c.from = from;
    i = at + arrow.size();
    if (!parse_int(change, i, c.to)) continue;
    out.push_back(std::move(c));
  }
  // "NAME N" ending a clause.
  for (size_t i = 0; i < change.size(); ++i) {
    if (!std::islower(static_cast<unsigned char>(change[i])) || (i > 0 && (name_char(change[i - 1]) || change[i - 1] == '#')))
      continue;
    size_t j = i;
    while (j < change.size() && name_char(change[j])) ++j;
    if (j + 1 >= change.size() || change[j] != ' ') continue;
    size_t k = j + 1;
    int64_t v = 0;
    if (!parse_int(change, k, v)) continue;
    if (change.compare(k, 2, " B") == 0) k += 2;
    if (k != change.size() && change[k] != ',' && change[k] != ')' && change[k] != ';') continue;
    out.push_back({change.substr(i, j - i), std::nullopt, v});
    i = j;
  }
  return out;
}

}  // namespace

std::string render_perfetto(const Trace& t, PerfettoTime time) {
  const auto lanes = trace_lanes(t);
  Json events = Json::array();
  constexpr int pid = 1;
  events.push_back({{"ph", "M"}, {"pid", pid}, {"name", "process_name"},
                    {"args", {{"name", fmt::format("kpsim {} {}", t.header.scenario, params_line(t))}}}});
  for (size_t i = 0; i < lanes.size(); ++i) {
    events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", i + 1}, {"name", "thread_name"}, {"args", {{"name", lanes[i]}}}});
    events.push_back({{"ph", "M"}, {"pid", pid}, {"tid", i + 1}, {"name", "thread_sort_index"}, {"args", {{"sort_index", i}}}});
  }

  // Timestamps in µs (the format's unit), as doubles: 1 ns is 0.001.
  std::vector<double> ts(t.events.size());
  uint64_t prev_ns = 0;
  for (size_t i = 0; i < t.events.size(); ++i) {
    if (time == PerfettoTime::steps) {
      ts[i] = static_cast<double>(t.events[i].step);
    } else {
      const uint64_t ns = i == 0 ? t.events[i].t_ns : std::max(t.events[i].t_ns, prev_ns + 1);
      prev_ns = ns;
      ts[i] = static_cast<double>(ns) / 1000.0;
    }
  }
  const double width = time == PerfettoTime::steps ? 1.0 : 0.001;

  // The woken task's next step after each wake-up, for the flow arrows.
  std::map<std::string, std::vector<size_t>> steps_of;
  for (size_t i = 0; i < t.events.size(); ++i) steps_of[t.events[i].task].push_back(i);
  auto next_step_of = [&](const std::string& task, size_t after) -> std::optional<size_t> {
    const auto it = steps_of.find(task);
    if (it == steps_of.end()) return std::nullopt;
    const auto at = std::upper_bound(it->second.begin(), it->second.end(), after);
    if (at == it->second.end()) return std::nullopt;
    return *at;
  };

  std::map<std::string, bool> counter_seen;
  // State counters (format 3) in their own process, named once the trace has any.
  constexpr int state_pid = 2;
  bool state_named = false;
  uint64_t flow_id = 0;
  for (size_t i = 0; i < t.events.size(); ++i) {
    const TraceEvent& e = t.events[i];
    if (e.state.is_object())
      for (auto& [k, v] : e.state.items()) {
        if (!state_counter(k) || !(v.is_number_integer() || v.is_null())) continue;
        if (!state_named) {
          state_named = true;
          events.push_back({{"ph", "M"}, {"pid", state_pid}, {"name", "process_name"},
                            {"args", {{"name", "state (trace format 3): queues, in flight, windows"}}}});
        }
        events.push_back({{"ph", "C"}, {"pid", state_pid}, {"ts", ts[i]}, {"name", k},
                          {"args", {{"value", v.is_null() ? int64_t{0} : v.get<int64_t>()}}}});
      }
    const size_t tid = lane_index(lanes, e.task) + 1;
    Json args = {{"step", e.step}, {"t_ns", e.t_ns}};
    if (e.of) args["choice"] = fmt::format("picked option {} of {}", e.pick, e.of);
    Json changes = Json::array();
    for (const auto& c : e.changes) changes.push_back(c.obj + ": " + c.change);
    if (!changes.empty()) args["changes"] = changes;
    if (!e.wakes.empty()) args["wakes"] = e.wakes;
    events.push_back({{"ph", "X"}, {"pid", pid}, {"tid", tid}, {"ts", ts[i]}, {"dur", width},
                      {"name", e.label}, {"cat", e.kind}, {"args", args}});
    // A choice point as an instant on the track: where the schedule could have gone otherwise.
    if (e.of)
      events.push_back({{"ph", "i"}, {"pid", pid}, {"tid", tid}, {"ts", ts[i]}, {"s", "t"},
                        {"name", fmt::format("choice {}/{}", e.pick, e.of)}, {"cat", "choice"}});
    for (const auto& w : e.wakes) {
      const auto j = next_step_of(w, i);
      if (!j) continue;
      ++flow_id;
      events.push_back({{"ph", "s"}, {"pid", pid}, {"tid", tid}, {"ts", ts[i]}, {"id", flow_id},
                        {"name", "wake"}, {"cat", "wake"}});
      events.push_back({{"ph", "f"}, {"bp", "e"}, {"pid", pid}, {"tid", lane_index(lanes, w) + 1},
                        {"ts", ts[*j]}, {"id", flow_id}, {"name", "wake"}, {"cat", "wake"}});
    }
    for (const auto& c : e.changes)
      for (const Counter& k : counters_in(c.change)) {
        const std::string name = c.obj + " " + k.name;
        // The value before the first change, at the start, so the track does not begin mid-air.
        if (!counter_seen[name]) {
          counter_seen[name] = true;
          if (k.from)
            events.push_back({{"ph", "C"}, {"pid", pid}, {"ts", 0.0}, {"name", name}, {"args", {{"value", *k.from}}}});
        }
        events.push_back({{"ph", "C"}, {"pid", pid}, {"ts", ts[i]}, {"name", name}, {"args", {{"value", k.to}}}});
      }
  }
  Json doc;
  doc["traceEvents"] = std::move(events);
  doc["displayTimeUnit"] = "ns";
  doc["otherData"] = {{"scenario", t.header.scenario},
                      {"params", params_line(t)},
                      {"strategy", t.header.strategy},
                      {"outcome", t.footer.outcome},
                      {"property", t.footer.property},
                      {"message", t.footer.message},
                      {"time", time == PerfettoTime::steps ? "steps (1 us per step)" : "virtual"}};
  return doc.dump() + "\n";
}

}  // namespace kpsim
