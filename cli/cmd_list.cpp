// kpsim list: every scenario, one line each, where it runs on a real kernel (if anywhere), then
// its parameters with defaults.
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "scenarios/kernel_side.h"
#include "scenarios/scenario.h"

namespace kpsim::cli {

Command add_list(CLI::App& app) {
  auto* sub = app.add_subcommand("list", "List scenarios with their parameters and defaults");
  sub->footer("Scenarios defined by a script say so (`script:`); any .kps file can also be given by\n"
              "path to explore, replay, kernel and crosscheck (docs/scripts.md).");
  return {sub, [] {
            for (auto* sc : all_scenarios()) {
              std::cout << fmt::format("{:<26} {}\n", sc->name(), sc->summary());
              if (const std::string d = sc->definition(); !d.empty())
                std::cout << fmt::format("    script: {}\n", d);
              if (const KernelSide* ks = sc->kernel_side())
                std::cout << fmt::format("    kernel: {}\n", ks->summary());
              for (auto& p : sc->params()) {
                std::string range;
                if (!p.choices.empty()) {
                  for (auto& c : p.choices) range += (range.empty() ? "" : "|") + c;
                } else if (p.integer) {
                  range = fmt::format("int {}..{}", p.min, p.max);
                }
                std::cout << fmt::format("    {}={:<12} [{}] {}\n", p.name, p.default_value, range,
                                         p.help);
              }
            }
            return kExitOk;
          }};
}

}  // namespace kpsim::cli
