#include "scenarios/kernel_side.h"

#include <fmt/format.h>

namespace kpsim {

KernelRequest make_kernel_request(const Scenario& sc, std::string target,
                                  const std::vector<std::string>& sets) {
  KernelRequest r;
  r.target = std::move(target);
  r.params = resolve_params(sc, sets);  // validates every entry, so the split below is safe
  for (auto& s : sets) r.fixed.insert(s.substr(0, s.find('=')));
  return r;
}

void require_default(const Scenario& sc, const Params& p, std::string_view key, std::string_view why) {
  for (auto& spec : sc.params()) {
    if (spec.name != key) continue;
    const std::string& v = p.get(key);
    if (v != spec.default_value)
      throw ParamError(fmt::format("{}: {}={} cannot be reproduced on the kernel: {} (only {}={})",
                                   sc.name(), key, v, why, key, spec.default_value));
    return;
  }
  throw std::logic_error(fmt::format("require_default: {} has no parameter '{}'", sc.name(), key));
}

void refuse_option(const Scenario& sc, std::string_view option, std::string_view why) {
  throw ParamError(fmt::format("{}: {} is not supported here: {}", sc.name(), option, why));
}

}  // namespace kpsim
