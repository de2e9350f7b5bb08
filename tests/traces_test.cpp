// Unit tests of the trace format (JSON Lines reading and writing) and the two renderers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scenarios/runner.h"
#include "scenarios/scenario.h"
#include "sched/strategy_random.h"
#include "traces/render.h"
#include "traces/trace.h"
#include "traces/version.h"

using namespace kpsim;
using Catch::Contains;

namespace {

// A trace using every field, including optional ones, non-ASCII text and JSON-special characters.
Trace sample_trace() {
  Trace t;
  t.header.scenario = "sockmap-demo";
  t.header.params = nlohmann::ordered_json::object();
  t.header.params["proto"] = "udp";
  t.header.params["n"] = "3";  // parameter values are strings (a number is refused)
  t.header.strategy = "random";
  t.header.seed = 18446744073709551615ull;  // full uint64 range survives
  t.header.max_steps = 5000;  // non-default limits are written, and read back
  t.header.max_time_ns = 7000000000ull;
  t.header.choices = {{.value = 0, .options = 2, .kind = ChoiceKind::schedule},
                      {.value = 2, .options = 3, .kind = ChoiceKind::timer_order},
                      {.value = 1, .options = 3, .kind = ChoiceKind::timer_offset},
                      {.value = 1, .options = 2, .kind = ChoiceKind::model}};
  t.header.hz = 1000;
  TraceEvent e1;
  e1.step = 1;
  e1.task = "p1:send";
  e1.kind = "syscall";
  e1.label = "udp_bpf_sendmsg";
  e1.pick = 1;
  e1.of = 2;
  e1.changes = {{"p1.ingress_msg", "+8 bytes, msg_tot_len 2→10"}, {"q\"x", "tab\there"}};
  e1.wakes = {"kworker/0:p1"};
  e1.state = nlohmann::ordered_json::object();  // format 3: the first step's full snapshot
  e1.state["p1.psock.msg_tot_len"] = 10;
  e1.state["task.p1:send.state"] = "runnable";
  TraceEvent e2;
  e2.step = 2;
  e2.t_ns = 4000000;
  e2.task = "kworker/0:p1";
  e2.kind = "kworker";
  e2.label = "sk_psock_backlog";
  e2.state = nlohmann::ordered_json::object();
  e2.state["task.p1:send.state"] = nullptr;  // gone
  TraceEvent e3;
  e3.step = 3;
  e3.t_ns = 4000000;
  e3.task = "timer";
  e3.kind = "timer";
  e3.label = "delayed_work_timer_fn";
  t.events = {e1, e2, e3};
  t.footer.outcome = "violation";
  t.footer.property = "no-lost-update";
  t.footer.message = "counter is 1, expected 2";
  t.footer.steps = 3;
  t.footer.t_ns = 4000000;
  t.footer.metrics["counter"] = 1;
  t.footer.crosscheck = nlohmann::ordered_json::object();
  t.footer.crosscheck["kernel"] = "6.8";
  return t;
}

Trace parse(const std::string& text) {
  std::istringstream in(text);
  return read_trace(in);
}

// The message read_trace throws for `text`, or "" if it did not throw TraceError.
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const TraceError& e) {
    return e.what();
  }
  return "";
}

const std::string kHeader =
    R"({"type":"header","format":2,"scenario":"s","params":{},"strategy":"dfs","seed":0,"hz":250,"choices":[]})";

// A header with `choices` set to the given JSON, in format 2 or 1.
std::string header_with(const std::string& choices, int format = 2) {
  return R"({"type":"header","format":)" + std::to_string(format) +
         R"(,"scenario":"s","params":{},"strategy":"random","seed":1,"hz":250,"choices":)" +
         choices + "}";
}
const std::string kStep =
    R"({"type":"step","step":1,"t_ns":0,"task":"A","kind":"syscall","label":"x"})";
const std::string kFooter = R"({"type":"footer","outcome":"done","steps":1,"t_ns":0})";

}  // namespace

