// The host script runner (replay/script_runner.h) on this machine's kernel, without the
// parser: Programs built by hand, each run N times per schedule, outcome counts printed.
//
//   test_script_runner_kernel [--runs N] [--forced N] [--only NAME] [--timeline]
//
// Exit 0 when every run was carried out (outcomes are measurements, not pass/fail), 1 when a
// run failed or a program's structural check did not hold (e.g. a per-socket rule never
// decided), and "the real-kernel runner cannot run here: ..." with exit 0 where the kernel or
// privileges are missing (ctest SKIP_REGULAR_EXPRESSION).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "replay/script_runner.h"
#include "scenarios/script/program.h"

namespace {

using namespace kpsim;
using script::Op;
using script::Program;
using script::Step;

// ---------------------------------------------------------------------------------------------
// Building Programs by hand (what the parser produces from a .kps file).

struct Builder {
  Program p;
  uint32_t line = 1;

  script::Loc loc() { return {"<test>/" + p.name + ".kps", line++, 1}; }

  // a, b = create_pair(proto): a is the server side. Returns a's index.
  uint32_t pair(const std::string& a, const std::string& b, script::Proto proto) {
    const auto i = static_cast<uint32_t>(p.socks.size());
    script::Socket sa{a, proto, i + 1, true, {}, {}, false, loc(), {}, {}, false};
    script::Socket sb{b, proto, i, false, {}, {}, false, loc(), {}, {}, false};
    p.socks.push_back(sa);
    p.socks.push_back(sb);
    return i;
  }
  void map(script::MapType t, uint32_t entries) { p.map = script::Map{"m", t, entries, loc()}; }
  void rule(std::optional<uint32_t> on, script::Action a, uint32_t key = 0, bool ingress = false) {
    p.verdict.rules.push_back({on, {a, key, ingress}});
    p.verdict.loc = loc();
  }
  Step step(Op op, uint32_t sock, std::string text) {
    Step s;
    s.op = op;
    s.sock = sock;
    s.text = std::move(text);
    s.loc = loc();
    return s;
  }
  void setup_update(uint32_t key, uint32_t sock) {
    Step s = step(Op::map_update, sock, fmt::format("map_update(m, {}, {})", key, p.socks[sock].name));
    s.key = key;
    s.expect.ret = 0;
    p.setup.push_back(s);
  }
  script::Thread& thread(const std::string& name) {
    p.threads.push_back({name, {}, loc()});
    return p.threads.back();
  }
};

std::string bytes(char first, uint32_t n) {
  std::string s(n, '\0');
  for (uint32_t i = 0; i < n; ++i) s[i] = static_cast<char>(first + static_cast<char>(i % 26));
  return s;
}

Step send(Builder& b, uint32_t sock, const std::string& payload) {
  Step s = b.step(Op::send, sock, fmt::format("send({}, {})", b.p.socks[sock].name, payload.size()));
  s.payload = payload;
  s.expect.ret = static_cast<int64_t>(payload.size());
  return s;
}

Step wait_fionread(Builder& b, uint32_t sock, uint32_t want, std::optional<int64_t> expect) {
  Step s = b.step(Op::wait_fionread, sock,
                  fmt::format("wait_for_fionread({}, {}, 30ms)", b.p.socks[sock].name, want));
  s.len = want;
  s.timeout_us = 30'000;
  s.poll_us = 1000;
  s.expect.ret = expect;
  return s;
}

Step recv_timeout(Builder& b, uint32_t sock, uint32_t len, uint32_t flags, uint64_t timeout_us,
                  std::optional<int64_t> ret, std::optional<std::string> data) {
  Step s = b.step(Op::recv, sock, fmt::format("recv_timeout({}, {}, 0x{:x}, {}us)",
                                              b.p.socks[sock].name, len, flags, timeout_us));
  s.len = len;
  s.flags = flags;
  s.timeout_us = timeout_us;
  s.expect.ret = ret;
  s.expect.data = std::move(data);
  return s;
}

Step recv_loop(Builder& b, uint32_t sock, uint32_t len, uint64_t timeout_us, const std::string& data) {
  Step s = b.step(Op::recv_loop, sock,
                  fmt::format("recv_loop({}, {}, MSG_DONTWAIT, {}us)", b.p.socks[sock].name, len, timeout_us));
  s.len = len;
  s.flags = script::msg_dontwait;
  s.timeout_us = timeout_us;
  s.expect.ret = static_cast<int64_t>(data.size());
  s.expect.data = data;
  return s;
}

// The seed's shape: c0,p0 and c1,p1; p0@0, p1@1 in the map.
struct Seed {
  Builder b;
  uint32_t c0 = 0, p0 = 0, c1 = 0, p1 = 0;
  Seed(const std::string& name, script::Proto proto, script::MapType map) {
    b.p.name = name;
    b.p.file = "<test>/" + name + ".kps";
    c0 = b.pair("c0", "p0", proto);
    p0 = c0 + 1;
    c1 = b.pair("c1", "p1", proto);
    p1 = c1 + 1;
    b.map(map, 2);
  }
  void setup() {
    b.setup_update(0, p0);
    b.setup_update(1, p1);
  }
};

// Seed 000, test=selftest: c1 sends natively to p1, c0's bytes are redirected from p0 to p1.
Program seed(const std::string& name, script::Proto proto, script::MapType map) {
  Seed s(name, proto, map);
  s.b.rule(std::nullopt, script::Action::redirect, 1, true);
  s.setup();
  const std::string a = bytes('a', 2), c = bytes('A', 8);
  const uint32_t expected = proto == script::Proto::udp ? 2 : 10;
  auto& t = s.b.thread("selftest");
  t.steps.push_back(send(s.b, s.c1, a));
  t.steps.push_back(wait_fionread(s.b, s.p1, 2, 2));
  t.steps.push_back(send(s.b, s.c0, c));
  t.steps.push_back(wait_fionread(s.b, s.p1, expected, expected));
  t.steps.push_back(recv_timeout(s.b, s.p1, 11, script::msg_dontwait, 1'000'000, 10, a + c));
  return s.b.p;
}

// Per-source rule: p1's own skbs pass (no self-redirect through the backlog), everything else
// is redirected to p1 with BPF_F_INGRESS.
Program per_source() {
  Seed s("per-source", script::Proto::udp, script::MapType::sockmap);
  s.b.rule(s.p1, script::Action::pass);
  s.b.rule(std::nullopt, script::Action::redirect, 1, true);
  s.setup();
  const std::string a = bytes('a', 2), c = bytes('A', 8);
  auto& t = s.b.thread("selftest");
  t.steps.push_back(send(s.b, s.c1, a));
  t.steps.push_back(wait_fionread(s.b, s.p1, 2, 2));
  t.steps.push_back(send(s.b, s.c0, c));
  t.steps.push_back(wait_fionread(s.b, s.p1, 2, 2));
  t.steps.push_back(recv_timeout(s.b, s.p1, 11, script::msg_dontwait, 1'000'000, 10, a + c));
  return s.b.p;
}

// SK_DROP for p0's skbs, SK_PASS otherwise: c0's bytes never arrive anywhere.
Program drop() {
  Seed s("drop", script::Proto::udp, script::MapType::sockmap);
  s.b.rule(s.p0, script::Action::drop);
  s.b.rule(std::nullopt, script::Action::pass);
  s.setup();
  const std::string a = bytes('a', 2), c = bytes('A', 8);
  auto& t = s.b.thread("selftest");
  t.steps.push_back(send(s.b, s.c0, c));
  t.steps.push_back(send(s.b, s.c1, a));
  t.steps.push_back(wait_fionread(s.b, s.p1, 2, 2));
  t.steps.push_back(wait_fionread(s.b, s.p0, 8, 0));
  t.steps.push_back(recv_timeout(s.b, s.p1, 11, script::msg_dontwait, 1'000'000, 2, a));
  t.steps.push_back(recv_timeout(s.b, s.p0, 11, script::msg_dontwait, 10'000, -EAGAIN, ""));
  return s.b.p;
}

// Egress redirect: what arrives at p0 is sent out of p1, so c1 receives it (p1's peer).
Program egress(script::Proto proto) {
  Seed s(proto == script::Proto::udp ? "egress-udp" : "egress-tcp", proto, script::MapType::sockmap);
  s.b.rule(s.p0, script::Action::redirect, 1, false);
  s.b.rule(std::nullopt, script::Action::pass);
  s.setup();
  const std::string c = bytes('A', 8);
  auto& t = s.b.thread("selftest");
  t.steps.push_back(send(s.b, s.c0, c));
  t.steps.push_back(wait_fionread(s.b, s.c1, 8, 8));
  t.steps.push_back(recv_timeout(s.b, s.c1, 16, script::msg_dontwait, 1'000'000, 8, c));
  t.steps.push_back(wait_fionread(s.b, s.p0, 1, 0));
  return s.b.p;
}

// MSG_PEEK first, then the selftest's recv.
Program peek(script::Proto proto) {
  Seed s(proto == script::Proto::udp ? "peek-udp" : "peek-tcp", proto, script::MapType::sockmap);
  s.b.rule(std::nullopt, script::Action::redirect, 1, true);
  s.setup();
  const std::string a = bytes('a', 2), c = bytes('A', 8);
  auto& t = s.b.thread("selftest");
  t.steps.push_back(send(s.b, s.c1, a));
  t.steps.push_back(wait_fionread(s.b, s.p1, 2, 2));
  t.steps.push_back(send(s.b, s.c0, c));
  t.steps.push_back(recv_timeout(s.b, s.p1, 11, script::msg_dontwait | script::msg_peek, 1'000'000,
                                 std::nullopt, std::nullopt));
  t.steps.push_back(recv_timeout(s.b, s.p1, 11, script::msg_dontwait, 1'000'000, 10, a + c));
  return s.b.p;
}

// 64 KiB from each side over TCP, one redirected, read with the report's recv loop.
Program tcp_64k() {
  Seed s("tcp-64k", script::Proto::tcp, script::MapType::sockmap);
  s.b.rule(std::nullopt, script::Action::redirect, 1, true);
  s.setup();
  const std::string a = bytes('a', 65536), c = bytes('A', 65536);
  auto& t = s.b.thread("selftest");
  t.steps.push_back(send(s.b, s.c1, a));
  t.steps.push_back(wait_fionread(s.b, s.p1, 65536, 65536));
  t.steps.push_back(send(s.b, s.c0, c));
  t.steps.push_back(wait_fionread(s.b, s.p1, 131072, 131072));
  t.steps.push_back(recv_loop(s.b, s.p1, 131072, 1'000'000, a + c));
  return s.b.p;
}

// Two threads: one sends (c1 natively, then c0 redirected), the other waits and reads.
Program two_threads() {
  Seed s("two-threads", script::Proto::udp, script::MapType::sockmap);
  s.b.rule(std::nullopt, script::Action::redirect, 1, true);
  s.setup();
  const std::string a = bytes('a', 2), c = bytes('A', 8);
  auto& tx = s.b.thread("tx");
  tx.steps.push_back(send(s.b, s.c1, a));
  tx.steps.push_back(send(s.b, s.c0, c));
  auto& rx = s.b.thread("rx");
  rx.steps.push_back(wait_fionread(s.b, s.p1, 2, std::nullopt));
  rx.steps.push_back(recv_loop(s.b, s.p1, 10, 1'000'000, a + c));
  return s.b.p;
}

// A thread that blocks forever (recv without a timeout on an empty socket): run with a short
// run_timeout_ms, the runner must abort it, report an error and release everything.
Program blocked() {
  Seed s("blocked", script::Proto::udp, script::MapType::sockmap);
  s.b.rule(std::nullopt, script::Action::pass);
  s.setup();
  auto& t = s.b.thread("stuck");
  t.steps.push_back(recv_timeout(s.b, s.p1, 8, 0, 0, std::nullopt, std::nullopt));
  return s.b.p;
}

struct Named {
  std::string name;
  std::function<Program()> make;
};

std::vector<Named> programs() {
  using script::MapType;
  using script::Proto;
  return {
      {"seed-udp", [] { return seed("seed-udp", Proto::udp, MapType::sockmap); }},
      {"seed-tcp", [] { return seed("seed-tcp", Proto::tcp, MapType::sockmap); }},
      {"sockhash-udp", [] { return seed("sockhash-udp", Proto::udp, MapType::sockhash); }},
      {"per-source", per_source},
      {"drop", drop},
      {"egress-tcp", [] { return egress(Proto::tcp); }},
      {"egress-udp", [] { return egress(Proto::udp); }},
      {"peek-udp", [] { return peek(Proto::udp); }},
      {"peek-tcp", [] { return peek(Proto::tcp); }},
      {"tcp-64k", tcp_64k},
      {"two-threads", two_threads},
  };
}

// ---------------------------------------------------------------------------------------------

size_t open_fds() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// The runner's error and release paths: an aborted run leaves no descriptor behind (sockets,
// BPF programs, maps and links are all descriptors here) and the next run works.
bool self_check() {
  const size_t before = open_fds();
  replay::RunOptions o;
  o.run_timeout_ms = 300;
  const auto r = replay::run_script(blocked(), replay::Schedule::natural, o);
  const size_t after = open_fds();
  const bool timed_out = r.error.find("did not finish") != std::string::npos;
  fmt::print("self-check: blocked run {} (\"{}\"), recv={}, fds before {} after {}\n",
             timed_out ? "aborted" : "NOT aborted", r.error, fmt::join(r.recv_results, ","), before,
             after);
  return timed_out && before == after;
}

struct Tally {
  std::map<std::string, uint64_t> keys;
  uint64_t runs = 0, failed = 0, run_us = 0, setup_us = 0;
  std::vector<uint64_t> rule_hits;
  std::string first_failure, error, timeline;
};

Tally measure(const Program& p, replay::Schedule sched, uint64_t n, bool timeline) {
  Tally t;
  for (uint64_t i = 0; i < n && !replay::interrupted(); ++i) {
    const auto r = replay::run_script(p, sched);
    if (!r.error.empty()) {
      t.error = r.error;
      break;
    }
    ++t.runs;
    ++t.keys[replay::outcome_key(r)];
    t.run_us += r.run_us;
    t.setup_us += r.setup_us;
    if (!r.failed_expectations.empty()) {
      ++t.failed;
      if (t.first_failure.empty()) t.first_failure = r.failed_expectations.front();
    }
    t.rule_hits.resize(r.rule_hits.size());
    for (size_t k = 0; k < r.rule_hits.size(); ++k) t.rule_hits[k] += r.rule_hits[k];
    if (timeline && i == 0) t.timeline = r.timeline;
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t runs = 100, forced = 20;
  std::string only;
  bool timeline = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--runs") runs = std::stoull(next());
    else if (a == "--forced") forced = std::stoull(next());
    else if (a == "--only") only = next();
    else if (a == "--timeline") timeline = true;
    else {
      std::fprintf(stderr, "usage: %s [--runs N] [--forced N] [--only NAME] [--timeline]\n", argv[0]);
      return 2;
    }
  }
  const auto avail = replay::check_available();
  if (!avail.ok) {
    fmt::print("the real-kernel runner cannot run here: {}\n", avail.reason);
    return 0;
  }
  replay::install_interrupt_handler();
  bool ok = self_check();
  const size_t fds_at_start = open_fds();
  for (const auto& [name, make] : programs()) {
    if (!only.empty() && only != name) continue;
    const Program p = make();
    if (auto why = replay::unsupported_feature(p); !why.empty()) {
      fmt::print("{}: refused: {}\n", name, why);
      ok = false;
      continue;
    }
    for (auto [sched, n] : {std::pair{replay::Schedule::natural, runs},
                            std::pair{replay::Schedule::kworker_late, forced},
                            std::pair{replay::Schedule::kworker_first, forced}}) {
      if (n == 0) continue;
      const Tally t = measure(p, sched, n, timeline);
      const double per = t.runs ? static_cast<double>(t.run_us) / static_cast<double>(t.runs) : 0;
      const double setup = t.runs ? static_cast<double>(t.setup_us) / static_cast<double>(t.runs) : 0;
      fmt::print("{} {} runs {}: expectations failed in {}; {:.0f} us steps + {:.0f} us setup per run; rule hits",
                 name, replay::schedule_name(sched), t.runs, t.failed, per, setup);
      for (size_t k = 0; k < p.verdict.rules.size() && k < t.rule_hits.size(); ++k)
        fmt::print(" r{}={}", k, t.rule_hits[k]);
      if (!t.rule_hits.empty()) fmt::print(" none={}", t.rule_hits.back());
      fmt::print("\n");
      for (const auto& [k, v] : t.keys) fmt::print("  {:>5}  {}\n", v, k);
      if (!t.first_failure.empty()) fmt::print("  first failed expectation: {}\n", t.first_failure);
      if (!t.timeline.empty()) fmt::print("  timeline: {}\n", t.timeline);
      if (!t.error.empty()) {
        fmt::print("  ERROR: {}\n", t.error);
        ok = false;
      }
      // A per-socket rule that never decides means the cookie match is broken.
      for (size_t k = 0; k + 1 < p.verdict.rules.size() && k < t.rule_hits.size(); ++k)
        if (t.runs > 0 && t.rule_hits[k] == 0) {
          fmt::print("  ERROR: rule {} (on {}) never matched\n", k,
                     p.socks[*p.verdict.rules[k].on].name);
          ok = false;
        }
    }
  }
  if (const size_t n = open_fds(); n != fds_at_start) {
    fmt::print("ERROR: {} descriptors open after the runs, {} before\n", n, fds_at_start);
    ok = false;
  }
  if (replay::interrupted()) {
    fmt::print("interrupted\n");
    return 130;
  }
  return ok ? 0 : 1;
}
