// kTLS RX (scenarios/ktls-rx.kps; model/net/tls/tls_sw.h RX, tls_strp.h): what the reader may
// see. A record is handed to recv() only once all of its bytes are in the TCP receive queue;
// every byte comes once, in order; a call that returns less than it asked for ends at a record
// boundary; MSG_PEEK and a record larger than the buffer leave decrypted records on rx_list.
// The property rx-in-order checks the bytes of every call in every schedule explored here, so a
// model that handed out a record early (its plaintext is not there yet: the stream position
// would run ahead of the bytes delivered, or a call would end inside a record) or reordered
// bytes fails these tests.
#include <catch2/catch.hpp>

#include "scenarios/runner.h"
#include "scenarios/script/model_world.h"
#include "scenarios/script/script.h"
#include "scenarios/script/script_scenario.h"
#include "sched/strategy_dfs.h"
#include "sched/strategy_random.h"
#include "sched/strategy_replay.h"

using namespace kpsim;

namespace {

const Scenario& sc() {
  const Scenario* s = find_scenario("ktls-rx");
  REQUIRE(s);
  return *s;
}

RunResult run_zero(const std::vector<std::string>& sets) {
  RunOptions o;
  o.limits = sc().default_limits();
  return run_choices(sc(), resolve_params(sc(), sets), {}, o);
}

}  // namespace

TEST_CASE("ktls-rx: the all-zero schedule reads every byte once, in order", "[ktls-rx]") {
  for (const char* tls : {"tls=1.3", "tls=1.2"}) {
    INFO(tls);
    const RunResult r = run_zero({tls});
    INFO(r.end.message);
    REQUIRE(r.end.outcome == Outcome::done);
    const auto& m = r.metrics;
    CHECK(m["rx_bytes"] == 65536);
    CHECK(m["rx_records_decrypted"] == 4);
    // The first record: decrypted for the peek and kept, read in part, peeked again from rx_list.
    CHECK(m["rx_peeked_records"] == 1);
    // The read of 20000 bytes ends inside the second record: its rest waits on rx_list.
    CHECK(m["rx_partial_records"] == 1);
    // MSS 1436: a record arrives in 12 segments; the parser parsed its header and waited.
    CHECK(m["rx_strp_short_waits"].get<uint64_t>() > 0);
  }
  // TLS 1.2 decrypts a record that fits the buffer straight into it (zero-copy); 1.3 without
  // TLS_RX_EXPECT_NO_PAD never does.
  CHECK(run_zero({"tls=1.2"}).metrics["rx_zc_records"].get<uint64_t>() > 0);
  CHECK(run_zero({"tls=1.3"}).metrics["rx_zc_records"] == 0);
}

TEST_CASE("ktls-rx: random schedules - records only whole, bytes in order, every byte read", "[ktls-rx][explore]") {
  for (const char* tls : {"tls=1.3", "tls=1.2"}) {
    for (const char* mss : {"mss=1436", "mss=65483"}) {
      INFO(tls << " " << mss);
      RandomStrategy rnd(11);
      uint64_t short_waits = 0, rec_waits = 0, read_calls_min = UINT64_MAX, read_calls_max = 0;
      for (int i = 0; i < 40; ++i) {
        rnd.begin_run();
        RunOptions o;
        o.limits = sc().default_limits();
        const RunResult r = run_once(sc(), resolve_params(sc(), std::vector<std::string>{tls, mss}), rnd, o);
        INFO(r.end.property << ": " << r.end.message);
        REQUIRE(r.end.outcome == Outcome::done);
        CHECK(r.metrics["rx_bytes"] == 65536);
        CHECK(r.metrics["rx_records_decrypted"] == 4);
        short_waits += r.metrics["rx_strp_short_waits"].get<uint64_t>();
        rec_waits += r.metrics["rx_rec_waits"].get<uint64_t>();
        read_calls_min = std::min(read_calls_min, r.metrics["rx_calls"].get<uint64_t>());
        read_calls_max = std::max(read_calls_max, r.metrics["rx_calls"].get<uint64_t>());
      }
      // The reader sometimes waits for a record, and how many calls it takes depends on how
      // many records are whole when it asks: the schedules differ where it matters.
      CHECK(rec_waits > 0);
      CHECK(read_calls_max > read_calls_min);
      if (std::string(mss) == "mss=1436") CHECK(short_waits > 0);
    }
  }
}

TEST_CASE("ktls-rx: bounded dfs finds no violation", "[ktls-rx][explore]") {
  DfsStrategy dfs(2);
  ExploreOptions o;
  o.run.limits = sc().default_limits();
  o.budget = 400;
  const auto r = explore(sc(), resolve_params(sc(), std::vector<std::string>{"bytes=49152", "mss=8948"}), dfs, o);
  CHECK(r.schedules > 1);
  CHECK(r.violations == 0);
}

TEST_CASE("ktls-rx: a wrong expectation on a read is found (the checks can fail)", "[ktls-rx]") {
  // The peek returns `small` bytes; expecting one more must be reported, in every schedule.
  const auto& base = dynamic_cast<const script::ScriptScenario&>(sc());
  std::string text = base.script().text();
  const std::string want = "recv(receiver, small, MSG_PEEK) = small\n";
  const auto at = text.find(want);
  REQUIRE(at != std::string::npos);
  text.replace(at, want.size(), "recv(receiver, small, MSG_PEEK) = small + 1\n");
  const script::ScriptScenario bad(std::make_shared<const script::Script>(script::Script::parse("bad.kps", text)), "");
  RunOptions o;
  o.limits = bad.default_limits();
  const RunResult r = run_choices(bad, resolve_params(bad, std::vector<std::string>{}), {}, o);
  CHECK(r.end.outcome == Outcome::violation);
  CHECK(r.end.property == "selftest-assertion");
}

TEST_CASE("ktls-rx: what the model does not follow is refused with the statement's location", "[ktls-rx]") {
  const std::string head =
      "scenario r \"x\"\n"
      "a, b = create_pair(tcp)\n";
  const std::string body =
      "f = file(16384)\n"
      "thread s {\n  write(a, 16384)\n}\n"
      "thread r {\n  recv(b, 100)\n}\n";
  const auto refusal = [&](const std::string& tls_lines) -> std::string {
    const script::Script sc = script::Script::parse("r.kps", head + tls_lines + body);
    const script::Program p = sc.instantiate(Params{});
    ReplayStrategy none({}, false);
    none.begin_run();
    Sched s(none);
    try {
      script::build_script_world(s, p);
    } catch (const script::ScriptUnsupported& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(refusal("tls_rx(b, 1.3, sync)\n"), Catch::StartsWith("r.kps:3:1: unsupported in the model: kTLS RX without kTLS TX"));
  CHECK_THAT(refusal("tls_tx(a, 1.2, sync)\ntls_rx(b, 1.3, sync)\n"),
             Catch::StartsWith("r.kps:4:1: unsupported in the model: tls_rx and tls_tx of different TLS versions"));
  CHECK_THAT(refusal("tls_tx(a, 1.2, sync)\ntls_rx(b, 1.2, async)\n"),
             Catch::StartsWith("r.kps:4:1: unsupported in the model: async crypto on kTLS RX"));
  CHECK_THAT(refusal("tls_tx(a, 1.3, sync)\ntls_rx(a, 1.3, sync)\n"),
             Catch::StartsWith("r.kps:4:1: unsupported in the model: kTLS RX on the sending socket"));
  CHECK(refusal("tls_tx(a, 1.3, sync)\ntls_rx(b, 1.3, sync)\n").empty());
}
