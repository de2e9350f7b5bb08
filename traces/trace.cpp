// JSON Lines reading and writing of traces (format: docs/trace-format.md).
#include "traces/trace.h"

#include <cstdint>
#include <initializer_list>
#include <istream>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace kpsim {

using ojson = nlohmann::ordered_json;

ojson choices_to_json(const ChoiceSeq& seq) {
  ojson j = ojson::array();
  for (size_t i = 0; i < seq.size(); ++i) {
    const Choice& c = seq[i];
    if (!c.typed())
      throw std::logic_error("choice " + std::to_string(i) + " has no kind: format " +
                             std::to_string(kTraceFormatVersion) + " records typed choices only");
    j.push_back({to_string(c.kind), c.value, c.options});
  }
  return j;
}

static ojson header_json(const TraceHeader& h) {
  if (h.format < kOldestTraceFormat || h.format > kTraceFormatVersion)
    throw std::logic_error("write_trace: no writer for trace format " + std::to_string(h.format));
  ojson j;
  j["type"] = "header";
  j["format"] = h.format;
  if (!h.kpsim_version.empty()) j["kpsim_version"] = h.kpsim_version;
  j["scenario"] = h.scenario;
  if (!h.script.empty()) j["script"] = h.script;
  j["params"] = h.params;
  j["strategy"] = h.strategy;
  j["seed"] = h.seed;
  j["hz"] = h.hz;
  if (h.has_limits()) j["limits"] = {{"max_steps", h.max_steps}, {"max_time_ns", h.max_time_ns}};
  j["choices"] = h.format == kOldestTraceFormat ? ojson(choice_values(h.choices))
                                                : choices_to_json(h.choices);
  return j;
}

static ojson event_json(const TraceEvent& e, int format) {
  ojson j;
  j["type"] = "step";
  j["step"] = e.step;
  j["t_ns"] = e.t_ns;
  j["task"] = e.task;
  j["kind"] = e.kind;
  j["label"] = e.label;
  if (e.of) j["pick"] = {e.pick, e.of};
  if (!e.changes.empty()) {
    ojson ch = ojson::array();
    for (auto& c : e.changes) ch.push_back({{"obj", c.obj}, {"change", c.change}});
    j["changes"] = std::move(ch);
  }
  if (!e.wakes.empty()) j["wakes"] = e.wakes;
  // Format 2 and older have no state: a trace read in them is written back without it.
  if (format >= 3 && e.state.is_object() && !e.state.empty()) j["state"] = e.state;
  return j;
}

static ojson footer_json(const TraceFooter& f) {
  ojson j;
  j["type"] = "footer";
  j["outcome"] = f.outcome;
  if (!f.property.empty()) j["property"] = f.property;
  if (!f.message.empty()) j["message"] = f.message;
  j["steps"] = f.steps;
  j["t_ns"] = f.t_ns;
  if (!f.metrics.empty()) j["metrics"] = f.metrics;
  if (!f.crosscheck.is_null()) j["crosscheck"] = f.crosscheck;
  return j;
}

void write_trace(std::ostream& out, const Trace& t) {
  out << header_json(t.header).dump() << '\n';
  for (auto& e : t.events) out << event_json(e, t.header.format).dump() << '\n';
  out << footer_json(t.footer).dump() << '\n';
}

std::string trace_to_string(const Trace& t) {
  std::ostringstream os;
  write_trace(os, t);
  return os.str();
}

namespace {

[[noreturn]] void bad(size_t line, const std::string& what) {
  throw TraceError("trace line " + std::to_string(line) + ": " + what);
}

template <class T>
struct is_unsigned_vector : std::false_type {};
template <class U>
struct is_unsigned_vector<std::vector<U>> : std::is_unsigned<U> {};

// The JSON library converts -1 to a huge unsigned value; a trace must not get that far.
template <class T>
bool wrong_sign(const ojson& v) {
  if constexpr (std::is_unsigned_v<T>) return v.is_number() && !v.is_number_unsigned();
  if constexpr (is_unsigned_vector<T>::value) {
    if (!v.is_array()) return false;
    for (auto& x : v)
      if (x.is_number() && !x.is_number_unsigned()) return true;
  }
  return false;
}

template <class T>
T field(const ojson& j, const char* key, size_t line) {
  auto it = j.find(key);
  if (it == j.end()) bad(line, std::string("missing field '") + key + "'");
  if (wrong_sign<T>(*it)) bad(line, std::string("field '") + key + "' must be a non-negative integer");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    bad(line, std::string("field '") + key + "' has the wrong type");
  }
}

