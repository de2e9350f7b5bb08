// The guest kernel side of every script that needs a kernel this machine does not have (kTLS):
// the script's text and each cell's --set values go to the qemu guest, whose runner parses and
// runs the same script (replay/guest/script_exec.h); the model explores the same cells here,
// and each property the script asks for is judged on both sides (docs/crosscheck.md).
//
// A cell is one assignment of the parameters: `kpsim kernel` runs one, `kpsim crosscheck` the
// grid of --sweep (or the script's `crosscheck sweep` lines), all in one boot - under TCG only
// comparisons within one boot mean anything, and a boot costs seconds.
//
// Per property, on each side:
//   model:  over its schedules (the default one first, then random ones), how many violate it:
//           never, sometimes, always;
//   kernel: in how many of the cell's runs it was violated - all-records-delivered by the
//           plaintext the peer decrypted (received == sent, every byte as the file has it, a
//           clean EOF), no-stall by the stall signature on the sending socket, rx-in-order by
//           the reader's kTLS RX reads (file bytes in order, short reads at record ends). tcp-seq-order and
//           byte-conservation are the model's own bookkeeping (sequence numbers; bytes queued =
//           delivered + freed), with nothing to observe on a kernel: not judged.
// A script with `window` lines forces the model's ordering: a run counts only if its window
// formed (each part reported by the runner), a cell where it never formed is "not tested",
// and the kernel agrees when it violates in some counted run exactly where the model can
// violate. A script without windows runs naturally: where the model always (never) violates,
// every (no) kernel run must; where it sometimes does, the kernel cannot disagree.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "replay/guest_boot.h"
#include "replay/script_runner.h"
#include "scenarios/guest_kernel_side.h"
#include "scenarios/runner.h"
#include "scenarios/script/pace.h"
#include "scenarios/script/script.h"
#include "scenarios/script/script_scenario.h"
#include "sched/strategy_random.h"

