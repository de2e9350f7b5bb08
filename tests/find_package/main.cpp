// Links every exported kpsim library through kpsim::kpsim_scenarios (the built-in scenarios pull
// in the model, the scheduler and, where built, the real-kernel runner): parses a script with
// the installed parser and counts the built-in scenarios. The headers are the installed ones.
#include <iostream>

#include "scenarios/runner.h"
#include "scenarios/scenario.h"
#include "scenarios/script/script.h"
#include "sched/strategy_dfs.h"

int main() {
  const auto s = kpsim::script::Script::parse("consumer.kps",
                                              "scenario consumer \"x\"\n"
                                              "a, b = create_pair(udp)\n"
                                              "thread t {\n  send(a, 3) = 3\n  recv(b, 8) = 3\n}\n");
  std::cout << "parsed " << s.name() << ", " << kpsim::all_scenarios().size() << " built-in scenarios\n";
  return s.name() == "consumer" && !kpsim::all_scenarios().empty() ? 0 : 1;
}