TEST_CASE("write_trace / read_trace round trip is byte-identical", "[trace]") {
  const std::string first = trace_to_string(sample_trace());
  const Trace back = parse(first);
  CHECK(trace_to_string(back) == first);
  // And the fields really came back (not just a stable re-serialisation of nothing).
  CHECK(back.header.seed == 18446744073709551615ull);
  CHECK(back.header.max_steps == 5000);
  CHECK(back.header.max_time_ns == 7000000000ull);
  CHECK(back.header.format == kTraceFormatVersion);
  CHECK(back.header.choices == sample_trace().header.choices);  // kinds and option counts too
  REQUIRE(back.events.size() == 3);
  CHECK(back.events[0].pick == 1);
  CHECK(back.events[0].of == 2);
  CHECK(back.events[0].changes.at(0).change == "+8 bytes, msg_tot_len 2→10");
  CHECK(back.events[0].wakes == std::vector<std::string>{"kworker/0:p1"});
  CHECK(back.events[1].of == 0);
  CHECK(back.events[0].state["p1.psock.msg_tot_len"] == 10);
  CHECK(back.events[1].state["task.p1:send.state"].is_null());
  CHECK(back.events[2].state.is_null());  // nothing changed: no key
  CHECK(back.footer.property == "no-lost-update");
  CHECK(back.footer.crosscheck["kernel"] == "6.8");
}

TEST_CASE("write_trace: one header line, one line per step, one footer line", "[trace]") {
  const std::string text = trace_to_string(sample_trace());
  CHECK(std::count(text.begin(), text.end(), '\n') == 5);
  CHECK(text.rfind(R"({"type":"header","format":3,)", 0) == 0);
  CHECK_THAT(text, Contains(R"("state":{"p1.psock.msg_tot_len":10,"task.p1:send.state":"runnable"})"));
  // Each choice is [kind, answer, options].
  CHECK_THAT(text, Contains(R"("choices":[["schedule",0,2],["timer_order",2,3],["timer_offset",1,3],["model",1,2]])"));
}

TEST_CASE("a format-1 trace reads as value-only choices and writes back as format 1", "[trace]") {
  const std::string v1 = header_with("[1,0,3]", 1) + "\n" + kStep + "\n" + kFooter + "\n";
  const Trace t = parse(v1);
  CHECK(t.header.format == 1);
  REQUIRE(t.header.choices.size() == 3);
  CHECK(choice_values(t.header.choices) == std::vector<uint32_t>{1, 0, 3});
  for (const Choice& c : t.header.choices) CHECK_FALSE(c.typed());  // kinds unknown
  CHECK(trace_to_string(t) == v1);  // an old trace round-trips in its own format
  SECTION("format 1 still means bare answers") {
    CHECK_THAT(error_of(header_with(R"([["schedule",0,2]])", 1) + "\n" + kFooter + "\n"),
               Contains("line 1") && Contains("'choices'") && Contains("wrong type"));
  }
}

TEST_CASE("write_trace refuses untyped choices in format 2", "[trace]") {
  Trace t = sample_trace();
  t.header.choices = untyped_choices({1, 0});
  CHECK_THROWS_AS(trace_to_string(t), std::logic_error);
  t.header.format = 1;  // which format 1 can hold
  CHECK_THAT(trace_to_string(t), Contains(R"("format":1,)") && Contains(R"("choices":[1,0])"));
}

TEST_CASE("a trace recorded from a real run round-trips byte for byte", "[trace]") {
  const Scenario* sc = find_scenario("lost-update");
  REQUIRE(sc != nullptr);
  const Params p = resolve_params(*sc, std::vector<std::string>{"tasks=3", "incs=2"});
  RandomStrategy rnd(5);
  rnd.begin_run();
  RunOptions o;
  o.trace = true;
  const RunResult r = run_once(*sc, p, rnd, o);
  REQUIRE(r.trace);
  const std::string text = trace_to_string(*r.trace);
  CHECK(trace_to_string(parse(text)) == text);
  CHECK(r.trace->header.choices == r.choices);  // the header holds the run's typed record
  CHECK(parse(text).header.choices == r.choices);
}

TEST_CASE("read_trace accepts blank lines", "[trace]") {
  const Trace t = parse(kHeader + "\n\n" + kStep + "\n\n" + kFooter + "\n\n");
  CHECK(t.events.size() == 1);
}

