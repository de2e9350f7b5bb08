// The model side of scenario scripts (scenarios/script/model_world.h): Programs built by hand
// (the parser is separate) explored exhaustively. The seed as a Program must give the compiled
// sockmap-multi-channels scenario's outcome sets and the very same traces; the new model paths
// (egress redirect, sockhash, SK_DROP, per-source rules, MSG_PEEK, map_delete, big sends) are
// checked on their own Programs.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "scenarios/runner.h"
#include "scenarios/script/model_world.h"
#include "scenarios/script/script.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_replay.h"
#include "traces/trace.h"

using namespace kpsim;
using namespace kpsim::script;

namespace {

// A Program as a Scenario without parameters (what ScriptScenario will do with a parser).
class ProgramScenario final : public Scenario {
 public:
  explicit ProgramScenario(Program p) : prog_(std::move(p)) {}
  std::string_view name() const override { return prog_.name; }
  std::string_view summary() const override { return prog_.summary; }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> none;
    return none;
  }
  std::unique_ptr<World> setup(Sched& s, const Params&) const override {
    return build_script_world(s, prog_);
  }
  RunLimits default_limits() const override {
    RunLimits l;
    if (prog_.max_steps) l.max_steps = prog_.max_steps;
    if (prog_.max_time_ns) l.max_time_ns = prog_.max_time_ns;
    return l;
  }

 private:
  Program prog_;
};

Loc at(uint32_t line) { return Loc{"test.kps", line, 1}; }

// `a, b = create_pair(proto)`: a the server side.
void pair(Program& p, const std::string& a, const std::string& b, Proto proto) {
  const auto i = static_cast<uint32_t>(p.socks.size());
  Socket sa, sb;
  sa.name = a;
  sa.proto = proto;
  sa.peer = i + 1;
  sa.server_side = true;
  sb.name = b;
  sb.proto = proto;
  sb.peer = i;
  p.socks.push_back(sa);
  p.socks.push_back(sb);
}

uint32_t sk(const Program& p, const std::string& name) { return *p.find_sock(name); }

// `on NAME: ACTION` (a rule for skbs arriving on NAME's psock).
VerdictRule on_sock(const Program& p, const std::string& name, Action a) {
  VerdictRule r;
  r.on = sk(p, name);
  r.act = {a, 0, false};
  return r;
}

Step send(const Program& p, const std::string& s, std::string payload, uint32_t flags = 0) {
  Step st;
  st.op = Op::send;
  st.sock = sk(p, s);
  st.expect.ret = static_cast<int64_t>(payload.size());
  st.payload = std::move(payload);
  st.flags = flags;
  st.text = "send(" + s + ")";
  st.loc = at(20);
  return st;
}

Step wait_fionread(const Program& p, const std::string& s, uint32_t want, std::optional<int64_t> ret) {
  Step st;
  st.op = Op::wait_fionread;
  st.sock = sk(p, s);
  st.len = want;
  st.timeout_us = 30000;
  st.expect.ret = ret;
  st.loc = at(21);
  return st;
}

Step recv(const Program& p, const std::string& s, uint32_t len, uint32_t flags, uint64_t timeout_us,
          std::optional<int64_t> ret, std::optional<std::string> data) {
  Step st;
  st.op = Op::recv;
  st.sock = sk(p, s);
  st.len = len;
  st.flags = flags;
  st.timeout_us = timeout_us;
  st.expect.ret = ret;
  st.expect.data = std::move(data);
  st.loc = at(22);
  return st;
}

Step map_op(const Program& p, Op op, uint32_t key, const std::string& s = "") {
  Step st;
  st.op = op;
  st.key = key;
  if (!s.empty()) st.sock = sk(p, s);
  st.text = (op == Op::map_update ? "map_update(m, " : "map_delete(m, ") + std::to_string(key) + ")";
  st.expect.ret = 0;
  st.loc = at(23);
  return st;
}

std::string alphabet(uint32_t off, uint32_t n) {
  return std::string("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ").substr(off, n);
}

// The seed (scenarios/sockmap-multi-channels.kps) for these parameters, as the parser makes it.
Program seed(Proto proto, const std::string& test, uint32_t c1b = 2, uint32_t c0b = 8) {
  Program p;
  p.name = "sockmap-multi-channels";
  p.file = "<builtin>/seed000.kps";
  pair(p, "c0", "p0", proto);
  pair(p, "c1", "p1", proto);
  p.map = Map{"sock_map_rx", MapType::sockmap, 2, at(3)};
  VerdictRule all;
  all.act = {Action::redirect, 1, true};
  p.verdict.rules = {all};
  p.setup = {map_op(p, Op::map_update, 0, "p0"), map_op(p, Op::map_update, 1, "p1")};
  const std::string native = alphabet(0, c1b), redirected = alphabet(c1b, c0b), both = native + redirected;
  const uint32_t total = c1b + c0b, expected = proto == Proto::udp ? c1b : total;
  Thread t;
  t.name = "selftest";
  t.steps.push_back(send(p, "c1", native));
  t.steps.push_back(wait_fionread(p, "p1", c1b, c1b));
  t.steps.push_back(send(p, "c0", redirected));
  t.steps.push_back(wait_fionread(p, "p1", expected, expected));
  if (test == "selftest") {
    t.steps.push_back(recv(p, "p1", total + 1, msg_dontwait, 1000000, total, both));
  } else if (test == "loop") {
    Step st = recv(p, "p1", total, msg_dontwait, 30000000, total, both);
    st.op = Op::recv_loop;
    t.steps.push_back(st);
  } else {
    t.steps.push_back(recv(p, "p1", expected, msg_dontwait, 1000000, expected, both.substr(0, expected)));
    if (total > expected) {
      t.steps.push_back(wait_fionread(p, "p1", total - expected, total - expected));
      t.steps.push_back(recv(p, "p1", total - expected, msg_dontwait, 1000000, total - expected,
                             both.substr(expected)));
    }
  }
  p.threads = {t};
  p.max_steps = 20000;
  p.max_time_ns = 120ull * 1000 * 1000 * 1000;
  return p;
}

