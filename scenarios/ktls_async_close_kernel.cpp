// ktls-async-close's kernel side: the model's window forced on a Debian kernel in a qemu guest.
//
// The guest runner's force=window builds the model's counterexample step by step (send buffer
// full and the peer paused, encryptions pending at close, the final fput in io_uring_enter's
// task work, a TWA_SIGNAL completion while the flush waits; docs/guest.md). A cell pairs a
// model variant with the guest configuration that stands for it; model and kernel agree on a
// cell when the model can lose records (some of its explored schedules violate) exactly when
// the kernel lost records in some forced run.
#include "scenarios/ktls_async_close_kernel.h"

#include <fmt/format.h>

#include "model/net/tls/tls_sw.h"
#include "scenarios/guest_kernel_side.h"
#include "scenarios/kernel_sides.h"
#include "scenarios/runner.h"
#include "sched/strategy_random.h"

namespace kpsim {
namespace {

using json = nlohmann::ordered_json;

constexpr uint64_t kModelSchedules = 2000;  // random schedules per cell (seed 1)
// The first cell runs with the runner's defaults; the varied cells are shorter because a
// close that waits for the client waits client_wait_ms every run.
constexpr CloseGuestRuns kFirstCell{5, std::nullopt};
constexpr CloseGuestRuns kVariedCell{3, 1000};

std::string cell_what(const Params& p) {
  return fmt::format("{}, {} crypto, {}", p.get("io") == "uring-defer" ? "DEFER_TASKRUN" : "default ring",
                     p.get("crypto"), p.get("more") == "1" ? "MSG_MORE" : "no MSG_MORE");
}

struct CloseModel {
  uint64_t schedules = 0, violations = 0;
};

CloseModel close_model(const Scenario& sc, const Params& p) {
  RandomStrategy random(1);
  ExploreOptions o;
  o.budget = kModelSchedules;
  o.run.limits = sc.default_limits();
  o.shrink = false;
  const ExploreResult r = explore(sc, p, random, o);
  return {r.schedules, r.violations};
}

// crypto=async is reproduced only if kTLS got a cryptd instance that passed its self-test (on
// Debian 6.1 it never does, and kTLS falls back to the synchronous AEAD: docs/guest.md).
void check_crypto(const Scenario& sc, const Params& p, const json& k) {
  if (p.get("crypto") != "async") return;
  const std::string entries = k.value("gcm_aes_entries_while_open", "");
  for (size_t at = 0; at < entries.size();) {
    const size_t end = std::min(entries.find(" | ", at), entries.size());
    const std::string block = entries.substr(at, end - at);
    if (block.find("driver=cryptd(") != std::string::npos && block.find("selftest=passed") != std::string::npos)
      return;
    at = end + 3;
  }
  throw KernelError(fmt::format(
      "{}: crypto=async was not reproduced on {}: no cryptd(gcm(aes)) instance passed its self-test, "
      "so kTLS encrypted synchronously (gcm(aes) entries: {}); try --set crypto=sync",
      sc.name(), k.value("kernel", "the guest"), entries.empty() ? "none reported" : entries));
}

class CloseKernelSide final : public GuestKernelSide {
 public:
  std::string_view summary() const override {
    return "qemu guest (--kernel 6.12|6.1), the model's window forced; --runs N forced runs per configuration";
  }

  KernelReport run(const Scenario& sc, const KernelRequest& r) const override {
    refuse_options(sc, r, "", "every guest run is forced; --runs sets their number",
                   "the guest forces the window itself");
    CloseGuestRuns g = kFirstCell;
    if (r.runs) g.runs = *r.runs;
    const json k = run_in_guest(r.target, {close_guest_config(sc, r.params, g)}).front();
    check_crypto(sc, r.params, k);
    KernelReport rep;
    rep.json = {{"scenario", sc.name()}, {"params", r.params.to_json()}, {"kernel", r.target}, {"result", k}};
    rep.text = fmt::format("kernel {} ({})  {} ({}), window forced: {} ({} of {} runs short)\n", r.target,
                           k.value("kernel", ""), sc.name(), cell_what(r.params), k.value("verdict", "?"),
                           k.value("short_runs", int64_t{0}), k.value("runs", int64_t{0}));
    return rep;
  }