TEST_CASE("read_trace rejects malformed input with a TraceError naming the line", "[trace]") {
  using Catch::Contains;
  SECTION("empty file") { CHECK_THAT(error_of(""), Contains("empty")); }
  SECTION("only blank lines") { CHECK_THAT(error_of("\n\n"), Contains("empty")); }
  SECTION("bad JSON") {
    CHECK_THAT(error_of(kHeader + "\n{not json\n" + kFooter + "\n"),
               Contains("line 2") && Contains("not valid JSON"));
  }
  SECTION("a JSON value that is not an object") {
    CHECK_THAT(error_of(kHeader + "\n[1,2]\n" + kFooter + "\n"),
               Contains("line 2") && Contains("not a JSON object"));
  }
  SECTION("missing header") {
    CHECK_THAT(error_of(kStep + "\n" + kFooter + "\n"),
               Contains("line 1") && Contains("must be the header"));
  }
  SECTION("missing footer") {
    CHECK_THAT(error_of(kHeader + "\n" + kStep + "\n"), Contains("no footer"));
  }
  SECTION("wrong format version") {
    for (const char* v : {"4", "0"}) {
      std::string h = kHeader;
      h.replace(h.find("\"format\":2"), 10, std::string("\"format\":") + v);
      CHECK_THAT(error_of(h + "\n" + kFooter + "\n"),
                 Contains("line 1") && Contains(std::string("unsupported trace format version ") + v));
    }
  }
  SECTION("malformed choices name the line, the choice and the problem") {
    const std::pair<const char*, const char*> cases[] = {
        {R"([3])", "choice 0 must be [kind, answer, options]"},
        {R"([["schedule",0,2],["schedule",1]])", "choice 1 must be [kind, answer, options]"},
        {R"([["schedule","0",2]])", "choice 0 must be [kind, answer, options]"},
        {R"([["schedule",-1,2]])", "non-negative"},
        {R"([["schedule",0.5,2]])", "choice 0 must be [kind, answer, options]"},
        {R"([[1,0,2]])", "choice 0 must be [kind, answer, options]"},
        {R"([["schedule",0,2],["preempt",0,2]])", "choice 1 has unknown kind 'preempt'"},
        {R"([["model",2,2]])", "choice 0: answer 2 is not below its 2 options"},
        {R"([["model",0,1]])", "choice 0: options must be at least 2"},
        {R"([["model",0,4294967296]])", "choice 0: options out of range"},
        {R"({"schedule":0})", "field 'choices' has the wrong type"},
    };
    for (const auto& [choices, want] : cases) {
      CAPTURE(choices);
      CHECK_THAT(error_of(header_with(choices) + "\n" + kFooter + "\n"),
                 Contains("trace line 1: ") && Contains(want));
    }
    // Control: the same header with well-formed choices reads.
    CHECK(error_of(header_with(R"([["schedule",1,2],["model",0,3]])") + "\n" + kFooter + "\n").empty());
  }
  SECTION("missing choices") {
    std::string h = kHeader;
    h.replace(h.find(",\"choices\":[]"), 13, "");
    CHECK_THAT(error_of(h + "\n" + kFooter + "\n"),
               Contains("line 1") && Contains("missing field 'choices'"));
  }
  SECTION("bad field type in a step") {
    const std::string bad =
        R"({"type":"step","step":"one","t_ns":0,"task":"A","kind":"syscall","label":"x"})";
    CHECK_THAT(error_of(kHeader + "\n" + kStep + "\n" + bad + "\n" + kFooter + "\n"),
               Contains("line 3") && Contains("'step'") && Contains("wrong type"));
  }
  SECTION("bad field type in the header") {
    std::string h = kHeader;
    h.replace(h.find("\"choices\":[]"), 12, "\"choices\":\"0,1\"");
    CHECK_THAT(error_of(h + "\n" + kFooter + "\n"),
               Contains("line 1") && Contains("'choices'") && Contains("wrong type"));
  }
  SECTION("missing field") {
    const std::string bad = R"({"type":"step","step":2,"t_ns":0,"kind":"syscall","label":"x"})";
    CHECK_THAT(error_of(kHeader + "\n" + bad + "\n" + kFooter + "\n"),
               Contains("line 2") && Contains("missing field 'task'"));
  }
  SECTION("bad pick") {
    const std::string bad =
        R"({"type":"step","step":1,"t_ns":0,"task":"A","kind":"syscall","label":"x","pick":[2,2]})";
    CHECK_THAT(error_of(kHeader + "\n" + bad + "\n" + kFooter + "\n"),
               Contains("line 2") && Contains("'pick'"));
  }
  SECTION("unknown line type") {
    CHECK_THAT(error_of(kHeader + "\n{\"type\":\"bogus\"}\n" + kFooter + "\n"),
               Contains("line 2") && Contains("unknown line type 'bogus'"));
  }
  SECTION("content after the footer") {
    CHECK_THAT(error_of(kHeader + "\n" + kStep + "\n" + kFooter + "\n" + kStep + "\n"),
               Contains("line 4") && Contains("after the footer"));
  }
  SECTION("a well-formed trace does not throw (control)") {
    CHECK(error_of(kHeader + "\n" + kStep + "\n" + kFooter + "\n").empty());
  }
}

