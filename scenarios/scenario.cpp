#include "scenarios/scenario.h"

#include "scenarios/script/script_scenario.h"

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
  if (name.find('/') != std::string_view::npos || name.ends_with(".kps"))
    return &script::load_script_scenario(std::string(name));
  return nullptr;
}

}  // namespace kpsim
