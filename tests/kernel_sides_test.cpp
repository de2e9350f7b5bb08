// The scenarios' kernel sides without a kernel: where each runs, and how --set is resolved for
// them. What the guest side does with a script's cells is tested end to end without qemu by
// guest_side_host_runner (tests/guest_side_host.py), the runs themselves by the `kernel` and
// `kernel-guest` ctests.
#include <catch2/catch.hpp>

#include <algorithm>

#include "scenarios/kernel_side.h"

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

}  // namespace

TEST_CASE("scenarios without a kernel side say so; scripts run where what they use exists", "[kernel]") {
  CHECK(find_scenario("lost-update")->kernel_side() == nullptr);
  CHECK(scenario("sockmap-multi-channels").kernel_side()->targets() == std::vector<std::string>{"host"});
  // Stream programs (kTLS) need the guest, whichever of them: no script is bound by its name.
  // Debian's stock kernels first (no --kernel: the first), then the self-built ones
  // (scripts/guest/build-kernel: 6.12+none and one per fix with a patch in fixes.tsv).
  const std::vector<std::string> t = scenario("ktls-async-close").kernel_side()->targets();
  REQUIRE(t.size() >= 3);
  CHECK(std::vector<std::string>(t.begin(), t.begin() + 2) == std::vector<std::string>{"6.12", "6.1"});
  CHECK(std::find(t.begin(), t.end(), "6.12+task-sigpending") != t.end());
  CHECK(std::find(t.begin(), t.end(), "6.12+none") != t.end());
  CHECK(scenario("ktls-sendfile-stall").kernel_side() == scenario("ktls-async-close").kernel_side());
  CHECK(scenario("sockmap-multi-channels").kernel_side() != scenario("ktls-async-close").kernel_side());
}

TEST_CASE("make_kernel_request resolves --set as explore does and records the keys", "[kernel]") {
  const Scenario& sc = scenario("ktls-async-close");
  const KernelRequest r = request(sc, {"more=0", "crypto=async"});
  CHECK(r.params.get("more") == "0");
  CHECK(r.params.get("io") == "uring");
  CHECK(r.fixed == std::set<std::string>{"more", "crypto"});
  CHECK_THROWS_AS(request(sc, {"more=2"}), ParamError);
  CHECK_THROWS_AS(request(sc, {"nope=1"}), ParamError);
}
