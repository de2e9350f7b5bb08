// Properties of the .kps parser over generated and mutated scripts: parse + instantiate either
// succeed or throw ScriptError (nothing else escapes, nothing crashes), in bounded time; and
// generated well-formed scripts always instantiate, with `sent()` equal to the payloads sent.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "scenarios/script/script.h"

using namespace kpsim;
using namespace kpsim::script;

namespace {

std::string seed_text() {
  std::ifstream in(std::string(KPSIM_SOURCE_DIR) + "/scenarios/sockmap-multi-channels.kps");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses and instantiates with every parameter at its default and with `sets`; true when the
// script was accepted. Fails the property on any exception but ScriptError/ParamError, or when
// it takes more than 5 s.
bool accepted(const std::string& text, const std::vector<std::string>& sets = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  bool ok = false;
  try {
    const Script s = Script::parse("gen.kps", text);
    Params p;
    try {
      p = resolve_params(s.name(), s.params(), sets);
    } catch (const ParamError&) {
    }
    (void)s.instantiate(p);
    ok = true;
  } catch (const ScriptError& e) {
    RC_ASSERT(std::string(e.what()).rfind("gen.kps:", 0) == 0);
  } catch (const std::exception& e) {
    RC_FAIL(std::string("escaped: ") + typeid(e).name() + ": " + e.what());
  }
  const auto dt = std::chrono::steady_clock::now() - t0;
  RC_ASSERT(dt < std::chrono::seconds(5));
  return ok;
}

const std::vector<std::string> kNames = {"a", "b", "c", "d", "m", "t", "n", "x", "y", "z", "w", "proto", "udp"};

rc::Gen<std::string> gen_expr() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::inRange<int64_t>(-3, 70), [](int64_t v) { return std::to_string(v); }),
      rc::gen::map(rc::gen::inRange<int64_t>(0, 4), [](int64_t v) { return std::to_string(v); }),
      rc::gen::elementOf(kNames),
      rc::gen::element<std::string>("1s", "30ms", "64K", "n + 1", "n * 2", "x ? 1 : 2", "proto == udp",
                                    "9223372036854775807 * 2", "1 / 0", "-EAGAIN", "MSG_DONTWAIT|MSG_PEEK",
                                    "\"ab\"[0:1]", "sent(a)", "(n - 1) % 3"));
}

// One line from the grammar's statements with random operands: many are wrong on purpose.
rc::Gen<std::string> gen_line() {
  return rc::gen::apply(
      [](int which, std::string e1, std::string e2, std::string e3, std::string n1, std::string n2) {
        switch (which) {
          case 0: return "let " + n1 + " = " + e1;
          case 1: return n1 + ", " + n2 + " = create_pair(" + e1 + ")";
          case 2: return n1 + " = map(BPF_MAP_TYPE_SOCKMAP, " + e1 + ")";
          case 3: return "verdict(" + n1 + ") {\n  on " + n2 + ": pass\n  redirect(" + e1 + ", BPF_F_INGRESS)\n}";
          case 4: return "map_update(" + n1 + ", " + e1 + ", " + n2 + ")";
          case 5: return "setsockopt(" + n1 + ", SO_RCVBUF, " + e1 + ")";
          case 6: return "param " + n1 + " = " + e1 + " [0, 100]";
          case 7: return "if " + e1 + " {\n  let " + n1 + " = " + e2 + "\n} else {\n  let " + n1 + " = " + e3 + "\n}";
          case 8: return "limit steps " + e1;
          case 9: return "thread " + n1 + " {\n  send(" + n2 + ", " + e1 + ")\n  recv(" + n2 + ", " + e2 +
                         ", MSG_DONTWAIT) = " + e3 + "\n}";
          case 10: return "thread " + n1 + " {\n  repeat " + e1 + " {\n    usleep(" + e2 + ")\n    send(" + n2 +
                          ", " + e3 + ")\n  }\n}";
          case 11: return "thread " + n1 + " {\n  recv_timeout(" + n2 + ", " + e1 + ", 0, " + e2 + ") = " + e3 +
                          " data sent(" + n1 + ")[0:" + e1 + "]\n}";
          case 12: return "thread " + n1 + " {\n  wait_for_fionread(" + n2 + ", " + e1 + ", " + e2 +
                          ")\n  ioctl(" + n2 + ", FIONREAD) = " + e3 + "\n  close(" + n2 + ")\n}";
          default: return "model fionread = " + e1;
        }
      },
      rc::gen::inRange(0, 14), gen_expr(), gen_expr(), gen_expr(), rc::gen::elementOf(kNames),
      rc::gen::elementOf(kNames));
}

}  // namespace