  KernelReport crosscheck(const Scenario& sc, const KernelRequest& r) const override {
    refuse_options(sc, r, "", "every guest run is forced; --runs sets their number",
                   "the guest forces the window itself");
    const std::vector<CloseCell> cells = close_crosscheck_cells(sc, r);  // refuses before booting
    std::vector<std::string> configs;
    for (auto& c : cells) configs.push_back(c.guest_config);
    const std::vector<json> results = run_in_guest(r.target, configs);

    bool agree = true;
    json rows = json::array();
    for (size_t i = 0; i < cells.size(); ++i) {
      const json& k = results[i];
      check_crypto(sc, cells[i].params, k);
      const CloseModel m = close_model(sc, cells[i].params);
      const int64_t short_runs = k.value("short_runs", int64_t{0}), runs = k.value("runs", int64_t{0});
      const bool ml = m.violations > 0, kl = short_runs > 0;
      agree = agree && ml == kl;
      rows.push_back({{"config", cells[i].what}, {"params", cells[i].params.to_json()},
                      {"guest_config", cells[i].guest_config}, {"model_schedules", m.schedules},
                      {"model_violations", m.violations}, {"kernel_runs", runs},
                      {"kernel_short_runs", short_runs}, {"verdict", ml == kl ? "agree" : "disagree"}});
    }
    KernelReport rep;
    rep.agree = agree;
    const std::string guest_kernel = results.front().value("kernel", "");
    rep.json = {{"scenario", sc.name()}, {"kernel", r.target}, {"guest_kernel", guest_kernel},
                {"configs", rows}, {"agree", agree}};
    rep.annotation = {{"kernel", guest_kernel}, {"agree", agree}, {"configs", rows}};
    std::string& t = rep.text;
    t = fmt::format("crosscheck {} on Debian {} ({}) in a qemu guest, window forced\n", sc.name(), r.target,
                    guest_kernel);
    t += fmt::format("  {:<46} {:>16} {:>16}  {}\n", "configuration", "model lost/sched", "kernel short/runs",
                     "verdict");
    for (auto& row : rows)
      t += fmt::format("  {:<46} {:>16} {:>16}  {}\n", row["config"].get<std::string>(),
                       fmt::format("{}/{}", row["model_violations"].get<uint64_t>(), row["model_schedules"].get<uint64_t>()),
                       fmt::format("{}/{}", row["kernel_short_runs"].get<int64_t>(), row["kernel_runs"].get<int64_t>()),
                       row["verdict"].get<std::string>());
    t += agree ? "model and kernel agree\n" : "model and kernel DISAGREE\n";
    return rep;
  }
};

}  // namespace

std::string close_guest_config(const Scenario& sc, const Params& p, const CloseGuestRuns& g) {
  const auto refuse = [&](const char* key, std::string_view why) {
    throw ParamError(fmt::format("{}: {}={} cannot be reproduced on the kernel: {}", sc.name(), key,
                                 p.get(key), why));
  };
  const std::string& io = p.get("io");
  if (io == "uring-coop") refuse("io", "the guest runner sets up no COOP_TASKRUN ring (io=uring or io=uring-defer)");
  if (io == "plain") refuse("io", "the forced window needs a ring: its task work interrupts the close (io=uring or io=uring-defer)");
  if (p.get("tls") == "none") refuse("tls", "the window is kTLS's close-time flush (tls=1.3 or tls=1.2)");
  const int64_t bytes = p.get_int("bytes");
  if (bytes % model::kTLS_MAX_PAYLOAD_SIZE != 0)
    refuse("bytes", fmt::format("the guest splices whole records of {} bytes", model::kTLS_MAX_PAYLOAD_SIZE));
  require_default(sc, p, "kernel", "the guests boot Debian 6.12 or 6.1, whose send path the model's 6.12 variant follows");
  require_default(sc, p, "fix", "the Debian kernels carry no fix");
  for (const char* client : {"rcvbuf", "read_bytes", "read_ms"})
    require_default(sc, p, client, "the guest pauses its client until the close returned, which is how it forces the window");
  require_default(sc, p, "mss", "the guest's connection is loopback, at loopback's MSS");
  for (const char* ring : {"others", "others_at", "iowq_max"})
    require_default(sc, p, ring, "the guest's ring carries no other connections' requests and no io-wq limit");
  const std::string& tls = p.get("tls");
  std::string config = fmt::format(
      "mode=ktls-async-close,force=window,records={},cryptd={},defer_taskrun={},more={},sndbuf={},tls={},runs={}",
      bytes / model::kTLS_MAX_PAYLOAD_SIZE, p.get("crypto") == "async" ? 1 : 0, io == "uring-defer" ? 1 : 0,
      p.get("more"), p.get("sndbuf"), tls == "1.2" ? "12" : "13", g.runs);
  if (g.client_wait_ms) config += fmt::format(",client_wait_ms={}", *g.client_wait_ms);
  return config;
}

std::vector<CloseCell> close_crosscheck_cells(const Scenario& sc, const KernelRequest& r) {
  // The pairings of docs/crosscheck.md §6: the report's ring, then one parameter changed each.
  static const std::vector<std::pair<std::string, std::string>> kVaried = {{"io", "uring-defer"}, {"more", "0"}};
  std::vector<CloseCell> cells;
  const auto add = [&](Params p, CloseGuestRuns g) {
    if (r.runs) g.runs = *r.runs;
    std::string config = close_guest_config(sc, p, g);
    cells.push_back({cell_what(p), std::move(p), std::move(config)});
  };
  add(r.params, kFirstCell);
  for (auto& [key, value] : kVaried) {
    if (r.fixed.count(key) || r.params.get(key) == value) continue;
    Params p = r.params;
    p.set(key, value);
    add(std::move(p), kVariedCell);
  }
  return cells;
}

const KernelSide* ktls_async_close_kernel_side() {
  static const CloseKernelSide side;
  return &side;
}

}  // namespace kpsim
