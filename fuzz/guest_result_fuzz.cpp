// libFuzzer target: the guest result parser (replay/guest_result.cpp) on arbitrary bytes, as a
// serial console may deliver them. The contract under test: parsing never throws or crashes,
// and every result it accepts can be read the way the host's readers read it
// (GuestBoot::failure, scenarios/*_kernel.cpp: json::value(key, default)) without throwing or
// tripping ASan/UBSan.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "replay/guest_boot.h"
#include "replay/guest_result.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using json = nlohmann::ordered_json;
  const auto out = kpsim::replay::parse_guest_output(std::string_view(reinterpret_cast<const char*>(data), size));
  for (const json& r : out.results) {
    if (!kpsim::replay::guest_result_problem(r).empty()) __builtin_trap();  // accepted, yet refused
    (void)r.value("ok", false);
    (void)r.value("config", json::object()).dump();
    (void)r.value("error", std::string());
    (void)r.value("kernel", "");
    (void)r.value("verdict", "");
    (void)r.value("gcm_aes_entries_while_open", "");
    (void)r.value("runs", int64_t{0});
    (void)r.value("short_runs", int64_t{0});
    (void)r.value("stall_episodes_ge_100ms", int64_t{0});
    (void)r.value("longest_call_s", 0.0);
    (void)r.value("throughput_MiBps", 0.0);
  }
  kpsim::replay::GuestBoot g;
  g.results = out.results;
  g.error = out.error;
  for (size_t n : {size_t{0}, g.results.size(), g.results.size() + 1}) (void)g.failure(n);
  return 0;
}
