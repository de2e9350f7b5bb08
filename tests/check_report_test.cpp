// kpsim check's pieces without processes: the exit order, seeds from strings, shell quoting, XML
// escaping, and that the reports follow the case order whatever the results' timing.
#include <catch2/catch.hpp>

#include "cli/check_report.h"
#include "cli/check_suite.h"

using namespace kpsim::cli;

TEST_CASE("the suite exits with its worst case's status") {
  // Worst first, as `kpsim check --help` and docs/ci.md state it.
  const std::vector<int> order{70, 2, 6, 4, 1, 3, 0};
  for (size_t i = 0; i + 1 < order.size(); ++i) {
    INFO(order[i] << " outranks " << order[i + 1]);
    CHECK(check_rank(order[i]) > check_rank(order[i + 1]));
    std::vector<CaseResult> rs(2);
    rs[0].verdict = rs[1].verdict = CheckVerdict::clean;
    rs[0].exit = order[i + 1];
    rs[1].exit = order[i];
    CHECK(worst_exit(rs) == order[i]);
    std::swap(rs[0], rs[1]);
    CHECK(worst_exit(rs) == order[i]);
  }
  std::vector<CaseResult> not_run(1);  // verdict not_run: counts as nothing
  not_run[0].exit = 2;
  CHECK(worst_exit(not_run) == 0);
}

TEST_CASE("--seed-from: one seed per string") {
  CHECK(seed_from("6473800") == seed_from("6473800"));
  CHECK(seed_from("6473800") != seed_from("6473801"));
  CHECK(seed_from("") != seed_from("0"));
}

TEST_CASE("reproducing commands quote what a shell would split") {
  CHECK(shell_quote("scenarios/a-b.kps") == "scenarios/a-b.kps");
  CHECK(shell_quote("my dir/x.kps") == "'my dir/x.kps'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("") == "''");
  CheckCase c;
  c.script = "my dir/x.kps";
  c.sets = {"proto=udp"};
  c.strategy = "pct";
  c.seed = 9;
  c.budget = 10;
  c.max_steps = 5;
  CHECK(reproduce_command(c) ==
        "kpsim explore 'my dir/x.kps' --set proto=udp --strategy pct --seed 9 --budget 10 --max-steps 5");
}

TEST_CASE("XML escaping") {
  CHECK(xml_escape("a&b<c>\"d'") == "a&amp;b&lt;c&gt;&quot;d&apos;");
  CHECK(xml_escape("x\ny\tz") == "x&#10;y&#9;z");
  CHECK(xml_escape("x\ny\tz", false) == "x\ny\tz");
  CHECK(xml_escape("msg_tot_len 0\xe2\x86\x92" "2") == "msg_tot_len 0\xe2\x86\x92" "2");  // U+2192 stays
  CHECK(xml_escape(std::string("\x01\x1f", 2) + std::string(1, '\0')) == "???");     // no controls in XML 1.0
  CHECK(xml_escape("\xff\xc0\xaf") == "???");                                         // invalid, overlong
  CHECK(xml_escape("\xed\xa0\x80") == "???");                                         // a surrogate
  CHECK(xml_escape("\xe2\x86") == "??");                                              // truncated
  CHECK(xml_escape("\xef\xbf\xbe") == "???");                                         // U+FFFE
}

TEST_CASE("reports follow the case order and leave times to time= attributes") {
  std::vector<CheckCase> cases(2);
  cases[0].stem = "a";
  cases[0].name = "defaults";
  cases[0].script = "s/a.kps";
  cases[0].strategy = "dfs";
  cases[1].stem = "b";
  cases[1].name = "proto=udp";
  cases[1].script = "s/b.kps";
  cases[1].strategy = "dfs";
  cases[1].sets = {"proto=udp"};
  std::vector<CaseResult> rs(2);
  rs[0].verdict = CheckVerdict::clean;
  rs[1].verdict = CheckVerdict::violation;
  rs[1].exit = 1;
  rs[1].message = "p: <&>";
  rs[1].trace = "art/b.proto-udp.trace.jsonl";
  SuiteSummary s{"seed 1", 1.5, 2, false};
  const std::string x1 = junit_xml(cases, rs, s);
  rs[0].seconds = 7;
  rs[1].seconds = 3;
  s.seconds = 9;
  const std::string x2 = junit_xml(cases, rs, s);
  CHECK(x1 != x2);
  auto strip = [](std::string x) {
    for (size_t at; (at = x.find(" time=\"")) != std::string::npos;) x.erase(at, x.find('"', at + 7) + 1 - at);
    return x;
  };
  CHECK(strip(x1) == strip(x2));
  CHECK(x1.find("classname=\"a\"") < x1.find("classname=\"b\""));
  CHECK(x1.find("<failure message=\"p: &lt;&amp;&gt;\" type=\"violation\">") != std::string::npos);
  CHECK(x1.find("reproduce: kpsim explore s/b.kps --set proto=udp --strategy dfs --budget 0\n") != std::string::npos);
  CHECK(tap_report(cases, rs) ==
        "TAP version 13\n1..2\nok 1 - a defaults\nnot ok 2 - b proto=udp\n  ---\n  verdict: violation\n  exit: 1\n"
        "  message: \"p: <&>\"\n  trace: \"art/b.proto-udp.trace.jsonl\"\n"
        "  reproduce: \"kpsim explore s/b.kps --set proto=udp --strategy dfs --budget 0\"\n  ...\n");
  const std::string t = summary_table(cases, rs, s);
  CHECK(t.substr(t.rfind('\n', t.size() - 2) + 1) == "seed 1, -j2, wall time 9.0 s\n");  // the one varying line
}