struct Outcomes {
  uint64_t schedules = 0, findings = 0;
  bool exhaustive = false;
  std::map<std::string, uint64_t> ends;                   // outcome/property: message -> runs
  std::set<std::pair<std::string, std::string>> classes;  // (kworker_class, first_recv)
  std::set<std::string> metrics;                          // every metrics object seen
};

Outcomes dfs_all(const Scenario& sc, const Params& p, uint64_t budget = 300000) {
  Outcomes out;
  DfsStrategy d;
  RunOptions o;
  o.limits = sc.default_limits();
  while (out.schedules < budget && d.begin_run()) {
    const RunResult r = run_once(sc, p, d, o);
    ++out.schedules;
    if (is_finding(r.end)) ++out.findings;
    ++out.ends[std::string(to_string(r.end.outcome)) + " " + r.end.property + ": " + r.end.message];
    out.classes.insert({r.metrics["kworker_class"].dump(), r.metrics["first_recv"].dump()});
    out.metrics.insert(r.metrics.dump());
  }
  out.exhaustive = d.exhaustive();
  return out;
}

std::string ends_str(const Outcomes& o) {
  std::string s;
  for (const auto& [k, n] : o.ends) s += std::to_string(n) + "x " + k + "\n";
  return s;
}

Outcomes dfs_program(const Program& prog) {
  const ProgramScenario sc(prog);
  return dfs_all(sc, resolve_params(sc, std::vector<std::string>{}));
}

const Scenario& compiled() { return *find_scenario("sockmap-multi-channels"); }

Program with_settings(Program p, const std::vector<std::string>& sets) {
  for (const std::string& kv : sets) {
    const auto eq = kv.find('=');
    const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "fionread") p.model.fionread = v;
    if (k == "self_redirect") p.model.self_redirect = v;
    if (k == "kworker_cpu") p.model.kworker_cpu = v;
    if (k == "preempt") p.model.preempt = v;
  }
  return p;
}

}  // namespace

TEST_CASE("script world: the seed gives the compiled scenario's outcomes, schedule for schedule") {
  for (const char* proto : {"udp", "tcp"}) {
    for (const char* test : {"selftest", "loop", "upstream"}) {
      for (const std::vector<std::string>& extra :
           std::vector<std::vector<std::string>>{{}, {"fionread=pre-929e30f93125"},
                                                 {"self_redirect=direct"}, {"kworker_cpu=other"}}) {
        std::vector<std::string> sets = {std::string("proto=") + proto, std::string("test=") + test};
        sets.insert(sets.end(), extra.begin(), extra.end());
        INFO(sets.front() << " " << sets[1] << (extra.empty() ? "" : " " + extra.front()));
        const Outcomes old = dfs_all(compiled(), resolve_params(compiled(), sets));
        const Outcomes now = dfs_program(
            with_settings(seed(std::string(proto) == "udp" ? Proto::udp : Proto::tcp, test), extra));
        REQUIRE(old.exhaustive);
        CHECK(now.exhaustive);
        CHECK(now.schedules == old.schedules);
        CHECK(now.findings == old.findings);
        CHECK(now.ends == old.ends);
        CHECK(now.classes == old.classes);
      }
    }
  }
}

TEST_CASE("script world: the seed's traces are byte-identical to the compiled scenario's") {
  for (const char* proto : {"udp", "tcp"}) {
    const std::vector<std::string> sets = {std::string("proto=") + proto};
    const Params params = resolve_params(compiled(), sets);
    const ProgramScenario sc(seed(std::string(proto) == "udp" ? Proto::udp : Proto::tcp, "selftest"));
    const Params none = resolve_params(sc, std::vector<std::string>{});
    DfsStrategy d;
    RunOptions o;
    o.limits = compiled().default_limits();
    uint64_t compared = 0;
    while (compared < 400 && d.begin_run()) {
      const RunResult a = run_once(compiled(), params, d, o);
      RunOptions ot = o;
      ot.trace = true;
      RunResult ta = run_choices(compiled(), params, a.choices, ot);
      RunResult tb = run_choices(sc, none, a.choices, ot);
      REQUIRE(ta.trace);
      REQUIRE(tb.trace);
      tb.trace->header = ta.trace->header;
      tb.trace->footer = ta.trace->footer;  // metrics gained keys; the end is compared below
      CHECK(trace_to_string(*tb.trace) == trace_to_string(*ta.trace));
      CHECK(tb.end.message == ta.end.message);
      CHECK(tb.end.property == ta.end.property);
      ++compared;
    }
    CHECK(compared > 2);
  }
}

