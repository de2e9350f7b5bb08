// The scenario list. Explicit, in a fixed order (no static-initialisation registration), so
// `kpsim list` and every test see the same scenarios in the same order.
#include "scenarios/scenario.h"

namespace kpsim {

const Scenario& lost_update_scenario();
const Scenario& sockmap_multi_channels_scenario();
const Scenario& ktls_sendfile_stall_scenario();
const Scenario& ktls_async_close_scenario();

const std::vector<const Scenario*>& all_scenarios() {
  static const std::vector<const Scenario*> all = {
      &sockmap_multi_channels_scenario(),
      &ktls_sendfile_stall_scenario(),
      &ktls_async_close_scenario(),
      &lost_update_scenario(),
  };
  return all;
}

}  // namespace kpsim
