// The scenarios' kernel sides without a kernel: which parameter values each translates into
// its runner's configuration, which it refuses (ParamError, exit 2 in the CLI), and which cells
// a cross-check compares. The runs themselves are the `kernel` and `kernel-guest` ctests.
#include <catch2/catch.hpp>

#include "model/include/linux/tcp.h"
#include "scenarios/kernel_side.h"
#include "scenarios/ktls_async_close_kernel.h"
#include "scenarios/ktls_sendfile_stall_kernel.h"

using namespace kpsim;

namespace {

const Scenario& scenario(const char* name) {
  const Scenario* sc = find_scenario(name);
  REQUIRE(sc);
  REQUIRE(sc->kernel_side());
  return *sc;
}

KernelRequest request(const Scenario& sc, const std::vector<std::string>& sets, std::string target = "6.12") {
  return make_kernel_request(sc, std::move(target), sets);
}

std::string close_config(const std::vector<std::string>& sets, CloseGuestRuns runs = {}) {
  const Scenario& sc = scenario("ktls-async-close");
  return close_guest_config(sc, resolve_params(sc, sets), runs);
}

std::string stall_config(const std::vector<std::string>& sets) {
  const Scenario& sc = scenario("ktls-sendfile-stall");
  return stall_guest_config(sc, resolve_params(sc, sets));
}

}  // namespace

TEST_CASE("scenarios without a kernel side say so", "[kernel]") {
  REQUIRE(find_scenario("lost-update"));
  CHECK(find_scenario("lost-update")->kernel_side() == nullptr);
  CHECK(scenario("sockmap-multi-channels").kernel_side()->targets() == std::vector<std::string>{"host"});
  CHECK(scenario("ktls-async-close").kernel_side()->targets() == std::vector<std::string>{"6.12", "6.1"});
}

TEST_CASE("make_kernel_request resolves --set as explore does and records the keys", "[kernel]") {
  const Scenario& sc = scenario("ktls-async-close");
  const KernelRequest r = request(sc, {"more=0", "crypto=sync"});
  CHECK(r.params.get("more") == "0");
  CHECK(r.params.get("io") == "uring");
  CHECK(r.fixed == std::set<std::string>{"more", "crypto"});
  CHECK_THROWS_AS(request(sc, {"more=2"}), ParamError);
  CHECK_THROWS_AS(request(sc, {"nope=1"}), ParamError);
}

TEST_CASE("ktls-async-close: --set values the guest reproduces map to its keys", "[kernel]") {
  // The defaults: the report's ring, async crypto, MSG_MORE, 3 records.
  CHECK(close_config({}) ==
        "mode=ktls-async-close,force=window,records=3,cryptd=1,defer_taskrun=0,more=1,sndbuf=4096,tls=13,runs=5");
  CHECK_THAT(close_config({"io=uring-defer"}), Catch::Contains(",defer_taskrun=1,"));
  CHECK_THAT(close_config({"crypto=sync"}), Catch::Contains(",cryptd=0,"));
  CHECK_THAT(close_config({"more=0"}), Catch::Contains(",more=0,"));
  CHECK_THAT(close_config({"bytes=131072"}), Catch::Contains(",records=8,"));
  CHECK_THAT(close_config({"sndbuf=16384"}), Catch::Contains(",sndbuf=16384,"));
  CHECK_THAT(close_config({"tls=1.2"}), Catch::Contains(",tls=12,"));
  CHECK_THAT(close_config({}, {3, 1000}), Catch::EndsWith(",runs=3,client_wait_ms=1000"));
}

TEST_CASE("ktls-async-close: values the guest cannot reproduce are refused", "[kernel]") {
  for (const std::string set : {"io=plain", "io=uring-coop", "tls=none", "bytes=50000", "kernel=6.6",
                                "fix=task-sigpending", "fix=flush-in-worker", "rcvbuf=8192",
                                "read_bytes=4096", "read_ms=0", "mss=9000", "others=1",
                                "others_at=start", "iowq_max=2"}) {
    INFO(set);
    CHECK_THROWS_AS(close_config({set}), ParamError);
  }
}