TEST_CASE("script world: the stored seed-000 finding replays on the script world") {
  std::ifstream in(std::string(KPSIM_SOURCE_DIR) + "/traces/findings/seed000-sockmap-udp-selftest.trace.jsonl");
  REQUIRE(in);
  const Trace stored = read_trace(in);
  const ProgramScenario sc(seed(Proto::udp, "selftest"));
  RunOptions o;
  o.limits = compiled().default_limits();
  o.trace = true;
  RunResult r = run_choices(sc, resolve_params(sc, std::vector<std::string>{}), stored.header.choices, o);
  REQUIRE(r.trace);
  r.trace->header = stored.header;
  r.trace->footer = stored.footer;
  Trace expect = stored;
  CHECK(trace_to_string(*r.trace) == trace_to_string(expect));
  CHECK(r.end.property == "selftest-assertion");
  CHECK(r.metrics["first_recv"] == 2);
}

TEST_CASE("script world: a third pair redirected into p1") {
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    pair(p, "c2", "p2", proto);
    p.map->max_entries = 3;
    p.setup.push_back(map_op(p, Op::map_update, 2, "p2"));
    Thread& t = p.threads[0];
    t.steps.insert(t.steps.begin() + 3, send(p, "c2", alphabet(10, 5)));
    // The loop now wants all 15 bytes; FIONREAD after c0's send is not asserted.
    t.steps[4].expect.ret.reset();
    t.steps[5].len = 15;
    t.steps[5].expect.ret = 15;
    t.steps[5].expect.data.reset();  // c0's and c2's bytes may interleave by skb
    const Outcomes o = dfs_program(p);
    INFO((proto == Proto::udp ? "udp" : "tcp"));
    CHECK(o.exhaustive);
    INFO(ends_str(o));
    CHECK(o.findings == 0);
    CHECK(o.schedules > 1);
  }
}

TEST_CASE("script world: MSG_PEEK leaves the bytes queued") {
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    Thread& t = p.threads[0];
    // Peek the first two bytes (p1's own, delivered by the time FIONREAD saw them), then the loop.
    t.steps.insert(t.steps.begin() + 4, recv(p, "p1", 2, msg_dontwait | msg_peek, 1000000, 2, "01"));
    const Outcomes o = dfs_program(p);
    CHECK(o.exhaustive);
    INFO(ends_str(o));
    CHECK(o.findings == 0);
    for (const std::string& m : o.metrics) CHECK(m.find("\"received\":\"0123456789\"") != std::string::npos);
  }
}

TEST_CASE("script world: the per-source pass rule keeps p1's own bytes ahead of queued redirects") {
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    p.verdict.rules.insert(p.verdict.rules.begin(), on_sock(p, "p1", Action::pass));
    // c0 first, then c1: c1's pass must queue behind c0's skb while that waits in ingress_skb.
    Thread& t = p.threads[0];
    t.steps = {send(p, "c0", alphabet(2, 8)), send(p, "c1", alphabet(0, 2)),
               wait_fionread(p, "p1", 10, std::nullopt)};
    Step loop = recv(p, "p1", 10, msg_dontwait, 30000000, 10, alphabet(2, 8) + alphabet(0, 2));
    loop.op = Op::recv_loop;
    t.steps.push_back(loop);
    const Outcomes o = dfs_program(p);
    INFO((proto == Proto::udp ? "udp" : "tcp"));
    CHECK(o.exhaustive);
    INFO(ends_str(o));
    CHECK(o.findings == 0);
  }
}

TEST_CASE("script world: SK_DROP bytes are counted as dropped, not lost") {
  Program p = seed(Proto::udp, "loop");
  p.verdict.rules.insert(p.verdict.rules.begin(), on_sock(p, "p0", Action::drop));
  Thread& t = p.threads[0];
  t.steps[3].expect.ret = 2;  // only c1's datagram arrives
  t.steps[4].len = 2;
  t.steps[4].expect = {2, alphabet(0, 2), std::nullopt};
  const Outcomes o = dfs_program(p);
  CHECK(o.exhaustive);
  INFO(ends_str(o));
  CHECK(o.findings == 0);
  for (const std::string& m : o.metrics) CHECK(m.find("\"dropped\":8") != std::string::npos);
}

TEST_CASE("script world: an egress redirect sends the bytes out of the target to its peer") {
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    // p0's skbs go out of p1 (no BPF_F_INGRESS): they arrive at c1; p1's own pass.
    p.verdict.rules = {on_sock(p, "p1", Action::pass), VerdictRule{std::nullopt, {Action::redirect, 1, false}}};
    Thread& t = p.threads[0];
    t.steps = {send(p, "c0", alphabet(2, 8)), wait_fionread(p, "c1", 8, 8)};
    Step loop = recv(p, "c1", 8, msg_dontwait, 30000000, 8, alphabet(2, 8));
    loop.op = Op::recv_loop;
    t.steps.push_back(loop);
    const Outcomes o = dfs_program(p);
    INFO((proto == Proto::udp ? "udp" : "tcp"));
    CHECK(o.exhaustive);
    INFO(ends_str(o));
    CHECK(o.findings == 0);
    for (const std::string& m : o.metrics) CHECK(m.find("\"received\":\"23456789\"") != std::string::npos);
  }
}

