// Parsing what the guest prints (replay/guest/json.h: one `KPSIM-RESULT {json}` line per
// configuration, among the console's other lines). Apart from the boot (guest_boot.cpp) so
// that it is unit-tested (tests/guest_result_test.cpp) and fuzzed (fuzz/guest_result_fuzz.cpp)
// on its own: the output comes from a guest kernel and a serial console, not from kpsim, so
// any bytes must either parse or be refused with a message, never crash or throw.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kpsim::replay {

struct GuestResults {
  std::vector<nlohmann::ordered_json> results;  // the KPSIM-RESULT objects, in order
  std::string error;  // the first result line refused (unparsable, or a field of the wrong type)
};

// One line of the boot script's output. A line containing "KPSIM-RESULT " followed by a JSON
// object whose fields have the types the host reads (below) is appended to `out.results`; a
// result line that does not is refused: `out.error` says why (the first one only), nothing is
// appended, so the batch comes back short and fails. Every other line is ignored.
void parse_guest_line(std::string_view line, GuestResults& out);
// Every line of `text` (split at '\n').
GuestResults parse_guest_output(std::string_view text);

// Why `r` is not a result the host may read, or "" when it is. The types the host's readers
// expect (guest_boot.cpp GuestBoot::failure, scenarios/*_kernel.cpp) of the keys they read:
// ok: bool; config: object; error, kernel, verdict, gcm_aes_entries_while_open: string;
// runs, short_runs, stall_episodes_ge_100ms: integer; longest_call_s, throughput_MiBps:
// number. Absent keys are fine (each reader has its default); other keys are not read.
std::string guest_result_problem(const nlohmann::ordered_json& r);

}  // namespace kpsim::replay
