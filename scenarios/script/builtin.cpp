// The scripts built into kpsim and scripts loaded from files.
//
// Built-in scripts are scenarios/*.kps, embedded at build time (scenarios/CMakeLists.txt writes
// builtin_scripts.inc), so an installed kpsim needs no source tree and every build runs the
// same text. A script given by path is read when a command names it; it lives until exit.
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "scenarios/script/script.h"
#include "scenarios/script/script_scenario.h"

namespace kpsim::script {
namespace {

struct Embedded {
  const char* file;  // "sockmap-multi-channels.kps"
  const char* text;
};

// Generated: { "name.kps", R"kps(...)kps" }, ... in file-name order.
constexpr Embedded kEmbedded[] = {
#include "builtin_scripts.inc"
};

}  // namespace

const std::vector<const Scenario*>& builtin_script_scenarios() {
  static const std::vector<std::unique_ptr<ScriptScenario>> owned = [] {
    std::vector<std::unique_ptr<ScriptScenario>> v;
    for (const Embedded& e : kEmbedded) {
      // A built-in script that does not parse is a kpsim bug, caught by every test.
      auto sc = std::make_shared<const Script>(Script::parse(std::string("<builtin>/") + e.file, e.text));
      // One name: `kpsim list` points at scenarios/<name>.kps.
      if (sc->name() + ".kps" != e.file)
        throw std::logic_error(std::string("built-in script ") + e.file + " defines scenario '" +
                               sc->name() + "': a built-in script is named after its scenario");
      v.push_back(std::make_unique<ScriptScenario>(std::move(sc), ""));
    }
    return v;
  }();
  static const std::vector<const Scenario*> all = [] {
    std::vector<const Scenario*> v;
    for (auto& s : owned) v.push_back(s.get());
    return v;
  }();
  return all;
}

const Scenario& load_script_scenario(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<ScriptScenario>> loaded;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = loaded[path];
  if (!slot) {
    try {
      slot = std::make_unique<ScriptScenario>(std::make_shared<const Script>(Script::load(path)), path);
    } catch (...) {
      loaded.erase(path);
      throw;
    }
  }
  return *slot;
}

}  // namespace kpsim::script