TEST_CASE("script world: sockhash redirects by key") {
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    p.map->type = MapType::sockhash;
    p.verdict.rules[0].act.key = 77;
    p.setup = {map_op(p, Op::map_update, 5, "p0"), map_op(p, Op::map_update, 77, "p1")};
    const Outcomes hash = dfs_program(p);
    const Outcomes map = dfs_program(seed(proto, "loop"));
    CHECK(hash.exhaustive);
    CHECK(hash.findings == 0);
    CHECK(hash.schedules == map.schedules);
    CHECK(hash.classes == map.classes);
    // A key nobody holds: bpf_sk_redirect_hash returns SK_DROP.
    p.verdict.rules[0].act.key = 78;
    Thread& t = p.threads[0];
    t.steps = {send(p, "c0", alphabet(2, 8)), wait_fionread(p, "p1", 0, 0)};
    const Outcomes none = dfs_program(p);
    INFO(ends_str(none));
    CHECK(none.findings == 0);
    for (const std::string& m : none.metrics) CHECK(m.find("\"dropped\":8") != std::string::npos);
  }
}

TEST_CASE("script world: 64 KiB sends (TCP whole, UDP up to 65507 bytes, EMSGSIZE above)") {
  std::string big;
  for (uint32_t i = 0; i < 65536; ++i) big.push_back(static_cast<char>(0x40 + (i % 64)));
  std::string own;
  for (uint32_t i = 0; i < 100; ++i) own.push_back(static_cast<char>(i % 64));
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    const std::string payload = proto == Proto::udp ? big.substr(0, 65507) : big;
    const auto n = static_cast<uint32_t>(payload.size());
    Thread& t = p.threads[0];
    t.steps = {send(p, "c1", own), send(p, "c0", payload)};
    Step loop = recv(p, "p1", 100 + n, msg_dontwait, 30000000, 100 + n, own + payload);
    loop.op = Op::recv_loop;
    t.steps.push_back(loop);
    const Outcomes o = dfs_program(p);
    INFO((proto == Proto::udp ? "udp" : "tcp"));
    CHECK(o.exhaustive);
    INFO(ends_str(o));
    CHECK(o.findings == 0);
    for (const std::string& m : o.metrics) CHECK(m.find("\"received\":\"<65") != std::string::npos);
  }
  Program p = seed(Proto::udp, "loop");
  Step too_big = send(p, "c0", big.substr(0, 65508));
  too_big.expect.ret = -90;  // -EMSGSIZE
  p.threads[0].steps = {too_big};
  const Outcomes o = dfs_program(p);
  INFO(ends_str(o));
  CHECK(o.findings == 0);
}

TEST_CASE("script world: a 65000-byte TCP send is two skbs of the handshake's MSS, each through the verdict") {
  // c0 is create_pair's accepted end: its MSS starts at half the client's final-ACK window
  // (65536), 32768, and the 64 KiB GSO limit bounded the same way makes each skb one MSS
  // (tcp_xmit_size_goal): 32768 + 32232. Before the handshake was modelled the MSS was
  // loopback's 65483 and the send one skb.
  std::string payload;
  for (uint32_t i = 0; i < 65000; ++i) payload.push_back(static_cast<char>(0x40 + (i % 64)));
  for (const uint32_t sndbuf : {0u, 4096u}) {
    Program p = seed(Proto::tcp, "loop");
    if (sndbuf) p.socks[sk(p, "c0")].sndbuf = sndbuf;
    Step loop = recv(p, "p1", 65000, msg_dontwait, 30000000, 65000, payload);
    loop.op = Op::recv_loop;
    p.threads[0].steps = {send(p, "c0", payload), wait_fionread(p, "p1", 65000, 65000), loop};
    INFO("SO_SNDBUF " << sndbuf);
    const ProgramScenario sc(p);
    const Params none = resolve_params(sc, std::vector<std::string>{});
    RunOptions o;
    o.limits = sc.default_limits();
    o.trace = true;
    const RunResult r = run_choices(sc, none, {}, o);
    REQUIRE(r.trace);
    const std::string text = trace_to_string(*r.trace);
    CHECK(text.find("transmit [0, 32768) 32768 B") != std::string::npos);
    CHECK(text.find("verdict on 32768 bytes: SK_REDIRECT to p1") != std::string::npos);
    CHECK(text.find("verdict on 32232 bytes: SK_REDIRECT to p1") != std::string::npos);
    // With SO_SNDBUF 4096 the writer waits for memory after the first skb: the segment it sent
    // must arrive (NET_RX ran at the transmission's local_bh_enable) and its ACK free the
    // memory, in every ordering; before, the inline device ran NET_RX only at the end of the
    // send and this deadlocked.
    const Outcomes all = dfs_program(p);
    CHECK(all.exhaustive);
    INFO(ends_str(all));
    CHECK(all.findings == 0);
  }

  // Two skbs, so the backlog can publish the first before the second: a reader on another CPU
  // than the kworker sees 32768 bytes. The host kernel shows it (a reader thread spinning on
  // FIONREAD while another sends, docs/crosscheck.md "Segmentation"); the model, whose script
  // threads share CPU 0, reaches it with the kworker on CPU 1. One skb per send never could.
  Program p = seed(Proto::tcp, "loop");
  Thread sender, reader;
  sender.name = "sender";
  sender.steps = {send(p, "c0", payload)};
  Step f;
  f.op = Op::fionread;
  f.sock = sk(p, "p1");
  f.text = "ioctl(p1, FIONREAD)";
  f.loc = at(21);
  reader.name = "reader";
  reader.steps = {f, f, wait_fionread(p, "p1", 65000, 65000)};
  p.threads = {sender, reader};
  const auto fionreads = [](const Outcomes& o) {
    std::set<std::string> seen;
    for (const std::string& m : o.metrics) seen.insert(nlohmann::ordered_json::parse(m)["fionread_results"].dump());
    return seen;
  };
  const Outcomes other = dfs_program(with_settings(p, {"kworker_cpu=other"}));
  REQUIRE(other.exhaustive);
  CHECK(other.findings == 0);
  INFO(ends_str(other));
  CHECK(fionreads(other).count("[0,32768,65000]") == 1);
  CHECK(fionreads(other).count("[32768,32768,65000]") == 1);
  // With the kworker on the script threads' CPU it runs only when they are in user space or
  // asleep, never between the sender's two skbs: no partial value.
  const Outcomes same = dfs_program(p);
  REQUIRE(same.exhaustive);
  for (const std::string& v : fionreads(same)) CHECK(v.find("32768") == std::string::npos);
}

