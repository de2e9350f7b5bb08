// sockmap-multi-channels on this machine's kernel (the BPF sockmap runner, replay/): what of
// the scenario's parameters the kernel reproduces. The rest of the kernel side (outcomes,
// steering, verdicts) is in sockmap_multi_channels_kernel.cpp; docs/crosscheck.md explains it.
#pragma once

#include <cstdint>

#include "scenarios/scenario.h"
#include "scenarios/sockmap_script.h"

namespace kpsim {

enum class KernelUse : uint8_t { kernel, crosscheck };

// The Script the runner executes for `p`. Reproduced: proto, test, c1_bytes, c0_bytes (the
// Script). fionread only as `current`: the running kernel has the FIONREAD semantics it has.
// self_redirect and kworker_cpu are readings of the kernel's behaviour, not settings of it: a
// cross-check judges them (the kernel may refute a reading); `kpsim kernel` cannot make the
// kernel behave so and refuses anything but the default. Throws ParamError.
sockmap::Script sockmap_host_script(const Scenario& sc, const Params& p, KernelUse use);

}  // namespace kpsim