TEST_CASE("read_trace refuses keys the format does not define, and values out of their range", "[trace]") {
  const auto with = [](std::string line, const std::string& after, const std::string& insert) {
    line.insert(line.find(after) + after.size(), insert);
    return line;
  };
  const std::string change = R"({"type":"step","step":1,"t_ns":0,"task":"A","kind":"syscall","label":"x","changes":[{"obj":"o","change":"c"}]})";
  CHECK(error_of(kHeader + "\n" + change + "\n" + kFooter + "\n").empty());  // the control
  CHECK_THAT(error_of(with(kHeader, "{", R"("seeds":1,)") + "\n" + kFooter + "\n"),
             Contains("line 1") && Contains("unknown key 'seeds' in the header"));
  CHECK_THAT(error_of(kHeader + "\n" + with(kStep, "{", R"("wake":[],)") + "\n" + kFooter + "\n"),
             Contains("line 2") && Contains("unknown key 'wake' in the step"));
  CHECK_THAT(error_of(kHeader + "\n" + with(change, R"({"obj":"o",)", R"("x":1,)") + "\n" + kFooter + "\n"),
             Contains("line 2") && Contains("unknown key 'x' in the change"));
  CHECK_THAT(error_of(kHeader + "\n" + with(kFooter, "{", R"("verdict":"ok",)") + "\n"),
             Contains("line 2") && Contains("unknown key 'verdict' in the footer"));
  const std::string limits = R"("limits":{"max_steps":10,"max_time_ns":1000},)";
  CHECK(error_of(with(kHeader, "{", limits) + "\n" + kFooter + "\n").empty());
  CHECK_THAT(error_of(with(kHeader, "{", R"("limits":{"max_steps":10,"max_time_ns":1000,"max_x":1},)") + "\n" + kFooter + "\n"),
             Contains("unknown key 'max_x' in the limits"));
  CHECK_THAT(error_of(with(kHeader, "{", R"("limits":{"max_steps":0,"max_time_ns":1000},)") + "\n" + kFooter + "\n"),
             Contains("limits must be at least 1"));
  CHECK_THAT(error_of(with(kHeader, "{", R"("limits":{"max_steps":10},)") + "\n" + kFooter + "\n"),
             Contains("missing field 'max_time_ns'"));
  std::string p = kHeader;
  p.replace(p.find(R"("params":{})"), 11, R"("params":{"n":3})");
  CHECK_THAT(error_of(p + "\n" + kFooter + "\n"), Contains("parameter 'n' must be a string"));
  std::string hz = kHeader;
  hz.replace(hz.find(R"("hz":250)"), 8, R"("hz":0)");
  CHECK_THAT(error_of(hz + "\n" + kFooter + "\n"), Contains("'hz' must be at least 1"));
  std::string outcome = kFooter;
  outcome.replace(outcome.find(R"("done")"), 6, R"("fine")");
  CHECK_THAT(error_of(kHeader + "\n" + outcome + "\n"), Contains("unknown outcome 'fine'"));
  CHECK_THAT(error_of(kHeader + "\n" + with(kFooter, R"("t_ns":0)", R"(,"metrics":[1])") + "\n"),
             Contains("'metrics' must be an object"));
}

// ---- renderers ----------------------------------------------------------------------------

namespace {
size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}
std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST_CASE("render_text draws one column per task and lists the changes", "[render]") {
  const Trace t = sample_trace();
  const std::string out = render_text(t);
  const auto lines = lines_of(out);
  // The column header: "step t_ms |" then one "| name" column per task, each once.
  auto head = std::find_if(lines.begin(), lines.end(),
                           [](const std::string& l) { return l.find("step") != std::string::npos && l.find("t_ms") != std::string::npos; });
  REQUIRE(head != lines.end());
  CHECK(count_of(*head, "|") == 4);  // 3 tasks: p1:send, kworker/0:p1, timer
  for (const char* task : {"p1:send", "kworker/0:p1", "timer"}) CHECK(count_of(*head, task) == 1);
  CHECK(head->find("p1:send") < head->find("kworker/0:p1"));  // lanes in order of appearance

  // Each step row puts its label in its own task's column: same offset as the lane title.
  auto row_of = [&](const std::string& label) {
    return *std::find_if(lines.begin(), lines.end(),
                         [&](const std::string& l) { return l.find(label) != std::string::npos; });
  };
  CHECK(row_of("udp_bpf_sendmsg").find("udp_bpf_sendmsg") == head->find("p1:send"));
  CHECK(row_of("sk_psock_backlog").find("sk_psock_backlog") == head->find("kworker/0:p1"));
  CHECK(row_of("udp_bpf_sendmsg").find('*') != std::string::npos);  // picked by a choice

  CHECK_THAT(out, Catch::Contains("p1.ingress_msg: +8 bytes, msg_tot_len 2→10"));
  CHECK_THAT(out, Catch::Contains("wakes kworker/0:p1"));
  CHECK_THAT(out, Catch::Contains("outcome violation"));
  CHECK_THAT(out, Catch::Contains("no-lost-update"));
}