TEST_CASE("script world: map_delete drops the psock and what it still held") {
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    Thread& t = p.threads[0];
    // c0's bytes sit in p1's queues (ingress_skb or ingress_msg); deleting p1 drops them.
    t.steps = {send(p, "c1", alphabet(0, 2)), send(p, "c0", alphabet(2, 8)), map_op(p, Op::map_delete, 1),
               map_op(p, Op::map_delete, 1)};
    t.steps.back().expect.ret = -22;  // an empty sockmap slot: -EINVAL
    // p1 is a plain socket again: c1's next bytes wait in its receive queue, read natively.
    t.steps.push_back(send(p, "c1", alphabet(10, 3)));
    t.steps.push_back(recv(p, "p1", 3, msg_dontwait, 0, 3, alphabet(10, 3)));
    const Outcomes o = dfs_program(p);
    INFO((proto == Proto::udp ? "udp" : "tcp"));
    CHECK(o.exhaustive);
    INFO(ends_str(o));
    CHECK(o.findings == 0);
    for (const std::string& m : o.metrics) CHECK(m.find("\"dropped\":10") != std::string::npos);
  }
}

TEST_CASE("script world: what the model cannot do is refused with the statement's location") {
  Program p = seed(Proto::tcp, "loop");
  Step c = recv(p, "p1", 1, msg_more, 0, std::nullopt, std::nullopt);
  c.loc = Loc{"x.kps", 7, 3};
  p.threads[0].steps.push_back(c);
  ReplayStrategy none({}, false);
  none.begin_run();
  Sched s(none);
  try {
    build_script_world(s, p);
    FAIL("not refused");
  } catch (const ScriptUnsupported& e) {
    CHECK(std::string(e.what()).rfind("x.kps:7:3: unsupported in the model: MSG_MORE on recv", 0) == 0);
  }
  Program q = seed(Proto::udp, "loop");
  q.threads[0].steps[0].flags = msg_more;
  CHECK_THROWS_AS(build_script_world(s, q), ScriptUnsupported);
}

TEST_CASE("script world: delayed ACKs are refused in a sockmap program, immediate ones taken") {
  // Its receivers read through psocks and tcp_bpf, not tcp_recvmsg's tcp_cleanup_rbuf: the
  // delayed-ACK engine is the stream world's only (model/kconfig.h tcp_acks).
  ReplayStrategy none({}, false);
  none.begin_run();
  Sched s(none);
  Program p = seed(Proto::tcp, "loop");
  p.model.acks = "delayed";
  try {
    build_script_world(s, p);
    FAIL("not refused");
  } catch (const ScriptUnsupported& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("model acks = delayed in a sockmap program"));
  }
  Program q = seed(Proto::tcp, "loop");
  q.model.acks = "immediate";
  Sched s2(none);
  CHECK_NOTHROW(build_script_world(s2, q));
}

TEST_CASE("script world: MSG_WAITALL is not looked at by the sockmap recvmsgs, honoured natively") {
  Program p = seed(Proto::tcp, "loop");
  Thread& t = p.threads[0];
  t.steps = {send(p, "c1", alphabet(0, 2)), send(p, "c0", alphabet(2, 8)),
             recv(p, "p1", 10, msg_waitall, 0, std::nullopt, std::nullopt)};
  const Outcomes o = dfs_program(p);
  CHECK(o.exhaustive);
  CHECK(o.findings == 0);
  // tcp_bpf_recvmsg_parser returns what one pass copied: 2 bytes in some schedules.
  bool short_read = false;
  for (const auto& [cls, first] : o.classes) short_read = short_read || first == "2";
  CHECK(short_read);
  // Without a psock (p1 never in the map) tcp_recvmsg waits for the whole length: a receiver
  // thread against a sender thread that sends twice.
  for (uint32_t flags : {uint32_t{msg_waitall}, uint32_t{0}}) {
    Program q = seed(Proto::tcp, "loop");
    q.setup.pop_back();
    Thread snd;
    snd.name = "sender";
    snd.steps = {send(q, "c1", alphabet(0, 2)), send(q, "c1", alphabet(2, 2))};
    Thread rcv;
    rcv.name = "receiver";
    rcv.steps = {recv(q, "p1", 4, flags, 0, std::nullopt, std::nullopt)};
    q.threads = {rcv, snd};
    const Outcomes n = dfs_program(q);
    INFO(ends_str(n));
    CHECK(n.exhaustive);
    CHECK(n.findings == 0);
    std::set<std::string> firsts;
    for (const auto& [cls, first] : n.classes) firsts.insert(first);
    if (flags) CHECK(firsts == std::set<std::string>{"4"});
    else CHECK(firsts.count("2") == 1);
  }
}

