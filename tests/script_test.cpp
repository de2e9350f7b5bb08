// The .kps parser (scenarios/script/): the seed script instantiates to the steps, payloads and
// expectations the hand-written seed 000 had; bad scripts fail with a ScriptError at the right
// line:col.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "model/kconfig.h"
#include "scenarios/script/script.h"

using namespace kpsim;
using namespace kpsim::script;

namespace {

const std::string kSeed = std::string(KPSIM_SOURCE_DIR) + "/scenarios/sockmap-multi-channels.kps";

Program seed(const std::string& proto, const std::string& test,
             std::vector<std::string> more = {}) {
  static const Script s = Script::load(kSeed);
  more.push_back("proto=" + proto);
  more.push_back("test=" + test);
  return s.instantiate(resolve_params(s.name(), s.params(), more));
}

struct Want {
  Op op;
  std::string sock;
  uint32_t len;
  std::optional<int64_t> ret;
  std::optional<std::string> data;
  std::string payload = {};
};

void check_steps(const Program& p, const std::vector<Want>& want) {
  REQUIRE(p.threads.size() == 1);
  const auto& steps = p.threads[0].steps;
  REQUIRE(steps.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("step " << i << ": " << steps[i].text);
    CHECK(steps[i].op == want[i].op);
    CHECK(p.socks[steps[i].sock].name == want[i].sock);
    if (want[i].op != Op::send) CHECK(steps[i].len == want[i].len);
    CHECK(steps[i].expect.ret == want[i].ret);
    CHECK(steps[i].expect.data == want[i].data);
    CHECK(steps[i].payload == want[i].payload);
  }
}

std::string error_of(const std::string& text, std::vector<std::string> sets = {}) {
  try {
    const Script s = Script::parse("bad.kps", text);
    (void)s.instantiate(resolve_params(s.name(), s.params(), sets));
  } catch (const ScriptError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("seed script: declarations") {
  const Script s = Script::load(kSeed);
  CHECK(s.name() == "sockmap-multi-channels");
  CHECK(s.summary().find("test_sockmap_multi_channels") != std::string::npos);
  std::vector<std::string> names;
  for (auto& p : s.params()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"proto", "test", "fionread", "self_redirect", "kworker_cpu",
                                          "c1_bytes", "c0_bytes", "preempt"});
  CHECK(s.is_model_setting("fionread"));
  CHECK(s.is_model_setting("kworker_cpu"));
  CHECK_FALSE(s.is_model_setting("proto"));
  CHECK_FALSE(s.is_model_setting("nope"));
  CHECK(s.params()[2].choices == model::switch_choices<model::fionread_semantics>());
  CHECK(s.params()[3].choices == model::switch_choices<model::self_redirect>());
  CHECK(s.params()[5].integer);
  CHECK(s.params()[5].min == 1);
  CHECK(s.params()[5].max == 31);
  CHECK(s.params()[5].default_value == "2");
  CHECK(s.params()[7].choices == model::switch_choices<model::preempt_model>());
  CHECK(s.is_model_setting("preempt"));
  CHECK(s.text().rfind("# Seed 000", 0) == 0);
}

TEST_CASE("seed script: setup") {
  for (const char* proto : {"udp", "tcp"}) {
    const Program p = seed(proto, "selftest");
    CHECK(p.name == "sockmap-multi-channels");
    CHECK(p.file == kSeed);
    REQUIRE(p.socks.size() == 4);
    const std::vector<std::string> names = {"c0", "p0", "c1", "p1"};
    for (uint32_t i = 0; i < 4; ++i) {
      CHECK(p.socks[i].name == names[i]);
      CHECK(p.socks[i].proto == (std::string(proto) == "udp" ? Proto::udp : Proto::tcp));
      CHECK(p.socks[i].peer == (i ^ 1));
      CHECK(p.socks[i].server_side == (i % 2 == 0));  // `c0, p0 = create_pair()`: c0 is *p0 of the helper
    }
    CHECK(p.find_sock("p1") == 3u);
    CHECK_FALSE(p.find_sock("p2"));
    REQUIRE(p.map);
    CHECK(p.map->name == "sock_map_rx");
    CHECK(p.map->type == MapType::sockmap);
    CHECK(p.map->max_entries == 2);
    REQUIRE(p.verdict.rules.size() == 1);
    CHECK_FALSE(p.verdict.rules[0].on);
    CHECK(p.verdict.rules[0].act.action == Action::redirect);
    CHECK(p.verdict.rules[0].act.key == 1);
    CHECK(p.verdict.rules[0].act.ingress);
    REQUIRE(p.setup.size() == 2);
    CHECK(p.setup[0].op == Op::map_update);
    CHECK(p.setup[0].key == 0);
    CHECK(p.setup[0].sock == 1);
    CHECK(p.setup[1].key == 1);
    CHECK(p.setup[1].sock == 3);
    CHECK(p.setup[1].text == "map_update(sock_map_rx, 1, p1)");
    CHECK(p.max_steps == 20000);
    CHECK(p.max_time_ns == 120'000'000'000ull);
    CHECK(p.model.fionread == "current");
    CHECK(p.model.self_redirect == "backlog");
    CHECK(p.model.kworker_cpu == "same");
  }
  const Program q = seed("udp", "loop", {"fionread=pre-929e30f93125", "kworker_cpu=other"});
  CHECK(q.model.fionread == "pre-929e30f93125");
  CHECK(q.model.kworker_cpu == "other");
}

TEST_CASE("poll and select: one socket, readability, a timeout") {
  const Program p = Script::parse("p.kps", "scenario p \"x\"\na, b = create_pair(udp)\nthread t {\n"
                                           "  poll(b, POLLIN, 5ms) = 0\n  select(b, 2s) = 1\n}\n")
                        .instantiate({});
  const auto& st = p.threads.at(0).steps;
  REQUIRE(st.size() == 2);
  CHECK(st[0].op == Op::poll);
  CHECK_FALSE(st[0].select_call);
  CHECK(st[0].timeout_us == 5000);
  CHECK(st[0].expect.ret == 0);
  CHECK(st[0].text == "poll(b, POLLIN, 5ms)");
  CHECK(st[1].op == Op::poll);
  CHECK(st[1].select_call);
  CHECK(st[1].timeout_us == 2000000);
  CHECK(st[1].text == "select(b, 2s)");
}

TEST_CASE("poll for POLLOUT and POLLIN|POLLOUT: the kernel's event values") {
  const Program p = Script::parse("p.kps", "scenario p \"x\"\na, b = create_pair(tcp)\nthread t {\n"
                                           "  poll(a, POLLOUT, 5ms) = POLLOUT\n"
                                           "  poll(b, POLLIN|POLLOUT, 1s) = POLLIN|POLLOUT\n"
                                           "  poll(b, POLLIN, 1s) = POLLIN\n}\n")
                        .instantiate({});
  const auto& st = p.threads.at(0).steps;
  REQUIRE(st.size() == 3);
  CHECK(st[0].events == kPollOut);
  CHECK(st[0].expect.ret == 4);  // POLLOUT in include/uapi/asm-generic/poll.h
  CHECK(st[0].text == "poll(a, POLLOUT, 5ms)");
  CHECK(st[1].events == (kPollIn | kPollOut));
  CHECK(st[1].expect.ret == 5);
  CHECK(st[1].text == "poll(b, POLLIN|POLLOUT, 1s)");
  CHECK(st[2].events == kPollIn);
  CHECK(st[2].expect.ret == 1);
}

TEST_CASE("seed script: the three tests, udp and tcp") {
  const std::string all = "0123456789";
  SECTION("selftest udp") {
    const Program p = seed("udp", "selftest");
    check_steps(p, {{Op::send, "c1", 2, 2, {}, "01"},
                    {Op::wait_fionread, "p1", 2, 2, {}},
                    {Op::send, "c0", 8, 8, {}, "23456789"},
                    {Op::wait_fionread, "p1", 2, 2, {}},
                    {Op::recv, "p1", 11, 10, all}});
    const auto& st = p.threads[0].steps;
    CHECK(st[1].timeout_us == 30000);
    CHECK(st[1].poll_us == 1000);
    CHECK(st[4].flags == msg_dontwait);
    CHECK(st[4].timeout_us == 1000000);
    CHECK(st[4].text == "recv_timeout(p1, 11, MSG_DONTWAIT, 1s)");
    CHECK(st[0].text == "send(c1, 2)");
    CHECK(st[1].text == "wait_for_fionread(p1, 2, 30ms)");
    CHECK(st[4].loc.str() == kSeed + ":42:5");
    CHECK(p.threads[0].name == "selftest");
  }
  SECTION("selftest tcp: FIONREAD reports everything queued") {
    check_steps(seed("tcp", "selftest"), {{Op::send, "c1", 2, 2, {}, "01"},
                                          {Op::wait_fionread, "p1", 2, 2, {}},
                                          {Op::send, "c0", 8, 8, {}, "23456789"},
                                          {Op::wait_fionread, "p1", 10, 10, {}},
                                          {Op::recv, "p1", 11, 10, all}});
  }
  SECTION("loop") {
    for (const char* proto : {"udp", "tcp"}) {
      const Program p = seed(proto, "loop");
      const uint32_t expected = std::string(proto) == "udp" ? 2 : 10;
      check_steps(p, {{Op::send, "c1", 2, 2, {}, "01"},
                      {Op::wait_fionread, "p1", 2, 2, {}},
                      {Op::send, "c0", 8, 8, {}, "23456789"},
                      {Op::wait_fionread, "p1", expected, expected, {}},
                      {Op::recv_loop, "p1", 10, 10, all}});
      CHECK(p.threads[0].steps[4].timeout_us == 30'000'000);
    }
  }
  SECTION("upstream udp: recv what FIONREAD promised, wait, recv the rest") {
    check_steps(seed("udp", "upstream"), {{Op::send, "c1", 2, 2, {}, "01"},
                                          {Op::wait_fionread, "p1", 2, 2, {}},
                                          {Op::send, "c0", 8, 8, {}, "23456789"},
                                          {Op::wait_fionread, "p1", 2, 2, {}},
                                          {Op::recv, "p1", 2, 2, std::string("01")},
                                          {Op::wait_fionread, "p1", 8, 8, {}},
                                          {Op::recv, "p1", 8, 8, std::string("23456789")}});
  }
  SECTION("upstream tcp") {
    check_steps(seed("tcp", "upstream"), {{Op::send, "c1", 2, 2, {}, "01"},
                                          {Op::wait_fionread, "p1", 2, 2, {}},
                                          {Op::send, "c0", 8, 8, {}, "23456789"},
                                          {Op::wait_fionread, "p1", 10, 10, {}},
                                          {Op::recv, "p1", 10, 10, all}});
  }
  SECTION("other sizes keep the alphabet") {
    const Program p = seed("udp", "selftest", {"c1_bytes=31", "c0_bytes=31"});
    CHECK(p.threads[0].steps[0].payload == "0123456789abcdefghijklmnopqrstu");
    CHECK(p.threads[0].steps[2].payload == "vwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    CHECK(p.threads[0].steps[4].expect.data->size() == 62);
  }
}

TEST_CASE("instantiate refuses parameter values outside their declaration") {
  const Script s = Script::load(kSeed);
  Params p;
  p.set("c1_bytes", "99");
  try {
    (void)s.instantiate(p);
    FAIL("no error");
  } catch (const ScriptError& e) {
    CHECK(std::string(e.what()) == kSeed + ":15:7: parameter c1_bytes=99 is outside [1, 31]");
    CHECK(e.loc.line == 15);
  }
}

TEST_CASE("payloads beyond 62 bytes: one byte range per sending socket") {
  const std::string text = R"(scenario big "x"
a, b = create_pair(tcp)
c, d = create_pair(udp)
thread t1 {
  send(a, 40)
  send(c, 30)
  send(a, 5, MSG_MORE)
}
thread t2 {
  send(b, 1)
  recv(b, 45) = 45 data sent(a)
  recv(d, 30) = 30 data sent(c)[0:30]
}
)";
  const Program p = Script::parse("big.kps", text).instantiate({});
  const auto& s1 = p.threads[0].steps;
  REQUIRE(s1[0].payload.size() == 40);
  const std::string a = s1[0].payload + s1[2].payload;
  for (uint32_t j = 0; j < a.size(); ++j)
    CHECK(static_cast<unsigned char>(a[j]) == ((j * 2654435761u) >> 26 & 0x3f));
  for (unsigned char c : s1[1].payload) CHECK(payload_sender(c) == 1);
  CHECK(static_cast<unsigned char>(p.threads[1].steps[0].payload[0]) >> 6 == 2);
  CHECK(p.threads[1].steps[1].expect.data == a);
  CHECK(s1[2].flags == msg_more);
  CHECK(s1[2].text == "send(a, 5, MSG_MORE)");
  std::set<unsigned char> bytes(a.begin(), a.end());
  CHECK(bytes.size() > 20);  // the stream varies
}

TEST_CASE("rules, conditionals, repeat, setsockopt") {
  const std::string text = R"(scenario rules "x"
param n = 3 [0, 64K] "repeats"
param kind = hash {map, hash}
a, b = create_pair(tcp)
c, d = create_pair(tcp)
setsockopt(a, SO_RCVBUF, 64K)
setsockopt(b, TCP_NODELAY, 1)
if kind == hash {
  m = map(BPF_MAP_TYPE_SOCKHASH, 4)
} else {
  m = map(BPF_MAP_TYPE_SOCKMAP, 4)
}
verdict(m) {
  on b: pass
  on d: drop
  redirect(3)
}
map_update(m, 3, a)
thread t {
  repeat n {
    send(b, 1, MSG_DONTWAIT)
  }
  repeat 2 {
    if n > 2 {
      usleep(1500)
    }
  }
  ioctl(a, FIONREAD) = n
  recv(a, 2, MSG_PEEK|MSG_DONTWAIT) = -EAGAIN
  map_delete(m, 3)
  shutdown(b, SHUT_WR)
  close(b)
}
)";
  const Script s = Script::parse("rules.kps", text);
  const Program p = s.instantiate({});
  CHECK(p.map->type == MapType::sockhash);
  CHECK(p.socks[0].rcvbuf == 65536u);
  CHECK(p.socks[1].nodelay);
  REQUIRE(p.verdict.rules.size() == 3);
  CHECK(p.verdict.rules[0].on == 1u);
  CHECK(p.verdict.rules[1].act.action == Action::drop);
  CHECK(p.verdict.rules[2].act.key == 3);
  CHECK_FALSE(p.verdict.rules[2].act.ingress);
  const auto& st = p.threads[0].steps;
  REQUIRE(st.size() == 3 + 2 + 5);
  CHECK(st[3].op == Op::usleep);
  CHECK(st[3].timeout_us == 1500);
  CHECK(st[3].text == "usleep(1500us)");
  CHECK(st[5].op == Op::fionread);
  CHECK(st[5].expect.ret == 3);
  CHECK(st[6].flags == (msg_peek | msg_dontwait));
  CHECK(st[6].expect.ret == -11);
  CHECK(st[6].text == "recv(a, 2, MSG_DONTWAIT|MSG_PEEK)");
  CHECK(st[7].op == Op::map_delete);
  CHECK(st[8].op == Op::shutdown);
  CHECK(st[9].op == Op::close);
  Params q;
  q.set("n", "1");
  q.set("kind", "map");
  const Program p1 = s.instantiate(q);
  CHECK(p1.map->type == MapType::sockmap);
  CHECK(p1.threads[0].steps.size() == 1 + 0 + 5);
}

TEST_CASE("errors carry the line and column of the offending text") {
  const std::string H = "scenario t \"x\"\n";
  const std::string P = H + "a, b = create_pair(udp)\n";
  const std::string T = H + "a, b = create_pair(tcp)\n";
  struct Case {
    std::string text, where, message;
  };
  const std::vector<Case> cases = {
      {"", "bad.kps:1:1", "empty script"},
      {"param x = 1 [0, 2]\n" + H, "bad.kps:1:1", "the first statement must be `scenario"},
      {"scenario Bad \"x\"\n", "bad.kps:1:10", "must match [a-z0-9][a-z0-9-]*"},
      {H + "foo(1)\n", "bad.kps:2:1", "unknown statement 'foo' (expected one of: scenario, param"},
      {P + "thread t {\n  sned(a, 1)\n}\n", "bad.kps:4:3", "unknown statement 'sned' (expected one of: send,"},
      {P + "thread t {\n  send(c9, 1)\n}\n", "bad.kps:4:8", "unknown name 'c9'"},
      {P + "thread t {\n  send(a, 1 + nbytes)\n}\n", "bad.kps:4:15", "unknown name 'nbytes'"},
      {H + "param n = 40 [1, 31]\n", "bad.kps:2:11", "bad default: parameter n=40 is outside [1, 31]"},
      {H + "param p = sctp {udp, tcp}\n", "bad.kps:2:11", "bad default: parameter p=sctp is not one of udp|tcp"},
      {H + "model fionread = old\n", "bad.kps:2:18", "bad default: parameter fionread=old is not one of current|pre-929e30f93125"},
      {H + "model colour = red\n", "bad.kps:2:7", "unknown model setting 'colour'"},
      {P + "let b = 2\n", "bad.kps:3:5", "duplicate name 'b' (already a socket at bad.kps:2:4)"},
      {H + "param n = 1 [0, 2]\nparam n = 1 [0, 2]\n", "bad.kps:3:7", "duplicate name 'n'"},
      {P + "thread a {\n}\n", "bad.kps:3:8", "duplicate name 'a'"},
      {P + "thread t {\n  send(a, 2)\n  recv(b, 9) = 5 data sent(a)[0:5]\n}\n", "bad.kps:5:30",
       "slice [0:5] out of range of a 2-byte string"},
      {P + "m = map(BPF_MAP_TYPE_SOCKMAP, 2)\nn = map(BPF_MAP_TYPE_SOCKMAP, 2)\n", "bad.kps:4:1",
       "unsupported: more than one map"},
      {P + "m = map(BPF_MAP_TYPE_ARRAY, 2)\n", "bad.kps:3:9", "unsupported: map type BPF_MAP_TYPE_ARRAY"},
      {P + "setsockopt(a, SO_LINGER, 1)\n", "bad.kps:3:15",
       "unsupported: setsockopt option SO_LINGER (supported: SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, TCP_MAXSEG, TCP_WINDOW_CLAMP)"},
      {P + "setsockopt(a, TCP_NODELAY, 1)\n", "bad.kps:3:15", "unsupported: TCP_NODELAY on a UDP socket"},
      {P + "sysctl net.core.wmem_max = 5\n", "bad.kps:3:8", "unsupported: sysctl net.core.wmem_max"},
      {H + "property nope\n", "bad.kps:2:10", "unknown property 'nope'"},
      {H + "property min-throughput\n", "bad.kps:2:10", "min-throughput needs its bound in KiB/s"},
      {H + "property min-throughput(0)\n", "bad.kps:2:25", "min-throughput (KiB/s)"},
      {H + "property no-stall(5)\n", "bad.kps:2:10", "property no-stall takes no argument"},
      {P + "thread t {\n}\nproperty no-stall\n", "bad.kps:5:1", "unsupported: property after the first thread"},
      {H + "model fix = none {none, bogus}\n", "bad.kps:2:25", "'bogus' is not a value of model fix"},
      {P + "tls_tx(a, 1.3, sync)\n", "bad.kps:3:8", "tls_tx: kTLS needs a TCP socket"},
      {T + "tls_tx(a, 1.4, sync)\n", "bad.kps:3:11", "tls_tx: expected the TLS version 1.2 or 1.3, got 1.4"},
      {T + "tls_tx(a, 1.3, fast)\n", "bad.kps:3:16", "tls_tx: expected the AEAD: sync"},
      {P + "tls_rx(a, 1.3, sync)\n", "bad.kps:3:8", "tls_rx: kTLS needs a TCP socket"},
      {T + "tls_rx(a, 1.1, sync)\n", "bad.kps:3:11", "tls_rx: expected the TLS version 1.2 or 1.3, got 1.1"},
      {T + "tls_rx(b, 1.3, fast)\n", "bad.kps:3:16", "tls_rx: expected the AEAD: sync"},
      {T + "tls_rx(b, 1.3, sync)\ntls_rx(a, 1.3, sync)\n", "bad.kps:4:1", "unsupported: kTLS RX on more than one socket"},
      {T + "f = file(0)\n", "bad.kps:3:10", "file size 0 is outside"},
      {T + "setsockopt(a, TCP_MAXSEG, 50)\n", "bad.kps:3:27", "TCP_MAXSEG 50 is outside [88, 65495]"},
      {T + "thread t {\n  sendfile(a, a, 10)\n}\n", "bad.kps:4:15", "'a' is a socket, not a file"},
      {T + "f = file(8)\nthread t {\n  sendfile_loop(a, f, 10)\n}\n", "bad.kps:5:3", "sendfile_loop takes 4 arguments, got 3"},
      {T + "r = io_uring_setup(IORING_SETUP_SINGLE_ISSUER)\n", "bad.kps:3:20", "unsupported: io_uring_setup flags"},
      {T + "thread t {\n  send(a, 1, SPLICE_F_MORE)\n}\n", "bad.kps:4:14", "expected 0 or MSG_ flags"},
      {T + "f = file(8)\np = pipe()\nthread t {\n  splice_loop(f, p, a, 8, MSG_MORE)\n}\n", "bad.kps:6:27",
       "expected 0 or SPLICE_F_MORE"},
      {P + "m = map(BPF_MAP_TYPE_SOCKMAP, 2)\nverdict(m) {\n  on a: pass\n}\n", "bad.kps:6:1",
       "verdict: missing the default rule"},
      {P + "m = map(BPF_MAP_TYPE_SOCKMAP, 2)\nverdict(m) {\n  pass\n  on a: drop\n}\n", "bad.kps:6:3",
       "verdict: a rule after the default rule"},
      {P + "m = map(BPF_MAP_TYPE_SOCKMAP, 2)\nmap_update(m, 2, a)\n", "bad.kps:4:15",
       "key (a sockmap slot) 2 is outside [0, 1]"},
      {P + "thread t {\n  send(a, 1)\n", "bad.kps:3:1", "unterminated block: 'thread t {' has no closing '}'"},
      {P + "thread t {\n  if 1 {\n    send(a, 1)\n}\n", "bad.kps:3:1", "unterminated block: 'thread t {'"},
      {P + "thread t {\n  if 1 {\n    send(a, 1)\n", "bad.kps:4:3", "unterminated block: 'if {'"},
      {P + "thread t {\n  usleep(5sec)\n}\n", "bad.kps:4:10", "bad number '5sec'"},
      {P + "thread t {\n  recv_timeout(b, 1, 0, 0 - 1)\n}\n", "bad.kps:4:27", "the duration must be > 0"},
      {P + "thread t {\n  wait_for_fionread(b, 1, 1 / 0)\n}\n", "bad.kps:4:29", "division by zero"},
      {P + "let x = 9223372036854775807 + 1\nthread t {\n}\n", "bad.kps:3:29", "integer overflow"},
      {P + "thread t {\n  repeat 200000 {\n    send(a, 1)\n  }\n}\n", "bad.kps:4:10", "too many steps"},
      {P + "thread t {\n  repeat 1000 {\n    repeat 1000 {\n      send(a, 0)\n    }\n  }\n}\n", "bad.kps:6:7",
       "too many steps"},
      {P + "thread t {\n  send(a, 17M)\n}\n", "bad.kps:4:11", "send size 17825792 is outside [0, 16777216]"},
      {P + "thread t {\n  recv(b, 2) = 2 data \"abc\"\n}\n", "bad.kps:4:23", "data is 3 bytes, more than the 2-byte buffer"},
      {P + "thread t {\n  recv(b, 5) = 2 data \"abc\"\n}\n", "bad.kps:4:23", "data is 3 bytes but the call is expected to return 2"},
      {P + "thread t {\n  usleep(1ms) = 0\n}\n", "bad.kps:4:15", "unsupported: an expectation on usleep"},
      {P + "thread t {\n  send(a, 1) = 1 within 0\n}\n", "bad.kps:4:25", "the duration must be > 0"},
      {P + "thread t {\n  send(a, 1) = 1 within 1ms 2\n}\n", "bad.kps:4:29", "unexpected"},
      {P + "m = map(BPF_MAP_TYPE_SOCKMAP, 2)\nmap_update(m, 0, a) within 1ms\n", "bad.kps:4:21",
       "unsupported: `within` on a setup statement"},
      {P + "thread t {\n  send(a, 1, MSG_PEEK)\n}\n", "bad.kps:4:14", "unsupported: MSG_PEEK on send"},
      {P + "thread t {\n  setsockopt(a, SO_RCVBUF, 1)\n}\n", "bad.kps:4:3", "unsupported: setsockopt inside a thread"},
      {P + "send(a, 1)\n", "bad.kps:3:1", "'send' is a thread step"},
      {P, "bad.kps:1:10", "no thread"},
      {H + "param proto = udp {udp, tcp}\nif proto == udpp {\n}\n", "bad.kps:3:13", "unknown name 'udpp' (not a value of proto: udp, tcp)"},
      {P + "thread t {\n}\nlet x = 1\n", "bad.kps:5:1", "unsupported: let after the first thread"},
      {P + "thread t {\n  recv(b, 1) data \"a\"\n}\n", "bad.kps:4:14", "a data expectation follows `= N`"},
      {P + "thread t {\n  send(a)\n}\n", "bad.kps:4:3", "send takes 2 or 3 arguments, got 1"},
      {P + "x, y = create_pair(sctp)\n", "bad.kps:3:20", "unknown name 'sctp'"},
      {P + "thread t {\n  recv(b, 1) = 1 data \"\\q\"\n}\n", "bad.kps:4:24", "unknown escape"},
      {P + "thread t {\n  recv(b, 1) = 1 data \"abc\n}\n", "bad.kps:4:23", "unterminated string"},
      {P + "thread t {\n  send(a, 1) @\n}\n", "bad.kps:4:14", "unexpected character '@'"},
      {P + "}\n", "bad.kps:3:1", "'}' closes no block"},
      {P + "thread t {\n  send(a, 1s)\n}\n", "bad.kps:4:11", "expected an integer, got a duration"},
      {P + "thread t {\n  poll(a, POLLHUP, 1s)\n}\n", "bad.kps:4:11", "unsupported: poll events POLLHUP (supported: POLLIN, POLLOUT"},
      {P + "thread t {\n  poll(a, POLLIN|POLLERR, 1s)\n}\n", "bad.kps:4:17", "unsupported: poll events POLLIN|POLLERR"},
      {P + "thread t {\n  poll(a, 4, 1s)\n}\n", "bad.kps:4:11", "expected poll events: POLLIN, POLLOUT or POLLIN|POLLOUT"},
      {P + "thread t {\n  poll(a, POLLOUT|MSG_DONTWAIT, 1s)\n}\n", "bad.kps:4:18", "| joins POLL events with POLL events only"},
      {P + "thread t {\n  send(a, 1, POLLOUT)\n}\n", "bad.kps:4:14", "expected 0 or MSG_ flags joined with |"},
      {P + "thread t {\n  poll(a, POLLOUT + POLLIN, 1s)\n}\n", "bad.kps:4:19", "POLL events combine only with |"},
      {P + "let POLLOUT = 1\n", "bad.kps:3:5", "reserved"},
      {P + "r = io_uring_setup(0)\nthread t {\n  uring_read(r, b, 4)\n}\nthread u {\n  uring_send(r, a, 1)\n}\n",
       "bad.kps:8:3", "unsupported: io_uring r used from two threads"},
      {P + "r = io_uring_setup(0)\nthread t {\n  uring_send(r, a, 0)\n}\n", "bad.kps:5:20", "send size 0 is outside [1, "},
      {P + "r = io_uring_setup(0)\nthread t {\n  uring_read(r, b, 2) = 2 data \"abc\"\n}\n", "bad.kps:5:32",
       "data is 3 bytes, more than the 2-byte buffer"},
      {P + "r = io_uring_setup(0)\nthread t {\n  uring_send(r, a, 1) = 1 data \"a\"\n}\n", "bad.kps:5:27",
       "unsupported: a data expectation on uring_send"},
      {P + "thread t {\n  uring_read(a, b, 1)\n}\n", "bad.kps:4:14", "is a socket, not a"},
      {P + "thread t {\n  select(a)\n}\n", "bad.kps:4:3", "select takes 2 arguments, got 1"},
      {P + "thread t {\n  select(a, 0s)\n}\n", "bad.kps:4:13", "the duration must be > 0"},
      {P + "let x = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))\n",
       "bad.kps:3:", "nested too deeply"},
  };
  for (auto& c : cases) {
    const std::string got = error_of(c.text);
    INFO(c.text << "\ngot: " << got);
    CHECK(got.rfind(c.where, 0) == 0);
    CHECK(got.find(c.message) != std::string::npos);
  }
}

TEST_CASE("seed 001's script: kTLS, a file, a sysctl, socket options, checks, the sender's loop") {
  const Script s = Script::load(KPSIM_SOURCE_DIR "/scenarios/ktls-sendfile-stall.kps");
  CHECK(s.is_model_setting("fix"));
  const Program d = s.instantiate(Params{});
  CHECK(d.stream());
  REQUIRE(d.tls_tx);
  CHECK(d.tls_tx->version == TlsVersion::v1_3);
  CHECK(d.tls_tx->crypto == Crypto::sync);
  CHECK(d.socks.at(d.tls_tx->sock).name == "sender");
  CHECK(d.socks.at(1).drain);
  CHECK_FALSE(d.socks.at(0).maxseg);
  REQUIRE(d.files.size() == 1);
  CHECK(d.files[0].size == 4194304);
  CHECK(d.sysctl_tcp_notsent_lowat == 4294967295u);
  REQUIRE(d.checks.size() == 3);
  CHECK(d.checks[2].name == "no-stall");
  REQUIRE(d.threads.size() == 1);
  CHECK(d.threads[0].name == "app:sender");
  REQUIRE(d.threads[0].steps.size() == 1);
  const Step& st = d.threads[0].steps[0];
  CHECK(st.op == Op::sendfile_loop);
  CHECK(st.total == 4194304);
  CHECK(st.per_call == 4194304);
  CHECK(st.text == "sendfile_loop(sender, f, 4194304, 4194304)");
  CHECK(d.max_time_ns == 48ull * 3600 * 1000000000);
  const Program w = s.instantiate(resolve_params(s.name(), s.params(),
                                                 std::vector<std::string>{"api=write", "mss=1436", "tls=none",
                                                                          "fix=flush-before-wait", "sndbuf=9000",
                                                                          "nodelay=1", "bytes=17179869184"}));
  CHECK_FALSE(w.tls_tx);
  CHECK(w.socks.at(0).maxseg == 1448u);
  CHECK(w.socks.at(0).sndbuf == 9000u);
  CHECK(w.socks.at(0).nodelay);
  CHECK(w.model.fix == "flush-before-wait");
  CHECK(w.threads[0].steps[0].op == Op::write_loop);
  CHECK(w.threads[0].steps[0].total == 17179869184ull);
  const Program seed0 = Script::load(KPSIM_SOURCE_DIR "/scenarios/sockmap-multi-channels.kps").instantiate(Params{});
  CHECK_FALSE(seed0.stream());
}

TEST_CASE("seed 002's script: a pipe, an io_uring and its setup flags, the server's and the client's steps") {
  const Script s = Script::load(KPSIM_SOURCE_DIR "/scenarios/ktls-async-close.kps");
  CHECK(s.is_model_setting("kernel"));
  CHECK(s.is_model_setting("fix"));
  const Program d = s.instantiate(Params{});
  CHECK(d.stream());
  REQUIRE(d.tls_tx);
  CHECK(d.tls_tx->crypto == Crypto::async);
  REQUIRE(d.rings.size() == 1);
  CHECK(d.rings[0].setup == RingSetup::normal);
  CHECK(d.rings[0].others_at_close);
  CHECK(d.socks.at(1).window_clamp == 16384u);
  CHECK(d.socks.at(0).maxseg == 1460u);
  REQUIRE(d.threads.size() == 2);
  CHECK(d.threads[0].name == "app:server");
  CHECK(d.threads[1].name == "client:curl");
  REQUIRE(d.threads[0].steps.size() == 1);
  CHECK(d.threads[0].steps[0].op == Op::uring_splice_close);
  CHECK(d.threads[0].steps[0].splice_more);
  CHECK(d.threads[1].steps[0].op == Op::read_until_eof);
  CHECK(d.threads[1].steps[0].timeout_us == 1000);
  const auto with = [&](std::vector<std::string> sets) {
    return s.instantiate(resolve_params(s.name(), s.params(), sets));
  };
  CHECK(with({"io=uring-defer"}).rings.at(0).setup == RingSetup::defer_taskrun);
  CHECK(with({"io=uring-coop", "others=3", "others_at=start", "iowq_max=2"}).rings.at(0).setup == RingSetup::coop_taskrun);
  const Program o = with({"others=3", "others_at=start", "iowq_max=2"});
  CHECK(o.rings.at(0).others == 3);
  CHECK_FALSE(o.rings.at(0).others_at_close);
  CHECK(o.rings.at(0).iowq_max == 2);
  const Program pl = with({"io=plain", "more=0", "kernel=6.6"});
  CHECK(pl.rings.empty());
  REQUIRE(pl.threads[0].steps.size() == 2);
  CHECK(pl.threads[0].steps[0].op == Op::splice_loop);
  CHECK_FALSE(pl.threads[0].steps[0].splice_more);
  CHECK(pl.threads[0].steps[1].op == Op::close);
  CHECK(pl.model.kernel == "6.6");
}

TEST_CASE("load refuses what is not a small regular file") {
  auto msg = [](const std::string& path) {
    try {
      (void)Script::load(path);
    } catch (const ScriptError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(msg("/nonexistent.kps").rfind("/nonexistent.kps:0:0: cannot read", 0) == 0);
  CHECK(msg(KPSIM_SOURCE_DIR) == std::string(KPSIM_SOURCE_DIR) + ":0:0: not a regular file");
  CHECK(msg("/dev/zero") == "/dev/zero:0:0: not a regular file");
  const std::string big = "/tmp/kpsim-script-test-big.kps";
  {
    std::ofstream out(big);
    out << std::string((1u << 20) + 1, '#');
  }
  CHECK(msg(big) == big + ":0:0: larger than 1 MiB");
  std::remove(big.c_str());
}

TEST_CASE("Loc::str and payload_bytes directly") {
  CHECK((Loc{"a.kps", 3, 7}).str() == "a.kps:3:7");
  CHECK(payload_bytes(10, 2, 1, 0, 8) == "23456789");
  CHECK(payload_bytes(63, 0, 3, 0, 2).size() == 2);
  CHECK(static_cast<unsigned char>(payload_bytes(63, 0, 3, 0, 1)[0]) == 0xc0);
  CHECK_THROWS_AS(payload_bytes(100, 0, 4, 0, 1), std::invalid_argument);
}

TEST_CASE("`within DURATION` after a step's expectation") {
  const Script s = Script::parse("w.kps", "scenario w \"x\"\n"
                                          "param limit = 50 [1, 1000]\n"
                                          "a, b = create_pair(tcp)\n"
                                          "thread t {\n"
                                          "  send(a, 10) = 10 within 5ms\n"
                                          "  recv_timeout(b, 10, 0, 1s) = 10 data sent(a) within limit * 1000\n"
                                          "  recv(b, 1, MSG_DONTWAIT) within 2s\n"
                                          "  shutdown(a, SHUT_WR) = 0\n"
                                          "  close(a) = 0 within 100us\n"
                                          "  recv(b, 1)\n"
                                          "}\n");
  const Program p = s.instantiate(resolve_params(s.name(), s.params(), std::vector<std::string>{"limit=20"}));
  const auto& st = p.threads.at(0).steps;
  REQUIRE(st.size() == 6);
  CHECK(st[0].expect.within_us == 5000u);
  CHECK(st[0].expect.ret == 10);
  CHECK(st[1].expect.within_us == 20000u);  // a plain integer is microseconds
  CHECK(st[1].expect.data == st[0].payload);
  CHECK(st[2].expect.within_us == 2000000u);
  CHECK(!st[2].expect.ret);
  CHECK(st[3].expect.ret == 0);
  CHECK(!st[3].expect.within_us);
  CHECK(st[4].op == Op::close);
  CHECK(st[4].expect.within_us == 100u);
  CHECK(!st[5].expect.within_us);
}

TEST_CASE("`check` lines: what kpsim check runs") {
  const std::string T = "scenario c \"x\"\n"
                        "param proto = udp {udp, tcp}\n"
                        "param n = 2 [1, 8]\n"
                        "a, b = create_pair(proto)\n"
                        "thread t {\n  send(a, n) = n\n}\n";
  SECTION("none: one case, every default, nothing fixed") {
    const CheckPlan& c = Script::parse("c.kps", T).check_plan();
    CHECK(!c.strategy);
    CHECK(!c.budget);
    CHECK(!c.seed);
    CHECK(!c.require_exhaustive);
    CHECK(c.sets.empty());
  }
  SECTION("every setting, and sets before or after the declarations they name") {
    const Script s = Script::parse("c.kps", "scenario c \"x\"\ncheck set proto=tcp n=3\n" + T.substr(15) +
                                                "check strategy dfs\ncheck budget 64K\ncheck seed 7\n"
                                                "check require-exhaustive\ncheck set proto=udp\n");
    const CheckPlan& c = s.check_plan();
    CHECK(c.strategy == "dfs");
    CHECK(c.budget == 65536u);
    CHECK(c.seed == 7u);
    CHECK(c.require_exhaustive);
    REQUIRE(c.sets.size() == 2);
    CHECK(c.sets[0] == std::vector<std::string>{"proto=tcp", "n=3"});
    CHECK(c.sets[1] == std::vector<std::string>{"proto=udp"});
    // A check line is no statement: the instantiated program is the one without it.
    CHECK(s.instantiate(Params{}).threads.size() == Script::parse("c.kps", T).instantiate(Params{}).threads.size());
  }
  SECTION("a socket may still be called check") {
    const Script s = Script::parse("c.kps", "scenario c \"x\"\ncheck, b = create_pair(udp)\n"
                                            "thread t {\n  send(check, 1) = 1\n}\n");
    CHECK(s.check_plan().sets.empty());
  }
  SECTION("errors at the line and column") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {T + "check strategy bfs\n", "bad.kps:8:16: unknown strategy 'bfs'"},
        {T + "check budget 0\n", "bad.kps:8:14: the budget must be at least 1"},
        {T + "check seed -1\n", "bad.kps:8:12: the seed must not be negative"},
        {T + "check seed 1\ncheck seed 2\n", "bad.kps:9:7: duplicate `check seed`"},
        {T + "check colour red\n", "bad.kps:8:7: unknown check setting 'colour'"},
        {T + "check set\n", "bad.kps:8:10: `check set` needs at least one KEY=VALUE"},
        {T + "check set proto=sctp\n", "bad.kps:8:7: check set: c: parameter proto=sctp is not one of udp|tcp"},
        {T + "check set size=1\n", "bad.kps:8:7: check set: c: unknown parameter 'size'"},
        {T + "check set n=1 n=2\n", "bad.kps:8:15: parameter 'n' set twice on one check line"},
        {T + "check set n=1 proto=tcp\ncheck set proto=tcp n=1\n",
         "bad.kps:9:7: the same parameter set is already checked at bad.kps:8:7"},
        {T + "check require-exhaustive now\n", "bad.kps:8:26: unexpected 'now' after the check line"},
        {"scenario c \"x\"\na, b = create_pair(udp)\nthread t {\n  check set n=1\n}\n",
         "bad.kps:4:3: `check` declarations belong at the top level"},
    };
    for (const auto& [text, want] : cases) {
      const std::string got = error_of(text);
      INFO(text);
      CHECK(got.substr(0, want.size()) == want);
    }
  }
}

TEST_CASE("crosscheck sweep lines: the default grid of kpsim crosscheck", "[script]") {
  const std::string T = "scenario c \"x\"\n"
                        "param proto = udp {udp, tcp}\n"
                        "param n = 2 [1, 8]\n"
                        "a, b = create_pair(proto)\n"
                        "thread t {\n  send(a, n) = n\n}\n";
  SECTION("axes in file order, values as written") {
    const Script s = Script::parse("c.kps", T + "crosscheck sweep n=1,4,8\ncrosscheck sweep proto=tcp,udp\n");
    REQUIRE(s.crosscheck_sweeps().size() == 2);
    CHECK(s.crosscheck_sweeps()[0].key == "n");
    CHECK(s.crosscheck_sweeps()[0].values == std::vector<std::string>{"1", "4", "8"});
    CHECK(s.crosscheck_sweeps()[1].values == std::vector<std::string>{"tcp", "udp"});
    CHECK(Script::parse("c.kps", T).crosscheck_sweeps().empty());
  }
  SECTION("errors at the line and column") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {T + "crosscheck sweep n=1,9\n", "bad.kps:8:1: crosscheck sweep: c: parameter n=9 is outside [1, 8]"},
        {T + "crosscheck sweep m=1\n", "bad.kps:8:1: crosscheck sweep: c: unknown parameter 'm'"},
        {T + "crosscheck sweep n=1,1\n", "bad.kps:8:22: value '1' twice in one sweep"},
        {T + "crosscheck sweep n=1\ncrosscheck sweep n=2\n", "bad.kps:9:18: parameter 'n' swept twice"},
        {T + "crosscheck sweep n\n", "bad.kps:8:19: expected '=' after the parameter's name"},
    };
    for (const auto& [text, want] : cases) {
      const std::string got = error_of(text);
      INFO(text);
      CHECK(got.substr(0, want.size()) == want);
    }
  }
}

