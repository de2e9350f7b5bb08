// kpsim kernel / crosscheck in a build without the real-kernel runner (KPSIM_REPLAY=OFF).
#include <iostream>

#include "cli/commands.h"

namespace kpsim::cli {

static Command absent(CLI::App& app, const char* name) {
  auto* sub = app.add_subcommand(name, "Real-kernel replay (not in this build: KPSIM_REPLAY=OFF)");
  sub->allow_extras();
  return {sub, [] {
            std::cerr << "kpsim: built without the real-kernel runner (configure with -DKPSIM_REPLAY=ON)\n";
            return kExitUsage;
          }};
}

Command add_kernel(CLI::App& app) { return absent(app, "kernel"); }
Command add_crosscheck(CLI::App& app) { return absent(app, "crosscheck"); }

}  // namespace kpsim::cli