TEST_CASE("render_mermaid is a sequenceDiagram with one participant per task", "[render]") {
  const std::string out = render_mermaid(sample_trace());
  CHECK(out.rfind("sequenceDiagram\n", 0) == 0);
  CHECK(count_of(out, "participant ") == 3);
  CHECK_THAT(out, Catch::Contains("participant T0 as p1:send"));
  CHECK_THAT(out, Catch::Contains("participant T1 as kworker/0:p1"));
  CHECK_THAT(out, Catch::Contains("participant T2 as timer"));
  CHECK_THAT(out, Catch::Contains("T0-->>T1: wake"));
  CHECK_THAT(out, Catch::Contains("msg_tot_len 2→10"));
  CHECK_THAT(out, Catch::Contains("outcome violation"));
}

TEST_CASE("render_mermaid escapes ';' and '#' that would break the diagram", "[render]") {
  Trace t = sample_trace();
  t.events[1].label = "a;b #1";
  const std::string out = render_mermaid(t);
  CHECK_THAT(out, Catch::Contains("a,b #35;1"));
  CHECK_THAT(out, !Catch::Contains("a;b"));
}

TEST_CASE("render_text options: lanes, step range and width", "[render]") {
  const Trace t = sample_trace();
  TextChartOptions only_kworker;
  only_kworker.lanes = {"kworker"};
  const std::string k = render_text(t, only_kworker);
  CHECK_THAT(k, Catch::Contains("sk_psock_backlog"));
  CHECK_THAT(k, !Catch::Contains("udp_bpf_sendmsg"));
  CHECK_THAT(k, !Catch::Contains("| timer"));
  CHECK_THAT(k, Catch::Contains("(2 steps of other lanes not shown)"));

  TextChartOptions range;
  range.first = 2;
  range.last = 2;
  const std::string r = render_text(t, range);
  CHECK_THAT(r, Catch::Contains("sk_psock_backlog"));
  CHECK_THAT(r, !Catch::Contains("udp_bpf_sendmsg"));
  CHECK_THAT(r, !Catch::Contains("delayed_work_timer_fn"));
  CHECK_THAT(r, !Catch::Contains("not shown"));  // outside the range is not "other lanes"

  for (size_t width : {40u, 60u, 100u}) {
    CAPTURE(width);
    TextChartOptions narrow;
    narrow.width = width;
    for (const auto& l : lines_of(render_text(t, narrow)))
      if (l.find('|') != std::string::npos && l.find("   ") != 0 && l.rfind('|') == l.size() - 1)
        CHECK(l.size() <= std::max<size_t>(width, 19 + 3 * 8));  // rows fit, lanes >= 6 wide
  }
  CHECK(render_text(t) == render_text(t, TextChartOptions{}));  // the default is the old chart
}

TEST_CASE("render_mermaid marks the steps a scheduling choice picked", "[render]") {
  const std::string out = render_mermaid(sample_trace());
  CHECK_THAT(out, Catch::Contains("1. [choice 1/2] udp_bpf_sendmsg"));
  CHECK_THAT(out, Catch::Contains("2. sk_psock_backlog"));
}