TEST_CASE("script world: what only a schedule reveals ends the run as a model-assumption failure") {
  // A recv blocked on p1 holds its psock (sk_psock_get): the kernel defers the drop to that recv's
  // sk_psock_put, which the model does not do, so such a schedule says so.
  Program p = seed(Proto::udp, "loop");
  Thread rcv;
  rcv.name = "receiver";
  rcv.steps = {recv(p, "p1", 10, 0, 0, std::nullopt, std::nullopt)};
  Thread del;
  del.name = "deleter";
  Step d = map_op(p, Op::map_delete, 1);
  d.expect.ret.reset();
  del.steps = {d};
  p.threads = {rcv, del};
  const Outcomes o = dfs_program(p);
  bool said = false;
  for (const auto& [end, runs] : o.ends) said = said || end.find("model-assumption") != std::string::npos;
  CHECK(said);
}

namespace {

Step sock_op(const Program& p, Op op, const std::string& s, std::optional<int64_t> ret = 0) {
  Step st;
  st.op = op;
  st.sock = sk(p, s);
  st.expect.ret = ret;
  st.text = (op == Op::close ? "close(" : op == Op::shutdown ? "shutdown(" : "ioctl(") + s + ")";
  st.loc = at(24);
  return st;
}

}  // namespace

TEST_CASE("script world: close of the redirect target drops what was queued for it") {
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    Thread& t = p.threads[0];
    t.steps = {send(p, "c0", alphabet(0, 8)), wait_fionread(p, "p1", 8, 8), sock_op(p, Op::close, "p1"),
               sock_op(p, Op::fionread, "p1", -9),
               // The slot is empty now: p0's verdict drops, the sender is not told.
               send(p, "c0", alphabet(8, 4)),
               // p1's peer: the FIN (TCP) or nothing (UDP).
               recv(p, "c1", 1, 0, 100000, proto == Proto::tcp ? 0 : -11, std::string()),
               recv(p, "p1", 8, msg_dontwait, 0, -9, std::string()), sock_op(p, Op::close, "p1", -9)};
    const Outcomes o = dfs_program(p);
    INFO((proto == Proto::udp ? "udp" : "tcp"));
    INFO(ends_str(o));
    CHECK(o.exhaustive);
    CHECK(o.findings == 0);
    for (const std::string& m : o.metrics) CHECK(m.find("\"dropped\":12") != std::string::npos);
  }
}

TEST_CASE("script world: shutdown(SHUT_WR) - TCP's FIN is read after the data, UDP has none") {
  for (Proto proto : {Proto::udp, Proto::tcp}) {
    Program p = seed(proto, "loop");
    Thread& t = p.threads[0];
    const bool tcp = proto == Proto::tcp;
    t.steps = {send(p, "c1", alphabet(0, 10)), wait_fionread(p, "p1", 10, 10), sock_op(p, Op::shutdown, "c1"),
               recv(p, "p1", 20, 0, 1000000, 10, alphabet(0, 10)),
               recv(p, "p1", 20, 0, tcp ? 1000000 : 200000, tcp ? 0 : -11, std::string())};
    // The end of the stream does not wait for the select timeout.
    if (tcp) t.steps.back().expect.within_us = 1000;
    const Outcomes o = dfs_program(p);
    INFO((tcp ? "tcp" : "udp"));
    INFO(ends_str(o));
    CHECK(o.exhaustive);
    CHECK(o.findings == 0);
  }
  // Without the wait the FIN can reach p1 while the data still waits for the backlog: the
  // reader may see the end of the stream first (SOCK_DONE, nothing in ingress_msg yet).
  Program p = seed(Proto::tcp, "loop");
  p.threads[0].steps = {send(p, "c1", alphabet(0, 10)), sock_op(p, Op::shutdown, "c1"),
                        recv(p, "p1", 20, 0, 1000000, 10, alphabet(0, 10))};
  const Outcomes o = dfs_program(p);
  INFO(ends_str(o));
  CHECK(o.exhaustive);
  CHECK(o.findings > 0);
  CHECK(o.ends.count("violation selftest-assertion: recv_timeout(p1) returned 0, expected 10") == 1);
}

TEST_CASE("script world: `within` is checked in virtual time and names the step") {
  Program p = seed(Proto::tcp, "loop");
  Step r = recv(p, "p1", 4, 0, 50000, -11, std::nullopt);  // nothing comes: select waits 50 ms
  r.text = "recv_timeout(p1, 4, 0, 50ms)";
  r.loc = Loc{"w.kps", 9, 3};
  r.expect.within_us = 10000;
  p.threads[0].steps = {r};
  Outcomes o = dfs_program(p);
  INFO(ends_str(o));
  CHECK(o.exhaustive);
  REQUIRE(o.ends.size() == 1);
  CHECK(o.ends.begin()->first ==
        "violation selftest-assertion: w.kps:9:3: recv_timeout(p1, 4, 0, 50ms) took 50000 us, expected within 10000 us");
  p.threads[0].steps[0].expect.within_us = 50000;  // exactly the limit: held
  o = dfs_program(p);
  INFO(ends_str(o));
  CHECK(o.findings == 0);
}

