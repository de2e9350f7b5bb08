// The Program's two helpers (scenarios/script/program.h).
#include "scenarios/script/program.h"

#include <fmt/format.h>

namespace kpsim::script {

std::string Loc::str() const { return fmt::format("{}:{}:{}", file, line, col); }

std::optional<uint32_t> Program::find_sock(const std::string& sock_name) const {
  for (uint32_t i = 0; i < socks.size(); ++i)
    if (socks[i].name == sock_name) return i;
  return std::nullopt;
}

}  // namespace kpsim::script