TEST_CASE("render_perfetto: a track per task, a slice per step, flows and counters", "[render]") {
  Trace t = sample_trace();
  t.events[1].changes = {{"tcp", "tcp_ack 16406: 1 packets acked, packets_out 0, cwnd 10"},
                         {"sk", "notsent 16406 B >= lowat 16384"},
                         {"app", "TCP 5, tls_push_record #3, len 7 B)"}};
  const auto j = nlohmann::json::parse(render_perfetto(t));
  const auto& ev = j.at("traceEvents");
  std::map<std::string, int> by_ph;
  std::map<std::string, std::vector<int64_t>> counters;
  std::set<std::string> threads;
  for (const auto& e : ev) {
    ++by_ph[e.at("ph").get<std::string>()];
    if (e.at("ph") == "M" && e.at("name") == "thread_name") threads.insert(e.at("args").at("name").get<std::string>());
    if (e.at("ph") == "C") counters[e.at("name").get<std::string>()].push_back(e.at("args").at("value").get<int64_t>());
  }
  CHECK(threads == std::set<std::string>{"p1:send", "kworker/0:p1", "timer"});
  CHECK(by_ph["X"] == 3);
  CHECK(by_ph["i"] == 1);                    // step 1 was picked by a choice
  CHECK(by_ph["s"] == 1);                    // p1:send wakes kworker/0:p1 ...
  CHECK(by_ph["f"] == 1);                    // ... whose next step is step 2
  CHECK(counters["p1.ingress_msg msg_tot_len"] == std::vector<int64_t>{2, 10});  // before, after
  CHECK(counters["tcp packets_out"] == std::vector<int64_t>{0});
  CHECK(counters["tcp cwnd"] == std::vector<int64_t>{10});
  CHECK(counters.count("tcp tcp_ack") == 0);   // "16406:" does not end a clause
  CHECK(counters.count("sk notsent") == 0);    // ">=" follows: a comparison, not a value
  CHECK(counters.count("app TCP") == 0);       // prose, upper case
  CHECK(counters["app len"] == std::vector<int64_t>{7});
  // Virtual time: steps at one instant are laid 1 ns apart, in order.
  std::vector<double> ts;
  for (const auto& e : ev)
    if (e.at("ph") == "X") ts.push_back(e.at("ts").get<double>());
  CHECK(ts == std::vector<double>{0.0, 4000.0, 4000.001});
  const auto steps = nlohmann::json::parse(render_perfetto(t, PerfettoTime::steps));
  std::vector<double> ts2;
  for (const auto& e : steps.at("traceEvents"))
    if (e.at("ph") == "X") ts2.push_back(e.at("ts").get<double>());
  CHECK(ts2 == std::vector<double>{1.0, 2.0, 3.0});
}

TEST_CASE("read_trace rejects a negative number where a count is expected") {
  const std::string header =
      R"({"type":"header","format":1,"scenario":"lost-update","params":{},"strategy":"dfs","seed":0,"hz":250,"choices":[0]})";
  for (const std::string footer :
       {R"({"type":"footer","outcome":"done","steps":-1,"t_ns":0})"}) {
    std::istringstream in(header + "\n" + footer + "\n");
    CHECK_THROWS_WITH(kpsim::read_trace(in), Catch::Contains("non-negative"));
  }
  std::istringstream neg_choice(
      R"({"type":"header","format":1,"scenario":"lost-update","params":{},"strategy":"dfs","seed":0,"hz":250,"choices":[-1]})"
      "\n"
      R"({"type":"footer","outcome":"done","steps":1,"t_ns":0})"
      "\n");
  CHECK_THROWS_WITH(kpsim::read_trace(neg_choice), Catch::Contains("non-negative"));
}

TEST_CASE("kpsim_version: a run records it; a trace without one reads and writes back without one", "[trace]") {
  const Scenario* sc = find_scenario("lost-update");
  REQUIRE(sc != nullptr);
  RandomStrategy rnd(1);
  rnd.begin_run();
  RunOptions o;
  o.trace = true;
  const RunResult r = run_once(*sc, resolve_params(*sc, std::vector<std::string>{}), rnd, o);
  REQUIRE(r.trace);
  CHECK(r.trace->header.kpsim_version == std::string(kpsim_version()));
  CHECK_FALSE(kpsim_version().empty());
  const std::string text = trace_to_string(*r.trace);
  CHECK(text.rfind(R"({"type":"header","format":3,"kpsim_version":")" + std::string(kpsim_version()) + "\",", 0) == 0);
  CHECK(parse(text).header.kpsim_version == kpsim_version());
  CHECK(trace_to_string(parse(text)) == text);

  const std::string old = kHeader + "\n" + kStep + "\n" + kFooter + "\n";  // no kpsim_version
  CHECK(parse(old).header.kpsim_version.empty());
  CHECK(trace_to_string(parse(old)) == old);
}

TEST_CASE("kpsim_version must be a non-empty string", "[trace]") {
  const auto with = [](const std::string& v) {
    return R"({"type":"header","format":2,"kpsim_version":)" + v +
           R"(,"scenario":"s","params":{},"strategy":"dfs","seed":0,"hz":250,"choices":[]})" + "\n" + kStep +
           "\n" + kFooter + "\n";
  };
  CHECK(error_of(with(R"("0.1.0+gabc")")).empty());
  CHECK_THAT(error_of(with("7")), Contains("'kpsim_version' has the wrong type"));
  CHECK_THAT(error_of(with(R"("")")), Contains("'kpsim_version' must not be empty"));
}

