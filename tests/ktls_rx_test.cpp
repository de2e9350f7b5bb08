// kTLS RX (scenarios/ktls-rx.kps; model/net/tls/tls_sw.h RX, tls_strp.h): what the reader may
// see. A record is handed to recv() only once all of its bytes are in the TCP receive queue;
// every byte comes once, in order; a call that returns less than it asked for ends at a record
// boundary; MSG_PEEK and a record larger than the buffer leave decrypted records on rx_list.
// The property rx-in-order checks the bytes of every call in every schedule explored here, so a
// model that handed out a record early (its plaintext is not there yet: the stream position
// would run ahead of the bytes delivered, or a call would end inside a record) or reordered
// bytes fails these tests.
#include <catch2/catch.hpp>

#include <cmath>
#include <string_view>

#include "model/kconfig.h"
#include "model/net/tls/tls_sw.h"
#include "scenarios/runner.h"
#include "scenarios/script/model_world.h"
#include "scenarios/script/program.h"
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
  // Asynchronous decryption is modelled, on either TLS version, with either AEAD on the sender.
  CHECK(refusal("tls_tx(a, 1.2, sync)\ntls_rx(b, 1.2, async)\n").empty());
  CHECK(refusal("tls_tx(a, 1.3, async)\ntls_rx(b, 1.3, async)\n").empty());
  // cryptd on the sender is checked with write() only: sendfile with it is refused.
  {
    const script::Script sf = script::Script::parse(
        "sf.kps", head + "tls_tx(a, 1.2, async)\ndrain(b)\nf = file(16384)\nthread s {\n  sendfile(a, f, 16384)\n}\n");
    ReplayStrategy none({}, false);
    none.begin_run();
    Sched s(none);
    std::string what;
    try {
      script::build_script_world(s, sf.instantiate(Params{}));
    } catch (const script::ScriptUnsupported& e) {
      what = e.what();
    }
    CHECK_THAT(what, Catch::StartsWith("sf.kps:3:1: unsupported in the model: async crypto (cryptd) with sendfile"));
  }
  CHECK_THAT(refusal("tls_tx(a, 1.3, sync)\ntls_rx(a, 1.3, sync)\n"),
             Catch::StartsWith("r.kps:4:1: unsupported in the model: kTLS RX on the sending socket"));
  CHECK(refusal("tls_tx(a, 1.3, sync)\ntls_rx(b, 1.3, sync)\n").empty());
}

// ---- crypto=async: cryptd decrypts (TLS 1.2) ----------------------------------------------------

namespace {

// Sets the model's test-only mutation for one scope.
struct RxMutation {
  explicit RxMutation(model::tls_rx_mutation m) { model::g_tls_rx_mutation = m; }
  ~RxMutation() { model::g_tls_rx_mutation = model::tls_rx_mutation::none; }
  RxMutation(const RxMutation&) = delete;
  RxMutation& operator=(const RxMutation&) = delete;
};

}  // namespace

TEST_CASE("ktls-rx crypto=async: 1.2 decrypts data records in cryptd, 1.3 waits for each", "[ktls-rx][async]") {
  const RunResult r12 = run_zero({"tls=1.2", "crypto=async"});
  INFO(r12.end.message);
  REQUIRE(r12.end.outcome == Outcome::done);
  CHECK(r12.metrics["rx_bytes"] == 65536);
  CHECK(r12.metrics["rx_records_decrypted"] == 4);
  // Every record's decryption went through cryptd asynchronously, and recv_end waited for it.
  CHECK(r12.metrics["rx_async_records"] == 4);
  CHECK(r12.metrics["rx_async_waits"].get<uint64_t>() > 0);
  CHECK(r12.metrics["rx_crypto_waits"] == 0);
  // Zero-copy still applies: a record that fits is decrypted by cryptd into the user's buffer.
  CHECK(r12.metrics["rx_zc_records"].get<uint64_t>() > 0);
  // TLS 1.3: tls_set_sw_offload clears async_capable, so no record is decrypted asynchronously;
  // each one is submitted to cryptd and waited for in crypto_wait_req.
  const RunResult r13 = run_zero({"tls=1.3", "crypto=async"});
  INFO(r13.end.message);
  REQUIRE(r13.end.outcome == Outcome::done);
  CHECK(r13.metrics["rx_bytes"] == 65536);
  CHECK(r13.metrics["rx_async_records"] == 0);
  CHECK(r13.metrics["rx_async_waits"] == 0);
  CHECK(r13.metrics["rx_crypto_waits"] == 4);
  // Both ends used cryptd: 4 encryptions and 4 decryptions.
  CHECK(r12.metrics["cryptd_completed"] == 8);
  CHECK(r13.metrics["cryptd_completed"] == 8);
}