TEST_CASE("window lines: the kernel runners' steering, checked at parse time", "[script]") {
  const std::string T = std::string(KPSIM_SOURCE_DIR) + "/scenarios/ktls-async-close.kps";
  const Script s = Script::load(T);
  SECTION("the seed-002 script forms its window from three parts") {
    const Program p = s.instantiate(resolve_params(s.name(), s.params(), std::vector<std::string>{}));
    REQUIRE(p.windows.size() == 3);
    CHECK(p.windows[0].kind == WindowKind::cryptd_backlog);
    CHECK(p.windows[0].records == 256);
    CHECK(p.windows[1].kind == WindowKind::hold_until_closed);
    CHECK(p.threads[p.windows[1].thread].name == "client:curl");  // named `curl`
    CHECK(p.socks[p.windows[1].sock].name == "server");
    CHECK(p.windows[2].kind == WindowKind::task_work);
    CHECK(p.threads[p.windows[2].thread].name == "app:server");  // named `app`
    CHECK(p.windows[2].frame == "sk_stream_wait_memory");
    CHECK(p.windows[2].under == "tls_sw_release_resources_tx");
    // io=plain has no ring, and the script asks for no task_work then.
    const Program plain = s.instantiate(resolve_params(s.name(), s.params(), std::vector<std::string>{"io=plain"}));
    CHECK(plain.windows.size() == 2);
  }
  SECTION("errors at the line and column") {
    const std::string B = "scenario c \"x\"\na, b = create_pair(tcp)\nf = file(100)\n"
                          "thread app:send {\n  sendfile(a, f, 100)\n}\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {B + "window cryptd_backlog(0)\n", "bad.kps:7:23: records 0 is outside [1, 4096]"},
        {B + "window hold_until_closed(app)\n", "bad.kps:7:1: window hold_until_closed takes 2 arguments, got 1"},
        {B + "window hold_until_closed(nobody, a)\n", "bad.kps:7:26: unknown thread 'nobody'"},
        {B + "window task_work(send, sk_stream_wait_memory, x)\n",
         "bad.kps:7:18: window task_work: thread app:send submits nothing to an io_uring"},
        {B + "window wobble(1)\n", "bad.kps:7:8: unknown window 'wobble'"},
        {B + "window cryptd_backlog(1)\nwindow cryptd_backlog(2)\n", "bad.kps:8:1: window cryptd_backlog twice"},
        {"scenario c \"x\"\na, b = create_pair(tcp)\nthread t {\n  window cryptd_backlog(1)\n}\n",
         "bad.kps:4:3: `window` belongs at the top level"},
    };
    for (const auto& [text, want] : cases) {
      const std::string got = error_of(text);
      INFO(text);
      CHECK(got.substr(0, want.size()) == want);
    }
  }
}
