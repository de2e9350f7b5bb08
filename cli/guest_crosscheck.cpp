// Model vs guest for ktls-sendfile-stall. Compared by outcome class and by counts, never by
// absolute time: under TCG the guest's wall clock says nothing about the kernel's speed, but
// the persist timer still fires every ~200 ms of guest time, so the number of pauses a stalled
// transfer takes is comparable with the model's number of PROBE0 expiries.
#include "cli/guest_crosscheck.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "scenarios/runner.h"
#include "sched/strategy_random.h"

#ifndef KPSIM_SOURCE_DIR
#define KPSIM_SOURCE_DIR "."
#endif

namespace kpsim::cli {
namespace {

using json = nlohmann::ordered_json;

// A configuration both sides understand. mss_user is what the guest sets with TCP_MAXSEG on
// the listener (0: loopback default); the model's `mss` is the sender's mss_cache, 12 bytes of
// timestamp option less (1448 -> 1436; default 65483).
struct StallConfig {
  int64_t mss_user = 0;
  int64_t lowat = 0;  // 0: the kernel default (disabled)
  int64_t bytes = 4194304;
  std::string api = "sendfile";
  std::string tls = "1.3";
  std::string guest_arg() const {
    return fmt::format("mode=ktls-sendfile-stall,mss={},lowat={},bytes={},api={},tls={}", mss_user,
                       lowat, bytes, api, tls == "none" ? "0" : tls == "1.2" ? "12" : "13");
  }
  std::vector<std::string> model_sets() const {
    return {fmt::format("mss={}", mss_user ? mss_user - 12 : 65483),
            fmt::format("notsent_lowat={}", lowat ? lowat : 4294967295ll),
            fmt::format("bytes={}", bytes), fmt::format("call_bytes={}", bytes), "api=" + api,
            "tls=" + tls};
  }
  std::string name() const {
    return fmt::format("mss={} lowat={} api={} tls={}", mss_user ? std::to_string(mss_user) : "default",
                       lowat ? std::to_string(lowat) : "default", api, tls);
  }
};

StallConfig config_from(const Params& p) {
  StallConfig c;
  const int64_t mss = p.get_int("mss");
  c.mss_user = mss >= 65483 ? 0 : mss + 12;
  c.lowat = p.get_int("notsent_lowat") >= 4294967295ll ? 0 : p.get_int("notsent_lowat");
  c.bytes = p.get_int("bytes");
  c.api = p.get("api");
  c.tls = p.get("tls");
  return c;
}

// The model's verdict over many interleavings of writer, ACK softirq and timer: how many
// schedules stall, and the range of PROBE0 expiries with the window open.
struct ModelRange {
  uint64_t runs = 0, stalled = 0;
  int64_t min_expiries = INT64_MAX, max_expiries = 0;
  double min_mibps = 1e300, max_mibps = 0;  // throughput of the stalled schedules
};

ModelRange model_range(const StallConfig& c, uint64_t schedules) {
  const Scenario& sc = *find_scenario("ktls-sendfile-stall");
  const Params p = resolve_params(sc, c.model_sets());
  RunOptions o;
  o.limits = sc.default_limits();
  ModelRange r;
  // Schedule 0 is the default one (every softirq before the task it woke, as on a real CPU);
  // the rest are random interleavings.
  RandomStrategy random(1);
  for (uint64_t i = 0; i < schedules; ++i) {
    json m;
    if (i == 0) {
      m = run_choices(sc, p, {}, o).metrics;
    } else {
      random.begin_run();
      m = run_once(sc, p, random, o).metrics;
    }
    ++r.runs;
    const int64_t e = m.value("persist_expiries_open_window", int64_t{0});
    if (m.value("stalled", false)) {
      ++r.stalled;
      r.min_expiries = std::min(r.min_expiries, e);
      r.max_expiries = std::max(r.max_expiries, e);
      const double t = m.value("throughput_MiB_s", 0.0);
      r.min_mibps = std::min(r.min_mibps, t);
      r.max_mibps = std::max(r.max_mibps, t);
    }
  }
  return r;
}

struct GuestResult {
  int exit_code = 0;
  std::vector<json> results;
  std::string error;
};

// Boots the kernel once with all configurations; the guest prints one KPSIM-RESULT per config.
GuestResult boot_guest_args(const std::string& version, const std::vector<std::string>& args) {
  std::string cmd = fmt::format("{}/scripts/guest/boot {} --timeout 900", KPSIM_SOURCE_DIR, version);
  for (auto& a : args) cmd += " '" + a + "'";
  GuestResult g;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) {
    g.exit_code = 1;
    g.error = "cannot run " + cmd;
    return g;
  }
  char buf[65536];
  const std::string tag = "KPSIM-RESULT ";
  while (fgets(buf, sizeof buf, pipe.get())) {
    std::string line(buf);
    const auto at = line.find(tag);
    if (at == std::string::npos) continue;
    try {
      g.results.push_back(json::parse(line.substr(at + tag.size())));
    } catch (const json::parse_error&) {
      g.error = "unparsable result line: " + line.substr(0, 200);
    }
  }
  const int status = pclose(pipe.release());
  g.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  return g;
}

GuestResult boot_guest(const std::string& version, const std::vector<StallConfig>& configs) {
  std::vector<std::string> args;
  for (auto& c : configs) args.push_back(c.guest_arg());
  return boot_guest_args(version, args);
}

bool guest_stalled(const json& r) { return r.value("verdict", "") == "stall"; }

int64_t guest_pauses(const json& r) { return r.value("stall_episodes_ge_100ms", int64_t{0}); }

int guest_unavailable(const GuestResult& g) {
  std::cerr << "kpsim: the qemu guest cannot run here: "
            << (g.error.empty() ? fmt::format("scripts/guest/boot exited {}", g.exit_code) : g.error)
            << " (install the tools with scripts/guest/setup)\n";
  return kExitUsage;
}

const Scenario& stall_scenario(const std::string& name) {
  if (name != "ktls-sendfile-stall")
    throw ParamError("scenario '" + name + "' has no guest runner (ktls-sendfile-stall and "
                     "ktls-async-close have)");
  return *find_scenario(name);
}

// ---- ktls-async-close: the model's window, forced on the real kernel ----------------------
//
// The guest runner's force=window builds the model's counterexample step by step (send buffer
// full and the peer paused, encryptions pending at close, the final fput in io_uring_enter's
// task work, a TWA_SIGNAL completion while the flush waits; docs/guest.md). Each pairing says
// which model variant the kernel configuration stands for; they agree when the model can lose
// records (explored) exactly where the kernel did in some forced run.
struct ClosePairing {
  std::string what;
  std::vector<std::string> model_sets;
  std::string guest_arg;
};

const std::vector<ClosePairing>& close_pairings() {
  static const std::vector<ClosePairing> p = {
      {"default ring, async crypto, MORE", {"io=uring", "crypto=async"},
       "mode=ktls-async-close,force=window,runs=5"},
      {"DEFER_TASKRUN, no other requests", {"io=uring-defer", "crypto=async"},
       "mode=ktls-async-close,force=window,defer_taskrun=1,runs=3,client_wait_ms=1000"},
      {"default ring, no MSG_MORE (6.12 waits at eor)", {"io=uring", "crypto=async", "more=0"},
       "mode=ktls-async-close,force=window,more=0,runs=3,client_wait_ms=1000"},
  };
  return p;
}

struct CloseModel {
  uint64_t schedules = 0, violations = 0;
};

CloseModel close_model(const std::vector<std::string>& sets, uint64_t budget) {
  const Scenario& sc = *find_scenario("ktls-async-close");
  RandomStrategy random(1);
  ExploreOptions o;
  o.budget = budget;
  o.run.limits = sc.default_limits();
  o.shrink = false;
  const ExploreResult r = explore(sc, resolve_params(sc, sets), random, o);
  return {r.schedules, r.violations};
}

int close_crosscheck(const std::string& version, bool as_json) {
  std::vector<std::string> args;
  for (auto& p : close_pairings()) args.push_back(p.guest_arg);
  const GuestResult g = boot_guest_args(version, args);
  if (g.results.size() != args.size()) {
    if (g.results.empty()) return guest_unavailable(g);
    std::cerr << fmt::format("kpsim: the guest returned {} of {} results (exit {})\n",
                             g.results.size(), args.size(), g.exit_code);
    return kExitUsage;
  }
  constexpr uint64_t kBudget = 2000;
  bool agree = true;
  json rows = json::array();
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& p = close_pairings()[i];
    const CloseModel m = close_model(p.model_sets, kBudget);
    const json& k = g.results[i];
    const int64_t short_runs = k.value("short_runs", int64_t{0}), runs = k.value("runs", int64_t{0});
    const bool ml = m.violations > 0, kl = short_runs > 0;
    agree = agree && ml == kl;
    rows.push_back({{"config", p.what}, {"model_schedules", m.schedules},
                    {"model_violations", m.violations}, {"kernel_runs", runs},
                    {"kernel_short_runs", short_runs}, {"verdict", ml == kl ? "agree" : "disagree"}});
  }
  if (as_json) {
    std::cout << json{{"scenario", "ktls-async-close"}, {"kernel", version},
                      {"guest_kernel", g.results.front().value("kernel", "")}, {"configs", rows},
                      {"agree", agree}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format("crosscheck ktls-async-close on Debian {} ({}) in a qemu guest, window forced\n",
                             version, g.results.front().value("kernel", ""));
    std::cout << fmt::format("  {:<46} {:>16} {:>16}  {}\n", "configuration", "model lost/sched",
                             "kernel short/runs", "verdict");
    for (auto& r : rows)
      std::cout << fmt::format("  {:<46} {:>16} {:>16}  {}\n", r["config"].get<std::string>(),
                               fmt::format("{}/{}", r["model_violations"].get<uint64_t>(), r["model_schedules"].get<uint64_t>()),
                               fmt::format("{}/{}", r["kernel_short_runs"].get<int64_t>(), r["kernel_runs"].get<int64_t>()),
                               r["verdict"].get<std::string>());
    std::cout << (agree ? "model and kernel agree\n" : "model and kernel DISAGREE\n");
  }
  return agree ? kExitOk : kExitFinding;
}

}  // namespace