TEST_CASE("ktls-rx crypto=async: random schedules - bytes in order, decrypted, every byte read", "[ktls-rx][async][explore]") {
  for (const char* tls : {"tls=1.2", "tls=1.3"}) {
    for (const char* mss : {"mss=1436", "mss=65483"}) {
      INFO(tls << " " << mss);
      RandomStrategy rnd(12);
      uint64_t max_pending = 0, async_waits = 0;
      for (int i = 0; i < 60; ++i) {
        rnd.begin_run();
        RunOptions o;
        o.limits = sc().default_limits();
        const RunResult r =
            run_once(sc(), resolve_params(sc(), std::vector<std::string>{tls, mss, "crypto=async"}), rnd, o);
        INFO(r.end.property << ": " << r.end.message);
        REQUIRE(r.end.outcome == Outcome::done);
        CHECK(r.metrics["rx_bytes"] == 65536);
        CHECK(r.metrics["rx_records_decrypted"] == 4);
        max_pending = std::max(max_pending, r.metrics["rx_max_async_pending"].get<uint64_t>());
        async_waits += r.metrics["rx_async_waits"].get<uint64_t>();
      }
      if (std::string(tls) == "tls=1.2") {
        // Some schedule had two decryptions in flight at once, and readers slept for them.
        CHECK(max_pending >= 2);
        CHECK(async_waits > 0);
      } else {
        CHECK(max_pending == 0);
      }
    }
  }
}

TEST_CASE("ktls-rx crypto=async: a recvmsg that does not wait for cryptd is caught", "[ktls-rx][async]") {
  // The mutation skips recv_end's tls_decrypt_async_wait: recvmsg returns, or copies from
  // rx_list, while cryptd still holds records - the user would read ciphertext. rx-in-order
  // must say so. In TLS 1.3 nothing is asynchronous, so the same mutation changes nothing.
  const RxMutation m(model::tls_rx_mutation::no_async_wait);
  for (const char* tls : {"tls=1.2", "tls=1.3"}) {
    INFO(tls);
    RandomStrategy rnd(13);
    uint64_t violations = 0;
    bool from_rx_list = false;
    std::string property, message;
    for (int i = 0; i < 60; ++i) {
      rnd.begin_run();
      RunOptions o;
      o.limits = sc().default_limits();
      const RunResult r = run_once(sc(), resolve_params(sc(), std::vector<std::string>{tls, "crypto=async"}), rnd, o);
      if (r.end.outcome == Outcome::violation) {
        ++violations;
        property = r.end.property;
        message = r.end.message;
        // The scenario's first read is a peek: a clear-text record, copied from rx_list too early.
        from_rx_list = from_rx_list || message.find("from rx_list before") != std::string::npos;
      }
    }
    INFO(property << ": " << message);
    if (std::string(tls) == "tls=1.2") {
      CHECK(violations > 0);
      CHECK(property == "rx-in-order");
      CHECK_THAT(message, Catch::Contains("ciphertext"));
      CHECK(from_rx_list);
    } else {
      CHECK(violations == 0);
    }
  }
}

