// The guest's result lines (replay/guest_result.h): what is read, what is refused and why, and
// that a refused line leaves the batch short (so it fails: GuestBoot::failure), never a reader
// facing a field of the wrong type.
#include <catch2/catch.hpp>

#include <string>

#include "replay/guest_boot.h"
#include "replay/guest_result.h"

using namespace kpsim::replay;

TEST_CASE("result lines among console noise are read in order", "[guest]") {
  const auto out = parse_guest_output(
      "[    1.234] random: crng init done\n"
      "KPSIM-RESULT {\"mode\":\"ktls-sendfile-stall\",\"kernel\":\"6.12.1\",\"config\":{\"sndbuf\":\"8192\"},"
      "\"ok\":true,\"verdict\":\"stall\",\"stall_episodes_ge_100ms\":3,\"longest_call_s\":0.41,"
      "\"throughput_MiBps\":12}\r\n"
      "kpsim-guest: done\n"
      "\x1b[0mKPSIM-RESULT {\"ok\":false,\"error\":\"no io_uring\",\"runs\":0}");  // no final newline
  CHECK(out.error.empty());
  REQUIRE(out.results.size() == 2);
  CHECK(out.results[0]["verdict"] == "stall");
  CHECK(out.results[0]["throughput_MiBps"] == 12);
  CHECK(out.results[1]["error"] == "no io_uring");
}

TEST_CASE("a result line that does not parse, or has a field of the wrong type, is refused", "[guest]") {
  const char* bad[] = {
      "KPSIM-RESULT {\"ok\":true",                   // truncated (the guest died mid-line)
      "KPSIM-RESULT [1,2]",                          // not an object
      "KPSIM-RESULT {\"ok\":\"yes\"}",              // ok must be a boolean
      "KPSIM-RESULT {\"ok\":true,\"runs\":2.5}",     // runs must be an integer
      "KPSIM-RESULT {\"ok\":true,\"runs\":1e400}",   // out of range for a double
      "KPSIM-RESULT {\"ok\":true,\"short_runs\":\"3\"}",
      "KPSIM-RESULT {\"ok\":true,\"config\":[]}",
      "KPSIM-RESULT {\"ok\":true,\"longest_call_s\":null}",
      "KPSIM-RESULT {\"ok\":true,\"kernel\":612}",
  };
  for (const char* line : bad) {
    INFO(line);
    GuestResults out;
    parse_guest_line(line, out);
    CHECK(out.results.empty());
    CHECK(out.error.rfind("unparsable result line (", 0) == 0);
  }
  // The first refusal is kept; the good lines after it are still read.
  const auto out = parse_guest_output("KPSIM-RESULT {\"ok\":1}\nKPSIM-RESULT {\"ok\":true}\nKPSIM-RESULT nope\n");
  CHECK(out.results.size() == 1);
  CHECK(out.error.find("'ok' must be a boolean") != std::string::npos);
}

TEST_CASE("a batch short of a refused line fails, naming why", "[guest]") {
  const auto out = parse_guest_output("KPSIM-RESULT {\"ok\":true}\nKPSIM-RESULT {\"ok\":true,\"runs\":-1.5}\n");
  GuestBoot g;
  g.results = out.results;
  g.error = out.error;
  const std::string why = g.failure(2);
  CHECK(why.find("the guest returned 1 of 2 results") != std::string::npos);
  CHECK(why.find("'runs' must be an integer") != std::string::npos);
  CHECK(g.failure(1).empty());
}