int guest_kernel(const std::string& scenario, const std::vector<std::string>& sets,
                 const std::string& version, bool as_json) {
  if (scenario == "ktls-async-close") {
    if (!sets.empty()) throw ParamError("ktls-async-close: the guest run takes no --set");
    const GuestResult g = boot_guest_args(version, {close_pairings().front().guest_arg});
    if (g.results.empty()) return guest_unavailable(g);
    const json& r = g.results.front();
    if (as_json)
      std::cout << json{{"scenario", scenario}, {"kernel", version}, {"result", r}}.dump(2) << "\n";
    else
      std::cout << fmt::format("kernel {} ({})  ktls-async-close, window forced: {} ({} of {} runs short)\n",
                               version, r.value("kernel", ""), r.value("verdict", "?"),
                               r.value("short_runs", int64_t{0}), r.value("runs", int64_t{0}));
    return kExitOk;
  }
  const Params p = resolve_params(stall_scenario(scenario), sets);
  const StallConfig c = config_from(p);
  const GuestResult g = boot_guest(version, {c});
  if (g.results.empty()) return guest_unavailable(g);
  if (as_json) {
    std::cout << json{{"scenario", scenario}, {"params", p.to_json()}, {"kernel", version},
                      {"result", g.results.front()}}
                     .dump(2)
              << "\n";
  } else {
    const json& r = g.results.front();
    std::cout << fmt::format("kernel {} ({})  {}: {}  {} pauses >= 100 ms, longest call {:.1f} s\n",
                             version, r.value("kernel", ""), c.name(), r.value("verdict", "?"),
                             guest_pauses(r), r.value("longest_call_s", 0.0));
  }
  return kExitOk;
}