// Format 2: every choice is [kind, answer, options] with a known kind, options >= 2 (the
// scheduler asks only then) and answer < options. Format 1: bare answers, kinds unknown.
ChoiceSeq parse_choices(const ojson& j, int format, size_t line) {
  if (format == kOldestTraceFormat)
    return untyped_choices(field<std::vector<uint32_t>>(j, "choices", line));
  auto it = j.find("choices");
  if (it == j.end()) bad(line, "missing field 'choices'");
  if (!it->is_array()) bad(line, "field 'choices' has the wrong type");
  ChoiceSeq out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const ojson& c = (*it)[i];
    const std::string where = "choice " + std::to_string(i);
    if (!c.is_array() || c.size() != 3 || !c[0].is_string() || !c[1].is_number_unsigned() ||
        !c[2].is_number_unsigned())
      bad(line, where + " must be [kind, answer, options] (a string and two non-negative integers)");
    const auto kind = choice_kind_from_string(c[0].get_ref<const std::string&>());
    if (!kind) bad(line, where + " has unknown kind '" + c[0].get<std::string>() + "'");
    const uint64_t value = c[1].get<uint64_t>(), options = c[2].get<uint64_t>();
    if (options < 2) bad(line, where + ": options must be at least 2 (a choice point has several)");
    if (options > UINT32_MAX) bad(line, where + ": options out of range");
    if (value >= options) bad(line, where + ": answer " + std::to_string(value) +
                                        " is not below its " + std::to_string(options) + " options");
    out.push_back(Choice{.value = static_cast<uint32_t>(value),
                         .options = static_cast<uint32_t>(options),
                         .kind = *kind});
  }
  return out;
}

// Every key a line may hold (docs/trace-format.md). Any other is refused: a reader that ignored
// it would accept a trace it does not understand (a misspelt "choice", a key of a newer format)
// and replay --check could not compare it.
void only_known_keys(const ojson& j, std::initializer_list<std::string_view> known, const char* what,
                     size_t line) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (auto k : known) ok = ok || it.key() == k;
    if (!ok) bad(line, std::string("unknown key '") + it.key() + "' in the " + what + " (see docs/trace-format.md)");
  }
}

TraceEvent parse_event(const ojson& j, size_t line, int format) {
  if (format >= 3)
    only_known_keys(j, {"type", "step", "t_ns", "task", "kind", "label", "pick", "changes", "wakes", "state"}, "step",
                    line);
  else  // a state in an older trace is a key that format does not have
    only_known_keys(j, {"type", "step", "t_ns", "task", "kind", "label", "pick", "changes", "wakes"}, "step", line);
  TraceEvent e;
  e.step = field<uint64_t>(j, "step", line);
  e.t_ns = field<uint64_t>(j, "t_ns", line);
  e.task = field<std::string>(j, "task", line);
  e.kind = field<std::string>(j, "kind", line);
  e.label = field<std::string>(j, "label", line);
  if (j.contains("pick")) {
    auto p = field<std::vector<uint32_t>>(j, "pick", line);
    if (p.size() != 2 || p[0] >= p[1]) bad(line, "field 'pick' must be [i, n] with i < n");
    e.pick = p[0];
    e.of = p[1];
  }
  if (j.contains("changes")) {
    if (!j.at("changes").is_array()) bad(line, "field 'changes' must be an array");
    for (auto& c : j.at("changes")) {
      if (!c.is_object()) bad(line, "each change must be an object");
      only_known_keys(c, {"obj", "change"}, "change", line);
      e.changes.push_back({field<std::string>(c, "obj", line), field<std::string>(c, "change", line)});
    }
  }
  if (j.contains("wakes")) e.wakes = field<std::vector<std::string>>(j, "wakes", line);
  if (j.contains("state")) {
    const ojson& st = j.at("state");
    if (!st.is_object() || st.empty()) bad(line, "field 'state' must be a non-empty object");
    for (auto it = st.begin(); it != st.end(); ++it)
      if (!it->is_number_integer() && !it->is_string() && !it->is_null())
        bad(line, "state '" + it.key() + "' must be an integer, a string or null");
    e.state = st;
  }
  return e;
}

}  // namespace