namespace {

// A script's Program at its defaults (the parser is part of the test here: the steps are the
// io_uring ones it builds).
Program parsed(const std::string& text, const std::vector<std::string>& sets = {}) {
  const Script sc = Script::parse("u.kps", text);
  return sc.instantiate(resolve_params(sc.name(), sc.params(), sets));
}

// Every schedule with its trace: the outcomes and, for each note or label, in how many runs
// it appeared.
struct Traced {
  Outcomes o;
  std::map<std::string, uint64_t> seen;  // substring -> runs that contain it
};

Traced dfs_traced(const Program& prog, const std::vector<std::string>& needles) {
  const ProgramScenario sc(prog);
  const Params p = resolve_params(sc, std::vector<std::string>{});
  Traced t;
  DfsStrategy d;
  RunOptions o;
  o.limits = sc.default_limits();
  o.trace = true;
  while (t.o.schedules < 100000 && d.begin_run()) {
    const RunResult r = run_once(sc, p, d, o);
    ++t.o.schedules;
    if (is_finding(r.end)) ++t.o.findings;
    ++t.o.ends[std::string(to_string(r.end.outcome)) + " " + r.end.property + ": " + r.end.message];
    t.o.metrics.insert(r.metrics.dump());
    REQUIRE(r.trace);
    for (const std::string& n : needles) {
      bool hit = false;
      for (const TraceEvent& e : r.trace->events) {
        hit = hit || e.label.find(n) != std::string::npos;
        for (const TraceChange& c : e.changes) hit = hit || c.change.find(n) != std::string::npos;
      }
      if (hit) ++t.seen[n];
    }
  }
  t.o.exhaustive = d.exhaustive();
  return t;
}

const char* const kUringRead = R"(scenario u "x"
param proto = udp {udp, tcp}
param ring_setup = plain {plain, defer}
c0, p0 = create_pair(proto)
c1, p1 = create_pair(proto)
ring = io_uring_setup(ring_setup == defer ? IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN : 0)
m = map(BPF_MAP_TYPE_SOCKMAP, 2)
verdict(m) {
  redirect(1, BPF_F_INGRESS)
}
map_update(m, 0, p0)
map_update(m, 1, p1)
thread reader {
  uring_read(ring, p1, 8) = 8  data sent(c0)
}
thread sender {
  send(c0, 8) = 8
}
)";

}  // namespace

TEST_CASE("script world: an io_uring READ of a psock completes with the redirected bytes, inline or by task work") {
  for (const char* proto : {"udp", "tcp"})
    for (const char* setup : {"plain", "defer"}) {
      const Program p = parsed(kUringRead, {std::string("proto=") + proto, std::string("ring_setup=") + setup});
      REQUIRE_FALSE(p.stream());  // a ring only read from belongs to the socket pairs
      const Traced t = dfs_traced(p, {"poll armed", "io_apoll_task_func", "CQE res 8"});
      INFO(proto << " " << setup << "\n" << ends_str(t.o));
      CHECK(t.o.exhaustive);
      CHECK(t.o.findings == 0);
      // Every run's CQE carries the 8 bytes; some runs found them at once, others armed poll on
      // p1 and were completed from the task work the backlog worker's wake-up queued.
      CHECK(t.seen.at("CQE res 8") == t.o.schedules);
      CHECK(t.seen.count("poll armed") == 1);
      CHECK(t.seen.at("poll armed") < t.o.schedules);
      CHECK(t.seen.count("io_apoll_task_func") == 1);
      for (const std::string& m : t.o.metrics) CHECK(m.find("\"recv_results\":[8]") != std::string::npos);
    }
}

TEST_CASE("script world: a wrong expectation on an io_uring READ is a finding (the test can fail)") {
  std::string text = kUringRead;
  const std::string from = "= 8  data sent(c0)";
  text.replace(text.find(from), from.size(), "= 8  data \"23456780\"");
  const Outcomes o = dfs_traced(parsed(text), {}).o;
  INFO(ends_str(o));
  CHECK(o.exhaustive);
  CHECK(o.findings == o.schedules);
}

