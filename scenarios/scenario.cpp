#include "scenarios/scenario.h"

namespace kpsim {

Params resolve_params(const Scenario& sc, const std::vector<std::string>& sets) {
  return resolve_params(sc.name(), sc.params(), sets);
}

Params resolve_params(const Scenario& sc, const nlohmann::ordered_json& params) {
  return resolve_params(sc.name(), sc.params(), params);
}

const Scenario* find_scenario(std::string_view name) {
  for (auto* s : all_scenarios())
    if (s->name() == name) return s;
  return nullptr;
}

}  // namespace kpsim