TEST_CASE("ktls-rx crypto=async: without the wait, zero-copy records are returned before cryptd wrote them", "[ktls-rx][async]") {
  // A reader of whole records only (no peek, every call larger than a record): TLS 1.2 decrypts
  // each straight into the user's buffer. Without recv_end's wait, recv returns while cryptd
  // still owns part of that buffer.
  const auto& base = dynamic_cast<const script::ScriptScenario&>(sc());
  std::string text = base.script().text();
  const auto at = text.find("thread app:receiver {");
  REQUIRE(at != std::string::npos);
  text = text.substr(0, at) + "thread app:receiver {\n  recv_loop(receiver, bytes, 0, 1s) = bytes\n}\n";
  const script::ScriptScenario whole(std::make_shared<const script::Script>(script::Script::parse("whole.kps", text)), "");
  const auto params = resolve_params(whole, std::vector<std::string>{"tls=1.2", "crypto=async"});
  for (const bool mutated : {false, true}) {
    INFO("mutated " << mutated);
    const RxMutation m(mutated ? model::tls_rx_mutation::no_async_wait : model::tls_rx_mutation::none);
    RandomStrategy rnd(14);
    uint64_t violations = 0, zc = 0;
    std::string message;
    for (int i = 0; i < 60; ++i) {
      rnd.begin_run();
      RunOptions o;
      o.limits = whole.default_limits();
      const RunResult r = run_once(whole, params, rnd, o);
      if (r.end.outcome == Outcome::violation) {
        ++violations;
        message = r.end.property + ": " + r.end.message;
      } else {
        zc += r.metrics["rx_zc_records"].get<uint64_t>();
      }
    }
    INFO(message);
    if (mutated) {
      CHECK(violations > 0);
      CHECK_THAT(message, Catch::StartsWith("rx-in-order: ") && Catch::Contains("into its buffer (ciphertext)"));
    } else {
      CHECK(violations == 0);
      CHECK(zc > 0);  // the records did go into the user's buffer
    }
  }
}

TEST_CASE("ktls-rx: the guest refuses a sync/async mix of tls_tx and tls_rx, saying why", "[ktls-rx][async]") {
  // cryptd, once registered in the guest, outranks the synchronous gcm(aes) for every kTLS
  // socket set up after it: the two ends cannot have different AEADs there.
  const auto guest_refusal = [](const std::string& tx, const std::string& rx) {
    const std::string text = "scenario r \"x\"\na, b = create_pair(tcp)\ntls_tx(a, 1.2, " + tx + ")\ntls_rx(b, 1.2, " +
                             rx + ")\nf = file(16384)\nthread s {\n  write(a, 16384)\n}\nthread r {\n  recv(b, 100)\n}\n";
    const script::Script sc = script::Script::parse("r.kps", text);
    return script::guest_unsupported(sc.instantiate(Params{}));
  };
  CHECK_THAT(guest_refusal("sync", "async"), Catch::StartsWith("r.kps:4:1: tls_rx and tls_tx with different AEADs"));
  CHECK_THAT(guest_refusal("async", "sync"), Catch::Contains("a registered cryptd serves both"));
  CHECK(guest_refusal("async", "async").empty());
  CHECK(guest_refusal("sync", "sync").empty());
}

// model cpu = costed (model/kernel/sched/cputime.h): the cipher is charged where it runs, once
// per record, whichever AEAD runs it - tls_push_record or cryptd's worker for the sender's
// encryption (the clock's CPU), the reader's recv or cryptd for the decryption (the reader's
// CPU). Four records of 16384 bytes: 16384 encrypted, 16400 (1.2) or 16401 (1.3: the inner
// content type) decrypted with the tag, each rounded up to a nanosecond at 212 ps a byte.
TEST_CASE("ktls-rx cpu=costed: encryption and decryption are charged where the cipher runs, sync or cryptd",
          "[ktls-rx][async][cpu]") {
  const model::cpu_costs costs;
  auto ns = [&](uint64_t bytes) { return (bytes * costs.encrypt_ps_per_byte + 999) / 1000; };
  for (const char* crypto : {"crypto=sync", "crypto=async"})
    for (const char* tls : {"tls=1.2", "tls=1.3"}) {
      INFO(crypto << " " << tls);
      const RunResult r = run_zero({tls, crypto, "cpu=costed"});
      INFO(r.end.message);
      REQUIRE(r.end.outcome == Outcome::done);
      const uint64_t tag_and_type = std::string_view(tls) == "tls=1.3" ? 17 : 16;
      auto secs = [&](const char* cpu, const char* work) {
        return std::llround(r.metrics[cpu].value(work, 0.0) * 1e9);
      };
      CHECK(secs("cpu_s", "encrypt") == static_cast<int64_t>(4 * ns(16384)));
      CHECK(secs("reader_cpu_s", "decrypt") == static_cast<int64_t>(4 * ns(16384 + tag_and_type)));
      CHECK(secs("cpu_s", "decrypt") == 0);  // never on the sender's CPU
      // The reader copies what it does not decrypt straight into its buffer, peeks included.
      CHECK(secs("reader_cpu_s", "copy") > 0);
    }
  // cpu=none charges nothing and reports no CPU time.
  CHECK_FALSE(run_zero({"tls=1.2", "crypto=async"}).metrics.contains("cpu_s"));
}
