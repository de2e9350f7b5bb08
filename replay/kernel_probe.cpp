// kpsim-kernel-probe: manual driver for the real-kernel sockmap runner.
//
// Builds the selftest's Script with sockmap::make_multi_channels_script (selftest = the
// original test, upstream = the fix d9d7125e445d, loop = the report's recv loop), runs it N times
// per protocol and schedule and prints the outcome histogram (first recv value x observed
// kworker order) and timing. `kpsim kernel` is the supported interface; this is for experiments.
//
//   kpsim-kernel-probe --check
//   kpsim-kernel-probe --proto udp --schedule all --runs 1000
//   kpsim-kernel-probe --proto tcp --schedule kworker_late --runs 5 --verbose
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "replay/sockmap_runner.h"

namespace sm = kpsim::sockmap;
namespace rp = kpsim::replay;

namespace {

// The selftest's steps, exactly as the model runs them (2 native bytes, 8 redirected).
sm::Script make_script(sm::Proto proto, std::string_view variant) {
  return sm::make_multi_channels_script(proto, std::string(variant), 2, 8);
}

struct Options {
  std::vector<sm::Proto> protos{sm::Proto::udp, sm::Proto::tcp};
  std::vector<rp::Schedule> schedules{rp::Schedule::natural, rp::Schedule::kworker_late,
                                      rp::Schedule::kworker_first};
  std::string variant = "selftest";
  int runs = 100;
  bool verbose = false;
  bool check_only = false;
  rp::RunOptions run;
};

[[noreturn]] void usage(int code) {
  std::fputs(
      "usage: kpsim-kernel-probe [--check] [--proto udp|tcp|both] [--schedule NAME|all]\n"
      "                          [--variant selftest|upstream|loop] [--runs N]\n"
      "                          [--sleep-us US] [--spin-us US] [--cpu N] [--verbose]\n",
      code == 0 ? stdout : stderr);
  std::exit(code);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    if (a == "--check") {
      o.check_only = true;
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else if (a == "--proto") {
      const auto v = value();
      if (v == "udp") o.protos = {sm::Proto::udp};
      else if (v == "tcp") o.protos = {sm::Proto::tcp};
      else if (v != "both") usage(2);
    } else if (a == "--schedule") {
      const auto v = value();
      if (v != "all") {
        const auto s = rp::parse_schedule(v);
        if (!s) usage(2);
        o.schedules = {*s};
      }
    } else if (a == "--variant") {
      o.variant = value();
      if (o.variant != "selftest" && o.variant != "upstream" && o.variant != "loop") usage(2);
    } else if (a == "--runs") {
      o.runs = std::atoi(std::string(value()).c_str());
    } else if (a == "--sleep-us") {
      o.run.kworker_first_sleep_us = static_cast<uint32_t>(std::atoi(std::string(value()).c_str()));
    } else if (a == "--spin-us") {
      o.run.spin_before_recv_us = static_cast<uint32_t>(std::atoi(std::string(value()).c_str()));
    } else if (a == "--cpu") {
      o.run.pin_cpu = std::atoi(std::string(value()).c_str());
    } else if (a == "--help" || a == "-h") {
      usage(0);
    } else {
      usage(2);
    }
  }
  return o;
}

std::string join_ints(const auto& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

uint64_t percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[idx];
}

// Runs one (proto, schedule) cell and prints its histogram line(s).
void run_cell(const Options& o, sm::Proto proto, rp::Schedule sched) {
  const sm::Script script = make_script(proto, o.variant);
  std::map<std::pair<int, std::string>, int> hist;  // (first recv, class) -> count
  std::map<uint32_t, int> backlog_runs;
  std::map<std::string, int> fionread_patterns;
  std::vector<uint64_t> run_us, setup_us;
  int ok = 0, errors = 0, same_cpu = 0, with_cpu = 0;
  for (int i = 0; i < o.runs && !rp::interrupted(); ++i) {
    const rp::KernelRun r = rp::run_sockmap_script(script, sched, o.run);
    if (!r.error.empty()) {
      ++errors;
      if (errors <= 3) fmt::print(stderr, "run {}: error: {}\n", i, r.error);
      continue;
    }
    const int first = r.recv_results.empty() ? 0 : r.recv_results.front();
    ++hist[{first, r.schedule_class}];
    ++backlog_runs[r.backlog_runs];
    ++fionread_patterns[join_ints(r.fionread_samples)];
    ok += r.assertion_ok ? 1 : 0;
    run_us.push_back(r.run_us);
    setup_us.push_back(r.setup_us);
    if (r.backlog_cpu >= 0 && r.test_cpu >= 0) {
      ++with_cpu;
      same_cpu += r.backlog_cpu == r.test_cpu ? 1 : 0;
    }
    if (o.verbose)
      fmt::print("  run {}: recv=[{}] fionread=[{}] received='{}' class={} queued={} runs={} "
                 "cpu(test/backlog)={}/{} run_us={} ok={}\n",
                 i, join_ints(r.recv_results), join_ints(r.fionread_samples), r.received,
                 r.schedule_class, r.backlog_queued, r.backlog_runs, r.test_cpu, r.backlog_cpu,
                 r.run_us, r.assertion_ok);
    if (o.verbose) fmt::print("    timeline: {}\n", r.timeline);
  }
  const auto proto_name = proto == sm::Proto::udp ? "udp" : "tcp";
  const int done = static_cast<int>(run_us.size());
  fmt::print("{} {} {}: runs={} errors={} assertion_ok={}/{}\n", proto_name, o.variant,
             rp::schedule_name(sched), done + errors, errors, ok, done);
  for (const auto& [key, n] : hist)
    fmt::print("  first_recv={:3} class={:22} {:5}\n", key.first, key.second, n);
  std::string runs_hist;
  for (const auto& [k, n] : backlog_runs) runs_hist += fmt::format(" {}:{}", k, n);
  fmt::print("  backlog executions per run:{}   backlog on test CPU: {}/{}\n", runs_hist,
             same_cpu, with_cpu);
  std::string fion;
  for (const auto& [k, n] : fionread_patterns) fion += fmt::format(" [{}]:{}", k, n);
  fmt::print("  FIONREAD sample sequences:{}\n", fion);
  fmt::print("  run_us p50={} p90={} p99={} max={}   setup_us p50={}\n",
             percentile(run_us, 0.5), percentile(run_us, 0.9), percentile(run_us, 0.99),
             percentile(run_us, 1.0), percentile(setup_us, 0.5));
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  const rp::Availability av = rp::check_available();
  if (!av.ok) {
    fmt::print(stderr, "real-kernel replay unavailable: {}\n", av.reason);
    return o.check_only ? 1 : 77;  // 77: "skipped" for test drivers
  }
  if (o.check_only) {
    fmt::print("real-kernel replay available\n");
    return 0;
  }
  rp::install_interrupt_handler();
  for (sm::Proto proto : o.protos)
    for (rp::Schedule sched : o.schedules)
      if (!rp::interrupted()) run_cell(o, proto, sched);
  return rp::interrupted() ? 130 : 0;
}
