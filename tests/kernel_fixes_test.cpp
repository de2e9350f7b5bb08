// The model's fixes and their kernel patches (scripts/guest/patches/fixes.tsv, scenarios/
// kernel_fixes.h): every fix the model has is paired with a patch or says why there is none,
// the patches exist and name their fix, and --kernel SERIES+FIX targets parse or are refused.
// The patched kernels themselves are the `kernel-patched` ctests.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "model/kconfig.h"
#include "scenarios/kernel_fixes.h"
#include "scenarios/params.h"

using namespace kpsim;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kPatchDir = std::string(KPSIM_SOURCE_DIR) + "/scripts/guest/patches/";

}  // namespace

TEST_CASE("every fix of the model has a row in fixes.tsv", "[kernel-fixes]") {
  std::set<std::string> in_table;
  for (auto& row : kernel_fix_table()) in_table.insert(row.fix);
  for (auto& [k, name] : model::switch_names<model::kfix>::v) {
    if (k == model::kfix::none) continue;
    INFO("kfix " << name << ": add a row to scripts/guest/patches/fixes.tsv (a patch, or '-' and why not)");
    CHECK(in_table.count(std::string(name)) == 1);
  }
}

TEST_CASE("fixes.tsv names only fixes the model has, and each patch exists and says which", "[kernel-fixes]") {
  REQUIRE(!kernel_fix_table().empty());
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& row : kernel_fix_table()) {
    INFO(row.fix << " on " << row.kernel);
    CHECK(model::parse_switch<model::kfix>(row.fix).has_value());
    CHECK(row.fix != "none");
    CHECK((row.kernel == "6.12" || row.kernel == "6.1"));
    CHECK(seen.insert({row.fix, row.kernel}).second);  // one row per (fix, series)
    CHECK(!row.scenario.empty());
    if (row.patch.empty()) {
      CHECK(!row.note.empty());
      continue;
    }
    const std::string text = read_file(kPatchDir + row.patch);
    REQUIRE(!text.empty());
    // The header pairs the file with the model's switch; the diff follows it.
    CHECK(text.find("model: fix=" + row.fix) != std::string::npos);
    CHECK(text.find("\n--- a/") != std::string::npos);
  }
}

TEST_CASE("fixes.tsv: malformed lines are refused", "[kernel-fixes]") {
  CHECK(parse_kernel_fix_table("# only a comment\n\n").empty());
  CHECK(parse_kernel_fix_table("task-sigpending\t6.12\t6.12/x.patch\tseed\tnote\n").size() == 1);
  CHECK_THROWS(parse_kernel_fix_table("task-sigpending 6.12 6.12/x.patch\n"));
  CHECK_THROWS(parse_kernel_fix_table("task-sigpending\t6.1\t-\tseed\t\n"));  // no patch, no reason
}

TEST_CASE("--kernel SERIES[+FIX] targets", "[kernel-fixes]") {
  const GuestKernelTarget stock = parse_guest_kernel_target("6.12");
  CHECK(!stock.self_built());
  CHECK(stock.series == "6.12");
  CHECK(stock.model_fix() == "none");

  const GuestKernelTarget control = parse_guest_kernel_target("6.12+none");
  CHECK(control.self_built());
  CHECK(control.fix == model::kfix::none);

  const GuestKernelTarget ts = parse_guest_kernel_target("6.12+task-sigpending");
  CHECK(ts.self_built());
  CHECK(ts.fix == model::kfix::task_sigpending);
  CHECK(ts.model_fix() == "task-sigpending");
  CHECK(ts.name == "6.12+task-sigpending");
  CHECK(parse_guest_kernel_target("6.12+clear-more-on-full-record").fix == model::kfix::clear_more_on_full_record);

  // Unknown fix: the error lists the model's fix values and the valid targets.
  try {
    parse_guest_kernel_target("6.12+no-such-fix");
    FAIL("no ParamError");
  } catch (const ParamError& e) {
    const std::string m = e.what();
    CHECK(m.find("no-such-fix") != std::string::npos);
    CHECK(m.find("task-sigpending") != std::string::npos);
    CHECK(m.find("6.12+task-sigpending") != std::string::npos);
  }
  CHECK_THROWS_AS(parse_guest_kernel_target("5.10"), ParamError);
  CHECK_THROWS_AS(parse_guest_kernel_target("5.10+none"), ParamError);
  // A row without a patch: refused with the table's reason.
  try {
    parse_guest_kernel_target("6.1+task-sigpending");
    FAIL("no ParamError");
  } catch (const ParamError& e) {
    CHECK(std::string(e.what()).find("no patch") != std::string::npos);
  }

  // Every listed target parses.
  for (auto& t : self_built_guest_targets()) CHECK_NOTHROW(parse_guest_kernel_target(t));
}

TEST_CASE("a stock target needs no build; a self-built one asks build-kernel", "[kernel-fixes]") {
  const std::string dir = std::string(KPSIM_SOURCE_DIR) + "/scripts/guest";
  CHECK(kernel_build_status(parse_guest_kernel_target("6.12"), dir).built);
  // A script directory without build-kernel: not built, and the message names the command.
  const KernelBuildStatus st = kernel_build_status(parse_guest_kernel_target("6.12+task-sigpending"), "/nonexistent");
  CHECK(!st.built);
  CHECK(st.command == "scripts/guest/build-kernel 6.12+task-sigpending");
  CHECK(!st.message.empty());
}
