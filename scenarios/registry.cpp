// The scenario list. Explicit, in a fixed order (no static-initialisation registration), so
// `kpsim list` and every test see the same scenarios in the same order.
#include "scenarios/scenario.h"
#include "scenarios/script/script_scenario.h"

namespace kpsim {

const Scenario& lost_update_scenario();

const std::vector<const Scenario*>& all_scenarios() {
  static const std::vector<const Scenario*> all = [] {
    std::vector<const Scenario*> v = {
        &lost_update_scenario(),
    };
    // Then the built-in scripts (scenarios/*.kps); a compiled scenario of the same name wins
    // while both exist.
    for (const Scenario* s : script::builtin_script_scenarios()) {
      bool shadowed = false;
      for (const Scenario* c : v) shadowed = shadowed || c->name() == s->name();
      if (!shadowed) v.push_back(s);
    }
    return v;
  }();
  return all;
}

}  // namespace kpsim