TEST_CASE("the header's strategy must be one kpsim has", "[trace]") {
  std::string text = kHeader + "\n" + kStep + "\n" + kFooter + "\n";
  CHECK(error_of(text).empty());
  text.replace(text.find(R"("dfs")"), 5, R"("ra.dom")");
  CHECK_THAT(error_of(text), Contains("unknown strategy 'ra.dom'"));
}

TEST_CASE("a format-2 trace reads without state and writes back as format 2", "[trace][state]") {
  const std::string v2 = kHeader + "\n" + kStep + "\n" + kFooter + "\n";
  Trace t = parse(v2);
  CHECK(t.header.format == 2);
  CHECK(trace_to_string(t) == v2);
  // A state recorded by a replay of it is left out when written back in format 2.
  t.events[0].state = nlohmann::ordered_json::object();
  t.events[0].state["x"] = 1;
  CHECK(trace_to_string(t) == v2);
  t.header.format = 3;
  CHECK_THAT(trace_to_string(t), Contains(R"("state":{"x":1})"));
}

TEST_CASE("read_trace checks the steps' state", "[trace][state]") {
  std::string h3 = kHeader;
  h3.replace(h3.find("\"format\":2"), 10, "\"format\":3");
  const auto with_state = [](const std::string& state) {
    return R"({"type":"step","step":1,"t_ns":0,"task":"A","kind":"syscall","label":"x","state":)" + state + "}";
  };
  CHECK(error_of(h3 + "\n" + with_state(R"({"a":1,"b":"x","c":null})") + "\n" + kFooter + "\n").empty());
  CHECK_THAT(error_of(h3 + "\n" + with_state(R"({"a":1.5})") + "\n" + kFooter + "\n"),
             Contains("line 2") && Contains("state 'a' must be an integer, a string or null"));
  CHECK_THAT(error_of(h3 + "\n" + with_state("[1]") + "\n" + kFooter + "\n"),
             Contains("line 2") && Contains("'state' must be a non-empty object"));
  // Format 2 has no state: the key is unknown there.
  CHECK_THAT(error_of(kHeader + "\n" + with_state(R"({"a":1})") + "\n" + kFooter + "\n"),
             Contains("line 2") && Contains("unknown key 'state'"));
}

namespace {

// The state at every step, folded from the diffs as a reader of the file does.
std::vector<std::map<std::string, nlohmann::ordered_json>> fold_state(const Trace& t) {
  std::vector<std::map<std::string, nlohmann::ordered_json>> out;
  std::map<std::string, nlohmann::ordered_json> s;
  for (const auto& e : t.events) {
    if (e.state.is_object())
      for (auto it = e.state.begin(); it != e.state.end(); ++it) {
        if (it->is_null())
          s.erase(it.key());
        else
          s[it.key()] = *it;
      }
    out.push_back(s);
  }
  return out;
}

Trace traced_run(const char* scenario, const std::vector<std::string>& sets, uint64_t seed) {
  const Scenario* sc = find_scenario(scenario);
  REQUIRE(sc != nullptr);
  RandomStrategy rnd(seed);
  rnd.begin_run();
  RunOptions o;
  o.limits = sc->default_limits();
  o.trace = true;
  RunResult r = run_once(*sc, resolve_params(*sc, sets), rnd, o);
  REQUIRE(r.trace);
  return std::move(*r.trace);
}

}  // namespace

