// libFuzzer target: the trace reader (traces/trace.cpp read_trace) on arbitrary bytes. The
// contract under test: any input either parses or throws TraceError — nothing else escapes,
// nothing crashes, hangs or trips ASan/UBSan. A parsed trace must also write back and read
// again (the writer accepts whatever the reader accepts).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "traces/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  kpsim::Trace t;
  try {
    t = kpsim::read_trace(in);
  } catch (const kpsim::TraceError&) {
    return 0;
  }
  std::istringstream again(kpsim::trace_to_string(t));
  (void)kpsim::read_trace(again);  // must not throw: what was read writes back readable
  return 0;
}
