// Lane order shared by the renderers: tasks in order of first appearance in the trace.
#pragma once

#include <string>
#include <vector>

#include "traces/trace.h"

namespace kpsim {

inline std::vector<std::string> trace_lanes(const Trace& t) {
  std::vector<std::string> lanes;
  auto add = [&](const std::string& name) {
    for (auto& l : lanes)
      if (l == name) return;
    lanes.push_back(name);
  };
  for (auto& e : t.events) add(e.task);
  return lanes;
}

inline size_t lane_index(const std::vector<std::string>& lanes, const std::string& name) {
  for (size_t i = 0; i < lanes.size(); ++i)
    if (lanes[i] == name) return i;
  return lanes.size();
}

}  // namespace kpsim
