// sockmap-multi-channels' parameters as the Script both sides run: the model
// (scenarios/sockmap_multi_channels.cpp) and the real-kernel runner
// (scenarios/sockmap_multi_channels_kernel.cpp → replay/sockmap_runner.h). One function, so
// that `--set` builds the same test for `explore`, `kernel` and `crosscheck`.
#pragma once

#include "scenarios/scenario.h"
#include "scenarios/sockmap_script.h"

namespace kpsim {

// proto, test, c1_bytes and c0_bytes select the steps; the map and the verdict are the
// selftest's (p0 at key 0, p1 at key 1, redirect to key 1).
sockmap::Script multi_channels_script(const Params& p);

}  // namespace kpsim