TEST_CASE("ktls-async-close: crosscheck cells vary only what --set left alone", "[kernel]") {
  const Scenario& sc = scenario("ktls-async-close");
  const auto whats = [&](const std::vector<std::string>& sets) {
    std::vector<std::string> out;
    for (auto& c : close_crosscheck_cells(sc, request(sc, sets))) out.push_back(c.what);
    return out;
  };
  // No --set: the three pairings the cross-check has always run.
  CHECK(whats({}) == std::vector<std::string>{"default ring, async crypto, MSG_MORE",
                                              "DEFER_TASKRUN, async crypto, MSG_MORE",
                                              "default ring, async crypto, no MSG_MORE"});
  CHECK(whats({"more=0"}) == std::vector<std::string>{"default ring, async crypto, no MSG_MORE",
                                                      "DEFER_TASKRUN, async crypto, no MSG_MORE"});
  CHECK(whats({"io=uring-defer", "more=0"}) == std::vector<std::string>{"DEFER_TASKRUN, async crypto, no MSG_MORE"});
  // --set applies to every cell; --runs sets every cell's runs.
  KernelRequest r = request(sc, {"crypto=sync"});
  r.runs = 7;
  for (auto& c : close_crosscheck_cells(sc, r)) {
    CHECK(c.params.get("crypto") == "sync");
    CHECK_THAT(c.guest_config, Catch::Contains(",cryptd=0,") && Catch::Contains(",runs=7"));
  }
  // A refused value is refused before any cell runs.
  CHECK_THROWS_AS(close_crosscheck_cells(sc, request(sc, {"io=plain"})), ParamError);
}

TEST_CASE("ktls-sendfile-stall: MSS and notsent_lowat come from the model's constants", "[kernel]") {
  CHECK(stall_config({}) == "mode=ktls-sendfile-stall,mss=0,lowat=0,bytes=4194304,api=sendfile,tls=13");
  // mss_cache 1436 is TCP_MAXSEG 1448 less the timestamp option.
  CHECK_THAT(stall_config({"mss=1436", "notsent_lowat=16384"}), Catch::Contains("mss=1448,lowat=16384,"));
  CHECK_THAT(stall_config({"tls=none", "api=write"}), Catch::EndsWith("api=write,tls=0"));
  CHECK_THAT(stall_config({"call_bytes=65536"}), Catch::EndsWith(",chunk=65536"));
  CHECK_THAT(stall_config({"bytes=16777216", "call_bytes=1048576"}), Catch::EndsWith(",chunk=1048576"));
  for (const std::string set : {"sndbuf=16384", "nodelay=1", "fix=flush-before-wait", "mss=40000"}) {
    INFO(set);
    CHECK_THROWS_AS(stall_config({set}), ParamError);
  }
  CHECK_THROWS_AS(stall_config({"bytes=16777216", "call_bytes=3000000"}), ParamError);
}

TEST_CASE("ktls-sendfile-stall: crosscheck grid is MSS x lowat unless fixed", "[kernel]") {
  const Scenario& sc = scenario("ktls-sendfile-stall");
  const auto grid = [&](const std::vector<std::string>& sets) {
    std::vector<std::string> out;
    for (auto& c : stall_crosscheck_cells(request(sc, sets))) out.push_back(c.get("mss") + "/" + c.get("notsent_lowat"));
    return out;
  };
  const std::string lo = std::to_string(model::kLoopbackMss), off = std::to_string(model::kTcpNotsentLowatDisabled);
  CHECK(grid({}) == std::vector<std::string>{lo + "/" + off, lo + "/16384", "1436/" + off, "1436/16384"});
  CHECK(grid({"notsent_lowat=16384"}) == std::vector<std::string>{lo + "/16384", "1436/16384"});
  CHECK(grid({"mss=9000", "notsent_lowat=4096"}) == std::vector<std::string>{"9000/4096"});
}

TEST_CASE("sockmap-multi-channels: the host runs the script, crosscheck judges readings", "[kernel]") {
  const Scenario& sc = scenario("sockmap-multi-channels");
  const KernelSide& ks = *sc.kernel_side();
  // Refused before any kernel is touched (ParamError): a reading of the kernel for `kernel`,
  // fionread semantics for both, a schedule the runner does not know.
  const auto req = [&](const std::vector<std::string>& sets) { return request(sc, sets, "host"); };
  CHECK_THROWS_AS(ks.run(sc, req({"fionread=pre-929e30f93125"})), ParamError);
  CHECK_THROWS_AS(ks.crosscheck(sc, req({"fionread=pre-929e30f93125"})), ParamError);
  for (const std::string reading : {"self_redirect=direct", "kworker_cpu=other"}) {
    INFO(reading);
    CHECK_THROWS_AS(ks.run(sc, req({reading})), ParamError);
  }
  KernelRequest r = req({});
  r.schedule = "sideways";
  CHECK_THROWS_AS(ks.run(sc, r), ParamError);
}
