#include "replay/guest_boot.h"

#include <sys/wait.h>

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#ifndef KPSIM_SOURCE_DIR
#define KPSIM_SOURCE_DIR "."
#endif

namespace kpsim::replay {

using json = nlohmann::ordered_json;

GuestBoot boot_guest(std::string_view version, const std::vector<std::string>& configs) {
  // Configurations are key=value lists without quotes (the runner's own syntax), so single
  // quotes suffice to keep the shell from splitting or expanding them.
  std::string cmd = fmt::format("{}/scripts/guest/boot {} --timeout 900", KPSIM_SOURCE_DIR, version);
  for (auto& c : configs) cmd += " '" + c + "'";
  GuestBoot g;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) {
    g.exit_code = 1;
    g.error = "cannot run " + cmd;
    return g;
  }
  char buf[65536];
  const std::string tag = "KPSIM-RESULT ";
  while (fgets(buf, sizeof buf, pipe.get())) {
    const std::string line(buf);
    const auto at = line.find(tag);
    if (at == std::string::npos) continue;
    try {
      g.results.push_back(json::parse(line.substr(at + tag.size())));
    } catch (const json::parse_error&) {
      g.error = "unparsable result line: " + line.substr(0, 200);
    }
  }
  const int status = pclose(pipe.release());
  g.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  return g;
}

std::string GuestBoot::failure(size_t expected) const {
  if (results.empty())
    return fmt::format("the qemu guest cannot run here: {} (install the tools with scripts/guest/setup)",
                       error.empty() ? fmt::format("scripts/guest/boot exited {}", exit_code) : error);
  if (results.size() != expected)
    return fmt::format("the guest returned {} of {} results (exit {}){}", results.size(), expected,
                       exit_code, error.empty() ? "" : ": " + error);
  for (size_t i = 0; i < results.size(); ++i)
    if (!results[i].value("ok", false))
      return fmt::format("the guest runner failed configuration {} ({}): {}", i + 1,
                         results[i].value("config", json::object()).dump(),
                         results[i].value("error", std::string("no error given")));
  return {};
}

}  // namespace kpsim::replay
