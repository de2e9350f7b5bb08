// kpsim: deterministic simulation of Linux kernel socket paths. See README.md and docs/.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "scenarios/script/model_world.h"
#include "scenarios/script/script.h"
#include "scenarios/scenario.h"
#include "traces/trace.h"

int main(int argc, char** argv) {
  using namespace kpsim::cli;
  CLI::App app{
      "kpsim: a deterministic simulator of Linux kernel socket paths (sockmap psock queues, TCP\n"
      "cork/Nagle/persist timer, kTLS record push, splice, io_uring task work). It runs\n"
      "executable models of these paths under a deterministic interleaving scheduler, searches\n"
      "the orderings for ones that break a property, and prints them as traces.\n\n"
      "  kpsim list                                   scenarios and their parameters\n"
      "  kpsim explore SCENARIO [--set k=v]...        search orderings for a violation\n"
      "  kpsim replay TRACE [--check]                 re-run a recorded trace\n"
      "  kpsim render TRACE --format text|mermaid     draw a trace\n"
      "  kpsim docgen FILE.md [--check]               regenerate the traces drawn in docs\n"
      "  kpsim kernel SCENARIO [--kernel K] [--set k=v]...\n"
      "                                               run it on a real kernel: host (root, BPF)\n"
      "                                               or a Debian 6.12 / 6.1 in a qemu guest\n"
      "  kpsim crosscheck SCENARIO [--kernel K] [--set k=v]...\n"
      "                                               compare model and kernel outcomes\n"
      "  kpsim merge SHARD.json...                    combine explore --shard I/N --json results\n"
      "  kpsim check DIR|FILE... [-j N] [--junit F] [--tap]\n"
      "                                               run a suite of scripts as test cases (CI),\n"
      "                                               one exit status: the worst case's\n\n"
      "Exit status: 0 no violation, 1 violation found (or a check failed: crosscheck disagreement,\n"
      "docgen --check stale), 2 bad input,\n"
      "3 inconclusive (limits hit, model error, --require-exhaustive not met),\n"
      "4 a model invariant broke (a kpsim bug, not a kernel finding), 5 a replay did not\n"
      "reproduce its trace, 6 nondeterministic (explore --check-determinism: two runs of one\n"
      "schedule differed; both traces are kept), 130 interrupted (SIGINT/SIGTERM: what was done so far is printed),\n"
      "70 internal error (a kpsim bug: please report it).",
      "kpsim"};
  app.require_subcommand(1);
  std::map<CLI::App*, Runner> runners;
  for (auto add : {add_list, add_explore, add_replay, add_render, add_docgen, add_kernel, add_crosscheck, add_merge,
                   add_check, add_sweep, add_calibrate}) {
    auto [sub, run] = add(app);
    runners[sub] = std::move(run);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "kpsim: " << e.what() << " (try --help)\n";
    return kExitUsage;
  }
  for (auto* sub : app.get_subcommands()) {
    try {
      // KPSIM_TEST_INTERNAL_ERROR (tests only, tests/CMakeLists.txt cli_internal_error_exit_70):
      // an exception no handler expects, in place of a kpsim bug, to exercise the last-resort
      // handler (one line, the reproducing command, exit 70).
      if (const char* t = std::getenv("KPSIM_TEST_INTERNAL_ERROR"); t && *t)
        throw std::logic_error("injected by KPSIM_TEST_INTERNAL_ERROR");
      return runners.at(sub)();
    } catch (const kpsim::ParamError& e) {
      std::cerr << "kpsim: " << e.what() << "\n";
      return kExitUsage;
    } catch (const kpsim::TraceError& e) {
      std::cerr << "kpsim: " << e.what() << "\n";
      return kExitUsage;
    } catch (const kpsim::script::ScriptUnsupported& e) {
      std::cerr << "kpsim: " << e.what() << "\n";  // file:line:col: unsupported in the model: ...
      return kExitUsage;
    } catch (const kpsim::script::ScriptError& e) {
      std::cerr << "kpsim: " << e.what() << "\n";  // file:line:col: what is wrong
      return kExitUsage;
    } catch (const std::exception& e) {
      // Last resort: nothing may escape as an abort. Say what and how to reproduce it.
      std::string cmd;
      for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
      std::cerr << "kpsim: internal error: " << e.what() << "\n"
                << "kpsim: please report this with the command that reproduces it: " << cmd << "\n";
      return kExitInternal;
    }
  }
  return kExitUsage;
}
