// Parsing of the runner's configurations (config.h).
#include "config.h"

#include <cstdlib>
#include <sstream>

#include "procfs.h"

namespace kpsim::guest {

KV parse_config(const std::string& arg) {
  KV kv;
  std::stringstream ss(arg);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) kv[item] = "1";
    else kv[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return kv;
}

long long get_num(const KV& kv, const char* k, long long dflt) {
  auto it = kv.find(k);
  return it == kv.end() ? dflt : std::strtoll(it->second.c_str(), nullptr, 0);
}

std::string get_str(const KV& kv, const char* k, const std::string& dflt) {
  auto it = kv.find(k);
  return it == kv.end() ? dflt : it->second;
}

std::string kv_json(const KV& kv) {
  Json j;
  for (const auto& [k, v] : kv) j.s(k.c_str(), v);
  return j.str();
}

Json result_header(const char* mode, const KV& kv) {
  Json j;
  j.s("mode", mode).s("kernel", kernel_release()).raw("config", kv_json(kv));
  return j;
}

}  // namespace kpsim::guest