int guest_crosscheck(const std::string& scenario, const std::vector<std::string>& sets,
                     const std::string& version, bool as_json) {
  if (scenario == "ktls-async-close") {
    if (!sets.empty()) throw ParamError("ktls-async-close: the guest cross-check takes no --set");
    return close_crosscheck(version, as_json);
  }
  const Params p = resolve_params(stall_scenario(scenario), sets);
  const StallConfig base = config_from(p);
  std::vector<StallConfig> configs;
  for (int64_t mss : {int64_t{0}, int64_t{1448}})
    for (int64_t lowat : {int64_t{0}, int64_t{16384}}) {
      StallConfig c = base;
      c.mss_user = mss;
      c.lowat = lowat;
      configs.push_back(c);
    }
  const GuestResult g = boot_guest(version, configs);
  if (g.results.size() != configs.size()) {
    if (g.results.empty()) return guest_unavailable(g);
    std::cerr << fmt::format("kpsim: the guest returned {} of {} results (exit {})\n",
                             g.results.size(), configs.size(), g.exit_code);
    return kExitUsage;
  }
  bool agree = true;
  json rows = json::array();
  constexpr uint64_t kSchedules = 100;
  for (size_t i = 0; i < configs.size(); ++i) {
    const ModelRange m = model_range(configs[i], kSchedules);
    const json& k = g.results[i];
    // The model's verdict must be unanimous over its schedules to be compared at all.
    const bool ms = m.stalled == m.runs, mixed = m.stalled != 0 && m.stalled != m.runs;
    const bool ks = guest_stalled(k);
    const int64_t kp = guest_pauses(k);
    // Pause counts agree when the kernel's lies within a factor of 3 of the model's range; so
    // does a stalled transfer's throughput, which the persist timer paces (it runs on the
    // guest's clock, so TCG's slowness does not enter it).
    const double kt = k.value("throughput_MiBps", 0.0);
    const bool counts_ok = !ms || !ks ||
                           (kp * 3 >= m.min_expiries && kp <= m.max_expiries * 3 &&
                            kt * 3 >= m.min_mibps && kt <= m.max_mibps * 3);
    const bool ok = !mixed && ms == ks && counts_ok;
    agree = agree && ok;
    const std::string range =
        m.stalled ? fmt::format("{}..{}", m.min_expiries, m.max_expiries) : std::string("0");
    rows.push_back({{"config", configs[i].name()}, {"model_stalled", ms}, {"kernel_stalled", ks},
                    {"model_schedules", m.runs}, {"model_stalled_schedules", m.stalled},
                    {"model_persist_expiries", range}, {"kernel_pauses", kp},
                    {"model_stalled_MiBps", m.stalled ? fmt::format("{:.3f}..{:.3f}", m.min_mibps, m.max_mibps) : "-"},
                    {"kernel_MiBps", kt},
                    {"kernel_longest_call_s", k.value("longest_call_s", 0.0)},
                    {"verdict", ok ? "agree" : "disagree"}});
  }
  if (as_json) {
    std::cout << json{{"scenario", scenario}, {"kernel", version},
                      {"guest_kernel", g.results.front().value("kernel", "")}, {"configs", rows},
                      {"agree", agree}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format("crosscheck {} on Debian {} ({}) in a qemu guest, {} bytes\n", scenario,
                             version, g.results.front().value("kernel", ""), base.bytes);
    std::cout << fmt::format("  {:<44} {:>8} {:>8} {:>12} {:>8} {:>14} {:>8}  {}\n", "configuration",
                             "model", "kernel", "model PROBE0", "k pauses", "model MiB/s", "k MiB/s",
                             "verdict");
    for (auto& r : rows)
      std::cout << fmt::format("  {:<44} {:>8} {:>8} {:>12} {:>8} {:>14} {:>8.3f}  {}\n",
                               r["config"].get<std::string>(),
                               r["model_stalled"].get<bool>() ? "stall" : "-",
                               r["kernel_stalled"].get<bool>() ? "stall" : "-",
                               r["model_persist_expiries"].get<std::string>(),
                               r["kernel_pauses"].get<int64_t>(),
                               r["model_stalled_MiBps"].get<std::string>(),
                               r["kernel_MiBps"].get<double>(), r["verdict"].get<std::string>());
    std::cout << (agree ? "model and kernel agree\n" : "model and kernel DISAGREE\n");
  }
  return agree ? kExitOk : kExitFinding;
}

}  // namespace kpsim::cli