TEST_CASE("script world: io_uring SEND, and poll for POLLOUT on the writers' side") {
  const char* const text = R"(scenario u "x"
param proto = udp {udp, tcp}
c1, p1 = create_pair(proto)
ring = io_uring_setup(0)
thread t {
  poll(c1, POLLOUT, 1s) = POLLOUT  within 1ms
  uring_send(ring, c1, 5) = 5
  poll(p1, POLLIN|POLLOUT, 1s) = POLLIN|POLLOUT  within 1ms
  recv(p1, 5) = 5  data sent(c1)
  poll(p1, POLLIN, 20ms) = 0
  shutdown(p1, SHUT_WR)
  poll(p1, POLLOUT, 1s) = POLLOUT
}
)";
  for (const char* proto : {"udp", "tcp"}) {
    const Outcomes o = dfs_program(parsed(text, {std::string("proto=") + proto}));
    INFO(proto << "\n" << ends_str(o));
    CHECK(o.exhaustive);
    CHECK(o.findings == 0);
  }
  // A TCP socket that sends more than a first window: when its queue fills is the peer's
  // window's business, which this world does not model: POLLOUT on it is refused.
  const Program big = parsed(R"(scenario u "x"
c, p = create_pair(tcp)
thread t {
  send(c, 64K, MSG_DONTWAIT)
  poll(c, POLLOUT, 5ms) = POLLOUT
}
)");
  ReplayStrategy none({}, false);
  none.begin_run();
  Sched sch(none);
  try {
    build_script_world(sch, big);
    FAIL("POLLOUT after a 64 KiB TCP send was not refused");
  } catch (const ScriptUnsupported& e) {
    CHECK(std::string(e.what()).find("u.kps:5:3: unsupported in the model: poll(c, POLLOUT, 5ms) after c sends 65536 bytes") !=
          std::string::npos);
  }
  // A POLLOUT expectation that the socket does not meet fails the run.
  const Program bad = parsed(R"(scenario u "x"
c1, p1 = create_pair(udp)
thread t {
  poll(c1, POLLIN|POLLOUT, 1s) = POLLIN|POLLOUT
}
)");
  const Outcomes o = dfs_program(bad);
  INFO(ends_str(o));
  CHECK(o.findings == o.schedules);
  CHECK(o.ends.begin()->first.find("returned 4, expected 5") != std::string::npos);
}

// model preempt (model/kernel/sched/core.h): with `wakeup` the backlog kworker, woken on the
// test thread's CPU by the send's softirq, runs before the thread's next syscall only if that
// wake-up set TIF_NEED_RESCHED, and otherwise not before the thread sleeps. So two FIONREADs
// right after the send (no sleep, no wake-up in between) see the same value: [0,0] or [2,2],
// never [0,2]. With `any` (every return to user space a switch point) [0,2] is produced too.
TEST_CASE("script world: preempt=wakeup switches to the kworker only where a wake-up set need_resched") {
  for (const Proto proto : {Proto::udp, Proto::tcp}) {
    Program p;
    p.name = "wakeup-preempt";
    p.file = "test.kps";
    pair(p, "c0", "p0", proto);
    pair(p, "c1", "p1", proto);
    p.map = Map{"m", MapType::sockmap, 2, at(3)};
    VerdictRule all;
    all.act = {Action::redirect, 1, true};
    p.verdict.rules = {all};
    p.setup = {map_op(p, Op::map_update, 0, "p0"), map_op(p, Op::map_update, 1, "p1")};
    Thread t;
    t.name = "test";
    t.steps.push_back(send(p, "c1", "01"));
    Step f;
    f.op = Op::fionread;
    f.sock = sk(p, "p1");
    f.text = "ioctl(p1, FIONREAD)";
    f.loc = at(21);
    t.steps.push_back(f);
    t.steps.push_back(f);
    // The thread sleeps: the kworker runs then whatever the flag said.
    t.steps.push_back(wait_fionread(p, "p1", 2, 2));
    p.threads = {t};
    p.max_steps = 20000;
    const auto fionreads = [](const Outcomes& o) {
      std::set<std::string> seen;
      for (const std::string& m : o.metrics)
        seen.insert(nlohmann::ordered_json::parse(m)["fionread_results"].dump());
      return seen;
    };
    INFO((proto == Proto::udp ? "udp" : "tcp"));
    const Outcomes any = dfs_program(with_settings(p, {"preempt=any"}));
    const Outcomes wakeup = dfs_program(with_settings(p, {"preempt=wakeup"}));
    REQUIRE(any.exhaustive);
    REQUIRE(wakeup.exhaustive);
    CHECK(any.findings == 0);
    CHECK(wakeup.findings == 0);
    CHECK(fionreads(any) == std::set<std::string>{"[0,0,2]", "[0,2,2]", "[2,2,2]"});
    CHECK(fionreads(wakeup) == std::set<std::string>{"[0,0,2]", "[2,2,2]"});
    CHECK(wakeup.schedules < any.schedules);

    // preempt=tick (the default): the scheduler tick, once per run, may end the thread's slice
    // at a return to user space where the kworker waits. [0,2] comes back, and only from runs
    // that took the tick (the metric crosscheck uses to excuse the kernel from showing it).
    const Outcomes tick = dfs_program(with_settings(p, {"preempt=tick"}));
    REQUIRE(tick.exhaustive);
    CHECK(tick.findings == 0);
    CHECK(fionreads(tick) == std::set<std::string>{"[0,0,2]", "[0,2,2]", "[2,2,2]"});
    std::set<std::string> without_tick;
    for (const std::string& m : tick.metrics) {
      const auto j = nlohmann::ordered_json::parse(m);
      CHECK(j["sched_ticks"].get<int>() <= 1);  // once per run
      if (j["sched_ticks"].get<int>() == 0) without_tick.insert(j["fionread_results"].dump());
    }
    CHECK(without_tick == fionreads(wakeup));
    CHECK(tick.schedules > wakeup.schedules);
  }
}

TEST_CASE("script world: model preempt takes tick, wakeup and any, nothing else") {
  Program p = seed(Proto::udp, "selftest");
  p.model.preempt = "sometimes";
  CHECK_THROWS_WITH(dfs_program(p), Catch::Matchers::Contains("model preempt = sometimes"));
}