namespace kpsim::script {
namespace {

using json = nlohmann::ordered_json;

// The model's side of a cell: the default schedule, then random ones (seed 1).
constexpr uint64_t kModelSchedules = 200;
// Per-run limit in the guest, and the boot's on top of the runs'.
constexpr long long kRunTimeoutMs = 120000;
constexpr unsigned kBootOverheadS = 180;

const ScriptScenario& script_of(const Scenario& sc) {
  const auto* s = dynamic_cast<const ScriptScenario*>(&sc);
  if (!s) throw KernelError(fmt::format("{}: not a script scenario", sc.name()));
  return *s;
}

// The properties a kernel run can show.
bool observable(const std::string& property) {
  return property == "all-records-delivered" || property == "no-stall" || property == "min-throughput" ||
         property == "rx-in-order";
}

struct Cell {
  Params params;
  std::string what;  // the swept values, "mss=1436 notsent_lowat=16384"
  Program prog;
};

// The model's verdicts on a cell.
struct ModelSide {
  uint64_t schedules = 0;
  std::map<std::string, uint64_t> violations;  // property -> schedules violating it
  // Every schedule's throughput, in run order: the first is the default schedule's (every choice
  // 0), the model's one-number prediction; the range and the median are reported beside it.
  std::vector<double> mibps;
  double min_mibps() const { return mibps.empty() ? 0 : *std::min_element(mibps.begin(), mibps.end()); }
  double max_mibps() const { return mibps.empty() ? 0 : *std::max_element(mibps.begin(), mibps.end()); }
  std::map<std::string, std::vector<double>> mibps_by_pace;  // the same, by the schedule's pace
  std::string default_pace;  // the default schedule's pace: its throughput is the model's prediction
  uint64_t limit_hits = 0;                     // schedules that ended on a step/time limit
  uint64_t deadlocks = 0;                      // schedules that stopped for good (counted as stalls)
  // What a fix costs the closing task in the model (docs/patched-kernels.md), the most over the
  // schedules: passes of sk_stream_wait_memory that did not sleep because TIF_NOTIFY_SIGNAL was
  // set (task-sigpending busy-polls), and flushes left to tx_work at close (flush-in-worker).
  uint64_t max_spins = 0, max_worker_flushes = 0;
  // The transfer's class over the schedules (scenarios/script/pace.h), where the world reports
  // one (the stream world): "flows", "slow(delayed-ack)", "stall(persist)", ...
  std::set<std::string> paces;
  // kTLS RX: how many decryptions completed asynchronously (tls_decrypt_done) in a schedule, the
  // values over the schedules (0 with a synchronous AEAD, and with TLS 1.3 whatever the AEAD).
  std::set<uint64_t> rx_async;
};

ModelSide model_side(const Scenario& sc, const Params& p, uint64_t schedules) {
  RunOptions o;
  o.limits = sc.default_limits();
  ModelSide m;
  RandomStrategy random(1);
  for (uint64_t i = 0; i < schedules && !replay::interrupted(); ++i) {
    RunResult r;
    if (i == 0) {
      r = run_choices(sc, p, {}, o);
    } else {
      random.begin_run();
      r = run_once(sc, p, random, o);
    }
    ++m.schedules;
    if (r.end.outcome == Outcome::violation) ++m.violations[r.end.property];
    // A transfer that stops for good (every task asleep, no timer: 6.1's unpushed record) is a
    // stall that never ends; the guest's verdict for a run that never finishes is "stall" too.
    if (r.end.outcome == Outcome::deadlock) {
      ++m.violations["no-stall"];
      ++m.deadlocks;
    }
    if (r.end.outcome == Outcome::step_limit || r.end.outcome == Outcome::time_limit) ++m.limit_hits;
    m.max_spins = std::max<uint64_t>(m.max_spins, r.metrics.value("notify_signal_spins", uint64_t{0}));
    m.max_worker_flushes = std::max<uint64_t>(m.max_worker_flushes, r.metrics.value("close_worker_flushes", uint64_t{0}));
    std::string pace;
    if (r.end.outcome == Outcome::deadlock)
      pace = Pace{"stall", "hang"}.text();  // what its metrics say is where it stopped
    else if (r.metrics.contains("pace"))
      pace = Pace{r.metrics.value("pace", ""), r.metrics.value("pace_mechanism", "")}.text();
    if (!pace.empty()) m.paces.insert(pace);
    if (i == 0) m.default_pace = pace;
    if (r.metrics.contains("rx_calls") && r.end.outcome == Outcome::done)
      m.rx_async.insert(r.metrics.value("rx_async_records", uint64_t{0}));
    const double t = r.metrics.value("throughput_MiB_s", 0.0);
    m.mibps.push_back(t);
    if (r.end.outcome != Outcome::deadlock && !pace.empty()) m.mibps_by_pace[pace].push_back(t);
  }
  return m;
}

std::string model_word(uint64_t v, uint64_t n) {
  return n == 0 ? "-" : v == 0 ? "never" : v == n ? "always" : "sometimes";
}

// Why this cell cannot be reproduced on the target, refused before it boots. A kernel built with
// a fix (`--kernel 6.12+task-sigpending`) stands for the model's fix= of the same name; every
// other model setting is the model's reading of the kernel and stays at its default.
void refuse_unreproducible(const ScriptScenario& s, const Cell& c, const GuestKernelTarget& target) {
  const std::string kernel_fix(target.model_fix());
  for (const auto& spec : s.params()) {
    if (!s.is_model_setting(spec.name) || c.params.get(spec.name) == spec.default_value) continue;
    if (spec.name == "fix" && c.params.get(spec.name) == kernel_fix) continue;
    if (spec.name == "kernel" && c.params.get(spec.name) == target.series) continue;
    // Both ACK models are readings of the same kernel's receiver: either may be compared.
    if (spec.name == "acks") continue;
    // The cost model only gives the model's steps a duration; the kernel's take their own.
    if (spec.name == "cpu") continue;
    throw ParamError(fmt::format("{}: {}={} cannot be reproduced on --kernel {}: it is the model's reading of "
                                 "the kernel{}", s.name(), spec.name, c.params.get(spec.name), target.name,
                                 spec.name == "fix" ? fmt::format(" (a kernel with that fix: --kernel {}+{}, "
                                                                  "docs/patched-kernels.md)",
                                                                  target.series, c.params.get(spec.name))
                                                    : ""));
  }
  const ModelSettings defaults;
  if (c.prog.model.fix != kernel_fix || (c.prog.model.kernel != defaults.kernel && c.prog.model.kernel != target.series))
    throw ParamError(fmt::format("{}: model fix={} kernel={} cannot be reproduced on --kernel {}", s.name(),
                                 c.prog.model.fix, c.prog.model.kernel, target.name));
  if (const std::string why = guest_unsupported(c.prog); !why.empty())
    throw ParamError(fmt::format("{} ({}): the guest runner cannot do this: {}", s.name(), c.what, why));
  for (const auto& so : c.prog.socks)
    if (so.maxseg && *so.maxseg > 32767)
      throw ParamError(fmt::format("{} ({}): TCP_MAXSEG {} cannot be set on a kernel (at most 32767, "
                                   "MAX_TCP_WINDOW); larger MSS only as loopback's default", s.name(), c.what,
                                   *so.maxseg));
}

// The model's fix= a target stands for, as a --set line; nothing for a stock kernel. A patched
// kernel is compared with the model running the same fix: a script without that fix, or a --set
// fix= naming another, is refused.
std::optional<std::string> fix_set_of(const ScriptScenario& s, const KernelRequest& r, const GuestKernelTarget& t) {
  if (!t.fix || *t.fix == model::kfix::none) {
    if (r.fixed.count("fix") && r.params.get("fix") != "none")
      throw ParamError(fmt::format("{}: --set fix={} asks the model for a fix that --kernel {} does not have "
                                   "(a kernel with it: --kernel {}+{}, docs/patched-kernels.md)", s.name(),
                                   r.params.get("fix"), t.name, t.series, r.params.get("fix")));
    return std::nullopt;
  }
  const std::string want(t.model_fix());
  const ParamSpec* spec = nullptr;
  for (const auto& p : s.params())
    if (p.name == "fix") spec = &p;
  if (!spec || std::find(spec->choices.begin(), spec->choices.end(), want) == spec->choices.end())
    throw ParamError(fmt::format("{}: --kernel {} carries fix {}, which this script's model does not have{}",
                                 s.name(), t.name, want,
                                 spec ? fmt::format(" (fix= values: {})", fmt::join(spec->choices, ", "))
                                      : std::string(" (no `model fix` parameter)")));
  if (r.fixed.count("fix") && r.params.get("fix") != want)
    throw ParamError(fmt::format("{}: --set fix={} but --kernel {} carries fix {}: the model must run the "
                                 "kernel's fix (leave --set fix out)", s.name(), r.params.get("fix"), t.name, want));
  return "fix=" + want;
}

// The model's kernel= a target stands for, as a --set line: the target's series when the script
// declares `model kernel` with it (6.1: sendfile through ->sendpage), nothing for 6.12 (the
// default). A script without it runs the 6.12 model against another series, and says so.
std::optional<std::string> kernel_set_of(const ScriptScenario& s, const KernelRequest& r, const GuestKernelTarget& t) {
  const ParamSpec* spec = nullptr;
  for (const auto& p : s.params())
    if (p.name == "kernel" && s.is_model_setting(p.name)) spec = &p;
  if (r.fixed.count("kernel") && r.params.get("kernel") != t.series)
    throw ParamError(fmt::format("{}: --set kernel={} but --kernel {} boots {}: the model runs the booted "
                                 "kernel's series (leave --set kernel out)", s.name(), r.params.get("kernel"),
                                 t.name, t.series));
  if (spec && std::find(spec->choices.begin(), spec->choices.end(), t.series) != spec->choices.end()) {
    if (t.series == spec->default_value) return std::nullopt;
    return "kernel=" + t.series;
  }
  if (t.series != ModelSettings{}.kernel)
    std::cerr << fmt::format("note: {} has no `model kernel` choice {}: the model runs kernel {} against --kernel {}\n",
                             s.name(), t.series, ModelSettings{}.kernel, t.name);
  return std::nullopt;
}

// The cells of a request: the grid of its sweeps (or the script's), each combination applied
// over r.params; a key given with --set stays fixed.
std::vector<Cell> cells_of(const ScriptScenario& s, const KernelRequest& r, bool crosscheck) {
  const GuestKernelTarget target = parse_guest_kernel_target(r.target);
  const std::optional<std::string> fix_set = fix_set_of(s, r, target);
  const std::optional<std::string> kernel_set = kernel_set_of(s, r, target);
  std::vector<std::pair<std::string, std::vector<std::string>>> axes = r.sweeps;
  if (crosscheck && axes.empty())
    for (const auto& a : s.script().crosscheck_sweeps())
      if (!r.fixed.count(a.key)) axes.emplace_back(a.key, a.values);
  std::vector<Cell> cells;
  std::vector<size_t> at(axes.size(), 0);
  for (;;) {
    std::vector<std::string> sets;
    for (const auto& p : s.params())
      if (r.fixed.count(p.name)) sets.push_back(p.name + "=" + r.params.get(p.name));
    if (fix_set && !r.fixed.count("fix")) sets.push_back(*fix_set);
    if (kernel_set && !r.fixed.count("kernel")) sets.push_back(*kernel_set);
    std::string what;
    for (size_t i = 0; i < axes.size(); ++i) {
      sets.push_back(axes[i].first + "=" + axes[i].second[at[i]]);
      what += (what.empty() ? "" : " ") + axes[i].first + "=" + axes[i].second[at[i]];
    }
    Params p = resolve_params(s, sets);
    Program prog = s.program(p);
    cells.push_back({std::move(p), what.empty() ? "as given" : what, std::move(prog)});
    // The next combination, the last axis fastest; done when every axis wrapped.
    bool done = true;
    for (size_t i = axes.size(); i-- > 0;) {
      if (++at[i] < axes[i].second.size()) {
        done = false;
        break;
      }
      at[i] = 0;
    }
    if (done) break;
  }
  for (const auto& c : cells) refuse_unreproducible(s, c, target);
  return cells;
}

// The --set lines of a cell for the guest: every parameter, so the guest needs no defaults.
std::vector<std::string> guest_sets(const ScriptScenario& s, const Params& p) {
  std::vector<std::string> sets;
  for (const auto& spec : s.params()) sets.push_back(spec.name + "=" + p.get(spec.name));
  return sets;
}

// A temporary directory holding the jobs file and the script; removed when done.
class JobsDir {
 public:
  JobsDir() {
    std::string t = (std::filesystem::temp_directory_path() / "kpsim-jobs-XXXXXX").string();
    if (!mkdtemp(t.data())) throw KernelError("cannot create a temporary directory for the guest's jobs");
    path_ = t;
  }
  ~JobsDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  JobsDir(const JobsDir&) = delete;
  JobsDir& operator=(const JobsDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// kTLS with cryptd on either end (guest_unsupported: both ends agree).
bool async_crypto(const Program& p) {
  return (p.tls_tx && p.tls_tx->crypto == Crypto::async) || (p.tls_rx && p.tls_rx->crypto == Crypto::async);
}

// One boot for every cell; results in cell order (null: no result, only after an interrupt).
// Cells with synchronous crypto run first: a cryptd instance, once registered for an async
// cell, outranks the synchronous AEAD for the rest of the boot.
std::vector<json> run_cells(const ScriptScenario& s, const KernelRequest& r, const std::vector<Cell>& cells,
                            uint64_t runs) {
  const std::string& target = r.target;
  const long long run_timeout_ms = r.run_timeout_s ? static_cast<long long>(*r.run_timeout_s) * 1000 : kRunTimeoutMs;
  if (replay::interrupted()) throw KernelError("interrupted before the guest booted: no kernel runs");
  GuestKernelSide::require_built(parse_guest_kernel_target(target));
  JobsDir dir;
  {
    std::ofstream script(dir.path() + "/script.kps", std::ios::binary);
    script << s.script().text();
  }
  std::vector<size_t> order(cells.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return !async_crypto(cells[a].prog) && async_crypto(cells[b].prog); });
  {
    std::ofstream jobs(dir.path() + "/jobs", std::ios::binary);
    for (size_t i : order) {
      jobs << "id=" << i << "\tscript=/kpsim/script.kps\truns=" << runs << "\topt=timeout_ms=" << run_timeout_ms;
      for (const auto& set : guest_sets(s, cells[i].params)) jobs << "\tset=" << set;
      jobs << "\n";
    }
    if (!jobs) throw KernelError("cannot write the guest's jobs file");
  }
  const auto timeout = static_cast<unsigned>(kBootOverheadS + cells.size() * runs * (run_timeout_ms / 1000 + 10));
  replay::GuestBoot g = replay::boot_guest_jobs(target, dir.path(), timeout);
  // Interrupted: the cells that completed are reported (and judged) as they are; the boot's
  // missing ones stay null.
  const bool partial = replay::interrupted() && !g.results.empty();
  if (g.results.empty()) throw KernelError(g.failure(cells.size()));
  if (g.results.size() != cells.size() && !partial) throw KernelError(g.failure(cells.size()));
  std::vector<json> out(cells.size(), json(nullptr));
  for (const json& res : g.results) {
    const size_t id = static_cast<size_t>(std::strtoull(res.value("id", std::string("x")).c_str(), nullptr, 10));
    if (id >= cells.size() || !res.value("ok", false))
      throw KernelError(fmt::format("the guest runner failed {} ({}): {}", s.name(),
                                    id < cells.size() ? cells[id].what : "?", res.value("error", std::string("?"))));
    out[id] = res;
  }
  return out;
}

// Whether the guest's kTLS used the AEAD the cell asked for: cryptd for async, no cryptd for
// sync ("" if so, else why not).
std::string crypto_mismatch(const Program& p, const json& k) {
  if (!p.tls_tx) return "";
  const std::string driver = k.value("gcm_aes_driver", "");
  const bool cryptd = driver.find("cryptd(") != std::string::npos;
  if (async_crypto(p) && !cryptd)
    return fmt::format("crypto=async was not reproduced: kTLS got {} (no cryptd instance passed its self-test)",
                       driver.empty() ? "no gcm(aes)" : driver);
  if (!async_crypto(p) && cryptd) return "crypto=sync was not reproduced: a cryptd instance outranked it";
  return "";
}

// The kernel's side of one property over a cell's runs.
struct KernelProp {
  uint64_t counted = 0, violated = 0;
};

KernelProp kernel_prop(const Check& check, const json& k, bool forced) {
  const std::string& property = check.name;
  KernelProp kp;
  for (const json& run : k.value("run_results", json::array())) {
    if (!run.value("ok", false)) continue;
    const bool v = property == "rx-in-order"      ? run.value("rx_disorder", false)
                   : property == "no-stall"       ? run.value("stall_verdict", "") == "stall"
                   : property == "min-throughput" ? run.value("throughput_MiBps", 0.0) * 1024.0 <
                                                        static_cast<double>(check.min_kibps)
                                                  : run.value("lost", false);
    // A forced run counts when its window formed; a violation counts anyway (it happened).
    if (forced && !run.value("window_formed", false) && !v) continue;
    ++kp.counted;
    kp.violated += v;
  }
  return kp;
}

// The median of a run field over the runs whose window formed (all runs when nothing was
// forced), or -1 when no run has it.
double median_of(const json& k, const char* field, bool forced) {
  std::vector<double> v;
  for (const json& run : k.value("run_results", json::array())) {
    if (!run.value("ok", false) || (forced && !run.value("window_formed", false))) continue;
    const double x = run.value(field, -1.0);
    if (x >= 0) v.push_back(x);
  }
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A guest run's class by the same rule as the model's (scenarios/script/pace.h), from what the
// runner measured: the sampler's stall verdict and persist time, TcpExt deltas.
Pace kernel_pace(const json& run) {
  const json tx = run.value("tcpext", json::object());
  PaceTimes t;
  t.stalled = run.value("stall_verdict", "") == "stall";
  t.hung = run.value("timed_out", false);
  t.elapsed_s = run.value("elapsed_s", 0.0);
  t.persist_s = run.value("stall_total_s", 0.0);
  t.delack_s = static_cast<double>(std::max<int64_t>(0, tx.value("DelayedACKs", int64_t{0}))) * kDelackEstimateS;
  t.rto_s = static_cast<double>(std::max<int64_t>(0, tx.value("TCPTimeouts", int64_t{0}))) * kRtoEstimateS;
  return classify_pace(t);
}

std::string join_set(const std::set<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "|") + s;
  return out.empty() ? "-" : out;
}

// The factor within which a paced cell's kernel throughput should lie of the model's default
// schedule's (issue 15's bound), reported per cell and counted (crosscheck's "paced cells" line).
constexpr double kPaceRatioBound = 1.5;

// The upper median (0 for none): the kernel's runs' and the model's schedules' figure.
double median_of_values(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double median_mibps(const json& k) {
  std::vector<double> v;
  for (const json& run : k.value("run_results", json::array())) v.push_back(run.value("throughput_MiBps", 0.0));
  return median_of_values(std::move(v));
}

// What the guest saw that backs its verdict: the AEAD, and per run the window's evidence.
json evidence_of(const json& k) {
  json e = {{"gcm_aes_driver", k.value("gcm_aes_driver", "")}, {"runs", json::array()}};
  for (const json& run : k.value("run_results", json::array())) {
    json r = {{"run", run.value("run", 0)}, {"sent", run.value("sent", 0)}, {"received", run.value("received", 0)},
              {"plaintext_ok", run.value("plaintext_ok", false)}, {"stall", run.value("stall_verdict", "")},
              {"longest_stall_s", run.value("longest_stall_s", 0.0)}, {"close_ms", run.value("close_ms", -1.0)},
              {"close_cpu_ms", run.value("close_cpu_ms", -1.0)},
              {"error", run.value("rx_error", std::string())}};
    if (run.contains("tcpext")) {
      r["pace"] = kernel_pace(run).text();
      r["tcpext"] = run["tcpext"];
    }
    if (run.contains("window")) r["window"] = run["window"];
    // kTLS RX: the reader's calls, and its decryptions that completed in tls_decrypt_done (a
    // kprobe; -1 where the guest could not count them).
    if (run.contains("rx_calls")) {
      r["rx_calls"] = run["rx_calls"];
      r["rx_async_decryptions"] = run.value("rx_async_decryptions", int64_t{-1});
    }
    e["runs"].push_back(std::move(r));
  }
  return e;
}

class ScriptGuestSide final : public GuestKernelSide {
 public:
  std::string_view summary() const override {
    return "qemu guest (--kernel 6.12|6.1, or 6.12+FIX built by scripts/guest/build-kernel): the script run by "
           "the guest's runner; --runs N per cell, crosscheck --sweep KEY=V,V,...";
  }

  KernelReport run(const Scenario& sc, const KernelRequest& r) const override {
    refuse_options(sc, r, "", "the guest steers no schedule classes", "the guest runs the script's own order");
    const ScriptScenario& s = script_of(sc);
    if (!r.sweeps.empty()) refuse_option(sc, "--sweep", "kernel runs one cell; crosscheck sweeps");
    const std::vector<Cell> cells = cells_of(s, r, false);
    const uint64_t runs = r.runs.value_or(1);
    const json k = run_cells(s, r, cells, runs).front();
    if (k.is_null()) throw KernelError("interrupted before the guest's run completed");
    KernelReport rep;
    rep.json = {{"scenario", sc.name()}, {"params", r.params.to_json()}, {"kernel", r.target}, {"result", k}};
    std::string& t = rep.text;
    t = fmt::format("kernel {} ({})  {}  AEAD {}\n", r.target, k.value("kernel", ""), sc.name(),
                    k.value("gcm_aes_driver", std::string("-")));
    if (const std::string why = crypto_mismatch(cells[0].prog, k); !why.empty()) t += "  note: " + why + "\n";
    for (const json& run : k.value("run_results", json::array())) {
      t += fmt::format("  run {}: sent {} received {}{} {}  stall: {}  {:.3f} MiB/s", run.value("run", 0),
                       run.value("sent", 0), run.value("received", 0), run.value("plaintext_ok", false) ? "" : " (plaintext differs)",
                       run.value("lost", false) ? "LOST" : "complete", run.value("stall_verdict", ""),
                       run.value("throughput_MiBps", 0.0));
      if (run.contains("tcpext"))
        t += fmt::format("  pace {} ({} delayed ACKs)", kernel_pace(run).text(),
                         run["tcpext"].value("DelayedACKs", int64_t{-1}));
      if (run.value("close_ms", -1.0) >= 0)
        t += fmt::format("  close {:.1f} ms ({:.1f} ms CPU)", run.value("close_ms", -1.0), run.value("close_cpu_ms", -1.0));
      if (run.contains("window_formed"))
        t += fmt::format("  window {}", run.value("window_formed", false) ? "formed" : "did NOT form");
      t += "\n";
    }
    return rep;
  }

  KernelReport crosscheck(const Scenario& sc, const KernelRequest& r) const override {
    refuse_options(sc, r, "", "the guest steers no schedule classes", "the guest runs the script's own order");
    const ScriptScenario& s = script_of(sc);
    const std::vector<Cell> cells = cells_of(s, r, true);  // refuses before booting
    const bool forced = !cells.front().prog.windows.empty();
    const uint64_t runs = r.runs.value_or(forced ? 3 : 1);
    const std::vector<json> results = run_cells(s, r, cells, runs);
    std::string guest_kernel;
    for (const json& k : results)
      if (guest_kernel.empty() && k.is_object()) guest_kernel = k.value("kernel", "");

    std::vector<std::string> props;
    for (const auto& c : cells.front().prog.checks)
      if (observable(c.name)) props.push_back(c.name);
    uint64_t agree_n = 0, disagree_n = 0, untested_n = 0;
    uint64_t paced_n = 0, paced_within_n = 0;  // cells whose throughputs are compared (pace["throughput"])
    double worst_ratio = 1;                    // the largest factor between them
    json rows = json::array();
    for (size_t i = 0; i < cells.size(); ++i) {
      const Cell& c = cells[i];
      const json& k = results[i];
      const double kernel_mibps = median_mibps(k);  // the median over the cell's kernel runs
      if (k.is_null()) continue;  // interrupted before this cell ran
      const ModelSide m = model_side(sc, c.params, kModelSchedules);
      const std::string mismatch = crypto_mismatch(c.prog, k);
      std::string verdict = "agree";
      json pj = json::object();
      for (const std::string& prop : props) {
        const uint64_t mv = m.violations.count(prop) ? m.violations.at(prop) : 0;
        // The cell's own check: a bound may be a parameter (min-throughput(min_kibps)).
        Check check{prop, {}};
        for (const Check& ch : c.prog.checks)
          if (ch.name == prop) check = ch;
        const KernelProp kp = kernel_prop(check, k, forced);
        std::string v;
        if (m.schedules == 0) v = "interrupted";  // the model's side never ran: no verdict
        else if (!mismatch.empty() || kp.counted == 0) v = "not tested";
        else if (forced) v = (mv > 0) == (kp.violated > 0) ? "agree" : "disagree";
        else if (mv == 0) v = kp.violated == 0 ? "agree" : "disagree";
        else if (mv == m.schedules) v = kp.violated == kp.counted ? "agree" : "disagree";
        else v = "agree";  // the model says it may happen: either kernel answer is possible
        // A stall on both sides: the persist timer paces both on the guest's clock, so the
        // kernel's throughput must lie within a factor of 3 of the model's range. A model that
        // stops for good (6.1's unpushed record) has no pace to compare: whether the kernel's
        // runs stopped for good too (ran into --run-timeout) is the pace column's stall(hang).
        if (v == "agree" && prop == "no-stall" && mv == m.schedules && kp.violated && m.deadlocks == 0) {
          if (kernel_mibps * 3 < m.min_mibps() || kernel_mibps > m.max_mibps() * 3) v = "disagree";
        }
        if (v == "interrupted") verdict = v;
        else if (v == "disagree") verdict = "disagree";
        else if (v == "not tested" && verdict == "agree") verdict = "not tested";
        pj[prop] = {{"model", model_word(mv, m.schedules)}, {"model_violations", mv},
                    {"kernel_violations", kp.violated}, {"kernel_runs_counted", kp.counted}, {"verdict", v}};
      }
      // The transfer's class (flows / slow / stall, with what paced it): every kernel run's must
      // be one the model reached.
      json pace = nullptr;
      if (!m.paces.empty() && m.schedules && mismatch.empty()) {
        std::set<std::string> kp;
        for (const json& run : k.value("run_results", json::array()))
          if (run.value("ok", false)) kp.insert(kernel_pace(run).text());
        bool ok = true;
        for (const auto& x : kp) ok = ok && m.paces.count(x);
        const std::string v = kp.empty() ? "not tested" : ok ? "agree" : "disagree";
        if (v == "disagree" && verdict != "interrupted") verdict = "disagree";
        pace = {{"model", join_set(m.paces)}, {"kernel", join_set(kp)}, {"verdict", v}};
        // A transfer paced by a timer (slow, or stalled but moving) on both sides, in the class of
        // the model's default schedule (softirqs before the tasks they wake, as a kernel runs
        // them): the timers pace the guest in its own time too, so the two throughputs can be
        // compared as numbers. Reported, not judged: the verdict's bound is the range's (above).
        const std::string& dp = m.default_pace;
        if (kp.size() == 1 && *kp.begin() == dp && (dp.rfind("slow(", 0) == 0 || dp == "stall(persist)") &&
            !m.mibps.empty() && m.mibps.front() > 0) {
          const double ratio = kernel_mibps / m.mibps.front();
          const bool within = ratio <= kPaceRatioBound && ratio >= 1 / kPaceRatioBound;
          pace["throughput"] = {{"model_default_MiBps", m.mibps.front()}, {"kernel_MiBps", kernel_mibps},
                                {"kernel_over_model", ratio}, {"within_bound", within}};
          ++paced_n;
          paced_within_n += within;
          worst_ratio = std::max({worst_ratio, ratio, 1 / ratio});
        }
      }
      // kTLS RX: every kernel run's count of asynchronous decryptions (the tls_decrypt_done
      // kprobe) must be one the model reached: which records go async, and that 1.3 never does.
      json rx_async = nullptr;
      if (!m.rx_async.empty() && m.schedules && mismatch.empty()) {
        std::set<std::string> kv;
        bool ok = true, counted = false;
        for (const json& run : k.value("run_results", json::array())) {
          const int64_t n = run.value("rx_async_decryptions", int64_t{-1});
          if (!run.value("ok", false) || n < 0) continue;
          counted = true;
          kv.insert(std::to_string(n));
          ok = ok && m.rx_async.count(static_cast<uint64_t>(n));
        }
        std::set<std::string> mv;
        for (uint64_t n : m.rx_async) mv.insert(std::to_string(n));
        const std::string v = !counted ? "not tested" : ok ? "agree" : "disagree";
        if (v == "disagree" && verdict != "interrupted") verdict = "disagree";
        rx_async = {{"model", join_set(mv)}, {"kernel", join_set(kv)}, {"verdict", v}};
      }
      agree_n += verdict == "agree";
      disagree_n += verdict == "disagree";
      untested_n += verdict == "not tested";
      json row = {{"config", c.what}, {"params", c.params.to_json()}, {"model_schedules", m.schedules},
                  {"model_MiBps", m.schedules ? fmt::format("{:.3f}..{:.3f}", m.min_mibps(), m.max_mibps()) : "-"},
                  {"model_MiBps_default", m.mibps.empty() ? 0.0 : m.mibps.front()},
                  {"model_MiBps_median", median_of_values(m.mibps)},
                  {"kernel_MiBps", kernel_mibps}, {"kernel_runs", k.value("runs", 0)},
                  {"window_formed_runs", forced ? json(k.value("window_formed_runs", 0)) : json(nullptr)},
                  {"properties", pj}, {"verdict", verdict}};
      if (!pace.is_null()) {
        json by = json::object();
        for (const auto& [p, v] : m.mibps_by_pace)
          by[p] = {{"schedules", v.size()}, {"median", median_of_values(v)},
                   {"min", *std::min_element(v.begin(), v.end())}, {"max", *std::max_element(v.begin(), v.end())}};
        pace["model_MiBps_by_pace"] = std::move(by);
        row["pace"] = pace;
      }
      if (!rx_async.is_null()) row["rx_async_decryptions"] = rx_async;
      if (!mismatch.empty()) row["not_tested_because"] = mismatch;
      // The close's cost on both sides, where the script closes a socket.
      if (const double close_ms = median_of(k, "close_ms", forced); close_ms >= 0)
        row["cost"] = {{"kernel_close_ms", close_ms}, {"kernel_close_cpu_ms", median_of(k, "close_cpu_ms", forced)},
                       {"model_notify_signal_spins", m.max_spins},
                       {"model_close_worker_flushes", m.max_worker_flushes}};
      row["evidence"] = evidence_of(k);
      rows.push_back(std::move(row));
    }
    KernelReport rep;
    rep.interrupted = replay::interrupted();
    rep.agree = disagree_n == 0 && agree_n > 0;
    rep.inconclusive = disagree_n == 0 && agree_n == 0;
    rep.json = {{"scenario", sc.name()}, {"kernel", r.target}, {"guest_kernel", guest_kernel}, {"forced", forced},
                {"cells", rows}, {"agree", agree_n}, {"disagree", disagree_n}, {"not_tested", untested_n},
                {"paced_throughput", {{"compared", paced_n}, {"within_bound", paced_within_n},
                                      {"bound", kPaceRatioBound}, {"worst_factor", worst_ratio}}},
                {"verdict", rep.agree ? "agree" : "disagree"}};
    rep.annotation = {{"kernel", guest_kernel}, {"agree", rep.agree}, {"cells", rows}};
    std::string& t = rep.text;
    const GuestKernelTarget target = parse_guest_kernel_target(r.target);
    t = fmt::format("crosscheck {} on {} ({}) in a qemu guest, {} run{} per cell{}\n", sc.name(),
                    !target.self_built() ? "Debian " + r.target
                    : *target.fix == model::kfix::none
                        ? fmt::format("{} (Debian's {} source, self-built, unpatched)", r.target, target.series)
                        : fmt::format("{} (Debian's {} source patched with the model's fix={})", r.target,
                                      target.series, target.model_fix()),
                    guest_kernel, runs, runs == 1 ? "" : "s", forced ? ", window forced" : "");
    std::string head = fmt::format("  {:<36}", "cell");
    for (const auto& p : props) head += fmt::format(" {:>26}", p + " m/k");
    bool any_pace = false;
    for (const json& row : rows) any_pace = any_pace || row.contains("pace");
    if (any_pace) head += fmt::format(" {:>38}", "pace m/k");
    head += fmt::format(" {:>16} {:>9}", "model MiB/s", "k MiB/s");
    // k/m: the kernel's throughput over the model's default schedule's, in a paced cell.
    if (paced_n) head += fmt::format(" {:>12}", "k/m (dflt)");
    head += fmt::format(" {:>7}  {}\n", "window", "verdict");
    t += head;
    for (const json& row : rows) {
      std::string line = fmt::format("  {:<36}", row["config"].get<std::string>());
      for (const auto& p : props) {
        const json& pj = row["properties"][p];
        line += fmt::format(" {:>26}", fmt::format("{} / {} of {}", pj["model"].get<std::string>(),
                                                   pj["kernel_violations"].get<uint64_t>(),
                                                   pj["kernel_runs_counted"].get<uint64_t>()));
      }
      if (any_pace)
        line += fmt::format(" {:>38}", row.contains("pace") ? row["pace"]["model"].get<std::string>() + " / " +
                                                                  row["pace"]["kernel"].get<std::string>()
                                                            : "-");
      line += fmt::format(" {:>16} {:>9.3f}", row["model_MiBps"].get<std::string>(), row["kernel_MiBps"].get<double>());
      if (paced_n) {
        const bool has = row.contains("pace") && row["pace"].contains("throughput");
        line += fmt::format(" {:>12}", has ? fmt::format("{:.2f} ({:.3f})", row["pace"]["throughput"]["kernel_over_model"].get<double>(),
                                                         row["pace"]["throughput"]["model_default_MiBps"].get<double>())
                                           : "-");
      }
      line += fmt::format(" {:>7}  {}\n",
                          row["window_formed_runs"].is_null() ? "-" : fmt::format("{}/{}", row["window_formed_runs"].get<int64_t>(),
                                                                                 row["kernel_runs"].get<int64_t>()),
                          row["verdict"].get<std::string>());
      t += line;
      if (row.contains("not_tested_because")) t += "      not tested: " + row["not_tested_because"].get<std::string>() + "\n";
      if (row.contains("cost")) {
        const json& c = row["cost"];
        t += fmt::format("      close: kernel {:.0f} ms, {:.0f} ms of it on the CPU (median{}); model: {} passes of "
                         "the wait that could not sleep, {} flushes left to tx_work\n",
                         c["kernel_close_ms"].get<double>(), c["kernel_close_cpu_ms"].get<double>(),
                         forced ? " of the runs whose window formed" : "",
                         c["model_notify_signal_spins"].get<uint64_t>(), c["model_close_worker_flushes"].get<uint64_t>());
      }
      if (row.contains("rx_async_decryptions")) {
        const json& a = row["rx_async_decryptions"];
        t += fmt::format("      decryptions completed asynchronously per run (tls_decrypt_done): model {}, kernel {}: {}\n",
                         a["model"].get<std::string>(), a["kernel"].get<std::string>(), a["verdict"].get<std::string>());
      }
      if (r.verbose) {
        const json& e = row["evidence"];
        t += "      AEAD: " + e["gcm_aes_driver"].get<std::string>() + "\n";
        for (const json& run : e["runs"]) {
          t += fmt::format("      run {}: sent {} received {} plaintext {} stall {} (longest {:.2f} s), close {:.1f} ms "
                           "({:.1f} ms CPU){}\n",
                           run["run"].get<int64_t>(), run["sent"].get<int64_t>(), run["received"].get<int64_t>(),
                           run["plaintext_ok"].get<bool>() ? "ok" : "DIFFERS", run["stall"].get<std::string>(),
                           run["longest_stall_s"].get<double>(), run["close_ms"].get<double>(),
                           run["close_cpu_ms"].get<double>(),
                           run["error"].get<std::string>().empty() ? "" : " (" + run["error"].get<std::string>() + ")");
          if (run.contains("rx_calls")) {
            const int64_t async_dec = run["rx_async_decryptions"].get<int64_t>();
            t += fmt::format("        reader: {} recv calls, {} decryptions completed asynchronously (tls_decrypt_done)\n",
                             run["rx_calls"].get<int64_t>(), async_dec < 0 ? "?" : std::to_string(async_dec));
          }
          if (run.contains("window"))
            for (const auto& [part, w] : run["window"].items()) {
              t += fmt::format("        window {}: {}", part, w.value("formed", false) ? "formed" : "did not form");
              if (w.contains("stack_seen") && !w["stack_seen"].get<std::string>().empty())
                t += "; stack: " + w["stack_seen"].get<std::string>();
              else if (w.contains("first_stack") && !w["first_stack"].get<std::string>().empty()) {
                t += "; first stack in the close: " + w["first_stack"].get<std::string>();
                if (w.contains("last_stack") && w["last_stack"] != w["first_stack"])
                  t += "; last: " + w["last_stack"].get<std::string>();
              }
              if (w.contains("waited_ms")) t += fmt::format(" (waited {:.1f} ms)", w["waited_ms"].get<double>());
              if (w.contains("sent")) t += fmt::format(" ({} bytes queued)", w["sent"].get<int64_t>());
              t += "\n";
            }
        }
      }
    }
    if (paced_n)
      t += fmt::format("paced cells (slow or stalled on both sides, the model's default schedule in the kernel's class): "
                       "{} of {} within a factor of {} of its throughput (worst {:.2f})\n",
                       paced_within_n, paced_n, kPaceRatioBound, worst_ratio);
    t += fmt::format("{} of {} cells agree, {} disagree, {} not tested: {}\n", agree_n, rows.size(), disagree_n,
                     untested_n,
                     rep.interrupted ? "interrupted, no verdict"
                     : rep.agree     ? "model and kernel agree"
                     : rep.inconclusive ? "nothing could be compared"
                                        : "model and kernel DISAGREE");
    return rep;
  }
};

}  // namespace

const KernelSide* script_guest_side() {
  static const ScriptGuestSide side;
  return &side;
}

}  // namespace kpsim::script