Trace read_trace(std::istream& in) {
  Trace t;
  std::string text;
  size_t line = 0;
  bool have_header = false, have_footer = false;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty()) continue;
    if (have_footer) bad(line, "content after the footer");
    ojson j;
    try {
      j = ojson::parse(text);
    } catch (const nlohmann::json::parse_error&) {
      bad(line, "not valid JSON");
    } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
      bad(line, std::string("unreadable JSON: ") + e.what());
    }
    if (!j.is_object()) bad(line, "not a JSON object");
    const auto type = field<std::string>(j, "type", line);
    if (!have_header) {
      if (type != "header") bad(line, "the first line must be the header");
      only_known_keys(j, {"type", "format", "kpsim_version", "scenario", "script", "params", "strategy", "seed",
                          "hz", "limits", "choices"}, "header", line);
      if (!j.contains("format") || !j.at("format").is_number_integer())
        bad(line, "'format' must be an integer");  // 1.7 is not version 1
      const int format = field<int>(j, "format", line);
      if (format < kOldestTraceFormat || format > kTraceFormatVersion)
        bad(line, "unsupported trace format version " + std::to_string(format) + " (this kpsim reads " +
                      std::to_string(kOldestTraceFormat) + " to " +
                      std::to_string(kTraceFormatVersion) + ")");
      t.header.format = format;
      if (j.contains("kpsim_version")) {
        t.header.kpsim_version = field<std::string>(j, "kpsim_version", line);
        if (t.header.kpsim_version.empty()) bad(line, "field 'kpsim_version' must not be empty");
      }
      t.header.scenario = field<std::string>(j, "scenario", line);
      if (j.contains("script")) t.header.script = field<std::string>(j, "script", line);
      if (!j.contains("params") || !j.at("params").is_object()) bad(line, "missing object 'params'");
      t.header.params = j.at("params");
      for (auto it = t.header.params.begin(); it != t.header.params.end(); ++it)
        if (!it->is_string()) bad(line, "parameter '" + it.key() + "' must be a string");
      t.header.strategy = field<std::string>(j, "strategy", line);
      if (t.header.strategy != "random" && t.header.strategy != "pct" && t.header.strategy != "dfs" &&
          t.header.strategy != "replay")
        bad(line, "unknown strategy '" + t.header.strategy + "' (random, pct, dfs or replay)");
      t.header.seed = field<uint64_t>(j, "seed", line);
      t.header.hz = field<uint64_t>(j, "hz", line);
      if (t.header.hz == 0) bad(line, "field 'hz' must be at least 1");
      if (j.contains("limits")) {
        const ojson& l = j.at("limits");
        if (!l.is_object()) bad(line, "field 'limits' must be an object");
        only_known_keys(l, {"max_steps", "max_time_ns"}, "limits", line);
        t.header.max_steps = field<uint64_t>(l, "max_steps", line);
        t.header.max_time_ns = field<uint64_t>(l, "max_time_ns", line);
        if (t.header.max_steps == 0 || t.header.max_time_ns == 0)
          bad(line, "limits must be at least 1 (steps and ns)");
      }
      t.header.choices = parse_choices(j, format, line);
      have_header = true;
    } else if (type == "step") {
      t.events.push_back(parse_event(j, line, t.header.format));
    } else if (type == "footer") {
      only_known_keys(j, {"type", "outcome", "property", "message", "steps", "t_ns", "metrics", "crosscheck"},
                      "footer", line);
      t.footer.outcome = field<std::string>(j, "outcome", line);
      {
        bool known = false;
        for (const char* o : {"done", "violation", "deadlock", "step_limit", "time_limit", "error", "model_invariant"})
          known = known || t.footer.outcome == o;
        if (!known) bad(line, "unknown outcome '" + t.footer.outcome + "'");
      }
      if (j.contains("property")) t.footer.property = field<std::string>(j, "property", line);
      if (j.contains("message")) t.footer.message = field<std::string>(j, "message", line);
      t.footer.steps = field<uint64_t>(j, "steps", line);
      t.footer.t_ns = field<uint64_t>(j, "t_ns", line);
      if (j.contains("metrics")) {
        if (!j.at("metrics").is_object()) bad(line, "field 'metrics' must be an object");
        t.footer.metrics = j.at("metrics");
      }
      if (j.contains("crosscheck")) {
        if (!j.at("crosscheck").is_object()) bad(line, "field 'crosscheck' must be an object");
        t.footer.crosscheck = j.at("crosscheck");
      }
      have_footer = true;
    } else {
      bad(line, "unknown line type '" + type + "'");
    }
  }
  if (!have_header) throw TraceError("trace is empty: no header line");
  if (!have_footer) throw TraceError("trace has no footer line (truncated?)");
  return t;
}

}  // namespace kpsim
