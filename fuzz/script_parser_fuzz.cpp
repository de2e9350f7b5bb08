// libFuzzer target: the scenario-script parser (scenarios/script/script.cpp) on arbitrary bytes.
// The contract under test: any input either parses and instantiates or throws ScriptError —
// nothing else escapes, nothing crashes, hangs or trips ASan/UBSan. An accepted script must
// also instantiate (or refuse with ScriptError) with every enumeration parameter at each of its
// other choices.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "scenarios/script/script.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kpsim::script;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Script s = Script::parse("fuzz.kps", text);
    for (const auto& p : s.params())
      for (const auto& c : p.choices) {
        kpsim::Params params;
        params.set(p.name, c);
        try {
          (void)s.instantiate(params);
        } catch (const ScriptError&) {
        }
      }
  } catch (const ScriptError&) {
  }
  return 0;
}