TEST_CASE("a traced run records the state: a full first step, then only what changed", "[trace][state]") {
  struct Case {
    const char* scenario;
    std::vector<std::string> sets;
    std::vector<std::string> names;  // some names the world must show
  };
  const std::vector<Case> cases = {
      {"sockmap-multi-channels", {"proto=udp"},
       {"p1.psock.msg_tot_len", "p1.psock.sk_msg_first_len", "p1.psock.ingress_skb.bytes", "p0.sk_receive_queue.bytes",
        "task.selftest.state"}},
      {"sockmap-multi-channels", {"proto=tcp"}, {"p1.psock.msg_tot_len", "p1.snd_una", "p1.rcv_nxt"}},
      {"ktls-sendfile-stall", {"notsent_lowat=16384", "bytes=262144", "call_bytes=262144"},
       {"sender.snd_una", "sender.snd_nxt", "sender.write_seq", "sender.notsent", "sender.packets_out",
        "sender.snd_cwnd", "sender.snd_wnd", "sender.sk_wmem_queued", "receiver.rcv_nxt", "tls.open_rec.bytes",
        "tls.encrypt_pending", "timer.tcp_write_timer"}},
      {"ktls-async-close", {"io=uring", "crypto=async"},
       {"tls.encrypt_pending", "cryptd.queue", "io_uring.tctx_task_list", "pipe.bytes", "file.sock.f_count",
        "task.app:server.TIF_NOTIFY_SIGNAL"}},
  };
  for (const auto& c : cases) {
    INFO(c.scenario << " " << c.sets.front());
    const Trace t = traced_run(c.scenario, c.sets, 1);
    REQUIRE(t.events.size() >= 2);
    REQUIRE(t.events.front().state.is_object());
    const auto states = fold_state(t);
    for (const auto& n : c.names) {
      INFO(n);
      bool seen = false;
      for (const auto& s : states) seen = seen || s.count(n);
      CHECK(seen);
    }
    // Every later step holds only values that differ from the step before.
    for (size_t i = 1; i < t.events.size(); ++i) {
      if (!t.events[i].state.is_object()) continue;
      for (auto it = t.events[i].state.begin(); it != t.events[i].state.end(); ++it) {
        INFO("step " << t.events[i].step << " " << it.key());
        auto prev = states[i - 1].find(it.key());
        if (it->is_null())
          CHECK(prev != states[i - 1].end());
        else
          CHECK((prev == states[i - 1].end() || prev->second != *it));
      }
    }
    // And the file holds it: the fold of the written and re-read trace is the same.
    CHECK(fold_state(parse(trace_to_string(t))) == states);
  }
}

TEST_CASE("the seed-000 state shows why FIONREAD said 2", "[trace][state]") {
  // The stored violating run, re-run with tracing: when recv starts, p1's head message holds 2
  // bytes (UDP FIONREAD reports sk_msg_first_len) while the redirected 8 are still on their way
  // (ingress_skb) or queued behind it.
  std::ifstream in(KPSIM_SOURCE_DIR "/traces/findings/seed000-sockmap-udp-selftest.trace.jsonl");
  const Trace finding = read_trace(in);
  const Scenario* sc = find_scenario(finding.header.scenario);
  REQUIRE(sc != nullptr);
  RunOptions o;
  o.limits = sc->default_limits();
  o.trace = true;
  const RunResult r = run_choices(*sc, resolve_params(*sc, finding.header.params), finding.header.choices, o);
  REQUIRE(r.trace);
  const Trace& t = *r.trace;
  REQUIRE(t.footer.outcome == "violation");
  const auto states = fold_state(t);
  size_t recv = t.events.size();
  for (size_t i = 0; i < t.events.size(); ++i)
    if (t.events[i].label.rfind("recv p1", 0) == 0) recv = i;
  REQUIRE(recv < t.events.size());
  const auto& before = states[recv - 1];
  CHECK(before.at("p1.psock.sk_msg_first_len") == 2);
  CHECK(before.at("p1.psock.msg_tot_len").get<int64_t>() + before.at("p1.psock.ingress_skb.bytes").get<int64_t>() == 10);
}

namespace {
Co<> two_points(Sched& s) {
  co_await s.point("one");
  co_await s.point("two");
}
}  // namespace

TEST_CASE("the state is asked only when a trace is recorded", "[trace][state]") {
  for (bool traced : {false, true}) {
    RandomStrategy rnd(1);
    rnd.begin_run();
    Trace t;
    Sched s(rnd);
    if (traced) s.set_trace(&t);
    int asked = 0;
    s.set_state_source([&](StateVisitor& v) {
      ++asked;
      v.value("n", int64_t{asked});
      if (asked == 1) v.value("first-only", "x");  // gone from the second step on
    });
    s.spawn("a", TaskKind::syscall, two_points(s));
    s.run();
    if (traced) {
      CHECK(asked == static_cast<int>(t.events.size()));
      CHECK(t.events.back().state["n"] == asked);
      CHECK(t.events.back().state["task.a.state"] == "done");
      CHECK(t.events.front().state["first-only"] == "x");
      REQUIRE(t.events.at(1).state.contains("first-only"));
      CHECK(t.events.at(1).state.at("first-only").is_null());  // recorded as gone, once
      CHECK_FALSE(t.events.back().state.contains("first-only"));
    } else {
      CHECK(asked == 0);
    }
  }
}
