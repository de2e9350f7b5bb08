// The kpsim subcommands. Each returns the process exit code: 0 success / no violation,
// 1 a violation (or a failed check), 2 bad input.
#pragma once

#include <CLI/CLI.hpp>

namespace kpsim::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFinding = 1;
inline constexpr int kExitUsage = 2;

// Each registers its subcommand and returns the function that runs it after parsing.
using Runner = std::function<int()>;
using Command = std::pair<CLI::App*, Runner>;
Command add_list(CLI::App& app);
Command add_explore(CLI::App& app);
Command add_replay(CLI::App& app);
Command add_render(CLI::App& app);
Command add_docgen(CLI::App& app);
Command add_kernel(CLI::App& app);
Command add_crosscheck(CLI::App& app);

}  // namespace kpsim::cli
