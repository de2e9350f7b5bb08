// libFuzzer target: scenario parameter parsing (scenarios/params.cpp resolve_params, what
// `--set k=v` and a trace header's params object go through) with the parameter declarations
// of every scenario. The declarations are read once from the output of `kpsim list` in the file
// named by $KPSIM_FUZZ_PARAM_SPECS (the ctest writes it; without it, one declaration of each
// kind stands in). Input: the first byte picks the scenario; the rest, split at '\n', are the
// `--set` values; the same rest is also tried as a JSON params object.
//
// The contract: either ParamError, or Params holding every declared parameter, in declaration
// order, each with a value its declaration accepts (param_value_problem), that resolves again
// from its own to_json() to the same Params — nothing else escapes, nothing crashes or trips
// ASan/UBSan.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/params.h"

namespace {

struct Declared {
  std::string scenario;
  std::vector<kpsim::ParamSpec> specs;
};
std::vector<Declared> g_scenarios;

// `kpsim list`: a scenario line at column 0 ("name   summary"), then indented lines, the
// parameters among them as "    name=default [a|b|c] help" or "[int min..max]" or "[]".
void read_list(std::istream& in) {
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line[0] != ' ') {
      g_scenarios.push_back({line.substr(0, line.find(' ')), {}});
      continue;
    }
    const auto name_at = line.find_first_not_of(' ');
    const auto eq = line.find('=');
    const auto open = line.find(" [", eq == std::string::npos ? 0 : eq);
    const auto close = open == std::string::npos ? open : line.find(']', open);
    if (g_scenarios.empty() || eq == std::string::npos || close == std::string::npos ||
        line.compare(name_at, 7, "kernel:") == 0)
      continue;
    kpsim::ParamSpec p;
    p.name = line.substr(name_at, eq - name_at);
    p.default_value = line.substr(eq + 1, line.find(' ', eq) - eq - 1);
    const std::string range = line.substr(open + 2, close - open - 2);
    if (range.rfind("int ", 0) == 0) {
      p.integer = true;
      const auto dots = range.find("..");
      p.min = std::strtoll(range.c_str() + 4, nullptr, 10);
      p.max = std::strtoll(range.c_str() + dots + 2, nullptr, 10);
    } else if (!range.empty()) {
      for (size_t at = 0;;) {
        const auto bar = range.find('|', at);
        p.choices.push_back(range.substr(at, bar - at));
        if (bar == std::string::npos) break;
        at = bar + 1;
      }
    }
    g_scenarios.back().specs.push_back(std::move(p));
  }
}

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "param_parser_fuzz: contract broken: %s\n", what);
  std::abort();
}

void check(const Declared& d, const kpsim::Params& got) {
  const auto j = got.to_json();
  if (j.size() != d.specs.size()) broken("a declared parameter is missing or an undeclared one is set");
  size_t i = 0;
  for (auto& [k, v] : j.items()) {
    const kpsim::ParamSpec& spec = d.specs[i++];
    if (k != spec.name) broken("parameters out of declaration order");
    if (!kpsim::param_value_problem(spec, v.get<std::string>()).empty()) broken("a value its declaration refuses");
  }
  if (!(kpsim::resolve_params(d.scenario, d.specs, j) == got)) broken("to_json() does not resolve back");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* path = std::getenv("KPSIM_FUZZ_PARAM_SPECS")) {
    std::ifstream in(path);
    read_list(in);
  }
  if (g_scenarios.empty()) {
    kpsim::ParamSpec e{"proto", "udp", "", {"udp", "tcp"}};
    kpsim::ParamSpec n{"tasks", "2", "", {}, true, 1, 8};
    kpsim::ParamSpec s{"label", "x", ""};
    g_scenarios.push_back({"stand-in", {e, n, s}});
  }
  std::fprintf(stderr, "param_parser_fuzz: %zu scenarios\n", g_scenarios.size());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Declared& d = g_scenarios[data[0] % g_scenarios.size()];
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string> sets;
  for (size_t at = 0; at <= rest.size();) {
    const auto nl = rest.find('\n', at);
    sets.push_back(rest.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  try {
    check(d, kpsim::resolve_params(d.scenario, d.specs, sets));
  } catch (const kpsim::ParamError&) {
  }
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(rest);
  } catch (const nlohmann::json::exception&) {
    return 0;  // not JSON: the trace reader refuses it before parameters are resolved
  }
  if (!j.is_object()) return 0;  // likewise (read_trace: "missing object 'params'")
  try {
    check(d, kpsim::resolve_params(d.scenario, d.specs, j));
  } catch (const kpsim::ParamError&) {
  }
  return 0;
}
