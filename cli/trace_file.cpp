#include "cli/trace_file.h"

#include <fstream>
#include <sstream>

namespace kpsim::cli {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceError(path + ": cannot open");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

Trace load_trace(const std::string& path) {
  std::istringstream in(read_file_bytes(path));
  try {
    return read_trace(in);
  } catch (const TraceError& e) {
    throw TraceError(path + ": " + e.what());
  }
}

void save_trace(const std::string& path, const Trace& t) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw TraceError(path + ": cannot write");
  write_trace(out, t);
  if (!out) throw TraceError(path + ": write failed");
}

}  // namespace kpsim::cli