TEST_CASE("generated scripts: accepted or ScriptError, in bounded time") {
  rc::prop("statements", [] {
    const auto count = *rc::gen::inRange<size_t>(0, 8);
    const auto lines = *rc::gen::container<std::vector<std::string>>(count, gen_line());
    // Declarations first, so that the random lines have something to refer to, and a last thread
    // that works: a good share of the scripts is accepted.
    std::string text =
        "scenario gen \"generated\"\nparam n = 3 [0, 100]\nparam proto = udp {udp, tcp}\n"
        "a, b = create_pair(udp)\nc, d = create_pair(proto)\nm = map(BPF_MAP_TYPE_SOCKMAP, 4)\n";
    for (auto& l : lines) text += l + "\n";
    text += "thread last {\n  send(a, n)\n}\n";
    RC_CLASSIFY(accepted(text, {"n=7", "proto=tcp"}), "accepted");
  });
}

TEST_CASE("mutated seed script: accepted or ScriptError, in bounded time") {
  static const std::string seed = seed_text();
  REQUIRE(!seed.empty());
  REQUIRE(accepted(seed));
  rc::prop("byte and line mutations", [] {
    std::string text = seed;
    const int n = *rc::gen::inRange(1, 8);
    for (int k = 0; k < n; ++k) {
      const int op = *rc::gen::inRange(0, 4);
      const size_t at = *rc::gen::inRange<size_t>(0, text.size());
      if (op == 0) {
        text.insert(at, 1, *rc::gen::oneOf(rc::gen::elementOf(std::string("{}()[],:=+-*/%!?|\"\n #0123456789abcKMs_x")),
                                            rc::gen::arbitrary<char>()));
      } else if (op == 1 && !text.empty()) {
        text.erase(at, std::min<size_t>(text.size() - at, *rc::gen::inRange<size_t>(1, 20)));
      } else if (op == 2 && at < text.size()) {
        text[at] = *rc::gen::arbitrary<char>();
      } else {
        std::vector<std::string> lines;
        std::stringstream ss(text);
        for (std::string l; std::getline(ss, l);) lines.push_back(l);
        if (lines.size() < 2) continue;
        const size_t i = *rc::gen::inRange<size_t>(0, lines.size()), j = *rc::gen::inRange<size_t>(0, lines.size());
        std::swap(lines[i], lines[j]);
        text.clear();
        for (auto& l : lines) text += l + "\n";
      }
    }
    const auto sets = *rc::gen::container<std::vector<std::string>>(
        2, rc::gen::element<std::string>("proto=tcp", "test=loop", "test=upstream", "c1_bytes=31", "c0_bytes=1"));
    RC_CLASSIFY(accepted(text, sets), "accepted");
  });
}

TEST_CASE("well-formed generated scripts instantiate, and sent() is what was sent") {
  rc::prop("sends and receives", [] {
    const int pairs = *rc::gen::inRange(1, 4);
    const auto sizes = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 200));
    std::string text = "scenario ok \"x\"\n";
    for (int i = 0; i < pairs; ++i)
      text += "a" + std::to_string(i) + ", b" + std::to_string(i) + " = create_pair(" + (i % 2 ? "tcp" : "udp") + ")\n";
    text += "thread t {\n";
    std::vector<int> per(static_cast<size_t>(pairs), 0);
    for (size_t k = 0; k < sizes.size(); ++k) {
      const size_t s = k % static_cast<size_t>(pairs);
      text += "  send(a" + std::to_string(s) + ", " + std::to_string(sizes[k]) + ") = " + std::to_string(sizes[k]) + "\n";
      per[s] += sizes[k];
    }
    for (int i = 0; i < pairs; ++i)
      text += "  recv_loop(b" + std::to_string(i) + ", " + std::to_string(per[size_t(i)]) + ", 0, 1s) = " +
              std::to_string(per[size_t(i)]) + " data sent(a" + std::to_string(i) + ")\n";
    text += "}\n";
    Program p;
    try {
      p = Script::parse("ok.kps", text).instantiate({});
    } catch (const ScriptError& e) {
      RC_FAIL(std::string("refused: ") + e.what() + "\n" + text);
    }
    std::vector<std::string> sent(static_cast<size_t>(pairs) * 2);
    uint64_t total = 0;
    for (auto& st : p.threads[0].steps)
      if (st.op == Op::send) {
        sent[st.sock] += st.payload;
        total += st.payload.size();
      }
    for (auto& st : p.threads[0].steps)
      if (st.op == Op::recv_loop) RC_ASSERT(*st.expect.data == sent[st.sock ^ 1u]);
    // Above 62 bytes, every byte names its sender (numbered by first send; a_i sends first in order).
    if (total > kAlphabetBytes)
      for (int i = 0; i < pairs; ++i)
        for (unsigned char c : sent[size_t(i) * 2]) RC_ASSERT(payload_sender(c) == uint32_t(i));
  });
}
